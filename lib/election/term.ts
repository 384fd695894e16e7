/**
 * Where an elector (`lib/election/elector.ts`) is in its life, and while it holds the lease its
 * **term**: the fencing epoch, when the last successful renewal started, and the controller whose
 * signal the leader work holds. Leadership is judged here on the local monotonic clock alone:
 * {@linkcode Term.isLeader} turns false `renewDeadline` after the last renewal started, whatever
 * the renewal loop is doing.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import type { ElectorPhase } from "./phase.ts";
import type { StopReason } from "./leadership_lost.ts";

/** How long past the lease duration an unrenewed leader stays healthy (client-go's 20 s). */
export const DEFAULT_HEALTHZ_TOLERANCE_MS = 20_000;

/** The outcome of {@linkcode Elector.checkHealthz}. */
export type HealthzResult = { readonly ok: true } | {
  readonly ok: false;
  readonly reason: string;
};

/** The elector's state; `leading` and `stopping` belong to one term. */
export type TermState =
  | { readonly kind: "idle" }
  | { readonly kind: "campaigning" }
  | {
    readonly kind: "leading";
    readonly epoch: number;
    /** Monotonic start of the last successful acquire or renew request. */
    readonly renewedAt: number;
    /** Aborts the signal handed to the leader work when the term ends. */
    readonly work: AbortController;
  }
  | {
    readonly kind: "stopping";
    readonly epoch: number;
    readonly renewedAt: number;
    readonly reason: StopReason;
  }
  | { readonly kind: "stopped" };

/**
 * The state of one elector and the clock rules on it.
 *
 * @example Usage
 * ```ts
 * import { Term } from "./term.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * const term = new Term(systemClock, 10_000, 15_000, () => "default/dz-mcall-leader");
 * term.campaign();
 * term.acquired(3, systemClock.now());
 * assert.equal(term.epoch(), 3);
 * assert.equal(term.isLeader(), true);
 * ```
 */
export class Term {
  readonly #clock: Clock;
  readonly #renewDeadlineMs: number;
  readonly #leaseDurationMs: number;
  readonly #describe: () => string;
  #state: TermState = { kind: "idle" };

  /**
   * @param clock The elector's clock.
   * @param renewDeadlineMs How long after a renewal started leading stays safe.
   * @param leaseDurationMs How long others wait before taking an unrenewed lease.
   * @param describe Names the lease, for the healthz reason.
   */
  constructor(
    clock: Clock,
    renewDeadlineMs: number,
    leaseDurationMs: number,
    describe: () => string,
  ) {
    this.#clock = clock;
    this.#renewDeadlineMs = renewDeadlineMs;
    this.#leaseDurationMs = leaseDurationMs;
    this.#describe = describe;
  }

  /** @returns The current state. */
  get state(): TermState {
    return this.#state;
  }

  /** @returns Where the elector is in its life. */
  phase(): ElectorPhase {
    return this.#state.kind;
  }

  /** Starts (or restarts) campaigning for the lease. */
  campaign(): void {
    this.#state = { kind: "campaigning" };
  }

  /** Starts term `epoch`, whose acquire request started at `startedAt` (monotonic). */
  acquired(epoch: number, startedAt: number): void {
    this.#state = { kind: "leading", epoch, renewedAt: startedAt, work: new AbortController() };
  }

  /** Extends the term: a renewal that started at `startedAt` (monotonic) succeeded. */
  renewed(startedAt: number): void {
    const state = this.#state;
    if (state.kind === "leading") this.#state = { ...state, renewedAt: startedAt };
  }

  /**
   * Ends the term for `reason`, keeping its epoch and last renewal.
   *
   * @returns The monotonic start of the term's last successful renewal.
   */
  stopping(epoch: number, reason: StopReason): number {
    const renewedAt = this.#state.kind === "leading" ? this.#state.renewedAt : this.#clock.now();
    this.#state = { kind: "stopping", epoch, renewedAt, reason };
    return renewedAt;
  }

  /** The campaign is over. */
  stopped(): void {
    this.#state = { kind: "stopped" };
  }

  /** @returns Whether leading is safe: a term and less than `renewDeadline` since its renewal. */
  isLeader(): boolean {
    const state = this.#state;
    return state.kind === "leading" &&
      this.#clock.now() < state.renewedAt + this.#renewDeadlineMs;
  }

  /** @returns The term's epoch while {@linkcode Term.isLeader}, else `undefined`. */
  epoch(): number | undefined {
    const state = this.#state;
    return state.kind === "leading" && this.isLeader() ? state.epoch : undefined;
  }

  /** @returns When the next renewal must have succeeded by, or now when not leading. */
  renewDeadlineAt(): number {
    const state = this.#state;
    return state.kind === "leading" ? state.renewedAt + this.#renewDeadlineMs : this.#clock.now();
  }

  /** @returns Milliseconds since the term's last renewal started, `undefined` outside a term. */
  lastRenewAgeMs(): number | undefined {
    const state = this.#state;
    return state.kind === "leading" || state.kind === "stopping"
      ? this.#clock.now() - state.renewedAt
      : undefined;
  }

  /** @returns Unhealthy only when leading without a renewal for `leaseDuration + toleranceMs`. */
  checkHealthz(toleranceMs: number): HealthzResult {
    const state = this.#state;
    if (state.kind !== "leading") return { ok: true };
    const ageMs = this.#clock.now() - state.renewedAt;
    if (ageMs > this.#leaseDurationMs + toleranceMs) {
      return {
        ok: false,
        reason: `Failed to renew leadership of lease ${this.#describe()}: last renewal ${
          Math.round(ageMs)
        } ms ago`,
      };
    }
    return { ok: true };
  }
}
