/**
 * An in-memory stand-in for the API server's Lease endpoints, for election tests.
 *
 * {@linkcode MemoryLeaseServer} stores Lease objects with a resourceVersion that changes on every
 * write; `create` of an existing lease (`alreadyExists`) and `replace` with a stale resourceVersion
 * (`conflict`) fail with 409, missing leases with 404, like the API server (as `KubeError`s, the
 * kinds `lib/apimachinery/errors.ts` gives these statuses). Each candidate talks to it through its own
 * {@linkcode MemoryLeaseClient}, which counts calls and can be told to fail its next calls (network
 * error, 500, 409, 403, or hang until aborted).
 *
 * A client made with `{ watch: true }` can also watch a lease: the current object first (`ADDED`),
 * then every write and delete, delivered on the microtask queue; its watches can be refused (403,
 * network error) or ended by the server ({@linkcode MemoryLeaseServer.endWatches}).
 *
 * Calls complete on the microtask queue, so a test drives everything with a `FakeClock`.
 *
 * @module
 */
import type {
  LeaseClient,
  LeaseObject,
  LeaseWatchEvent,
} from "../../lib/election/lease_object_lock.ts";
import { KubeError } from "../../lib/apimachinery/errors.ts";

/** A failure a {@linkcode MemoryLeaseClient} can be told to produce. */
export type Fault = "network" | "server" | "conflict" | "forbidden" | "hang";

/** A failure of a watch: refused with 403 or 401, or failed as a network error. */
export type WatchFault = "forbidden" | "unauthorized" | "network";

interface Watcher {
  readonly key: string;
  readonly onEvent: (event: LeaseWatchEvent) => void;
  readonly end: () => void;
}

/** Counts of calls by verb. */
export interface CallCounts {
  read: number;
  create: number;
  replace: number;
  watch: number;
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
  #watchers = new Set<Watcher>();
  /** Calls that reached the store, by verb, over all clients. */
  readonly calls: CallCounts = { read: 0, create: 0, replace: 0, watch: 0 };
  /** Writes refused with 409 because the lease existed or its resourceVersion was stale. */
  conflicts = 0;

  /**
   * A client for one candidate.
   *
   * @returns A new client with its own call counts and faults.
   */
  client(options: { watch?: boolean } = {}): MemoryLeaseClient {
    return new MemoryLeaseClient(this, options);
  }

  /** How many watches are open. */
  get openWatches(): number {
    return this.#watchers.size;
  }

  /** Ends every open watch as the API server does on its watch timeout (they resolve). */
  endWatches(): void {
    for (const w of [...this.#watchers]) w.end();
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
    const stored = this.#objects.get(key(name, namespace));
    this.#objects.delete(key(name, namespace));
    if (stored !== undefined) this.#emit(key(name, namespace), "DELETED", stored);
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
      throw new KubeError("notFound", "get", "leases", `leases "${name}" not found`, { code: 404 });
    }
    return clone(stored);
  }

  /** @internal */
  create(namespace: string, lease: LeaseObject): LeaseObject {
    this.calls.create++;
    const name = lease.metadata?.name ?? "";
    if (this.#objects.has(key(name, namespace))) {
      this.conflicts++;
      throw new KubeError("alreadyExists", "create", "leases", `leases "${name}" already exists`, {
        code: 409,
      });
    }
    return this.#store(name, namespace, lease);
  }

  /** @internal */
  replace(name: string, namespace: string, lease: LeaseObject): LeaseObject {
    this.calls.replace++;
    const stored = this.#objects.get(key(name, namespace));
    if (stored === undefined) {
      throw new KubeError("notFound", "update", "leases", `leases "${name}" not found`, {
        code: 404,
      });
    }
    const sent = lease.metadata?.resourceVersion;
    if (sent !== undefined && sent !== "" && sent !== stored.metadata?.resourceVersion) {
      this.conflicts++;
      throw new KubeError(
        "conflict",
        "update",
        "leases",
        `Operation cannot be fulfilled on leases "${name}": the object has been modified`,
        { code: 409 },
      );
    }
    return this.#store(name, namespace, lease);
  }

  /** @internal Opens a watch on one lease; the current object is delivered first. */
  watch(
    name: string,
    namespace: string,
    onEvent: (event: LeaseWatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.calls.watch++;
    return new Promise<void>((resolve) => {
      const watcher: Watcher = {
        key: key(name, namespace),
        onEvent,
        end: () => {
          this.#watchers.delete(watcher);
          signal.removeEventListener("abort", watcher.end);
          resolve();
        },
      };
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", watcher.end, { once: true });
      this.#watchers.add(watcher);
      const current = this.#objects.get(watcher.key);
      if (current !== undefined) {
        const object = clone(current);
        queueMicrotask(() => {
          if (this.#watchers.has(watcher)) onEvent({ type: "ADDED", object });
        });
      }
    });
  }

  #store(name: string, namespace: string, lease: LeaseObject): LeaseObject {
    const k = key(name, namespace);
    const existed = this.#objects.has(k);
    const stored: LeaseObject = clone({
      ...lease,
      metadata: { ...lease.metadata, name, namespace, resourceVersion: String(++this.#version) },
    });
    this.#objects.set(k, stored);
    this.#emit(k, existed ? "MODIFIED" : "ADDED", stored);
    return clone(stored);
  }

  /** Delivers a change to the watches of `k` on the microtask queue, as a stream would. */
  #emit(k: string, type: LeaseWatchEvent["type"], object: LeaseObject): void {
    for (const w of this.#watchers) {
      if (w.key !== k) continue;
      const copy = clone(object);
      queueMicrotask(() => {
        if (this.#watchers.has(w)) w.onEvent({ type, object: copy });
      });
    }
  }
}

/** One candidate's connection to a {@linkcode MemoryLeaseServer}. */
export class MemoryLeaseClient implements LeaseClient {
  readonly #server: MemoryLeaseServer;
  #faults: Fault[] = [];
  #watchFaults: WatchFault[] = [];
  /** Calls made by this client, by verb, including failed ones. */
  readonly calls: CallCounts = { read: 0, create: 0, replace: 0, watch: 0 };
  /** Present only for a client made with `{ watch: true }`. */
  readonly watch?: (
    name: string,
    namespace: string,
    onEvent: (event: LeaseWatchEvent) => void,
    signal: AbortSignal,
  ) => Promise<void>;

  /**
   * @param server The shared store.
   * @param options `watch`: offer {@linkcode LeaseClient.watch}. Default false.
   */
  constructor(server: MemoryLeaseServer, options: { watch?: boolean } = {}) {
    this.#server = server;
    if (options.watch === true) {
      this.watch = (name, namespace, onEvent, signal) => {
        this.calls.watch++;
        const fault = this.#watchFaults.shift();
        if (fault === "forbidden") {
          return Promise.reject(
            new KubeError("forbidden", "watch", "leases", "watch lease: forbidden", { code: 403 }),
          );
        }
        if (fault === "unauthorized") {
          return Promise.reject(
            new KubeError("unauthorized", "watch", "leases", "watch lease: unauthorized", {
              code: 401,
            }),
          );
        }
        if (fault === "network") {
          return Promise.reject(
            new KubeError("transient", "watch", "leases", "watch lease: connection reset"),
          );
        }
        return this.#server.watch(name, namespace, onEvent, signal);
      };
    }
  }

  /**
   * Makes the next `count` watches fail with `fault` (after faults queued earlier).
   *
   * @param count How many watch calls.
   * @param fault `forbidden` (403: the Role lacks `watch`), `unauthorized` (401) or `network`.
   */
  failNextWatches(count: number, fault: WatchFault): void {
    for (let i = 0; i < count; i++) this.#watchFaults.push(fault);
  }

  /**
   * Makes the next `count` calls fail with `fault` (after faults queued earlier).
   *
   * @param count How many calls.
   * @param fault `network` (no response), `server` (500), `conflict` (409), `forbidden` (403),
   *   or `hang` (never answers until the call's signal aborts, then rejects with its reason, as
   *   the adapter does).
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
    return this.#call("get", signal, () => this.#server.read(name, namespace));
  }

  create(namespace: string, lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject> {
    this.calls.create++;
    return this.#call("create", signal, () => this.#server.create(namespace, lease));
  }

  replace(
    name: string,
    namespace: string,
    lease: LeaseObject,
    signal?: AbortSignal,
  ): Promise<LeaseObject> {
    this.calls.replace++;
    return this.#call("update", signal, () => this.#server.replace(name, namespace, lease));
  }

  #call(
    verb: string,
    signal: AbortSignal | undefined,
    op: () => LeaseObject,
  ): Promise<LeaseObject> {
    // As the adapter (lib/kube/requests.ts): an aborted call rejects with the signal's reason
    // and writes nothing.
    if (signal?.aborted) return Promise.reject(signal.reason);
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
          new KubeError("transient", verb, "leases", "connect ECONNREFUSED", {
            cause: new TypeError("fetch failed"),
          }),
        );
      case "server":
        return Promise.reject(
          new KubeError("transient", verb, "leases", "Internal error occurred", { code: 500 }),
        );
      case "conflict":
        return Promise.reject(
          new KubeError("conflict", verb, "leases", "the object has been modified", { code: 409 }),
        );
      case "forbidden":
        return Promise.reject(
          new KubeError("forbidden", verb, "leases", "leases is forbidden", { code: 403 }),
        );
      case "hang":
        return new Promise((_resolve, reject) => {
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
    }
  }
}
