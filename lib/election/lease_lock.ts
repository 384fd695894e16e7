/**
 * The resource lock behind leader election, modelled on client-go's `resourcelock` package:
 * {@linkcode LeaseLock} is the interface the elector (`lib/election/elector.ts`) talks to. `get`
 * caches the object it read, and `update` sends that cached object back with the record applied,
 * so every update is a compare-and-swap on `metadata.resourceVersion`.
 *
 * - The record it reads and writes ({@linkcode LeaderElectionRecord}, the part of a
 *   `coordination.k8s.io/v1` Lease's spec that means something to the algorithm), its conversions
 *   and the MicroTime text format live in `lib/election/lease_record.ts`.
 * - `LeaseObjectLock` (`lib/election/lease_object_lock.ts`) implements it over a Lease object.
 * - Failed calls throw `KubeError` (`lib/apimachinery/errors.ts`), whose kind decides how the elector
 *   reacts.
 *
 * Nothing here imports a Kubernetes client; `lib/kube/leases.ts` adapts the API.
 *
 * @module
 */

import type { LeaderElectionRecord } from "./lease_record.ts";

/** The Lease name used when none is configured. */
export const DEFAULT_LEASE_NAME = "dz-mcall-leader";

/** A record as last read, with the version an update must match. */
export interface LeaseSnapshot {
  /** The election record from the Lease's spec. */
  readonly record: LeaderElectionRecord;
  /** `metadata.resourceVersion` of the object read. */
  readonly resourceVersion: string;
}

/**
 * What the elector needs from a lock. Implementations throw `KubeError` from
 * `create` and `update` (and from `get` for anything but "not found").
 */
export interface LeaseLock {
  /**
   * This candidate's identity, written as `holderIdentity`.
   *
   * @returns A non-empty identity, unique among candidates (the pod name).
   */
  identity(): string;
  /**
   * Names the lock for logs.
   *
   * @returns For example `default/dz-mcall-leader`.
   */
  describe(): string;
  /**
   * Reads the lease and caches the object for the next `update`.
   *
   * @param signal Aborts the request.
   * @returns The record and resourceVersion, or `null` when the lease does not exist.
   * @throws {KubeError} Any failure other than "not found".
   */
  get(signal?: AbortSignal): Promise<LeaseSnapshot | null>;
  /**
   * Creates the lease holding `record` and caches the created object.
   *
   * @param record The record to store.
   * @param signal Aborts the request.
   * @throws {KubeError} Kind `alreadyExists` (or `conflict`) when the lease already exists.
   */
  create(record: LeaderElectionRecord, signal?: AbortSignal): Promise<void>;
  /**
   * Replaces the record in the cached object, sending its resourceVersion (compare-and-swap), and
   * caches the result.
   *
   * @param record The record to store.
   * @param signal Aborts the request.
   * @throws {KubeError} Kind `conflict` when the lease changed since it was cached (or was
   *   never read), `notFound` when it was deleted.
   */
  update(record: LeaderElectionRecord, signal?: AbortSignal): Promise<void>;
  /**
   * Watches the lease (optional; an optimisation the elector can do without). Every change is
   * reported through `onRecord` as the record and resourceVersion now stored, or `null` when the
   * lease was deleted, and the watched object replaces the cached one (the latest event is the
   * latest state). The current state is reported first when the watch starts.
   *
   * @param onRecord Called synchronously on each change, in the order the server sent them.
   * @param signal Ends the watch; the promise then resolves.
   * @returns A promise that resolves when the watch ended (the server closed it, or `signal`
   *   aborted), so the caller can start it again.
   * @throws {KubeError} When the watch cannot be established or fails (rejects the promise):
   *   `forbidden` when the Role lacks `watch` on leases, `unauthorized` when the token was
   *   rejected, `transient` (or `gone`) otherwise.
   */
  watch?(onRecord: (snapshot: LeaseSnapshot | null) => void, signal: AbortSignal): Promise<void>;
  /**
   * Records an event such as "became leader" (optional; a Kubernetes Event in client-go).
   *
   * @param message What happened.
   */
  recordEvent?(message: string): void;
}
