/**
 * The resource lock behind leader election, modelled on client-go's `resourcelock` package.
 *
 * - {@linkcode LeaderElectionRecord} is what the election reads and writes: the part of a
 *   `coordination.k8s.io/v1` Lease's spec that means something to the algorithm.
 * - {@linkcode LeaseLock} is the interface the elector (`lib/election/elector.ts`) talks to. `get` caches
 *   the object it read, and `update` sends that cached object back with the record applied, so
 *   every update is a compare-and-swap on `metadata.resourceVersion`.
 * - {@linkcode LeaseObjectLock} implements `LeaseLock` over any {@linkcode LeaseClient}: three
 *   calls (read, create, replace) and an optional watch that a Kubernetes client adapter supplies,
 *   throwing
 *   {@linkcode LeaseLockError} with a {@linkcode LeaseLockErrorKind}
 *   ({@linkcode leaseLockErrorFromStatus} maps HTTP status codes).
 * - The record itself, its conversions to and from a Lease spec, and the MicroTime text format
 *   live in `lib/election/lease_record.ts` and are re-exported here.
 *
 * Nothing here imports a Kubernetes client; `lib/kube/api.ts` adapts `@kubernetes/client-node`.
 *
 * @module
 */

import type { OwnerReference } from "../kube/objects.ts";
import {
  type LeaderElectionRecord,
  type LeaseSpec,
  leaseSpecToRecord,
  recordToLeaseSpec,
} from "./lease_record.ts";

export {
  formatMicroTime,
  type LeaderElectionRecord,
  type LeaseSpec,
  leaseSpecToRecord,
  parseMicroTime,
  recordToLeaseSpec,
} from "./lease_record.ts";

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
 * What the elector needs from a lock. Implementations throw {@linkcode LeaseLockError} from
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
   * @throws {LeaseLockError} Any failure other than "not found".
   */
  get(signal?: AbortSignal): Promise<LeaseSnapshot | null>;
  /**
   * Creates the lease holding `record` and caches the created object.
   *
   * @param record The record to store.
   * @param signal Aborts the request.
   * @throws {LeaseLockError} Kind `conflict` when the lease already exists.
   */
  create(record: LeaderElectionRecord, signal?: AbortSignal): Promise<void>;
  /**
   * Replaces the record in the cached object, sending its resourceVersion (compare-and-swap), and
   * caches the result.
   *
   * @param record The record to store.
   * @param signal Aborts the request.
   * @throws {LeaseLockError} Kind `conflict` when the lease changed since it was cached (or was
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
   * @throws {LeaseLockError} When the watch cannot be established or fails: `forbidden` when the
   *   Role lacks `watch` on leases, `transient` otherwise (rejects the promise).
   */
  watch?(onRecord: (snapshot: LeaseSnapshot | null) => void, signal: AbortSignal): Promise<void>;
  /**
   * Records an event such as "became leader" (optional; a Kubernetes Event in client-go).
   *
   * @param message What happened.
   */
  recordEvent?(message: string): void;
}

/** Why a lock call failed, which decides how the elector reacts. */
export type LeaseLockErrorKind = "conflict" | "notFound" | "forbidden" | "transient";

/**
 * A failed lock call.
 *
 * @example Usage
 * ```ts
 * import { LeaseLockError } from "./lease_lock.ts";
 * import assert from "node:assert/strict";
 * const err = new LeaseLockError("conflict", "Lease changed", { status: 409 });
 * assert.equal(err.kind, "conflict");
 * assert.equal(err.name, "LeaseLockError");
 * ```
 */
export class LeaseLockError extends Error {
  /** `conflict` (409: someone else wrote first), `notFound` (404), `forbidden` (401/403), or
   * `transient` (network, timeouts, 5xx, 429: worth retrying). */
  readonly kind: LeaseLockErrorKind;
  /** The HTTP status, when there was a response. */
  readonly status: number | undefined;

  /**
   * @param kind The category.
   * @param message One line describing the failure.
   * @param options `status` of the response and the underlying `cause`.
   */
  constructor(
    kind: LeaseLockErrorKind,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = "LeaseLockError";
    this.kind = kind;
    this.status = options.status;
  }
}

/**
 * Maps an HTTP status (e.g. client-node's `ApiException.code`) to a {@linkcode LeaseLockError}.
 *
 * @param status The response status, or `undefined` when the request never got a response.
 * @param message One line describing the call that failed.
 * @param cause The original error.
 * @returns 404 → `notFound`, 409 → `conflict`, 401/403 → `forbidden`, anything else → `transient`.
 *
 * @example Usage
 * ```ts
 * import { leaseLockErrorFromStatus } from "./lease_lock.ts";
 * import assert from "node:assert/strict";
 * assert.equal(leaseLockErrorFromStatus(409, "replace lease").kind, "conflict");
 * assert.equal(leaseLockErrorFromStatus(undefined, "read lease").kind, "transient");
 * ```
 */
export function leaseLockErrorFromStatus(
  status: number | undefined,
  message: string,
  cause?: unknown,
): LeaseLockError {
  const kind: LeaseLockErrorKind = status === 404
    ? "notFound"
    : status === 409
    ? "conflict"
    : status === 401 || status === 403
    ? "forbidden"
    : "transient";
  const text = status === undefined ? message : `${message}: HTTP ${status}`;
  return new LeaseLockError(kind, text, {
    ...(status === undefined ? {} : { status }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** `metadata` with every owner of `owners` whose uid it does not name yet appended. */
function withOwners(
  metadata: NonNullable<LeaseObject["metadata"]>,
  owners: readonly OwnerReference[],
): NonNullable<LeaseObject["metadata"]> {
  const present = (metadata.ownerReferences ?? []) as OwnerReference[];
  const missing = owners.filter((o) => !present.some((p) => p.uid === o.uid));
  return missing.length === 0
    ? metadata
    : { ...metadata, ownerReferences: [...present, ...missing] };
}

/** A Lease object as far as the lock cares, shaped like client-node's `V1Lease`. */
export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    [field: string]: unknown;
  };
  spec?: LeaseSpec;
}

/** One change seen by a watch on a Lease. */
export interface LeaseWatchEvent {
  /** What happened to the object. */
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  /** The object after the change (for `DELETED`, its last state). */
  readonly object: LeaseObject;
}

/**
 * The Lease calls a Kubernetes client adapter supplies to {@linkcode LeaseObjectLock}: three
 * required, `watch` optional. Each throws {@linkcode LeaseLockError} (see
 * {@linkcode leaseLockErrorFromStatus}).
 */
export interface LeaseClient {
  /** GET the lease; throws kind `notFound` when it does not exist. */
  read(name: string, namespace: string, signal?: AbortSignal): Promise<LeaseObject>;
  /** POST a new lease; throws kind `conflict` when it already exists. */
  create(namespace: string, lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject>;
  /** PUT the lease; `metadata.resourceVersion` makes it a compare-and-swap (409 on mismatch). */
  replace(
    name: string,
    namespace: string,
    lease: LeaseObject,
    signal?: AbortSignal,
  ): Promise<LeaseObject>;
  /**
   * Watches the one lease (`fieldSelector=metadata.name=<name>`), reporting the current object
   * first (as `ADDED`) and then every change. Resolves when the watch ends (server timeout,
   * closed connection, `signal` aborted); rejects with a {@linkcode LeaseLockError} when it
   * cannot be established or the server sends an error (403 → `forbidden`, 410 and the rest →
   * `transient`).
   */
  watch?(
    name: string,
    namespace: string,
    onEvent: (event: LeaseWatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** Options of {@linkcode LeaseObjectLock}. */
export interface LeaseObjectLockOptions {
  /** The calls to the API server. */
  client: LeaseClient;
  /** The Lease's namespace; required. */
  namespace: string;
  /** This candidate's identity (the pod name); required. */
  identity: string;
  /** The Lease's name. Default {@linkcode DEFAULT_LEASE_NAME}. */
  name?: string;
  /** Labels put on the Lease when this lock creates it. Default none. */
  labels?: Readonly<Record<string, string>>;
  /**
   * Owners put on the Lease when this lock creates or updates it (added when missing), so the
   * garbage collector deletes the Lease with them. Default none.
   */
  ownerReferences?: readonly OwnerReference[];
  /** Receives `recordEvent` messages. Default: dropped. */
  onEvent?: (message: string) => void;
}

/**
 * A {@linkcode LeaseLock} over a {@linkcode LeaseClient} (client-go's `LeaseLock`): caches the last
 * object read, created or written, and replaces that object on update, so a concurrent writer
 * makes the update fail with a `conflict`.
 *
 * @example Usage
 * ```ts
 * import { LeaseObjectLock, type LeaseClient } from "./lease_lock.ts";
 * import assert from "node:assert/strict";
 * const client: LeaseClient = {
 *   read: () => Promise.reject(new Error("unused")),
 *   create: (_ns, lease) => Promise.resolve(lease),
 *   replace: (_name, _ns, lease) => Promise.resolve(lease),
 * };
 * const lock = new LeaseObjectLock({ client, namespace: "default", identity: "pod-a" });
 * assert.equal(lock.describe(), "default/dz-mcall-leader");
 * ```
 */
export class LeaseObjectLock implements LeaseLock {
  readonly #client: LeaseClient;
  readonly #name: string;
  readonly #namespace: string;
  readonly #identity: string;
  readonly #labels: Readonly<Record<string, string>> | undefined;
  readonly #onEvent: ((message: string) => void) | undefined;
  readonly #owners: readonly OwnerReference[];
  #cached: LeaseObject | undefined;
  /**
   * Watches the lease when the client can (see {@linkcode LeaseLock.watch}); `undefined` when the
   * client has no `watch`.
   *
   * Each watched object simply replaces the cached one; no resourceVersions are compared (they
   * are opaque strings, not numbers to order). That is safe for the compare-and-swap: `update`
   * sends the cached object's resourceVersion, so a cache that is stale (a watch event that
   * arrived after a newer read or write) only makes the next update fail with 409, after which
   * the elector reads the lease again. A cache that is newer than what the elector believes
   * (another holder's write seen by the watch) is reported through `onRecord` in the same
   * synchronous step, so the elector's observed record never lags the cache it writes against.
   */
  readonly watch?: (
    onRecord: (snapshot: LeaseSnapshot | null) => void,
    signal: AbortSignal,
  ) => Promise<void>;

  /**
   * @param options The client, namespace, identity and optional name.
   * @throws {TypeError} When `namespace`, `identity` or `name` is empty.
   */
  constructor(options: LeaseObjectLockOptions) {
    const { client, namespace, identity, name = DEFAULT_LEASE_NAME, labels, onEvent } = options;
    this.#owners = options.ownerReferences ?? [];
    for (
      const [option, value] of [["namespace", namespace], ["identity", identity], [
        "name",
        name,
      ]] as const
    ) {
      if (value === "") {
        throw new TypeError(`Cannot create lease lock as '${option}' must not be empty`);
      }
    }
    this.#client = client;
    this.#name = name;
    this.#namespace = namespace;
    this.#identity = identity;
    this.#labels = labels;
    this.#onEvent = onEvent;
    if (typeof client.watch === "function") {
      const watch = client.watch.bind(client);
      this.watch = (onRecord, signal) =>
        watch(this.#name, this.#namespace, (event) => {
          if (event.object.metadata?.name !== undefined && event.object.metadata.name !== name) {
            return; // not our lease (a client that ignored the field selector)
          }
          if (event.type === "DELETED") {
            this.#cached = undefined;
            onRecord(null);
          } else {
            this.#cached = event.object;
            onRecord(this.#snapshot(event.object));
          }
        }, signal);
    }
  }

  identity(): string {
    return this.#identity;
  }

  describe(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async get(signal?: AbortSignal): Promise<LeaseSnapshot | null> {
    let lease: LeaseObject;
    try {
      lease = await this.#client.read(this.#name, this.#namespace, signal);
    } catch (err) {
      if (err instanceof LeaseLockError && err.kind === "notFound") {
        this.#cached = undefined;
        return null;
      }
      throw err;
    }
    this.#cached = lease;
    return this.#snapshot(lease);
  }

  async create(record: LeaderElectionRecord, signal?: AbortSignal): Promise<void> {
    const lease: LeaseObject = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.#name,
        namespace: this.#namespace,
        ...(this.#labels === undefined ? {} : { labels: { ...this.#labels } }),
        ...(this.#owners.length === 0 ? {} : { ownerReferences: [...this.#owners] }),
      },
      spec: recordToLeaseSpec(record),
    };
    this.#cached = await this.#client.create(this.#namespace, lease, signal);
  }

  async update(record: LeaderElectionRecord, signal?: AbortSignal): Promise<void> {
    const cached = this.#cached;
    if (cached === undefined) {
      throw new LeaseLockError(
        "conflict",
        `Cannot update lease ${this.describe()} before it was read or created`,
      );
    }
    const {
      holderIdentity: _h,
      leaseDurationSeconds: _d,
      acquireTime: _a,
      renewTime: _r,
      leaseTransitions: _t,
      ...otherSpec
    } = cached.spec ?? {};
    const lease: LeaseObject = {
      ...cached,
      metadata: withOwners(cached.metadata ?? {}, this.#owners),
      spec: { ...otherSpec, ...recordToLeaseSpec(record) },
    };
    this.#cached = await this.#client.replace(this.#name, this.#namespace, lease, signal);
  }

  recordEvent(message: string): void {
    this.#onEvent?.(`${this.#identity} ${message}`);
  }

  #snapshot(lease: LeaseObject): LeaseSnapshot {
    return {
      record: leaseSpecToRecord(lease.spec),
      resourceVersion: lease.metadata?.resourceVersion ?? "",
    };
  }
}
