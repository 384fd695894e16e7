/**
 * Garbage collection of finished rounds: which terminal tasks and round summaries the leader
 * deletes, given the history limits. Pure; the planner performs the deletes.
 *
 * @module
 */
import { isOpen, LABEL, tasksSelector, type TaskView } from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** What {@linkcode planGarbage} decided to delete. */
export interface Garbage {
  /** deleteCollection selectors, one per round (terminal states only). */
  readonly selectors: string[];
  /** Round summaries to delete. */
  readonly summaries: string[];
}

/** States of a task that count as a failure of its round. */
const FAILURE_STATES = ["failed", "dead", "rejected"] as const;

/**
 * Decides which finished tasks and summaries to delete. Rounds are ranked newest first by their
 * summary's `creationTimestamp` (the API server's clock, only used for ordering), else their
 * oldest task's, then by id. Succeeded tasks of the newest `historyLimit` rounds are kept;
 * failed/dead/rejected tasks of the newest `failedHistoryLimit` rounds *that had such a task* are
 * kept, however many clean rounds came since (the failure an operator needs to read is never the
 * first thing to go). A summary goes once its round is outside both: older than `historyLimit`
 * rounds and not one of the kept failed rounds. Open tasks are never selected (the selectors name
 * terminal states only), and a round whose summary is still `running` is left alone.
 */
export function planGarbage(
  app: string,
  views: readonly TaskView[],
  summaries: readonly ConfigMapLike[],
  limits: { historyLimit: number; failedHistoryLimit: number },
): Garbage {
  const rounds = new Map<string, { at: number; summary?: ConfigMapLike; tasks: TaskView[] }>();
  const entry = (round: string) => {
    let e = rounds.get(round);
    if (!e) rounds.set(round, e = { at: Infinity, tasks: [] });
    return e;
  };
  for (const s of summaries) {
    const e = entry(s.metadata.labels?.[LABEL.roundId] ?? "");
    e.summary = s;
    e.at = s.metadata.creationTimestamp?.getTime() ?? e.at;
  }
  for (const t of views) {
    const e = entry(t.round);
    e.tasks.push(t);
    if (!e.summary) e.at = Math.min(e.at, t.creationTimestamp?.getTime() ?? Infinity);
  }
  const ranked = [...rounds.entries()].sort(([ra, a], [rb, b]) =>
    a.at !== b.at ? (a.at > b.at ? -1 : 1) : (ra > rb ? -1 : ra < rb ? 1 : 0)
  );
  const garbage: Garbage = { selectors: [], summaries: [] };
  /** Rounds with a failure seen so far, newest first (the failed rank of the next one). */
  let failedRounds = 0;
  ranked.forEach(([round, e], rank) => {
    const failed = e.tasks.some((t) => (FAILURE_STATES as readonly string[]).includes(t.state!));
    const failedRank = failed ? failedRounds++ : Infinity;
    if ((e.summary?.data?.phase ?? "complete") === "running") return;
    const keepFailures = failedRank < limits.failedHistoryLimit;
    const drop: string[] = [];
    if (rank >= limits.historyLimit) drop.push("succeeded");
    if (!keepFailures) drop.push(...FAILURE_STATES);
    const present = drop.filter((s) => e.tasks.some((t) => t.state === s));
    if (present.length > 0) {
      garbage.selectors.push(
        tasksSelector(app, `${LABEL.roundId}=${round},${LABEL.state} in (${present.join(",")})`),
      );
    }
    if (
      rank >= limits.historyLimit && !keepFailures && e.summary &&
      !e.tasks.some((t) => isOpen(t.state))
    ) {
      garbage.summaries.push(e.summary.metadata.name);
    }
  });
  return garbage;
}
