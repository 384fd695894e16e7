/**
 * {@linkcode LeaseObjectLock}, client-go's `LeaseLock`: the {@linkcode LeaseLock} over a
 * `coordination.k8s.io/v1` Lease object, through any {@linkcode LeaseClient} — three calls (read,
 * create, replace) and an optional watch that a Kubernetes client adapter (`lib/kube/leases.ts`)
 * supplies, each throwing `KubeError` (`lib/apimachinery/errors.ts`).
 *
 * @module
 */

import { isKubeError, KubeError } from "../apimachinery/errors.ts";
import type { OwnerReference } from "../apimachinery/objects.ts";
import { DEFAULT_LEASE_NAME, type LeaseLock, type LeaseSnapshot } from "./lease_lock.ts";
import {
  type LeaderElectionRecord,
  type LeaseSpec,
  leaseSpecToRecord,
  recordToLeaseSpec,
} from "./lease_record.ts";

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

/** A Lease object as far as the lock cares, shaped like the API's `Lease`. */
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
 * required, `watch` optional. Each throws `KubeError`.
 */
export interface LeaseClient {
  /** GET the lease; throws kind `notFound` when it does not exist. */
  read(name: string, namespace: string, signal?: AbortSignal): Promise<LeaseObject>;
  /** POST a new lease; throws kind `alreadyExists` when it already exists. */
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
   * closed connection, `signal` aborted); rejects with a `KubeError` when it
   * cannot be established or the server sends an error (see `kubeErrorFromStatus`).
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
 * import { type LeaseClient, LeaseObjectLock } from "./lease_object_lock.ts";
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
      if (isKubeError(err, "notFound")) {
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
      throw new KubeError(
        "conflict",
        "update",
        "leases",
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
