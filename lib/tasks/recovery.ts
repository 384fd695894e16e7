/**
 * When the planner recovers an open task: why it needs recovering (its pod is gone, finished,
 * terminating or not ready, or it ran or waited too long), whether that costs an attempt, and the
 * backoff before acting on an attempt. Pure; the planner performs the writes.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import { decodeSpec, type TaskView } from "./contract.ts";
import type { PodInfo } from "./store.ts";

/** Cap of the reassignment backoff. */
export const MAX_BACKOFF_MS = 30_000;

/** The wait after observing a task before recovering its attempt `attempt`: min(2^n s, 30 s). */
export function backoffMs(attempt: number): number {
  return Math.min(2 ** attempt * 1000, MAX_BACKOFF_MS);
}

/** How long a task may run: its timeout for each try (spec.retries), 10 s for a garbled spec. */
function timeoutOf(task: TaskView): number {
  const decoded = decodeSpec(task.specText);
  return "spec" in decoded ? decoded.spec.timeoutMs * (decoded.spec.retries + 1) : 10_000;
}

/** Why an open task needs recovering, and how. */
export interface Stall {
  /** One line, recorded in the task's `reason` annotation. */
  readonly reason: string;
  /**
   * A pending task (no execution of this attempt started, or its worker handed it back) on a pod
   * that cannot take it: moved at once, keeping its attempt (nothing ran, so nothing is burned).
   * Otherwise the attempt counts: the task is retried after the backoff, or declared dead.
   */
  readonly handoff: boolean;
}

/** A pod that is gone for good: deleted, or finished (`Succeeded`/`Failed`, never to run again). */
function goneReason(task: TaskView, pod: PodInfo | undefined): string | undefined {
  if (!pod) return `pod ${task.assignedTo || "(none)"} is gone`;
  if (pod.phase === "Succeeded" || pod.phase === "Failed") {
    return `pod ${pod.name} has finished (${pod.phase})`;
  }
  return undefined;
}

/**
 * Why an open task needs recovering, or `undefined` when it does not.
 *
 * - Pending on a pod that is gone, finished, terminating or not ready: hand it off at once.
 * - Pending on a ready pod that has not claimed it within `2 × pollInterval + stuckGrace`.
 * - Running on a pod that is gone or finished (deleted with `--force`, node lost, Job pod exited),
 *   or whose containers restarted since the task's current version was first seen (the container
 *   that claimed it died; `restartsAtFirstSight`): its execution is lost.
 * - Running for more than its timeouts + `stuckGrace`, whatever its pod's state.
 *
 * A task running on a terminating or not-ready pod that still exists is left to its worker: a
 * terminating worker finishes it within its grace period or hands it back, and a worker whose
 * container restarted in place picks its own tasks up again (`lib/tasks/worker.ts`); the timeout rule
 * is the backstop (a lost node's pods stay terminating).
 *
 * @param task The task.
 * @param pod The pod it is assigned to, `undefined` when that pod does not exist.
 * @param ageMs How long ago (local monotonic clock) the task's current version was first seen.
 * @param tasks The `tasks` configuration (`stuckGrace`, `pollInterval`).
 * @param restartsAtFirstSight The pod's `restarts` when the task's current version was first seen.
 */
export function stallReason(
  task: TaskView,
  pod: PodInfo | undefined,
  ageMs: number,
  tasks: Pick<Config["tasks"], "stuckGrace" | "pollInterval">,
  restartsAtFirstSight?: number,
): Stall | undefined {
  const gone = goneReason(task, pod);
  if (task.state === "pending") {
    if (gone) return { reason: gone, handoff: true };
    if (pod!.terminating) return { reason: `pod ${pod!.name} is terminating`, handoff: true };
    if (!pod!.ready) return { reason: `pod ${pod!.name} is not ready`, handoff: true };
    const limit = 2 * tasks.pollInterval + tasks.stuckGrace;
    if (ageMs > limit) {
      return { reason: `not claimed by ${pod!.name} within ${limit} ms`, handoff: false };
    }
    return undefined;
  }
  if (task.state !== "running") return undefined;
  if (gone) return { reason: gone, handoff: false };
  // Unknown counts as 0: restartCount only ever grows, and only by a restart.
  if ((pod!.restarts ?? 0) > (restartsAtFirstSight ?? 0)) {
    return {
      reason: `the container of pod ${pod!.name} restarted while running it`,
      handoff: false,
    };
  }
  const limit = timeoutOf(task) + tasks.stuckGrace;
  if (ageMs > limit) {
    return { reason: `running on ${pod!.name} for over ${limit} ms`, handoff: false };
  }
  return undefined;
}
