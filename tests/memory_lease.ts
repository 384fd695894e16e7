/**
 * An in-memory stand-in for the API server's Lease endpoints, for election tests.
 *
 * {@linkcode MemoryLeaseServer} stores Lease objects with a resourceVersion that changes on every
 * write; `create` of an existing lease and `replace` with a stale resourceVersion fail with 409,
 * missing leases with 404, like the API server. Each candidate talks to it through its own
 * {@linkcode MemoryLeaseClient}, which counts calls and can be told to fail its next calls (network
 * error, 500, 409, 403, or hang until aborted).
 *
 * Calls complete on the microtask queue, so a test drives everything with a `FakeClock`.
 *
 * @module
 */
import { type LeaseClient, LeaseLockError, type LeaseObject } from "../lib/lease_lock.ts";

/** A failure a {@linkcode MemoryLeaseClient} can be told to produce. */
export type Fault = "network" | "server" | "conflict" | "forbidden" | "hang";

/** Counts of calls by verb. */
export interface CallCounts {
  read: number;
  create: number;
  replace: number;
}

function key(name: string, namespace: string): string {
  return `${namespace}/${name}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The shared store every candidate's client talks to. */
export class MemoryLeaseServer {
  #objects = new Map<string, LeaseObject>();
  #version = 0;
  /** Calls that reached the store, by verb, over all clients. */
  readonly calls: CallCounts = { read: 0, create: 0, replace: 0 };
  /** Writes refused with 409 because the lease existed or its resourceVersion was stale. */
  conflicts = 0;

  /**
   * A client for one candidate.
   *
   * @returns A new client with its own call counts and faults.
   */
  client(): MemoryLeaseClient {
    return new MemoryLeaseClient(this);
  }

  /**
   * The stored lease, for assertions.
   *
   * @returns A copy, or `undefined` when it does not exist.
   */
  lease(name: string, namespace: string): LeaseObject | undefined {
    const stored = this.#objects.get(key(name, namespace));
    return stored === undefined ? undefined : clone(stored);
  }

  /** Deletes a lease, as `kubectl delete lease` would. */
  delete(name: string, namespace: string): void {
    this.#objects.delete(key(name, namespace));
  }

  /** Stores a lease directly (a fresh resourceVersion is assigned), e.g. one held by a stranger. */
  put(lease: LeaseObject): LeaseObject {
    const name = lease.metadata?.name ?? "";
    const namespace = lease.metadata?.namespace ?? "";
    return this.#store(name, namespace, lease);
  }

  /** @internal */
  read(name: string, namespace: string): LeaseObject {
    this.calls.read++;
    const stored = this.#objects.get(key(name, namespace));
    if (stored === undefined) {
      throw new LeaseLockError("notFound", `leases "${name}" not found`, { status: 404 });
    }
    return clone(stored);
  }

  /** @internal */
  create(namespace: string, lease: LeaseObject): LeaseObject {
    this.calls.create++;
    const name = lease.metadata?.name ?? "";
    if (this.#objects.has(key(name, namespace))) {
      this.conflicts++;
      throw new LeaseLockError("conflict", `leases "${name}" already exists`, { status: 409 });
    }
    return this.#store(name, namespace, lease);
  }

  /** @internal */
  replace(name: string, namespace: string, lease: LeaseObject): LeaseObject {
    this.calls.replace++;
    const stored = this.#objects.get(key(name, namespace));
    if (stored === undefined) {
      throw new LeaseLockError("notFound", `leases "${name}" not found`, { status: 404 });
    }
    const sent = lease.metadata?.resourceVersion;
    if (sent !== undefined && sent !== "" && sent !== stored.metadata?.resourceVersion) {
      this.conflicts++;
      throw new LeaseLockError(
        "conflict",
        `Operation cannot be fulfilled on leases "${name}": the object has been modified`,
        { status: 409 },
      );
    }
    return this.#store(name, namespace, lease);
  }

  #store(name: string, namespace: string, lease: LeaseObject): LeaseObject {
    const stored: LeaseObject = clone({
      ...lease,
      metadata: { ...lease.metadata, name, namespace, resourceVersion: String(++this.#version) },
    });
    this.#objects.set(key(name, namespace), stored);
    return clone(stored);
  }
}

/** One candidate's connection to a {@linkcode MemoryLeaseServer}. */
export class MemoryLeaseClient implements LeaseClient {
  readonly #server: MemoryLeaseServer;
  #faults: Fault[] = [];
  /** Calls made by this client, by verb, including failed ones. */
  readonly calls: CallCounts = { read: 0, create: 0, replace: 0 };

  /** @param server The shared store. */
  constructor(server: MemoryLeaseServer) {
    this.#server = server;
  }

  /**
   * Makes the next `count` calls fail with `fault` (after faults queued earlier).
   *
   * @param count How many calls.
   * @param fault `network` (no response), `server` (500), `conflict` (409), `forbidden` (403),
   *   or `hang` (never answers until the call's signal aborts, then fails as a network error).
   */
  failNext(count: number, fault: Fault): void {
    for (let i = 0; i < count; i++) this.#faults.push(fault);
  }

  /** Drops queued faults. */
  heal(): void {
    this.#faults = [];
  }

  read(name: string, namespace: string, signal?: AbortSignal): Promise<LeaseObject> {
    this.calls.read++;
    return this.#call(signal, () => this.#server.read(name, namespace));
  }

  create(namespace: string, lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject> {
    this.calls.create++;
    return this.#call(signal, () => this.#server.create(namespace, lease));
  }

  replace(
    name: string,
    namespace: string,
    lease: LeaseObject,
    signal?: AbortSignal,
  ): Promise<LeaseObject> {
    this.calls.replace++;
    return this.#call(signal, () => this.#server.replace(name, namespace, lease));
  }

  #call(signal: AbortSignal | undefined, op: () => LeaseObject): Promise<LeaseObject> {
    const fault = this.#faults.shift();
    switch (fault) {
      case undefined:
        try {
          return Promise.resolve(op());
        } catch (err) {
          return Promise.reject(err);
        }
      case "network":
        return Promise.reject(
          new LeaseLockError("transient", "connect ECONNREFUSED", {
            cause: new TypeError("fetch failed"),
          }),
        );
      case "server":
        return Promise.reject(
          new LeaseLockError("transient", "Internal error occurred", { status: 500 }),
        );
      case "conflict":
        return Promise.reject(
          new LeaseLockError("conflict", "the object has been modified", { status: 409 }),
        );
      case "forbidden":
        return Promise.reject(
          new LeaseLockError("forbidden", "leases is forbidden", { status: 403 }),
        );
      case "hang":
        return new Promise((_resolve, reject) => {
          const fail = () =>
            reject(new LeaseLockError("transient", "request aborted", { cause: signal?.reason }));
          if (signal?.aborted) fail();
          else signal?.addEventListener("abort", fail, { once: true });
        });
    }
  }
}
