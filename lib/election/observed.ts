/**
 * What an elector (`lib/election/elector.ts`) last saw of the lease: the record as last read,
 * written or watched, and **when, on this pod's monotonic clock, it was last seen to change**
 * (`observedTime`). Expiry of another holder's lease is judged from these two alone, never from
 * the remote `renewTime`/`acquireTime`.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import type { LeaderElectionRecord } from "./lease_record.ts";
import { sameRecord } from "./lease_record.ts";

/**
 * The observed record and its local observation time, behind one setter.
 *
 * @example Usage
 * ```ts
 * import { ObservedLease } from "./observed.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * const observed = new ObservedLease(systemClock);
 * assert.equal(observed.expired(), true);
 * observed.set({ holderIdentity: "pod-a", leaseDurationSeconds: 15, acquireTime: null, renewTime: null, leaseTransitions: 0 });
 * assert.equal(observed.holder(), "pod-a");
 * assert.equal(observed.expired(), false);
 * ```
 */
export class ObservedLease {
  readonly #clock: Clock;
  #record: LeaderElectionRecord | null = null;
  #time = 0;

  /** @param clock Stamps each observation. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** @returns The record as last read or written, or `null` before the first read. */
  record(): LeaderElectionRecord | null {
    return this.#record;
  }

  /** @returns The holder in the observed record (`""` if none or not yet read). */
  holder(): string {
    return this.#record?.holderIdentity ?? "";
  }

  /** The one setter of observed state: stores the record and stamps the local monotonic time. */
  set(record: LeaderElectionRecord): void {
    this.#record = record;
    this.#time = this.#clock.now();
  }

  /**
   * Observes `record` only if it differs from the observed one, so an unchanged record keeps
   * counting down to its expiry.
   *
   * @returns Whether it changed.
   */
  setIfChanged(record: LeaderElectionRecord): boolean {
    if (sameRecord(this.#record, record)) return false;
    this.set(record);
    return true;
  }

  /** @returns Whether the observed record has gone unchanged for its lease duration. */
  expired(): boolean {
    const expiresAt = this.expiresAt();
    return expiresAt === undefined || this.#clock.now() >= expiresAt;
  }

  /** @returns When (monotonic) the observed record may expire, `undefined` before any. */
  expiresAt(): number | undefined {
    const record = this.#record;
    if (record === null) return undefined;
    return this.#time + record.leaseDurationSeconds * 1000;
  }
}
