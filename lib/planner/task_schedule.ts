/**
 * Which checks a round runs when every check keeps its own cadence (`interval` or `schedule`).
 * Pure: the planner hands in the cadences, the wall-clock time and what the summaries say.
 *
 * - Deployment mode ({@linkcode dueRound}): a round is the set of checks due at one slot, its id
 *   the slot's time (`YYYYMMDD-HHMMSS`, UTC), so every leader computes the same one. A round at
 *   slot T after the newest planned round L runs every check with a due time in (L, T]: once,
 *   however many of its due times passed while no leader planned (missed times are not caught up
 *   one by one), and never a due time at or before L (planned already, or in the past).
 * - CronJob mode ({@linkcode cronJobChecks}): the Job is the tick. A check with its own cadence
 *   runs in the first round at or after each due time — the round whose start is the first after
 *   it — and in no other round; without an earlier round's start to compare with, it runs.
 *
 * Invariant: a round's checks are decided once, when its summary is created, and stored in the
 * summary (`checks`); a leader that takes over a half-planned round completes exactly those.
 *
 * @module
 */
import { type Cadence, newestDueMs } from "../time/cadence.ts";
import { LABEL, roundIdAt } from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** The shape of interval round ids (`roundIdAt`): they sort as they happen. */
export const SLOT_ROUND = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/** A slot round id's time, ms since the epoch, or `undefined` for other ids (CronJob rounds). */
export function slotMs(round: string): number | undefined {
  const m = SLOT_ROUND.exec(round);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, ...number[]];
  return Date.UTC(y, mo! - 1, d, h, mi, s);
}

/** A round to plan: its id and the indices of the checks it runs. */
export interface DueRound {
  readonly round: string;
  readonly checks: readonly number[];
}

/**
 * The newest slot with a due check after the newest planned round, at or before `nowMs`.
 *
 * @param cadences Every check's cadence, by index (a check without its own runs at the
 *   release's interval: the caller passes that).
 * @param latest The newest planned slot round id, if known: due times within its second or before
 *   are never planned again. Unknown (a first start): the newest slot runs every check, as no check
 *   can tell when it ran last.
 * @returns `undefined` when nothing is due after `latest`.
 */
export function dueRound(
  cadences: readonly Cadence[],
  nowMs: number,
  latest: string | undefined,
): DueRound | undefined {
  const latestMs = latest === undefined ? undefined : slotMs(latest);
  // Round ids have whole seconds: a due time within the latest round's second belongs to it.
  const after = latestMs === undefined ? undefined : latestMs + 999;
  const dues = cadences.map((c) => newestDueMs(c, after, nowMs));
  const defined = dues.filter((d): d is number => d !== undefined);
  if (defined.length === 0) return undefined;
  const at = Math.max(...defined);
  const checks = cadences.flatMap((_, i) =>
    after === undefined || dues[i] !== undefined ? [i] : []
  );
  return { round: roundIdAt(new Date(at), 1000), checks };
}

/**
 * The checks a CronJob round starting at `startMs` runs: every check without a cadence, and each
 * check with one that has a due time in (`previousStartMs`, `startMs`]; every check when there is
 * no earlier round (`previousStartMs` undefined).
 */
export function cronJobChecks(
  cadences: readonly (Cadence | undefined)[],
  startMs: number,
  previousStartMs: number | undefined,
): number[] {
  return cadences.flatMap((c, i) =>
    c === undefined || previousStartMs === undefined ||
      newestDueMs(c, previousStartMs, startMs) !== undefined
      ? [i]
      : []
  );
}

/** The start of the newest round other than `round` that started before `beforeMs`. */
export function previousStart(
  summaries: readonly ConfigMapLike[],
  round: string,
  beforeMs: number,
): number | undefined {
  let newest: number | undefined;
  for (const s of summaries) {
    if (s.metadata.labels?.[LABEL.roundId] === round) continue;
    const start = Date.parse(s.data?.start ?? "");
    if (Number.isNaN(start) || start > beforeMs) continue;
    if (newest === undefined || start > newest) newest = start;
  }
  return newest;
}

/** The `checks` data key of a round summary: the indices of its checks. */
export function formatChecks(checks: readonly number[]): string {
  return checks.join(",");
}

/** A summary's checks, or `undefined` when it has no (valid) `checks` key (an older summary). */
export function parseChecks(summary: ConfigMapLike | undefined): number[] | undefined {
  const text = summary?.data?.checks;
  if (text === undefined || !/^(\d+(,\d+)*)?$/.test(text)) return undefined;
  return text === "" ? [] : text.split(",").map(Number);
}
