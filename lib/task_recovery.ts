/**
 * When the planner recovers an open task: why it needs recovering (its pod is gone, terminating
 * or not ready, or it ran or waited too long), and the backoff before acting on an attempt. Pure;
 * the planner performs the writes.
 *
 * @module
 */
import type { Config } from "./config_schema.ts";
import { decodeSpec, type TaskView } from "./task_schema.ts";
import type { PodInfo } from "./task_store.ts";

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

/**
 * Why an open task needs recovering, or `undefined` when it does not.
 *
 * @param task The task.
 * @param pod The pod it is assigned to, `undefined` when that pod does not exist.
 * @param ageMs How long ago (local monotonic clock) the task's current version was first seen.
 * @param tasks The `tasks` configuration (`stuckGrace`, `pollInterval`).
 */
export function stallReason(
  task: TaskView,
  pod: PodInfo | undefined,
  ageMs: number,
  tasks: Pick<Config["tasks"], "stuckGrace" | "pollInterval">,
): string | undefined {
  let reason: string | undefined;
  if (!pod) reason = `pod ${task.assignedTo || "(none)"} is gone`;
  else if (pod.terminating) reason = `pod ${pod.name} is terminating`;
  else if (!pod.ready) reason = `pod ${pod.name} is not ready`;
  else if (task.state === "running" && ageMs > timeoutOf(task) + tasks.stuckGrace) {
    reason = `running on ${pod.name} for over ${timeoutOf(task) + tasks.stuckGrace} ms`;
  } else if (task.state === "pending" && ageMs > 2 * tasks.pollInterval + tasks.stuckGrace) {
    reason = `not claimed by ${pod.name} within ${2 * tasks.pollInterval + tasks.stuckGrace} ms`;
  }
  return reason;
}
