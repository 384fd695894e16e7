/**
 * Garbage collection of finished tasks: which terminal tasks and round summaries the leader
 * deletes, given the history limits, counted per check. Pure; the collector performs the deletes.
 *
 * @module
 */
import { isOpen, LABEL, tasksSelector, type TaskView } from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** What {@linkcode planGarbage} decided to delete. */
export interface Garbage {
  /** deleteCollection selectors, one per round (terminal states only). */
  readonly selectors: string[];
  /** Single tasks to delete: those of rounds where other tasks stay. */
  readonly tasks: string[];
  /** Round summaries to delete. */
  readonly summaries: string[];
}

/** States of a task that count as a failure of its check. */
const FAILURE_STATES = ["failed", "dead", "rejected"] as const;

/** Names of tasks without a deterministic `-<index>` suffix share this check (still bounded). */
const UNKNOWN_CHECK = "?";

/** The check a task belongs to: the input index its deterministic name ends with. */
function checkOf(task: TaskView): string {
  return /-(\d{3,})$/.exec(task.name)?.[1] ?? UNKNOWN_CHECK;
}

/**
 * Decides which finished tasks and summaries to delete. Rounds are ranked newest first by their
 * summary's `creationTimestamp` (the API server's clock, only used for ordering), else their
 * oldest task's, then by id. Each check (input index) keeps its own history, so an hourly check's
 * last result survives any number of 30-s rounds: of each check, the tasks of its newest
 * `historyLimit` rounds are kept, and its newest `failedHistoryLimit` failures (failed, dead or
 * rejected) however many clean runs came since (the failure an operator needs to read is never
 * the first thing to go); its other failures and older successes go. Open tasks and the tasks of
 * a round whose summary is still `running` are never selected. A summary follows its tasks: it
 * goes once none of them stays, its round is finished and outside the newest `historyLimit`
 * rounds (a new leader and the next CronJob round read the newest ones).
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
  const garbage: Garbage = { selectors: [], tasks: [], summaries: [] };
  /** Per check: its rounds and its failures seen so far, newest first (the next one's ranks). */
  const seen = new Map<string, { runs: number; failures: number }>();
  ranked.forEach(([round, e], rank) => {
    const running = (e.summary?.data?.phase ?? "complete") === "running";
    const drop: TaskView[] = [];
    for (const t of e.tasks) {
      let c = seen.get(checkOf(t));
      if (!c) seen.set(checkOf(t), c = { runs: 0, failures: 0 });
      const failed = (FAILURE_STATES as readonly string[]).includes(t.state!);
      const runRank = c.runs++;
      const failedRank = failed ? c.failures++ : Infinity;
      if (running || t.state === undefined || isOpen(t.state)) continue;
      if (failed ? failedRank >= limits.failedHistoryLimit : runRank >= limits.historyLimit) {
        drop.push(t);
      }
    }
    const states = new Set(drop.map((t) => t.state));
    const kept = e.tasks.filter((t) => !drop.includes(t));
    if (drop.length > 0 && !kept.some((t) => states.has(t.state))) {
      // No task that stays shares a state with those that go (always so when every check runs
      // every round): one deleteCollection by state for the round, however many tasks it has.
      const present = ["succeeded", ...FAILURE_STATES].filter((s) => states.has(s as never));
      garbage.selectors.push(
        tasksSelector(app, `${LABEL.roundId}=${round},${LABEL.state} in (${present.join(",")})`),
      );
    } else garbage.tasks.push(...drop.map((t) => t.name));
    if (
      !running && rank >= limits.historyLimit && e.summary && drop.length === e.tasks.length
    ) {
      garbage.summaries.push(e.summary.metadata.name);
    }
  });
  return garbage;
}
