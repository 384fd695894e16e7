/**
 * What a worker writes when an execution of a task ends without a result: a hand back (SIGTERM
 * cut it short: pending again, attempt not counted, so the leader moves it at once) and a
 * restart (this pod's previous container died while running it: the attempt counted, retried
 * here at once, or dead once `maxAttempts` is reached). The patches are pure; the one write loop,
 * {@linkcode writeWhileClaimed}, takes the store and clock as parameters.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import { ANNOTATION, LABEL, patched, type TaskView, viewTask } from "../tasks/contract.ts";
import { ended } from "../tasks/transitions.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { ConfigMapLike, TaskStore } from "../tasks/store.ts";

/** How many times a transient failure to write a result or hand back is retried. */
const WRITE_TRIES = 4;

/**
 * Why `now` is no longer the claim `identity` made for `attempt` (reassigned, another attempt,
 * not running, claimed by someone else), or `undefined` while it still is. A result or hand back
 * is written only while it still is.
 */
function supersededBy(now: TaskView, identity: string, attempt: number): string | undefined {
  if (now.assignedTo !== identity) return `reassigned to ${now.assignedTo}`;
  if (now.attempt !== attempt) return `attempt is now ${now.attempt}`;
  if (now.state !== "running") return `state is now ${now.state}`;
  if (now.processedBy !== identity) return `claimed by ${now.processedBy}`;
  return undefined;
}

/**
 * The task handed back by `identity`: `pending`, same attempt (its execution was aborted, never
 * recorded), claim cleared, `reason` saying so.
 */
export function handedBack(cm: ConfigMapLike, identity: string): ConfigMapLike {
  return patched(cm, {
    labels: { [LABEL.state]: "pending" },
    annotations: {
      [ANNOTATION.reason]: `handed back by ${identity}: stopped before it finished`,
      [ANNOTATION.claimedAt]: null,
      [ANNOTATION.processedBy]: null,
    },
  });
}

/**
 * A task that this pod's previous container claimed and never finished (it crashed or was
 * killed; the container restarted in place): `pending` for this pod with the next attempt, or
 * `dead` when `attempt` was the last one.
 */
export function restarted(
  task: TaskView,
  identity: string,
  maxAttempts: number,
  now: Date,
): ConfigMapLike {
  const why = `${identity} restarted while running attempt ${task.attempt}`;
  if (task.attempt >= maxAttempts) {
    const reason = `dead after ${task.attempt} attempts: ${why}`;
    return ended(task.cm, { state: "dead", by: identity, at: now, reason });
  }
  return patched(task.cm, {
    labels: { [LABEL.state]: "pending" },
    annotations: {
      [ANNOTATION.attempt]: String(task.attempt + 1),
      [ANNOTATION.reason]: `retried: ${why}`,
      [ANNOTATION.claimedAt]: null,
      [ANNOTATION.processedBy]: null,
    },
  });
}

/**
 * Writes `change(current)` — a result or a hand back — while the task is still the claim of
 * `identity` for `attempt` (see {@linkcode supersededBy}); re-reads on conflict and retries
 * transient errors with backoff.
 *
 * @returns Whether it was written.
 */
export async function writeWhileClaimed(
  { store, clock, identity }: { store: TaskStore; clock: Clock; identity: string },
  log: Logger,
  claimed: ConfigMapLike,
  attempt: number,
  what: string,
  change: (current: ConfigMapLike) => ConfigMapLike,
): Promise<boolean> {
  const name = claimed.metadata.name;
  let current: ConfigMapLike | undefined = claimed;
  for (let tryNo = 1; tryNo <= WRITE_TRIES; tryNo++) {
    const why = supersededBy(viewTask(current), identity, attempt);
    if (why) {
      log.warn("Discarding {what} of {name} attempt {attempt}: {why}", {
        what,
        name,
        attempt,
        why,
      });
      return false;
    }
    try {
      await store.update(change(current));
      return true;
    } catch (err) {
      if (isKubeError(err, "notFound")) {
        log.warn("Discarding {what} of {name}: the task was deleted", { what, name });
        return false;
      }
      if (!isKubeError(err, "conflict")) await clock.sleep(500 * 2 ** tryNo).catch(() => {});
      current = await store.get(name).catch(() => current);
      if (current === undefined) return false;
    }
  }
  log.error("Could not write the {what} of {name} after {tries} tries", {
    what,
    name,
    tries: WRITE_TRIES,
  });
  return false;
}
