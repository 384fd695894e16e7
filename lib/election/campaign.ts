/**
 * The loops of an elector (`lib/election/elector.ts`), around its one step function: acquire
 * (retry the step until the lease is ours, woken early by the watch), lead (start the work, renew
 * every `retryPeriod` until the term ends, stop the work), release (give the lease back on
 * cancel), and again until the run is cancelled. The guarantees these loops keep are written in
 * `lib/election/elector.ts`.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import type { Callbacks } from "./callbacks.ts";
import { withDeadline } from "./deadline.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { LeaseLock, LeaseSnapshot } from "./lease_lock.ts";
import { formatMicroTime, type LeaderElectionRecord } from "./lease_record.ts";
import { LeaseWatcher, WAKE_JITTER_FACTOR, Waker } from "./lease_watch.ts";
import type { ObservedLease } from "./observed.ts";
import { describeError, type ElectionLogger } from "./logger.ts";
import { LEASE_JITTER_FACTOR } from "./timings.ts";
import { LeadershipLostError, type StopReason } from "./leadership_lost.ts";
import type { ResolvedElectorOptions } from "./options.ts";
import type { Term } from "./term.ts";

/** The parts of one elector a {@linkcode Campaign} drives. */
export interface CampaignParts {
  /** The resolved options: lock, identity, timings, clock, random, logger. */
  readonly options: ResolvedElectorOptions;
  /** The elector's state and term. */
  readonly term: Term;
  /** The elector's view of the lease. */
  readonly observed: ObservedLease;
  /** The user's callbacks. */
  readonly callbacks: Callbacks;
  /**
   * The step function: one attempt to acquire the lease or, while leading, to renew it, giving
   * up pending lock calls at `deadlineAt` (monotonic). Never throws.
   */
  readonly tryAcquireOrRenew: (deadlineAt: number) => Promise<boolean>;
}

/**
 * Runs one elector's campaign: acquire → lead (renew) → release, until cancelled.
 *
 * @example Usage
 * ```ts ignore
 * const campaign = new Campaign({ options, term, observed, callbacks, tryAcquireOrRenew });
 * await campaign.run(shutdownSignal);
 * ```
 */
export class Campaign {
  readonly #lock: LeaseLock;
  readonly #identity: string;
  readonly #o: ResolvedElectorOptions;
  readonly #clock: Clock;
  readonly #log: ElectionLogger;
  readonly #term: Term;
  readonly #observed: ObservedLease;
  readonly #callbacks: Callbacks;
  readonly #step: (deadlineAt: number) => Promise<boolean>;
  /** Keeps a watch on the lease open when the lock can watch (see `lib/election/lease_watch.ts`). */
  readonly #watcher: LeaseWatcher | undefined;
  /** The acquisition loop's pause, cut short by watched changes. */
  readonly #waker: Waker;

  /** @param parts The elector's options, state, view of the lease, callbacks and step. */
  constructor(parts: CampaignParts) {
    const o = parts.options;
    this.#o = o;
    this.#lock = o.lock;
    this.#identity = o.identity;
    this.#clock = o.clock;
    this.#log = o.logger;
    this.#term = parts.term;
    this.#observed = parts.observed;
    this.#callbacks = parts.callbacks;
    this.#step = parts.tryAcquireOrRenew;
    this.#waker = new Waker(o.clock);
    const watch = o.lock.watch?.bind(o.lock);
    this.#watcher = watch === undefined ? undefined : new LeaseWatcher({
      watch,
      onRecord: (snapshot) => this.#onWatched(snapshot),
      clock: o.clock,
      retryPeriodMs: o.retryPeriodMs,
      logger: o.logger,
      lease: o.lock.describe(),
    });
  }

  /**
   * Campaigns until `signal` aborts (see {@linkcode Elector.run}); the term's state is left
   * `stopped`.
   */
  async run(signal: AbortSignal): Promise<void> {
    const stopWatch = new AbortController();
    const watching = this.#watcher?.run(stopWatch.signal);
    try {
      while (!signal.aborted) {
        this.#term.campaign();
        if (!await this.#acquire(signal)) break;
        if (signal.aborted) {
          // Won the lease as the campaign was cancelled: give it back without starting work.
          if (this.#o.releaseOnCancel) await this.#release();
          break;
        }
        if (await this.#lead(signal) === "cancelled") break;
      }
    } finally {
      stopWatch.abort();
      await watching;
      this.#term.stopped();
    }
  }

  /**
   * Retries the step until it succeeds (true) or `signal` aborts (false). Attempts come
   * every `retryPeriod + rand × 1.2 × retryPeriod` (the poll); while a watch is open also when the
   * observed record may expire (plus up to 10 % of `retryPeriod`), and at once when the watch
   * shows the lease released or deleted. Waking early never makes an attempt succeed early: the
   * attempt judges expiry exactly as a polled one does.
   */
  async #acquire(signal: AbortSignal): Promise<boolean> {
    const { retryPeriodMs, random } = this.#o;
    this.#log.debug("Attempting to acquire leader lease", { lease: this.#lock.describe() });
    for (;;) {
      this.#waker.reset();
      const attemptAt = this.#clock.now();
      const acquired = await this.#step(attemptAt + this.#o.renewDeadlineMs);
      this.#callbacks.newLeader(this.#observed.holder());
      if (acquired) return true;
      const pollAt = this.#clock.now() + retryPeriodMs +
        random() * LEASE_JITTER_FACTOR * retryPeriodMs;
      let wakeJitterMs: number | undefined;
      const wakeAt = () => {
        const expiresAt = this.#watchedExpiry(attemptAt);
        if (expiresAt === undefined) return pollAt;
        wakeJitterMs ??= random() * WAKE_JITTER_FACTOR * retryPeriodMs;
        return Math.min(pollAt, expiresAt + wakeJitterMs);
      };
      if (!await this.#waker.sleepUntil(wakeAt, signal)) return false;
    }
  }

  /**
   * When the observed record may expire, if a watch is open (so a renewal would have been seen)
   * and that is after the last attempt began (else that attempt already judged it, and failed
   * for another reason: wait for the poll instead of retrying in a loop).
   */
  #watchedExpiry(attemptAt: number): number | undefined {
    if (this.#watcher?.live !== true || this.#observed.holder() === "") return undefined;
    const expiresAt = this.#observed.expiresAt();
    return expiresAt !== undefined && expiresAt > attemptAt ? expiresAt : undefined;
  }

  /**
   * A change seen by the watch: goes through the same observed-state setter as a read (so
   * `observedTime` is this pod's monotonic time of seeing it, never a remote timestamp), then
   * wakes the acquisition loop: at once for a released or deleted lease, else to recompute when
   * the observed record may expire.
   */
  #onWatched(snapshot: LeaseSnapshot | null): void {
    if (this.#term.phase() === "stopped") return;
    if (snapshot !== null && this.#observed.setIfChanged(snapshot.record)) {
      this.#callbacks.newLeader(this.#observed.holder());
    }
    if (snapshot === null || snapshot.record.holderIdentity === "") this.#waker.wakeNow();
    else this.#waker.recompute();
  }

  /** Runs one term: start the work, renew until the term ends, stop the work, maybe release. */
  async #lead(signal: AbortSignal): Promise<StopReason> {
    const leading = this.#term.state;
    if (leading.kind !== "leading") throw new Error(`Cannot lead from state ${leading.kind}`);
    const { epoch, work: termWork } = leading;
    const lease = this.#lock.describe();
    const events = this.#callbacks.events;
    const cancel = () =>
      termWork.abort(new LeadershipLostError("cancelled", lease, { cause: signal.reason }));
    signal.addEventListener("abort", cancel, { once: true });
    this.#log.info("Became leader", { lease, identity: this.#identity, epoch });
    this.#lock.recordEvent?.("became leader");
    this.#callbacks.safely("events.leader", () => events.leader?.(1));
    this.#callbacks.safely("events.transition", () => events.transition?.(epoch));
    const work = this.#callbacks.startWork(termWork.signal, epoch);

    let reason: StopReason;
    try {
      reason = await this.#renew(signal);
    } finally {
      signal.removeEventListener("abort", cancel);
    }

    const renewedAt = this.#term.stopping(epoch, reason);
    termWork.abort(new LeadershipLostError(reason, lease));
    this.#callbacks.safely("events.leader", () => events.leader?.(0));
    const log = reason === "cancelled" ? this.#log.info : this.#log.warn;
    log.call(this.#log, "Stopped leading", { lease, identity: this.#identity, epoch, reason });
    await this.#callbacks.settleWork(work, renewedAt + this.#o.leaseDurationMs);
    if (reason === "cancelled" && this.#o.releaseOnCancel) await this.#release();
    this.#lock.recordEvent?.("stopped leading");
    this.#callbacks.stoppedLeading(reason);
    return reason;
  }

  /**
   * Renews every `retryPeriod` until the run is cancelled, another holder shows up, or no renewal
   * succeeded for `renewDeadline`.
   */
  async #renew(signal: AbortSignal): Promise<StopReason> {
    const events = this.#callbacks.events;
    for (;;) {
      const deadlineAt = this.#term.renewDeadlineAt();
      const pauseMs = Math.min(this.#o.retryPeriodMs, deadlineAt - this.#clock.now());
      try {
        await this.#clock.sleep(pauseMs, signal);
      } catch {
        return "cancelled";
      }
      if (this.#clock.now() >= deadlineAt) return "renewFailed";
      const renewed = await this.#step(deadlineAt);
      this.#callbacks.newLeader(this.#observed.holder());
      if (signal.aborted) return "cancelled";
      if (renewed) continue;
      this.#callbacks.safely("events.renewFailure", () => events.renewFailure?.());
      if (this.#observed.holder() !== this.#identity) return "lost";
      if (this.#clock.now() >= deadlineAt) return "renewFailed";
    }
  }

  /**
   * Gives the lease up: empty holder, 1 s duration, transitions kept, so the next candidate may
   * take it at its next attempt. If the cached object is stale, re-reads and releases only a lease
   * that still names this candidate.
   */
  async #release(): Promise<void> {
    if (this.#observed.holder() !== this.#identity) return;
    const now = formatMicroTime(this.#clock.wallNow());
    const deadlineAt = this.#clock.now() + this.#o.renewDeadlineMs;
    const released: LeaderElectionRecord = {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.#observed.record()?.leaseTransitions ?? 0,
    };
    const lease = this.#lock.describe();
    const call = <T>(fn: (signal: AbortSignal) => Promise<T>) =>
      withDeadline(this.#clock, this.#lock, deadlineAt, fn);
    try {
      try {
        await call((s) => this.#lock.update(released, s));
      } catch (err) {
        if (!isKubeError(err, "conflict")) throw err;
        const snapshot = await call((s) => this.#lock.get(s));
        if (snapshot === null || snapshot.record.holderIdentity !== this.#identity) {
          if (snapshot !== null) this.#observed.set(snapshot.record);
          return;
        }
        const again = { ...released, leaseTransitions: snapshot.record.leaseTransitions };
        await call((s) => this.#lock.update(again, s));
      }
      this.#observed.set(released);
      this.#log.info("Released leader lease", { lease, identity: this.#identity });
    } catch (err) {
      this.#log.warn("Failed to release lease", { lease, ...describeError(err) });
    }
  }
}
