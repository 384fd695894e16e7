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
 * ## Where the parts live
 *
 * This file holds the {@linkcode Elector} and its one step function (`tryAcquireOrRenew`). The
 * loops around it (acquire, lead and renew, release) are in `lib/election/campaign.ts`, the term
 * and the clock rules on it in `lib/election/term.ts`, the observed record in
 * `lib/election/observed.ts`, the calls to user callbacks in `lib/election/callbacks.ts`.
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
import { Callbacks } from "./callbacks.ts";
import { Campaign } from "./campaign.ts";
import { withDeadline } from "./deadline.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { LeaseLock } from "./lease_lock.ts";
import { formatMicroTime, type LeaderElectionRecord } from "./lease_record.ts";
import { ObservedLease } from "./observed.ts";
import { DEFAULT_HEALTHZ_TOLERANCE_MS, type HealthzResult } from "./term.ts";
import { describeError, type ElectionLogger } from "./logger.ts";
import {
  type ElectorOptions,
  type ResolvedElectorOptions,
  resolveElectorOptions,
} from "./options.ts";
import type { ElectorPhase } from "./phase.ts";
import { sameRecord } from "./lease_record.ts";
import { Term } from "./term.ts";

/**
 * One candidate in a leader election: `run` → acquire (retry until the lease is ours) → renew
 * (until a renewal fails or the run is cancelled) → release, and back to acquire until cancelled.
 *
 * @example Usage
 * ```ts
 * import { Elector } from "./elector.ts";
 * import { type LeaseObject, LeaseObjectLock } from "./lease_object_lock.ts";
 * import { KubeError } from "../apimachinery/errors.ts";
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
  readonly #o: ResolvedElectorOptions;
  readonly #lock: LeaseLock;
  readonly #identity: string;
  readonly #log: ElectionLogger;
  readonly #term: Term;
  readonly #observed: ObservedLease;
  readonly #callbacks: Callbacks;
  readonly #campaign: Campaign;

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
    const describe = () => o.lock.describe();
    this.#o = o;
    this.#lock = o.lock;
    this.#identity = o.identity;
    this.#log = o.logger;
    this.#term = new Term(o.clock, o.renewDeadlineMs, o.leaseDurationMs, describe);
    this.#observed = new ObservedLease(o.clock);
    this.#callbacks = new Callbacks(o, describe);
    this.#campaign = new Campaign({
      options: o,
      term: this.#term,
      observed: this.#observed,
      callbacks: this.#callbacks,
      tryAcquireOrRenew: (deadlineAt) => this.#tryAcquireOrRenew(deadlineAt),
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
    if (this.#term.phase() !== "idle") {
      throw new Error(`Cannot run the election for ${this.#lock.describe()} twice`);
    }
    await this.#campaign.run(signal);
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
    return this.#term.isLeader();
  }

  /**
   * The fencing epoch of the current term.
   *
   * @returns The lease's `leaseTransitions` for this term while {@linkcode Elector.isLeader},
   *   else `undefined`.
   */
  epoch(): number | undefined {
    return this.#term.epoch();
  }

  /** @returns This candidate's identity. */
  identity(): string {
    return this.#identity;
  }

  /** @returns Where the elector is in its life. */
  phase(): ElectorPhase {
    return this.#term.phase();
  }

  /** @returns The holder in the last observed record (`""` if none or not yet read). */
  holder(): string {
    return this.#observed.holder();
  }

  /** @returns The record as last read or written, or `null` before the first read. */
  observedRecord(): LeaderElectionRecord | null {
    return this.#observed.record();
  }

  /**
   * @returns Milliseconds since the current term's last successful renewal started, or
   *   `undefined` when not in a term.
   */
  lastRenewAgeMs(): number | undefined {
    return this.#term.lastRenewAgeMs();
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
    return this.#term.checkHealthz(toleranceMs);
  }

  /**
   * One attempt to acquire the lease or, while leading, to renew it. Never throws.
   *
   * @param deadlineAt Monotonic time at which pending lock calls are abandoned.
   * @returns True when the lease is ours after the attempt.
   */
  async #tryAcquireOrRenew(deadlineAt: number): Promise<boolean> {
    const startedAt = this.#o.clock.now();
    const now = formatMicroTime(this.#o.clock.wallNow());
    const leading = this.isLeader();
    const fresh: LeaderElectionRecord = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: this.#o.leaseDurationMs / 1000,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };

    // 1. Fast path for the leader: update the cached object, assuming it is still current, without
    //    a GET. On any failure (a conflict above all) fall through to the slow path. The watch may
    //    have replaced the cached object with another holder's write (a CAS against it would
    //    succeed); it updates the observed record in the same synchronous step, so checking the
    //    observed holder keeps the fast path from overwriting anyone but this candidate.
    const observed = this.#observed.record();
    if (leading && observed !== null && observed.holderIdentity === this.#identity) {
      const renewal = {
        ...fresh,
        acquireTime: observed.acquireTime,
        leaseTransitions: observed.leaseTransitions,
      };
      try {
        await this.#withDeadline(deadlineAt, (s) => this.#lock.update(renewal, s));
        this.#observed.set(renewal);
        this.#term.renewed(startedAt);
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
      if (!leading && !await this.#callbacks.mayAcquire()) return false;
      return await this.#tryWrite("create", created, deadlineAt, leading, startedAt);
    }

    // 3. Record obtained: restart the expiry countdown if it changed, then check identity and time.
    //    The leader goes on only if the lease still names it. Anyone else may take the lease when
    //    it is free (empty holder), names this candidate, or has not changed for its duration.
    const current = snapshot.record;
    if (!sameRecord(observed, current)) this.#observed.set(current);
    const holder = current.holderIdentity;
    if (leading && holder !== this.#identity) {
      this.#log.warn("Lease was taken over", { lease: this.#lock.describe(), holder });
      return false;
    }
    if (!leading && holder !== "" && holder !== this.#identity && !this.#observed.expired()) {
      this.#log.debug("Lease is held by another candidate and has not expired", {
        lease: this.#lock.describe(),
        holder,
      });
      return false;
    }

    // 4. Write: a renewal keeps acquireTime and leaseTransitions, a takeover starts a new term.
    if (!leading && !await this.#callbacks.mayAcquire()) return false;
    const next: LeaderElectionRecord = leading
      ? { ...fresh, acquireTime: current.acquireTime, leaseTransitions: current.leaseTransitions }
      : { ...fresh, leaseTransitions: current.leaseTransitions + 1 };
    return await this.#tryWrite("update", next, deadlineAt, leading, startedAt);
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
    this.#observed.set(record);
    if (leading) this.#term.renewed(startedAt);
    else this.#term.acquired(record.leaseTransitions, startedAt);
    return true;
  }

  /** Runs a lock call, abandoning it (and aborting its signal) at `deadlineAt`. */
  #withDeadline<T>(deadlineAt: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.#o.clock, this.#lock, deadlineAt, call);
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
}
