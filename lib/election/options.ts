/**
 * The options of the leader election (`lib/election/elector.ts`): what a caller passes, their
 * defaults, and their validation. The timing rules themselves live in `lib/election/timings.ts`
 * (configuration validation calls them too); {@linkcode validateTimings} words them for the
 * elector's options.
 *
 * @module
 */
import { type Clock, systemClock } from "../time/clock.ts";
import type { LeaseLock } from "./lease_lock.ts";
import type { StopReason } from "./leadership_lost.ts";
import type { ElectionEvents } from "./events.ts";
import { type ElectionLogger, silentLogger } from "./logger.ts";
import { DEFAULT_LEASE_TIMINGS, LEASE_JITTER_FACTOR, leaseTimingViolation } from "./timings.ts";

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
   * `DEFAULT_LEASE_TIMINGS`. */
  leaseDurationMs?: number;
  /** How long the leader retries renewal before giving up; less than `leaseDurationMs`. Default
   * `DEFAULT_LEASE_TIMINGS`. */
  renewDeadlineMs?: number;
  /** Time between attempts; `renewDeadlineMs` must exceed 1.2 × this. Default
   * `DEFAULT_LEASE_TIMINGS`. */
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
        `Cannot start election as 'renewDeadlineMs' must be greater than ${LEASE_JITTER_FACTOR} × 'retryPeriodMs': current values are ${renewDeadlineMs} and ${retryPeriodMs}`,
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
    leaseDurationMs = DEFAULT_LEASE_TIMINGS.leaseDurationMs,
    renewDeadlineMs = DEFAULT_LEASE_TIMINGS.renewDeadlineMs,
    retryPeriodMs = DEFAULT_LEASE_TIMINGS.retryPeriodMs,
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
