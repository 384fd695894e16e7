/**
 * How a one-shot pod learns that its round is over: from the round summary the leader keeps.
 * The store and clock come in as parameters.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import { ROUND_EXIT, type RoundExit, roundExitStatus } from "./round_exit.ts";
import { LABEL, roundName, roundsSelector } from "../tasks/contract.ts";
import { listWatch } from "../tasks/list_watch.ts";
import type { ConfigMapLike, TaskStore } from "../tasks/store.ts";

const over = (phase: string | undefined) => phase === "complete" || phase === "deadline-exceeded";

/**
 * Whether a one-shot round is over: its summary's phase is `complete` or `deadline-exceeded`.
 * A failed read counts as not over (the caller then acts as if the round still runs).
 */
export async function roundIsOver(
  store: TaskStore,
  app: string,
  round: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    return over((await store.get(roundName(app, round), signal))?.data?.phase);
  } catch {
    return false;
  }
}

/**
 * Waits for a one-shot round to end: watches the round summary (list, then watches resumed from the
 * last resourceVersion, `list_watch.ts`) until its phase is `complete` or `deadline-exceeded`, or
 * `tasks.roundDeadline` passes on this pod's clock. A watch sees the end at once, where a poll
 * saw it up to a poll interval later.
 *
 * @returns {@linkcode ROUND_EXIT}: `ok` when every task ran (checks may have failed),
 *   `infrastructure` when a task was dead or rejected, `deadline` when the deadline passed.
 * @throws {unknown} `signal.reason` when aborted.
 */
export async function waitForRound(
  { store, clock, tasks }: { store: TaskStore; clock: Clock; tasks: Config["tasks"] },
  round: string,
  signal: AbortSignal,
  log: Logger,
): Promise<RoundExit> {
  signal.throwIfAborted();
  const name = roundName(tasks.app, round);
  const done = new AbortController();
  const stop = () => done.abort();
  signal.addEventListener("abort", stop, { once: true });
  let exit: RoundExit | undefined;
  const end = (status: RoundExit) => {
    exit ??= status;
    done.abort();
  };
  const see = (cm: ConfigMapLike) => {
    if (cm.metadata.name === name && over(cm.data?.phase)) end(roundExitStatus(cm.data ?? {}));
  };
  clock.sleep(tasks.roundDeadlineMs, done.signal).then(() => end(ROUND_EXIT.deadline), () => {});
  try {
    // A round already over is read by name first (as `roundIsOver` reads it), labels or not.
    const now = await store.get(name, done.signal).catch((err) => {
      if (!signal.aborted) {
        log.warn("Reading round {name} failed: {error}", { name, error: String(err) });
      }
    });
    if (now) see(now);
    await listWatch({
      store,
      clock,
      selector: `${roundsSelector(tasks.app)},${LABEL.roundId}=${round}`,
      onList: (items) => items.forEach(see),
      onEvent: (event) => {
        if (event.type !== "DELETED") see(event.object);
      },
      onError: (err) =>
        log.warn("Reading round {name} failed: {error}", { name, error: String(err) }),
    }, done.signal);
  } finally {
    done.abort();
    signal.removeEventListener("abort", stop);
  }
  if (exit === undefined) throw signal.reason;
  return exit;
}
