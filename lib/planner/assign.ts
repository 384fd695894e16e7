/**
 * Which pods may take tasks and which of them gets the next one: the planner's pure assignment
 * decisions, used both when planning a round and when reassigning a task. Nothing here changes
 * its arguments: counts are returned as new maps.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import { isOpen, LABEL, type TaskView } from "../tasks/contract.ts";
import type { PodInfo } from "../tasks/store.ts";

/** The label selector of the pods that may run tasks: `tasks.workerSelector`, else `app=<app>`. */
export function workerSelector(tasks: Pick<Config["tasks"], "workerSelector" | "app">): string {
  return tasks.workerSelector || `${LABEL.app}=${tasks.app}`;
}

/** The label the Job controller puts on each of its pods (the chart's CronJob rounds). */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

/**
 * Whether a pod may take tasks: not terminating, and Ready — or, for a Job's pod (a CronJob
 * round's, {@linkcode JOB_NAME_LABEL}), Running with every container started. A Job's pods all
 * start for the round and leave when it ends, so waiting for a readiness probe (its initial delay,
 * then a period of several seconds) would only delay the round: a task assigned to a started pod
 * waits in its ConfigMap until that pod's worker lists it, which it does first thing. Every
 * guarantee is the claim's and the fencing's, not readiness's: a task still runs once, and a pod
 * that never claims it is recovered as any other (`recovery_rules.ts` uses this same rule).
 */
export function mayTakeTasks(pod: PodInfo): boolean {
  if (pod.terminating) return false;
  return pod.ready || (pod.started === true && pod.labels[JOB_NAME_LABEL] !== undefined);
}

/**
 * Pods that may get tasks ({@linkcode mayTakeTasks}), matched by the selector. The leader is left
 * out unless it is the only one and `leaderRunsTasks` allows it.
 */
export function eligibleWorkers(
  pods: readonly PodInfo[],
  self: string,
  leaderRunsTasks: boolean,
): string[] {
  const ready = pods.filter(mayTakeTasks).map((p) => p.name).sort();
  const others = ready.filter((n) => n !== self);
  if (others.length > 0) return others;
  return leaderRunsTasks && ready.includes(self) ? [self] : [];
}

/**
 * The pod with the fewest open tasks (ties by name).
 *
 * @returns The pod, or `undefined` when `candidates` is empty.
 */
export function pickWorker(
  candidates: readonly string[],
  openCounts: ReadonlyMap<string, number>,
): string | undefined {
  let best: string | undefined;
  for (const name of [...candidates].sort()) {
    if (best === undefined || (openCounts.get(name) ?? 0) < (openCounts.get(best) ?? 0)) {
      best = name;
    }
  }
  return best;
}

/** `openCounts` with one more open task on `pod`. */
export function withTask(
  openCounts: ReadonlyMap<string, number>,
  pod: string,
): Map<string, number> {
  return new Map(openCounts).set(pod, (openCounts.get(pod) ?? 0) + 1);
}

/**
 * Assigns `count` new tasks one after the other, each to the {@linkcode pickWorker} of the
 * counts so far (balanced, deterministic).
 *
 * @returns One pod per task, empty when `workers` is.
 */
export function assignTasks(
  count: number,
  workers: readonly string[],
  openCounts: ReadonlyMap<string, number>,
): string[] {
  if (workers.length === 0) return [];
  const counts = new Map(openCounts);
  return Array.from({ length: count }, () => {
    const pod = pickWorker(workers, counts)!;
    counts.set(pod, (counts.get(pod) ?? 0) + 1);
    return pod;
  });
}

/** Open tasks per assigned pod. */
export function countOpen(views: readonly TaskView[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of views) {
    if (isOpen(t.state)) counts.set(t.assignedTo, (counts.get(t.assignedTo) ?? 0) + 1);
  }
  return counts;
}
