/**
 * A round's summary ConfigMap (`<app>-round-<round>`): the data it starts with, and how its
 * per-state counts and phase follow the round's tasks. Pure; the planner performs the writes.
 *
 * @module
 */
import {
  isOpen,
  LABEL,
  rfc3339,
  roundName,
  type RoundPhase,
  TASK_STATES,
  type TaskView,
} from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";
import { formatChecks } from "./task_schedule.ts";

/** Options of {@linkcode newRoundSummary}. */
export interface NewRoundSummary {
  readonly app: string;
  readonly round: string;
  /** The number of tasks the round plans. */
  readonly total: number;
  readonly epoch: number;
  /** The planning leader's pod name. */
  readonly leader: string;
  /** Wall-clock start of the round. */
  readonly start: Date;
  /** The indices of the checks the round runs (`checks`, see `task_schedule.ts`). */
  readonly checks?: readonly number[];
}

/** A fresh `running` summary: every task pending. */
export function newRoundSummary(
  { app, round, total, epoch, leader, start, checks }: NewRoundSummary,
): ConfigMapLike {
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, "0"]));
  return {
    metadata: {
      name: roundName(app, round),
      labels: { [LABEL.app]: app, [LABEL.round]: "true", [LABEL.roundId]: round },
    },
    data: {
      ...counts,
      pending: String(total),
      total: String(total),
      start: rfc3339(start),
      leader,
      epoch: String(epoch),
      phase: "running",
      ...(checks ? { checks: formatChecks(checks) } : {}),
    },
  };
}

/**
 * The next phase and data of a running summary, from the round's tasks (`mine`): `complete` once
 * none is open (for the round being planned now, only once all `total` exist), else
 * `deadline-exceeded` when `overdue()`, else still `running`. A finished phase adds `end`.
 *
 * @param data The summary's current data.
 * @param mine The round's tasks.
 * @param round `current`: whether this is the round being planned now; `overdue`: whether the
 *   round is past its deadline; `end`: the wall-clock time to record when it finishes.
 */
export function nextSummary(
  data: Readonly<Record<string, string>>,
  mine: readonly TaskView[],
  round: { current: boolean; overdue: () => boolean; end: () => Date },
): { next: RoundPhase; updated: Record<string, string> } {
  const counts: Record<string, string> = {};
  for (const state of TASK_STATES) {
    counts[state] = String(mine.filter((t) => t.state === state).length);
  }
  const open = mine.filter((t) => isOpen(t.state)).length;
  const total = Number(data.total ?? "0");
  let next: RoundPhase = "running";
  if (open === 0 && (!round.current || mine.length >= total)) next = "complete";
  else if (round.overdue()) next = "deadline-exceeded";
  const updated: Record<string, string> = { ...data, ...counts, phase: next };
  if (next !== "running") updated.end = rfc3339(round.end());
  return { next, updated };
}
