/**
 * The watch side of the leader election (`lib/election/elector.ts`): a standby that only polls the Lease
 * every `retryPeriod × (1 + rand × 1.2)` learns of a renewal up to one poll late, so it takes over
 * a crashed leader up to `leaseDuration + 2 × 2.2 × retryPeriod` after the last renewal. Watching
 * the Lease shows every renewal within milliseconds, so a standby can wake exactly when the
 * observed lease may expire, and at once when it is released.
 *
 * - {@linkcode LeaseWatcher} keeps a {@linkcode LeaseLock.watch} open for the life of an election,
 *   restarting it at once when it ends after having lasted (server or client timeouts), and
 *   backing off (from `retryPeriod` up to a minute) when it fails at once, e.g. with 403 because
 *   the Role lacks `watch` on leases. The first such failure is logged at warn, later ones at
 *   debug: the election works without the watch, only slower.
 * - {@linkcode Waker} is the acquisition loop's pause: it sleeps until a deadline that may move
 *   (re-evaluated whenever {@linkcode Waker.recompute} is called) or until
 *   {@linkcode Waker.wakeNow}; all waits go through the injected {@linkcode Clock}.
 *
 * The watch is only an optimisation. It changes when a standby *tries*; whether it may take the
 * lease is decided as before: by its own observed record and local observation time, and by the
 * compare-and-swap on the resourceVersion.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { describeError, type ElectionLogger } from "./logger.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { LeaseSnapshot } from "./lease_lock.ts";

/** A watching standby wakes at expiry plus `rand × WAKE_JITTER_FACTOR × retryPeriod`. */
export const WAKE_JITTER_FACTOR = 0.1;
/** The longest pause between two failed attempts to watch the lease. */
export const MAX_WATCH_BACKOFF_MS = 60_000;

/** Options of {@linkcode LeaseWatcher}. */
export interface LeaseWatcherOptions {
  /** Starts one watch (a {@linkcode LeaseLock.watch} bound to its lock). */
  watch: (onRecord: (snapshot: LeaseSnapshot | null) => void, signal: AbortSignal) => Promise<void>;
  /** Receives every watched change (`null`: the lease was deleted). */
  onRecord: (snapshot: LeaseSnapshot | null) => void;
  /** Time source for the backoff. */
  clock: Clock;
  /** First backoff after a failure, doubling up to {@linkcode MAX_WATCH_BACKOFF_MS}. */
  retryPeriodMs: number;
  /** Where failures go. */
  logger: ElectionLogger;
  /** The lease, for logs. */
  lease: string;
}

/**
 * Keeps a watch on the lease open until stopped.
 *
 * @example Usage
 * ```ts
 * import { LeaseWatcher } from "./lease_watch.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * const seen: string[] = [];
 * const stop = new AbortController();
 * const watcher = new LeaseWatcher({
 *   watch: (onRecord) => {
 *     onRecord({ record: { holderIdentity: "pod-a", leaseDurationSeconds: 15, acquireTime: null, renewTime: null, leaseTransitions: 0 }, resourceVersion: "1" });
 *     stop.abort();
 *     return Promise.resolve();
 *   },
 *   onRecord: (s) => seen.push(s?.record.holderIdentity ?? "deleted"),
 *   clock: systemClock,
 *   retryPeriodMs: 2000,
 *   logger: { debug() {}, info() {}, warn() {} },
 *   lease: "default/dz-mcall-leader",
 * });
 * await watcher.run(stop.signal);
 * assert.deepEqual(seen, ["pod-a"]);
 * ```
 */
export class LeaseWatcher {
  readonly #options: LeaseWatcherOptions;
  #live = false;
  #warned = false;

  /** @param options The watch call, the receiver of changes, the clock and the logger. */
  constructor(options: LeaseWatcherOptions) {
    this.#options = options;
  }

  /**
   * Whether a watch is open right now: only then can a quiet lease be taken to mean "not
   * renewed", so only then does the elector wake at the observed expiry.
   */
  get live(): boolean {
    return this.#live;
  }

  /**
   * Watches until `signal` aborts: restarts a watch the server ended (at once if it lasted at
   * least `retryPeriod` or delivered a change, else after the backoff) and backs off after a
   * failure.
   *
   * @param signal Stops the watch; the promise resolves promptly, even if the watch call does not.
   * @returns A promise that resolves when stopped; never rejects.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, retryPeriodMs, logger, lease } = this.#options;
    const stopped = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    let failures = 0;
    while (!signal.aborted) {
      const startedAt = clock.now();
      let delivered = false;
      let failed: unknown;
      const call = new AbortController();
      const onAbort = () => call.abort(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#live = true;
      try {
        const watching = this.#options.watch((snapshot) => {
          if (signal.aborted) return;
          delivered = true;
          this.#options.onRecord(snapshot);
        }, call.signal);
        watching.catch(() => {});
        await Promise.race([watching, stopped]);
      } catch (err) {
        failed = err;
      } finally {
        this.#live = false;
        signal.removeEventListener("abort", onAbort);
        call.abort();
      }
      if (signal.aborted) return;
      // A watch that lasted (or ended cleanly after delivering changes) is restarted at once: the
      // server ends watches on its timeout (5–10 min), and lib/kube/watch.ts ends one silent for
      // longer than two bookmark periods.
      if (clock.now() - startedAt >= retryPeriodMs || (failed === undefined && delivered)) {
        if (failed !== undefined) {
          logger.debug("Lease watch ended; watching again", { lease, ...describeError(failed) });
        } else if (failures > 0) logger.debug("Watching lease again", { lease });
        failures = 0;
        continue;
      }
      failures++;
      const delayMs = Math.min(MAX_WATCH_BACKOFF_MS, retryPeriodMs * 2 ** (failures - 1));
      this.#logFailure(failed, delayMs);
      try {
        await clock.sleep(delayMs, signal);
      } catch {
        return;
      }
    }
  }

  #logFailure(err: unknown, retryInMs: number): void {
    const { logger, lease } = this.#options;
    const props: Record<string, unknown> = err === undefined
      ? { lease, retryInMs, error: "the watch ended at once" }
      : { lease, retryInMs, ...describeError(err) };
    if (this.#warned) {
      logger.debug("Failed to watch lease; polling it meanwhile", props);
      return;
    }
    this.#warned = true;
    // A rejected token (401) gets the same hint as a 403, as it always did.
    const hint = isKubeError(err, "forbidden", "unauthorized")
      ? " (the Role needs verb watch on leases; failover is slower without it)"
      : "";
    logger.warn(`Failed to watch lease; polling it meanwhile${hint}`, props);
  }
}

/**
 * A pause that can be cut short: {@linkcode Waker.sleepUntil} sleeps until a deadline that is
 * re-evaluated on {@linkcode Waker.recompute}, and ends at once on {@linkcode Waker.wakeNow}
 * (also when called while nobody sleeps: the next pause then ends at once, unless
 * {@linkcode Waker.reset} was called first).
 *
 * @example Usage
 * ```ts
 * import { Waker } from "./lease_watch.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * const waker = new Waker(systemClock);
 * const paused = waker.sleepUntil(() => systemClock.now() + 60_000, new AbortController().signal);
 * waker.wakeNow();
 * assert.equal(await paused, true);
 * ```
 */
export class Waker {
  readonly #clock: Clock;
  #now = false;
  #sleeping: AbortController | undefined;

  /** @param clock Time source of the sleeps. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Sleeps until `untilAt()` (monotonic), re-evaluating it on each `recompute`.
   *
   * @param untilAt The deadline; called at the start and after each `recompute`.
   * @param signal Ends the pause early.
   * @returns True when the deadline came or `wakeNow` was called, false when `signal` aborted.
   */
  async sleepUntil(untilAt: () => number, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      if (this.#now) {
        this.#now = false;
        return true;
      }
      const pause = new AbortController();
      const onAbort = () => pause.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#sleeping = pause;
      try {
        await this.#clock.sleep(untilAt() - this.#clock.now(), pause.signal);
        return !signal.aborted;
      } catch {
        // cut short by recompute, wakeNow or the signal: the loop tells which
      } finally {
        this.#sleeping = undefined;
        signal.removeEventListener("abort", onAbort);
      }
    }
  }

  /** Ends the current (or next) pause at once. */
  wakeNow(): void {
    this.#now = true;
    this.#sleeping?.abort();
  }

  /** Makes the current pause re-evaluate its deadline. */
  recompute(): void {
    this.#sleeping?.abort();
  }

  /** Forgets a `wakeNow` that came while nobody slept. */
  reset(): void {
    this.#now = false;
  }
}
