/**
 * Leader election over a `coordination.k8s.io/v1` Lease, ported from client-go's
 * `tools/leaderelection`. One {@linkcode Elector} per pod campaigns for the lease, runs the leader
 * work while it holds it, and campaigns again when it loses it.
 *
 * ## What is guaranteed
 *
 * - **Only local monotonic time is trusted.** A candidate judges another holder's lease expired
 *   when the record has not changed for `leaseDurationSeconds`, measured on its own monotonic clock
 *   from the moment it last saw the record change (`observedTime`). Remote timestamps
 *   (`renewTime`, `acquireTime`) are written for humans and never compared with the local clock,
 *   so a pod whose wall clock is wrong by an hour neither steals nor loses the lease early.
 * - **Every write is a compare-and-swap** on the resourceVersion of the object last read, so of two
 *   candidates racing for the same lease exactly one wins; the other sees a 409 and backs off.
 * - **The leader stops believing it leads before anyone else can take over.** A renewal started
 *   at local time `t` can only be observed by others after `t`, so nobody acquires before
 *   `t + leaseDuration` on their clocks. {@linkcode Elector.isLeader} turns false at
 *   `t + renewDeadline`, at that instant aborting the signal handed to the leader work, even if
 *   the renewal loop is stuck in a hung request. This holds while the pods' clocks run at rates
 *   within a factor `leaseDuration / renewDeadline` (1.5 by default) of each other; the gap
 *   `leaseDuration − renewDeadline` (5 s by default) is also the time the leader work has to
 *   notice its aborted signal.
 *
 * ## What is not guaranteed
 *
 * - **No mutual exclusion of side effects.** A paused process (GC, SIGSTOP, a slow node) can still
 *   act on its belief after the lease moved on. Each term therefore carries an **epoch**: the
 *   lease's `leaseTransitions` after acquisition, which grows by one on every change of hands.
 *   Stamp it on everything the leader writes and have readers reject stale epochs; that is the
 *   fencing client-go does not offer. The epoch restarts at 0 if the Lease is deleted and
 *   recreated by a candidate that never saw the old one, so do not delete it while tasks are out.
 * - **Identities must be unique.** A candidate that finds its own identity in the lease while not
 *   leading (it restarted, or gave up after failed renewals) takes the lease at once as a new term.
 * - Deleting the Lease while a leader holds it lets another candidate create it at once; the old
 *   leader notices at its next renewal (within `retryPeriod`).
 *
 * ## Timings (client-go's defaults)
 *
 * `leaseDurationMs` 15 000 > `renewDeadlineMs` 10 000 > 1.2 × `retryPeriodMs` 2 000. A candidate
 * retries acquisition every `retryPeriod + rand × 1.2 × retryPeriod`; the leader renews every
 * `retryPeriod` (no GET while its cached object is current) and gives up when no renewal succeeded
 * for `renewDeadline`. On cancel the leader releases the lease (empty holder, 1 s duration), which
 * other candidates treat as free at their next attempt.
 *
 * ## Watching the lease (faster failover, same safety)
 *
 * When the lock can watch ({@linkcode LeaseLock.watch}), every candidate (the leader too,
 * harmlessly) keeps a watch on the lease open (`lib/election/lease_watch.ts`). Each watched change goes
 * through the one observed-state setter, stamped with this pod's monotonic time of receipt, and
 * the lock caches the watched object for the next compare-and-swap. A standby then also attempts
 * when the observed record may expire (`observedTime + leaseDuration`, plus up to 10 % of
 * `retryPeriod` to spread candidates) and at once when the watch shows the lease released or
 * deleted, besides its jittered poll. A crashed leader is so replaced about `leaseDuration` after
 * its last renewal instead of up to two polls later, and a released lease is taken at once. When
 * the watch fails (403 without the `watch` verb, a dropped connection) it is retried with backoff
 * and the election is exactly the polling one.
 *
 * **Invariant (unchanged by the watch):** a candidate takes over another holder's lease only by a
 * compare-and-swap against a record it has observed unchanged for the record's full
 * `leaseDuration`, measured on its own monotonic clock from when it first saw that record
 * (`observedTime`); and the leader stops leading at `renewStart + renewDeadline` on its own clock.
 * Every observation, polled or watched, happens after the write it shows, which happened after
 * that renewal started, so a takeover is always at least `leaseDuration` after the last renewal's
 * start, past the leader's `renewDeadline`. The watch only makes `observedTime` closer to the write
 * and the attempt closer to the expiry; it never moves `observedTime` earlier than a receipt, never
 * reads a remote timestamp, and a stale watched record or object can only delay a takeover (a
 * later `observedTime`) or fail a write (409, then a fresh read).
 *
 * @example Usage
 * ```ts ignore
 * import { Elector } from "./elector.ts";
 * import { LeaseObjectLock } from "./lease_object_lock.ts";
 * const lock = new LeaseObjectLock({ client, namespace: "default", identity: Deno.hostname() });
 * const elector = new Elector({
 *   lock,
 *   onStartedLeading: async (signal, epoch) => await planRounds(signal, epoch),
 *   onStoppedLeading: (reason) => console.log("stopped leading:", reason),
 * });
 * await elector.run(shutdownSignal);
 * ```
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { settleWithin, withDeadline } from "./deadline.ts";
import {
  DEFAULT_HEALTHZ_TOLERANCE_MS,
  describeError,
  type ElectionEvents,
  type ElectionLogger,
  type ElectorOptions,
  type ElectorPhase,
  type HealthzResult,
  JITTER_FACTOR,
  LeadershipLostError,
  resolveElectorOptions,
  sameRecord,
  type StopReason,
} from "./options.ts";
import { isKubeError } from "../kube/errors.ts";
import type { LeaseLock, LeaseSnapshot } from "./lease_lock.ts";
import { formatMicroTime, type LeaderElectionRecord } from "./lease_record.ts";
import { LeaseWatcher, WAKE_JITTER_FACTOR, Waker } from "./lease_watch.ts";

export {
  DEFAULT_HEALTHZ_TOLERANCE_MS,
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
  type ElectionEvents,
  type ElectionLogger,
  type ElectorOptions,
  type ElectorPhase,
  type HealthzResult,
  JITTER_FACTOR,
  LeadershipLostError,
  type StopReason,
} from "./options.ts";

type State =
  | { readonly kind: "idle" }
  | { readonly kind: "campaigning" }
  | {
    readonly kind: "leading";
    readonly epoch: number;
    /** Monotonic start of the last successful acquire or renew request. */
    readonly renewedAt: number;
    readonly term: AbortController;
  }
  | {
    readonly kind: "stopping";
    readonly epoch: number;
    readonly renewedAt: number;
    readonly reason: StopReason;
  }
  | { readonly kind: "stopped" };

/**
 * One candidate in a leader election: `run` → acquire (retry until the lease is ours) → renew
 * (until a renewal fails or the run is cancelled) → release, and back to acquire until cancelled.
 *
 * @example Usage
 * ```ts
 * import { Elector } from "./elector.ts";
 * import { type LeaseObject, LeaseObjectLock } from "./lease_object_lock.ts";
 * import { KubeError } from "../kube/errors.ts";
 * import assert from "node:assert/strict";
 * let stored: LeaseObject | undefined;
 * const lock = new LeaseObjectLock({
 *   namespace: "default",
 *   identity: "pod-a",
 *   client: {
 *     read: () => stored ? Promise.resolve(stored) : Promise.reject(new KubeError("notFound", "get", "leases", "404")),
 *     create: (_ns, lease) => Promise.resolve(stored = { ...lease, metadata: { ...lease.metadata, resourceVersion: "1" } }),
 *     replace: (_name, _ns, lease) => Promise.resolve(stored = lease),
 *   },
 * });
 * const shutdown = new AbortController();
 * const elector = new Elector({
 *   lock,
 *   onStartedLeading: (_signal, epoch) => {
 *     assert.equal(epoch, 0);
 *     shutdown.abort();
 *   },
 * });
 * await elector.run(shutdown.signal);
 * assert.equal(stored?.spec?.holderIdentity, "");
 * ```
 */
export class Elector {
  readonly #lock: LeaseLock;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #releaseOnCancel: boolean;
  readonly #mayAcquire: () => boolean | Promise<boolean>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #events: ElectionEvents;
  readonly #log: ElectionLogger;
  readonly #onStartedLeading: (signal: AbortSignal, epoch: number) => void | Promise<void>;
  readonly #onStoppedLeading: ((reason: StopReason) => void) | undefined;
  readonly #onNewLeader: ((identity: string) => void) | undefined;

  #state: State = { kind: "idle" };
  /** The record as last read or written, and when (monotonic) it was last seen to change. */
  #observedRecord: LeaderElectionRecord | null = null;
  #observedTime = 0;
  /** The holder last reported through `onNewLeader`. */
  #reportedLeader = "";
  /** Keeps a watch on the lease open when the lock can watch (see `lib/election/lease_watch.ts`). */
  readonly #watcher: LeaseWatcher | undefined;
  /** The acquisition loop's pause, cut short by watched changes. */
  readonly #waker: Waker;

  /**
   * Validates every option before any work starts.
   *
   * @param options The lock, callbacks, timings and hooks.
   * @throws {TypeError} When the lock is missing, its identity is empty, or `onStartedLeading` is
   *   not a function.
   * @throws {RangeError} When a timing is not positive, the lease duration is not whole seconds,
   *   or the timings break `leaseDurationMs > renewDeadlineMs > 1.2 × retryPeriodMs`.
   */
  constructor(options: ElectorOptions) {
    const o = resolveElectorOptions(options);
    this.#lock = o.lock;
    this.#identity = o.identity;
    this.#leaseDurationMs = o.leaseDurationMs;
    this.#renewDeadlineMs = o.renewDeadlineMs;
    this.#retryPeriodMs = o.retryPeriodMs;
    this.#releaseOnCancel = o.releaseOnCancel;
    this.#mayAcquire = o.mayAcquire;
    this.#clock = o.clock;
    this.#random = o.random;
    this.#events = o.events;
    this.#log = o.logger;
    this.#onStartedLeading = o.onStartedLeading;
    this.#onStoppedLeading = o.onStoppedLeading;
    this.#onNewLeader = o.onNewLeader;
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
   * Campaigns until `signal` aborts: acquires the lease, runs `onStartedLeading`, renews, and after
   * losing the lease campaigns again; each term gets a fresh signal and epoch. When `signal`
   * aborts during a term, the term's signal aborts, the returned promise of `onStartedLeading` is
   * awaited (at most until the lease could pass to another candidate: last renewal +
   * `leaseDuration`), the lease is released (if `releaseOnCancel`), and `onStoppedLeading` runs.
   * When a term ends by failed renewal or a new holder, the same happens without release.
   *
   * @param signal Ends the campaign.
   * @returns A promise that resolves once the campaign ended; lock errors are retried, not thrown.
   * @throws {Error} When the elector is already running or has run.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#state.kind !== "idle") {
      throw new Error(`Cannot run the election for ${this.#lock.describe()} twice`);
    }
    const stopWatch = new AbortController();
    const watching = this.#watcher?.run(stopWatch.signal);
    try {
      while (!signal.aborted) {
        this.#state = { kind: "campaigning" };
        if (!await this.#acquire(signal)) break;
        if (signal.aborted) {
          // Won the lease as the campaign was cancelled: give it back without starting work.
          if (this.#releaseOnCancel) await this.#release();
          break;
        }
        if (await this.#lead(signal) === "cancelled") break;
      }
    } finally {
      stopWatch.abort();
      await watching;
      this.#state = { kind: "stopped" };
    }
  }

  /**
   * Whether this candidate leads right now: it holds a term and, by its own monotonic clock, less
   * than `renewDeadline` has passed since its last successful renewal started. This turns false
   * on the clock alone, before the renewal loop notices, and always before `leaseDuration` (when
   * others could take over).
   *
   * @returns True while leading is safe.
   */
  isLeader(): boolean {
    const state = this.#state;
    return state.kind === "leading" &&
      this.#clock.now() < state.renewedAt + this.#renewDeadlineMs;
  }

  /**
   * The fencing epoch of the current term.
   *
   * @returns The lease's `leaseTransitions` for this term while {@linkcode Elector.isLeader},
   *   else `undefined`.
   */
  epoch(): number | undefined {
    const state = this.#state;
    return state.kind === "leading" && this.isLeader() ? state.epoch : undefined;
  }

  /** @returns This candidate's identity. */
  identity(): string {
    return this.#identity;
  }

  /** @returns Where the elector is in its life. */
  phase(): ElectorPhase {
    return this.#state.kind;
  }

  /** @returns The holder in the last observed record (`""` if none or not yet read). */
  holder(): string {
    return this.#observedRecord?.holderIdentity ?? "";
  }

  /** @returns The record as last read or written, or `null` before the first read. */
  observedRecord(): LeaderElectionRecord | null {
    return this.#observedRecord;
  }

  /**
   * @returns Milliseconds since the current term's last successful renewal started, or
   *   `undefined` when not in a term.
   */
  lastRenewAgeMs(): number | undefined {
    const state = this.#state;
    return state.kind === "leading" || state.kind === "stopping"
      ? this.#clock.now() - state.renewedAt
      : undefined;
  }

  /**
   * A liveness check (client-go's `HealthzAdaptor`): fails only when this candidate believes it
   * leads but has not renewed for `leaseDuration + toleranceMs`, i.e. the renewal loop is stuck.
   * Standby candidates are healthy.
   *
   * @param toleranceMs Grace beyond the lease duration. Default 20 s.
   * @returns `{ ok: true }` or `{ ok: false, reason }`.
   */
  checkHealthz(toleranceMs: number = DEFAULT_HEALTHZ_TOLERANCE_MS): HealthzResult {
    const state = this.#state;
    if (state.kind !== "leading") return { ok: true };
    const ageMs = this.#clock.now() - state.renewedAt;
    if (ageMs > this.#leaseDurationMs + toleranceMs) {
      return {
        ok: false,
        reason: `Failed to renew leadership of lease ${this.#lock.describe()}: last renewal ${
          Math.round(ageMs)
        } ms ago`,
      };
    }
    return { ok: true };
  }

  /**
   * Retries `#tryAcquireOrRenew` until it succeeds (true) or `signal` aborts (false). Attempts come
   * every `retryPeriod + rand × 1.2 × retryPeriod` (the poll); while a watch is open also when the
   * observed record may expire (plus up to 10 % of `retryPeriod`), and at once when the watch
   * shows the lease released or deleted. Waking early never makes an attempt succeed early: the
   * attempt judges expiry exactly as a polled one does.
   */
  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#log.debug("Attempting to acquire leader lease", { lease: this.#lock.describe() });
    for (;;) {
      this.#waker.reset();
      const attemptAt = this.#clock.now();
      const acquired = await this.#tryAcquireOrRenew(attemptAt + this.#renewDeadlineMs);
      this.#maybeReportTransition();
      if (acquired) return true;
      const pollAt = this.#clock.now() + this.#retryPeriodMs +
        this.#random() * JITTER_FACTOR * this.#retryPeriodMs;
      let wakeJitterMs: number | undefined;
      const wakeAt = () => {
        const expiresAt = this.#watchedExpiry(attemptAt);
        if (expiresAt === undefined) return pollAt;
        wakeJitterMs ??= this.#random() * WAKE_JITTER_FACTOR * this.#retryPeriodMs;
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
    const record = this.#observedRecord;
    if (this.#watcher?.live !== true || record === null || record.holderIdentity === "") {
      return undefined;
    }
    const expiresAt = this.#observedTime + record.leaseDurationSeconds * 1000;
    return expiresAt > attemptAt ? expiresAt : undefined;
  }

  /**
   * A change seen by the watch: goes through the same observed-state setter as a read (so
   * `observedTime` is this pod's monotonic time of seeing it, never a remote timestamp), then
   * wakes the acquisition loop: at once for a released or deleted lease, else to recompute when
   * the observed record may expire.
   */
  #onWatched(snapshot: LeaseSnapshot | null): void {
    if (this.#state.kind === "stopped") return;
    if (snapshot !== null && !sameRecord(this.#observedRecord, snapshot.record)) {
      this.#setObservedRecord(snapshot.record);
      this.#maybeReportTransition();
    }
    if (snapshot === null || snapshot.record.holderIdentity === "") this.#waker.wakeNow();
    else this.#waker.recompute();
  }

  /** Runs one term: start the work, renew until the term ends, stop the work, maybe release. */
  async #lead(signal: AbortSignal): Promise<StopReason> {
    const leading = this.#state;
    if (leading.kind !== "leading") throw new Error(`Cannot lead from state ${leading.kind}`);
    const { epoch, term } = leading;
    const lease = this.#lock.describe();
    const cancel = () =>
      term.abort(new LeadershipLostError("cancelled", lease, { cause: signal.reason }));
    signal.addEventListener("abort", cancel, { once: true });
    this.#log.info("Became leader", { lease, identity: this.#identity, epoch });
    this.#lock.recordEvent?.("became leader");
    this.#safely("events.leader", () => this.#events.leader?.(1));
    this.#safely("events.transition", () => this.#events.transition?.(epoch));
    const work = this.#startWork(term.signal, epoch);

    let reason: StopReason;
    try {
      reason = await this.#renew(signal);
    } finally {
      signal.removeEventListener("abort", cancel);
    }

    const renewedAt = this.#state.kind === "leading" ? this.#state.renewedAt : this.#clock.now();
    this.#state = { kind: "stopping", epoch, renewedAt, reason };
    term.abort(new LeadershipLostError(reason, lease));
    this.#safely("events.leader", () => this.#events.leader?.(0));
    const log = reason === "cancelled" ? this.#log.info : this.#log.warn;
    log.call(this.#log, "Stopped leading", { lease, identity: this.#identity, epoch, reason });
    await this.#settleWork(work, renewedAt + this.#leaseDurationMs);
    if (reason === "cancelled" && this.#releaseOnCancel) await this.#release();
    this.#lock.recordEvent?.("stopped leading");
    this.#safely("onStoppedLeading", () => this.#onStoppedLeading?.(reason));
    return reason;
  }

  /**
   * Renews every `retryPeriod` until the run is cancelled, another holder shows up, or no renewal
   * succeeded for `renewDeadline`.
   */
  async #renew(signal: AbortSignal): Promise<StopReason> {
    for (;;) {
      const deadlineAt = this.#renewDeadlineAt();
      const pauseMs = Math.min(this.#retryPeriodMs, deadlineAt - this.#clock.now());
      try {
        await this.#clock.sleep(pauseMs, signal);
      } catch {
        return "cancelled";
      }
      if (this.#clock.now() >= deadlineAt) return "renewFailed";
      const renewed = await this.#tryAcquireOrRenew(deadlineAt);
      this.#maybeReportTransition();
      if (signal.aborted) return "cancelled";
      if (renewed) continue;
      this.#safely("events.renewFailure", () => this.#events.renewFailure?.());
      if (this.holder() !== this.#identity) return "lost";
      if (this.#clock.now() >= deadlineAt) return "renewFailed";
    }
  }

  /**
   * One attempt to acquire the lease or, while leading, to renew it. Never throws.
   *
   * @param deadlineAt Monotonic time at which pending lock calls are abandoned.
   * @returns True when the lease is ours after the attempt.
   */
  async #tryAcquireOrRenew(deadlineAt: number): Promise<boolean> {
    const startedAt = this.#clock.now();
    const now = formatMicroTime(this.#clock.wallNow());
    const leading = this.isLeader();
    const fresh: LeaderElectionRecord = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: this.#leaseDurationMs / 1000,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };

    // 1. Fast path for the leader: update the cached object, assuming it is still current, without
    //    a GET. On any failure (a conflict above all) fall through to the slow path. The watch may
    //    have replaced the cached object with another holder's write (a CAS against it would
    //    succeed); it updates the observed record in the same synchronous step, so checking the
    //    observed holder keeps the fast path from overwriting anyone but this candidate.
    const observed = this.#observedRecord;
    if (leading && observed !== null && observed.holderIdentity === this.#identity) {
      const renewal = {
        ...fresh,
        acquireTime: observed.acquireTime,
        leaseTransitions: observed.leaseTransitions,
      };
      try {
        await this.#withDeadline(deadlineAt, (s) => this.#lock.update(renewal, s));
        this.#setObservedRecord(renewal);
        this.#renewed(startedAt);
        return true;
      } catch (err) {
        this.#log.debug("Failed to renew lease on the fast path, falling back to the slow path", {
          lease: this.#lock.describe(),
          ...describeError(err),
        });
      }
    }

    // 2. Get the record, or create the lease if it does not exist. A leader that finds its lease
    //    deleted recreates it within the same term; anyone else starts a new term, one past the
    //    last transitions count it saw.
    let snapshot;
    try {
      snapshot = await this.#withDeadline(deadlineAt, (s) => this.#lock.get(s));
    } catch (err) {
      this.#logFailure("Failed to read lease", err);
      return false;
    }
    if (snapshot === null) {
      const created = leading && observed !== null
        ? {
          ...fresh,
          acquireTime: observed.acquireTime,
          leaseTransitions: observed.leaseTransitions,
        }
        : { ...fresh, leaseTransitions: observed === null ? 0 : observed.leaseTransitions + 1 };
      if (!leading && !await this.#askMayAcquire()) return false;
      return await this.#tryWrite("create", created, deadlineAt, leading, startedAt);
    }

    // 3. Record obtained: restart the expiry countdown if it changed, then check identity and time.
    //    The leader goes on only if the lease still names it. Anyone else may take the lease when
    //    it is free (empty holder), names this candidate, or has not changed for its duration.
    const current = snapshot.record;
    if (!sameRecord(observed, current)) this.#setObservedRecord(current);
    const holder = current.holderIdentity;
    if (leading && holder !== this.#identity) {
      this.#log.warn("Lease was taken over", { lease: this.#lock.describe(), holder });
      return false;
    }
    if (!leading && holder !== "" && holder !== this.#identity && !this.#observedExpired()) {
      this.#log.debug("Lease is held by another candidate and has not expired", {
        lease: this.#lock.describe(),
        holder,
      });
      return false;
    }

    // 4. Write: a renewal keeps acquireTime and leaseTransitions, a takeover starts a new term.
    if (!leading && !await this.#askMayAcquire()) return false;
    const next: LeaderElectionRecord = leading
      ? { ...fresh, acquireTime: current.acquireTime, leaseTransitions: current.leaseTransitions }
      : { ...fresh, leaseTransitions: current.leaseTransitions + 1 };
    return await this.#tryWrite("update", next, deadlineAt, leading, startedAt);
  }

  /** `mayAcquire`, with a throw counted as `true` (the hook must never block an election). */
  async #askMayAcquire(): Promise<boolean> {
    try {
      if (await this.#mayAcquire()) return true;
    } catch (err) {
      this.#log.warn("Callback mayAcquire threw", describeError(err));
      return true;
    }
    this.#log.debug("Not taking the lease: mayAcquire said no", { lease: this.#lock.describe() });
    return false;
  }

  /**
   * Steps 2 (create) and 4 (compare-and-swap update): writes `record` before `deadlineAt`; on
   * success observes it and starts (`acquired`) or extends (`renewed`) the term.
   *
   * @returns Whether the write succeeded.
   */
  async #tryWrite(
    verb: "create" | "update",
    record: LeaderElectionRecord,
    deadlineAt: number,
    leading: boolean,
    startedAt: number,
  ): Promise<boolean> {
    try {
      await this.#withDeadline(deadlineAt, (s) => this.#lock[verb](record, s));
    } catch (err) {
      this.#logFailure(`Failed to ${verb} lease`, err);
      return false;
    }
    this.#setObservedRecord(record);
    if (leading) this.#renewed(startedAt);
    else this.#acquired(record.leaseTransitions, startedAt);
    return true;
  }

  /**
   * Gives the lease up: empty holder, 1 s duration, transitions kept, so the next candidate may
   * take it at its next attempt. If the cached object is stale, re-reads and releases only a lease
   * that still names this candidate.
   */
  async #release(): Promise<void> {
    if (this.holder() !== this.#identity) return;
    const now = formatMicroTime(this.#clock.wallNow());
    const deadlineAt = this.#clock.now() + this.#renewDeadlineMs;
    const released: LeaderElectionRecord = {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.#observedRecord?.leaseTransitions ?? 0,
    };
    const lease = this.#lock.describe();
    try {
      try {
        await this.#withDeadline(deadlineAt, (s) => this.#lock.update(released, s));
      } catch (err) {
        if (!isKubeError(err, "conflict")) throw err;
        const snapshot = await this.#withDeadline(deadlineAt, (s) => this.#lock.get(s));
        if (snapshot === null || snapshot.record.holderIdentity !== this.#identity) {
          if (snapshot !== null) this.#setObservedRecord(snapshot.record);
          return;
        }
        const again = { ...released, leaseTransitions: snapshot.record.leaseTransitions };
        await this.#withDeadline(deadlineAt, (s) => this.#lock.update(again, s));
      }
      this.#setObservedRecord(released);
      this.#log.info("Released leader lease", { lease, identity: this.#identity });
    } catch (err) {
      this.#log.warn("Failed to release lease", { lease, ...describeError(err) });
    }
  }

  /** The one setter of observed state: stores the record and stamps the local monotonic time. */
  #setObservedRecord(record: LeaderElectionRecord): void {
    this.#observedRecord = record;
    this.#observedTime = this.#clock.now();
  }

  /** Whether the observed record has gone unchanged for its lease duration, by the local clock. */
  #observedExpired(): boolean {
    const record = this.#observedRecord;
    if (record === null) return true;
    return this.#clock.now() >= this.#observedTime + record.leaseDurationSeconds * 1000;
  }

  #renewDeadlineAt(): number {
    const state = this.#state;
    return state.kind === "leading" ? state.renewedAt + this.#renewDeadlineMs : this.#clock.now();
  }

  #acquired(epoch: number, startedAt: number): void {
    this.#state = { kind: "leading", epoch, renewedAt: startedAt, term: new AbortController() };
  }

  #renewed(startedAt: number): void {
    const state = this.#state;
    if (state.kind === "leading") this.#state = { ...state, renewedAt: startedAt };
  }

  /** Reports a changed holder through `onNewLeader`. */
  #maybeReportTransition(): void {
    const holder = this.holder();
    if (holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    this.#log.info("New leader observed", { lease: this.#lock.describe(), holder });
    this.#safely("onNewLeader", () => this.#onNewLeader?.(holder));
  }

  #startWork(signal: AbortSignal, epoch: number): Promise<void> {
    let result: void | Promise<void>;
    try {
      result = this.#onStartedLeading(signal, epoch);
    } catch (err) {
      this.#log.warn("Leader work failed", { epoch, ...describeError(err) });
      return Promise.resolve();
    }
    return Promise.resolve(result).catch((err) => {
      if (!(err instanceof LeadershipLostError)) {
        this.#log.warn("Leader work failed", { epoch, ...describeError(err) });
      }
    });
  }

  /** Waits for the leader work to settle, but not past `untilAt` (monotonic). */
  async #settleWork(work: Promise<void>, untilAt: number): Promise<void> {
    if (!await settleWithin(this.#clock, work, untilAt)) {
      this.#log.warn("Leader work did not stop before the lease could pass to another candidate", {
        lease: this.#lock.describe(),
      });
    }
  }

  /** Runs a lock call, abandoning it (and aborting its signal) at `deadlineAt`. */
  #withDeadline<T>(deadlineAt: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.#clock, this.#lock, deadlineAt, call);
  }

  #logFailure(message: string, err: unknown): void {
    const props = { lease: this.#lock.describe(), ...describeError(err) };
    // A create that finds the lease already there lost the same race as a stale update.
    if (isKubeError(err, "conflict", "alreadyExists")) {
      this.#log.debug(`${message}: another candidate wrote first`, props);
    } else {
      this.#log.warn(message, props);
    }
  }

  #safely(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.warn(`Callback ${name} threw`, describeError(err));
    }
  }
}
