/**
 * Which pods may take tasks and which of them gets the next one: the planner's pure assignment
 * decisions, used both when planning a round and when reassigning a task.
 *
 * @module
 */
import { isOpen, type TaskView } from "./contract.ts";
import type { PodInfo } from "./store.ts";

/**
 * Pods that may get tasks: ready, not terminating, matched by the selector. The leader is left
 * out unless it is the only one and `leaderRunsTasks` allows it.
 */
export function eligibleWorkers(
  pods: readonly PodInfo[],
  self: string,
  leaderRunsTasks: boolean,
): string[] {
  const ready = pods.filter((p) => p.ready && !p.terminating).map((p) => p.name).sort();
  const others = ready.filter((n) => n !== self);
  if (others.length > 0) return others;
  return leaderRunsTasks && ready.includes(self) ? [self] : [];
}

/**
 * Picks the pod with the fewest open tasks (ties by name) and counts the new task against it.
 *
 * @returns The pod, or `undefined` when `candidates` is empty.
 */
export function pickWorker(
  candidates: readonly string[],
  openCounts: Map<string, number>,
): string | undefined {
  let best: string | undefined;
  for (const name of [...candidates].sort()) {
    if (best === undefined || (openCounts.get(name) ?? 0) < (openCounts.get(best) ?? 0)) {
      best = name;
    }
  }
  if (best !== undefined) openCounts.set(best, (openCounts.get(best) ?? 0) + 1);
  return best;
}

/** Open tasks per assigned pod. */
export function countOpen(views: readonly TaskView[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of views) {
    if (isOpen(t.state)) counts.set(t.assignedTo, (counts.get(t.assignedTo) ?? 0) + 1);
  }
  return counts;
}
