/**
 * The options, timings, callbacks' types and pure helpers of the leader election
 * (`lib/election/elector.ts`), kept apart so the elector's file holds only the algorithm. The
 * timing rules themselves live in `lib/election/timings.ts` (configuration validation calls them
 * too); {@linkcode validateTimings} words them for the elector's options. Import them from here.
 *
 * @module
 */
import { type Clock, systemClock } from "../time/clock.ts";
import { KubeError } from "../apimachinery/errors.ts";
import type { LeaseLock } from "./lease_lock.ts";
import type { LeaderElectionRecord } from "./lease_record.ts";
import { DEFAULT_LEASE_TIMINGS, LEASE_JITTER_FACTOR, leaseTimingViolation } from "./timings.ts";

/** How long a lease is valid without renewal, by default. */
export const DEFAULT_LEASE_DURATION_MS: number = DEFAULT_LEASE_TIMINGS.leaseDurationMs;
/** How long the leader keeps failing to renew before it gives up, by default. */
export const DEFAULT_RENEW_DEADLINE_MS: number = DEFAULT_LEASE_TIMINGS.renewDeadlineMs;
/** How often candidates retry, by default. */
export const DEFAULT_RETRY_PERIOD_MS: number = DEFAULT_LEASE_TIMINGS.retryPeriodMs;
/**
 * Acquisition waits `retryPeriod × (1 + rand × JITTER_FACTOR)`; also bounds `renewDeadline`
 * (the rule's factor, defined with the rule in `lib/election/timings.ts`).
 */
export const JITTER_FACTOR: number = LEASE_JITTER_FACTOR;
/** How long past the lease duration an unrenewed leader stays healthy (client-go's 20 s). */
export const DEFAULT_HEALTHZ_TOLERANCE_MS = 20_000;

/**
 * Why a leadership term ended: the run's signal aborted (`cancelled`), no renewal succeeded
 * within `renewDeadline` (`renewFailed`), or another holder appeared in the lease (`lost`).
 */
export type StopReason = "cancelled" | "renewFailed" | "lost";

/**
 * The reason of the signal handed to the leader work when its term ends, so leader code can tell
 * "leadership ended" from other aborts.
 *
 * @example Usage
 * ```ts
 * import { LeadershipLostError } from "./options.ts";
 * import assert from "node:assert/strict";
 * const err = new LeadershipLostError("renewFailed", "default/dz-mcall-leader");
 * assert.equal(err.name, "LeadershipLostError");
 * assert.equal(err.reason, "renewFailed");
 * ```
 */
export class LeadershipLostError extends Error {
  /** Why the term ended. */
  readonly reason: StopReason;

  /**
   * @param reason Why the term ended.
   * @param lease The lock's description, for the message.
   * @param options The underlying cause (the run signal's reason on cancel).
   */
  constructor(reason: StopReason, lease: string, options?: { cause?: unknown }) {
    const why = reason === "cancelled"
      ? "the election was cancelled"
      : reason === "renewFailed"
      ? "it could not be renewed in time"
      : "another candidate holds it";
    super(`Leadership of lease ${lease} ended as ${why}`, options);
    this.name = "LeadershipLostError";
    this.reason = reason;
  }
}

/** Counters and gauges for `lib/observe/metrics.ts`, so this module needs no metrics library. */
export interface ElectionEvents {
  /** This candidate started (1) or stopped (0) leading: `mcall_leader`. */
  leader?(value: 0 | 1): void;
  /** This candidate acquired the lease, starting term `epoch`: `mcall_leader_transitions_total`. */
  transition?(epoch: number): void;
  /** A renewal attempt by the leader failed: `mcall_lease_renew_failures_total`. */
  renewFailure?(): void;
}

/** The logging the elector does; a `@logtape/logtape` logger fits. */
export interface ElectionLogger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
}

/** The outcome of {@linkcode Elector.checkHealthz}. */
export type HealthzResult = { readonly ok: true } | {
  readonly ok: false;
  readonly reason: string;
};

/** Options of {@linkcode Elector}. */
export interface ElectorOptions {
  /** The lease; its `identity()` names this candidate and must not be empty. */
  lock: LeaseLock;
  /**
   * Called when this candidate starts a leadership term (not awaited by the campaign). `signal`
   * aborts with a {@linkcode LeadershipLostError} the moment the term ends; `epoch` is the
   * lease's `leaseTransitions` for this term, the fencing token to stamp on the leader's writes.
   * A returned promise is awaited when the term ends (see {@linkcode Elector.run}).
   */
  onStartedLeading: (signal: AbortSignal, epoch: number) => void | Promise<void>;
  /**
   * Called once when a term that began with `onStartedLeading` ends, after its work settled and
   * (on cancel) the lease was released. Unlike client-go it is not called if leading never began.
   */
  onStoppedLeading?: (reason: StopReason) => void;
  /**
   * Called when the observed holder changes, including to this candidate and to `""` (released).
   */
  onNewLeader?: (identity: string) => void;
  /** How long a lease is valid without renewal; whole seconds (a Lease stores seconds). Default
   * {@linkcode DEFAULT_LEASE_DURATION_MS}. */
  leaseDurationMs?: number;
  /** How long the leader retries renewal before giving up; less than `leaseDurationMs`. Default
   * {@linkcode DEFAULT_RENEW_DEADLINE_MS}. */
  renewDeadlineMs?: number;
  /** Time between attempts; `renewDeadlineMs` must exceed 1.2 × this. Default
   * {@linkcode DEFAULT_RETRY_PERIOD_MS}. */
  retryPeriodMs?: number;
  /** Release the lease when the run's signal aborts. Default true. */
  releaseOnCancel?: boolean;
  /**
   * Asked right before a write that would take the lease (creating it, or a takeover of a free
   * or expired one), never before a renewal; `false` skips that attempt (the candidate keeps
   * polling and asks again next time). A one-shot pod whose round is over says `false`, so it
   * never takes the lease its leader released at the end of the round. Should not throw (a throw
   * counts as `true`). Default: always `true`.
   */
  mayAcquire?: () => boolean | Promise<boolean>;
  /** Time source. Default {@linkcode systemClock}. */
  clock?: Clock;
  /** Random numbers in [0, 1) for the acquisition jitter. Default `Math.random`. */
  random?: () => number;
  /** Metrics sink. Default none. */
  events?: ElectionEvents;
  /** Logger. Default silent. */
  logger?: ElectionLogger;
}

/** Where an elector is; `leading` and `stopping` belong to one term. */
export type ElectorPhase = "idle" | "campaigning" | "leading" | "stopping" | "stopped";

/** A logger that drops everything. */
export const silentLogger: ElectionLogger = { debug() {}, info() {}, warn() {} };

/** Whether two records are equal field by field (`a` may be `null`: never read). */
export function sameRecord(a: LeaderElectionRecord | null, b: LeaderElectionRecord): boolean {
  return a !== null && a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds && a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime && a.leaseTransitions === b.leaseTransitions;
}

/** Log properties describing a lock error. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof KubeError) {
    return { kind: err.kind, status: err.code, error: err.message };
  }
  return { error: err instanceof Error ? err.message : String(err) };
}

/**
 * Checks `leaseDurationMs > renewDeadlineMs > 1.2 × retryPeriodMs`, all positive, the lease in
 * whole seconds: the rules of `lib/election/timings.ts`, worded for the elector's options.
 *
 * @throws {RangeError} Naming the option and its value.
 */
export function validateTimings(
  leaseDurationMs: number,
  renewDeadlineMs: number,
  retryPeriodMs: number,
) {
  const violation = leaseTimingViolation({ leaseDurationMs, renewDeadlineMs, retryPeriodMs });
  switch (violation?.rule) {
    case undefined:
      return;
    case "positive":
      throw new RangeError(
        `Cannot start election as '${violation.option}' must be a positive number: current value is ${violation.value}`,
      );
    case "wholeSeconds":
      throw new RangeError(
        `Cannot start election as 'leaseDurationMs' must be a whole number of seconds: current value is ${leaseDurationMs}`,
      );
    case "renewBelowLease":
      throw new RangeError(
        `Cannot start election as 'renewDeadlineMs' must be less than 'leaseDurationMs': current values are ${renewDeadlineMs} and ${leaseDurationMs}`,
      );
    case "renewAboveRetry":
      throw new RangeError(
        `Cannot start election as 'renewDeadlineMs' must be greater than ${JITTER_FACTOR} × 'retryPeriodMs': current values are ${renewDeadlineMs} and ${retryPeriodMs}`,
      );
  }
}

/** {@linkcode ElectorOptions} with the defaults applied and the lock's identity read. */
export interface ResolvedElectorOptions {
  readonly lock: LeaseLock;
  readonly identity: string;
  readonly onStartedLeading: (signal: AbortSignal, epoch: number) => void | Promise<void>;
  readonly onStoppedLeading: ((reason: StopReason) => void) | undefined;
  readonly onNewLeader: ((identity: string) => void) | undefined;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly releaseOnCancel: boolean;
  readonly mayAcquire: () => boolean | Promise<boolean>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly events: ElectionEvents;
  readonly logger: ElectionLogger;
}

/**
 * Validates every option of an elector and applies the defaults.
 *
 * @param options The lock, callbacks, timings and hooks.
 * @returns The options with defaults and the lock's identity.
 * @throws {TypeError} When the lock is missing, its identity is empty, or `onStartedLeading` is
 *   not a function.
 * @throws {RangeError} When a timing is not positive, the lease duration is not whole seconds,
 *   or the timings break `leaseDurationMs > renewDeadlineMs > 1.2 × retryPeriodMs`.
 */
export function resolveElectorOptions(options: ElectorOptions): ResolvedElectorOptions {
  const {
    lock,
    onStartedLeading,
    onStoppedLeading,
    onNewLeader,
    leaseDurationMs = DEFAULT_LEASE_DURATION_MS,
    renewDeadlineMs = DEFAULT_RENEW_DEADLINE_MS,
    retryPeriodMs = DEFAULT_RETRY_PERIOD_MS,
    releaseOnCancel = true,
    mayAcquire = () => true,
    clock = systemClock,
    random = Math.random,
    events = {},
    logger = silentLogger,
  } = options;
  if (typeof lock?.identity !== "function") {
    throw new TypeError(
      `Cannot start election as 'lock' must be a lease lock: current value is ${lock}`,
    );
  }
  const identity = lock.identity();
  if (typeof identity !== "string" || identity === "") {
    throw new TypeError(
      `Cannot start election as the lock's 'identity' must not be empty: current value is ${
        JSON.stringify(identity)
      }`,
    );
  }
  if (typeof onStartedLeading !== "function") {
    throw new TypeError(
      `Cannot start election as 'onStartedLeading' must be a function: current value is ${onStartedLeading}`,
    );
  }
  validateTimings(leaseDurationMs, renewDeadlineMs, retryPeriodMs);
  return {
    lock,
    identity,
    onStartedLeading,
    onStoppedLeading,
    onNewLeader,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    releaseOnCancel,
    mayAcquire,
    clock,
    random,
    events,
    logger,
  };
}
