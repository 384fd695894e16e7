/**
 * What the planner does with each open task ({@linkcode decideRecovery}): leave it, adopt it
 * (re-stamp a pending task of an earlier term), wait, declare it dead, or reassign it — from why
 * it needs recovering (its pod is gone, finished, terminating or not ready, or it ran or waited
 * too long), whether that costs an attempt, and the backoff before acting on an attempt. Pure;
 * the planner (`recovery_pass.ts`) checks signatures and performs the writes.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import { decodeSpec, type TaskView } from "../tasks/contract.ts";
import { mayTakeTasks, pickWorker } from "./assign.ts";
import type { PodInfo } from "../tasks/store.ts";

/** Cap of the reassignment backoff. */
const MAX_BACKOFF_MS = 30_000;

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
interface Stall {
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
 * - Pending on a pod that is gone, finished, terminating or not ready (cannot take tasks,
 *   `mayTakeTasks`: a Job's started pod counts as ready): hand it off at once.
 * - Pending on a ready pod that has not claimed it within `2 × pollInterval + stuckGrace`.
 * - Running on a pod that is gone or finished (deleted with `--force`, node lost, Job pod exited),
 *   or whose containers restarted since the task's current version was first seen (the container
 *   that claimed it died; `restartsAtFirstSight`): its execution is lost.
 * - Running for more than its timeouts + `stuckGrace`, whatever its pod's state.
 *
 * A task running on a terminating or not-ready pod that still exists is left to its worker: a
 * terminating worker finishes it within its grace period or hands it back, and a worker whose
 * container restarted in place picks its own tasks up again (`lib/worker/worker.ts`); the timeout rule
 * is the backstop (a lost node's pods stay terminating).
 *
 * @param task The task.
 * @param pod The pod it is assigned to, `undefined` when that pod does not exist.
 * @param ageMs How long ago (local monotonic clock) the task's current version was first seen.
 * @param tasks The `tasks` configuration (`stuckGrace`, `pollInterval`).
 * @param restartsAtFirstSight The pod's `restarts` when the task's current version was first seen.
 */
function stallReason(
  task: TaskView,
  pod: PodInfo | undefined,
  ageMs: number,
  tasks: Pick<Config["tasks"], "stuckGraceMs" | "pollIntervalMs">,
  restartsAtFirstSight?: number,
): Stall | undefined {
  const gone = goneReason(task, pod);
  if (task.state === "pending") {
    if (gone) return { reason: gone, handoff: true };
    if (pod!.terminating) return { reason: `pod ${pod!.name} is terminating`, handoff: true };
    if (!mayTakeTasks(pod!)) return { reason: `pod ${pod!.name} is not ready`, handoff: true };
    const limit = 2 * tasks.pollIntervalMs + tasks.stuckGraceMs;
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
  const limit = timeoutOf(task) + tasks.stuckGraceMs;
  if (ageMs > limit) {
    return { reason: `running on ${pod!.name} for over ${limit} ms`, handoff: false };
  }
  return undefined;
}

/** What the planner saw of a task's current version. */
export interface Observation {
  readonly resourceVersion: string;
  /** Local monotonic time when this resourceVersion was first seen. */
  readonly observedAt: number;
  /** The assigned pod's container restarts then (a rise means the claiming container died). */
  readonly restarts: number | undefined;
}

/**
 * `previous` while `task` keeps its resourceVersion, else a new observation at `now` (with the
 * restarts of `pod`, the pod the task is assigned to).
 */
export function observe(
  previous: Observation | undefined,
  task: TaskView,
  pod: PodInfo | undefined,
  now: number,
): Observation {
  return previous?.resourceVersion === task.resourceVersion
    ? previous
    : { resourceVersion: task.resourceVersion, observedAt: now, restarts: pod?.restarts };
}

/**
 * What to do with an open task. Every action but `leave` re-stamps or ends the task, or would
 * once it can: the planner first checks its signature and rejects a forged task instead.
 *
 * - `leave`: nothing to do.
 * - `adopt`: re-stamp a pending task of an earlier term with this term's epoch.
 * - `wait`: it needs recovering (`reason`), but not yet (backoff) or there is no pod to move it to.
 * - `dead`: its attempts are used up.
 * - `reassign`: move it to `target` with `attempt`.
 */
export type Recovery =
  | { readonly action: "leave" }
  | { readonly action: "adopt" }
  | { readonly action: "wait"; readonly reason: string }
  | { readonly action: "dead"; readonly reason: string }
  | {
    readonly action: "reassign";
    readonly reason: string;
    readonly target: string;
    readonly attempt: number;
  };

/** What {@linkcode decideRecovery} decides from. */
export interface RecoveryInput {
  readonly task: TaskView;
  /** The pod the task is assigned to, `undefined` when it does not exist. */
  readonly pod: PodInfo | undefined;
  /** The observation of the task's current version. */
  readonly observed: Observation;
  /** Local monotonic time. */
  readonly now: number;
  /** The planner's fencing epoch. */
  readonly epoch: number;
  /** The pods that may take tasks ({@linkcode eligibleWorkers}). */
  readonly workers: readonly string[];
  /** Open tasks per pod, counting the tasks moved so far in this pass. */
  readonly openCounts: ReadonlyMap<string, number>;
}

/**
 * Decides what to do with an open task (see {@linkcode Recovery} and {@linkcode stallReason}).
 * A handoff (pending, nothing ran) moves at once and keeps its attempt; a stall that costs an
 * attempt waits {@linkcode backoffMs} after the version was first seen, then is retried on
 * another pod (the same one if it is the only one) or, after `maxAttempts`, declared dead.
 */
export function decideRecovery(
  input: RecoveryInput,
  tasks: Pick<Config["tasks"], "stuckGraceMs" | "pollIntervalMs" | "maxAttempts">,
): Recovery {
  const { task, observed, workers } = input;
  const ageMs = input.now - observed.observedAt;
  const stall = stallReason(task, input.pod, ageMs, tasks, observed.restarts);
  if (stall === undefined) {
    const earlier = task.state === "pending" && (task.epoch ?? -1) < input.epoch;
    return earlier ? { action: "adopt" } : { action: "leave" };
  }
  const { reason, handoff } = stall;
  if (!handoff && ageMs < backoffMs(task.attempt)) return { action: "wait", reason };
  if (!handoff && task.attempt >= tasks.maxAttempts) return { action: "dead", reason };
  const others = workers.filter((w) => w !== task.assignedTo);
  const target = pickWorker(others.length > 0 ? others : workers, input.openCounts);
  if (target === undefined) return { action: "wait", reason };
  const attempt = handoff ? task.attempt : task.attempt + 1;
  return { action: "reassign", reason, target, attempt };
}
