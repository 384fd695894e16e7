/**
 * Which interval round the leader plans now (deployment mode): the slot of `tasks.interval`
 * containing the wall-clock time, but never a slot at or before the newest round already planned,
 * which stays current instead. A new leader reads that round from the summaries first, so a
 * changed interval takes effect from its first slot after the last planned round, and round ids
 * never go backwards. Pure: the planner hands it the summaries.
 *
 * @module
 */
import { LABEL, roundIdAt } from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** The shape of interval round ids (`roundIdAt`): they sort as they happen. */
const INTERVAL_ROUND = /^\d{8}-\d{6}$/;

/** The newest interval round planned so far, and the slot to plan now. */
export class RoundSchedule {
  #latest: string | undefined;
  #known = false;

  /** Whether the newest planned round has been read ({@linkcode RoundSchedule.learn}). */
  get known(): boolean {
    return this.#known;
  }

  /**
   * The round to plan at `wall`: the interval slot containing it, or the newest planned round
   * when that slot is not after it.
   */
  current(wall: Date, intervalMs: number): string {
    const slot = roundIdAt(wall, intervalMs);
    return this.#latest !== undefined && slot <= this.#latest ? this.#latest : slot;
  }

  /** Notes a planned round id (ids not of the interval shape are ignored). */
  note(round: string): void {
    if (!INTERVAL_ROUND.test(round)) return;
    if (this.#latest === undefined || round > this.#latest) this.#latest = round;
  }

  /** Reads the newest planned round from the app's round summaries (once). */
  learn(summaries: readonly ConfigMapLike[]): void {
    if (this.#known) return;
    for (const s of summaries) this.note(s.metadata.labels?.[LABEL.roundId] ?? "");
    this.#known = true;
  }
}
