/**
 * Which round the leader plans now (deployment mode): the newest slot at which a check is due
 * (`task_schedule.ts`), but never a slot at or before the newest round already planned, which
 * stays current instead. A new leader reads that round from the summaries first, so a changed
 * interval or schedule takes effect from its first due time after the last planned round, and
 * round ids never go backwards. Pure: the planner hands it the summaries.
 *
 * @module
 */
import { LABEL } from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";
import type { Cadence } from "../time/cadence.ts";
import type { Config } from "../config/schema.ts";
import type { InputSpec } from "../engine/input.ts";
import {
  cronJobChecks,
  dueRound,
  parseChecks,
  previousStart,
  SLOT_ROUND,
} from "./task_schedule.ts";

/** The newest interval round planned so far, and the slot to plan now. */
export class RoundSchedule {
  #latest: string | undefined;
  #known = false;

  /** Whether the newest planned round has been read ({@linkcode RoundSchedule.learn}). */
  get known(): boolean {
    return this.#known;
  }

  /**
   * The round to plan at `wall`: the newest slot where a check is due after the newest planned
   * round, with its checks; else that planned round (`checks` undefined: its summary says), or
   * `undefined` when none is known either.
   *
   * @param cadences Every check's cadence, by index.
   */
  current(
    wall: Date,
    cadences: readonly Cadence[],
  ): { round: string; checks?: readonly number[] } | undefined {
    const due = dueRound(cadences, wall.getTime(), this.#latest);
    if (due !== undefined) return due;
    return this.#latest === undefined ? undefined : { round: this.#latest };
  }

  /** Notes a planned round id (ids not of the interval shape are ignored). */
  note(round: string): void {
    if (!SLOT_ROUND.test(round)) return;
    if (this.#latest === undefined || round > this.#latest) this.#latest = round;
  }

  /** Reads the newest planned round from the app's round summaries (once). */
  learn(summaries: readonly ConfigMapLike[]): void {
    if (this.#known) return;
    for (const s of summaries) this.note(s.metadata.labels?.[LABEL.roundId] ?? "");
    this.#known = true;
  }
}

/** Options of {@linkcode RoundPicker}. */
export interface RoundPickerOptions {
  /** `tasks.round` (one-shot mode when set) and `tasks.interval` (the default cadence, `intervalMs`). */
  readonly tasks: Pick<Config["tasks"], "round" | "intervalMs">;
  /** Each check's own cadence by index (`undefined`: none, it runs every round). */
  readonly cadences?: readonly (Cadence | undefined)[];
}

/**
 * The round the leader plans now and the inputs it runs: in one-shot mode `tasks.round` with the
 * checks due since the previous round started (`cronJobChecks`), in deployment mode the newest due
 * slot ({@linkcode RoundSchedule}). A round whose summary exists runs the checks it names.
 */
export class RoundPicker {
  readonly #o: RoundPickerOptions;
  readonly schedule = new RoundSchedule();

  constructor(options: RoundPickerOptions) {
    this.#o = options;
  }

  /**
   * Each check's cadence in deployment mode (its own, else the release's interval), and last the
   * release's interval itself: a round is planned at least every `tasks.interval`, empty when no
   * check is due, so "no round completed for 2 × interval" keeps meaning the leader is stuck.
   */
  #slots(count: number): Cadence[] {
    const every: Cadence = { kind: "interval", intervalMs: this.#o.tasks.intervalMs };
    return [...Array.from({ length: count }, (_, i) => this.#o.cadences?.[i] ?? every), every];
  }

  /**
   * The round to plan at `wall` with its inputs, or `undefined` when no round is due or known.
   * Deployment mode reads the newest planned round from `summaries` first (once a term).
   */
  pick(
    wall: Date,
    inputs: readonly InputSpec[],
    summaries: readonly ConfigMapLike[],
  ): { round: string; inputs: readonly InputSpec[] } | undefined {
    const { round: oneShot } = this.#o.tasks;
    let round: string;
    let checks: readonly number[] | undefined;
    const summaryOf = (id: string) =>
      summaries.find((s) => s.metadata.labels?.[LABEL.roundId] === id);
    if (oneShot !== "") {
      round = oneShot;
      if (summaryOf(round) === undefined) {
        const own = inputs.map((s) => this.#o.cadences?.[s.index]);
        const start = wall.getTime();
        checks = cronJobChecks(own, start, previousStart(summaries, round, start))
          .map((i) => inputs[i]!.index);
      }
    } else {
      this.schedule.learn(summaries);
      const current = this.schedule.current(wall, this.#slots(inputs.length));
      if (current === undefined) return undefined;
      ({ round, checks } = current);
    }
    checks = parseChecks(summaryOf(round)) ?? checks;
    if (checks === undefined) return { round, inputs };
    const set = new Set(checks);
    return { round, inputs: inputs.filter((s) => set.has(s.index)) };
  }

  /** The round id `pick` would return (for logs and tests), `""` when none. */
  current(wall: Date, count: number): string {
    const { round } = this.#o.tasks;
    return round !== "" ? round : this.schedule.current(wall, this.#slots(count))?.round ?? "";
  }
}
