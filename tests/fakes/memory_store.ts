/**
 * An in-memory API server for ConfigMaps and Pods: resourceVersion compare-and-swap, label
 * selectors (`k=v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`), watches with an event log
 * (410 Gone once compacted), fault injection and a write counter.
 *
 * @module
 */
import { type Config, ConfigSchema } from "../../lib/config/schema.ts";
import type { InputSpec } from "../../lib/engine/input.ts";
import { type SignedFields, signedPayload, type TaskSigner } from "../../lib/tasks/signing.ts";
import { KubeError, type KubeErrorKind } from "../../lib/apimachinery/errors.ts";
import { parseSelector } from "./selector.ts";
import type {
  Bookmark,
  ConfigMapLike,
  PodInfo,
  PodLister,
  TaskStore,
  WatchEvent,
} from "../../lib/tasks/store.ts";

export { parseSelector };

const clone = <T>(value: T): T => structuredClone(value);

/** An open ConfigMap watch. */
interface Watcher {
  deliver(): void;
  bookmark(): void;
  end(): void;
}

interface Fault {
  verb: string;
  kind: KubeErrorKind;
  times: number;
}

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** Source of `creationTimestamp`. Default `() => new Date()`. */
  wallNow?: () => Date;
}

/** An in-memory {@linkcode TaskStore} and {@linkcode PodLister}. */
export class MemoryStore implements TaskStore, PodLister {
  readonly #objects = new Map<string, ConfigMapLike>();
  readonly #pods = new Map<string, PodInfo>();
  readonly #log: { rv: number; event: WatchEvent; labelsBefore?: Record<string, string> }[] = [];
  readonly #watchers = new Set<Watcher>();
  /** List calls (`list`) so far. */
  lists = 0;
  /** The resourceVersion each ConfigMap watch asked for, in order. */
  readonly watchLog: string[] = [];
  readonly #podWatchers = new Set<(pod: PodInfo) => void>();
  /** Pod watches opened so far (`watchPods` calls). */
  podWatches = 0;

  /** Pod watches open now. */
  get openPodWatches(): number {
    return this.#podWatchers.size;
  }
  readonly #wallNow: () => Date;
  #rv = 0;
  #compactedRv = 0;
  #faults: Fault[] = [];
  /** Write requests served, by verb. */
  readonly writes: Record<string, number> = {};
  /** Every write request served, in order: `verb name`. */
  readonly writeLog: string[] = [];

  constructor(options: MemoryStoreOptions = {}) {
    this.#wallNow = options.wallNow ?? (() => new Date());
  }

  /** Total write requests served. */
  get writeCount(): number {
    return Object.values(this.writes).reduce((a, b) => a + b, 0);
  }

  /** Makes the next `times` calls of `verb` fail with `kind`. */
  failNext(verb: string, kind: KubeErrorKind, times = 1): void {
    this.#faults.push({ verb, kind, times });
  }

  /** Sends every open ConfigMap watch a BOOKMARK at the current resourceVersion. */
  bookmark(): void {
    for (const w of [...this.#watchers]) w.bookmark();
  }

  /** Ends every open ConfigMap watch normally (as the server's `timeoutSeconds` does). */
  endWatches(): void {
    for (const w of [...this.#watchers]) w.end();
  }

  /** Forgets the event log, so watches from older versions get 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#log.length = 0;
  }

  /** Adds or replaces a pod (reported to the pod watches). */
  setPod(pod: Partial<PodInfo> & { name: string }): void {
    const stored: PodInfo = {
      ready: true,
      terminating: false,
      labels: { app: "dz-mcall" },
      ...pod,
    };
    this.#pods.set(pod.name, stored);
    for (const watcher of [...this.#podWatchers]) watcher(clone(stored));
  }

  /** Removes a pod. */
  deletePod(name: string): void {
    this.#pods.delete(name);
  }

  /** A copy of a stored ConfigMap, or undefined. */
  peek(name: string): ConfigMapLike | undefined {
    const cm = this.#objects.get(name);
    return cm && clone(cm);
  }

  /** Copies of all stored ConfigMaps. */
  all(): ConfigMapLike[] {
    return [...this.#objects.values()].map(clone);
  }

  /** Writes an object directly, bypassing CAS and counters (to simulate other writers). */
  put(cm: ConfigMapLike): ConfigMapLike {
    const before = this.#objects.get(cm.metadata.name);
    const stored = clone(cm);
    stored.metadata.resourceVersion = String(++this.#rv);
    stored.metadata.creationTimestamp ??= before?.metadata.creationTimestamp ?? this.#wallNow();
    stored.metadata.uid ??= before?.metadata.uid ?? crypto.randomUUID();
    this.#objects.set(stored.metadata.name, stored);
    this.#emit(before ? "MODIFIED" : "ADDED", stored, before);
    return clone(stored);
  }

  /**
   * Throws what a call must: the signal's reason once it aborted (as the adapters: nothing is
   * done), else an injected fault.
   */
  #fault(verb: string, signal?: AbortSignal): void {
    signal?.throwIfAborted();
    const fault = this.#faults.find((f) => f.verb === verb && f.times > 0);
    if (!fault) return;
    fault.times--;
    throw new KubeError(fault.kind, verb, "configmaps", `injected ${fault.kind} on ${verb}`);
  }

  #count(verb: string, name: string): void {
    this.writes[verb] = (this.writes[verb] ?? 0) + 1;
    this.writeLog.push(`${verb} ${name}`);
  }

  #emit(type: WatchEvent["type"], cm: ConfigMapLike, before?: ConfigMapLike): void {
    this.#log.push({
      rv: this.#rv,
      event: { type, object: clone(cm) },
      ...(before ? { labelsBefore: { ...before.metadata.labels } } : {}),
    });
    for (const w of this.#watchers) w.deliver();
  }

  list(
    labelSelector: string,
    signal?: AbortSignal,
  ): Promise<{ items: ConfigMapLike[]; resourceVersion: string }> {
    this.lists++;
    try {
      this.#fault("list", signal);
    } catch (err) {
      return Promise.reject(err);
    }
    const match = parseSelector(labelSelector);
    const items = [...this.#objects.values()].filter((cm) => match(cm.metadata.labels ?? {}))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map(clone);
    return Promise.resolve({ items, resourceVersion: String(this.#rv) });
  }

  get(name: string, signal?: AbortSignal): Promise<ConfigMapLike | undefined> {
    try {
      this.#fault("get", signal);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(this.peek(name));
  }

  create(cm: ConfigMapLike, signal?: AbortSignal): Promise<ConfigMapLike> {
    try {
      this.#fault("create", signal);
      const name = cm.metadata.name;
      this.#count("create", name);
      if (this.#objects.has(name)) {
        throw new KubeError("alreadyExists", "create", "configmaps", `${name} already exists`, {
          code: 409,
        });
      }
      const stored = clone(cm);
      stored.metadata.resourceVersion = String(++this.#rv);
      stored.metadata.creationTimestamp = this.#wallNow();
      stored.metadata.uid = crypto.randomUUID();
      this.#objects.set(name, stored);
      this.#emit("ADDED", stored);
      return Promise.resolve(clone(stored));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  update(cm: ConfigMapLike, signal?: AbortSignal): Promise<ConfigMapLike> {
    try {
      this.#fault("update", signal);
      const name = cm.metadata.name;
      this.#count("update", name);
      const before = this.#objects.get(name);
      if (!before) {
        throw new KubeError("notFound", "update", "configmaps", `${name} not found`, { code: 404 });
      }
      if (cm.metadata.resourceVersion !== before.metadata.resourceVersion) {
        throw new KubeError("conflict", "update", "configmaps", `${name} changed`, { code: 409 });
      }
      const stored = clone(cm);
      stored.metadata.resourceVersion = String(++this.#rv);
      stored.metadata.creationTimestamp = before.metadata.creationTimestamp!;
      this.#objects.set(name, stored);
      this.#emit("MODIFIED", stored, before);
      return Promise.resolve(clone(stored));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  deleteCollection(labelSelector: string, signal?: AbortSignal): Promise<void> {
    try {
      this.#fault("deleteCollection", signal);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#count("deleteCollection", labelSelector);
    const match = parseSelector(labelSelector);
    for (const cm of [...this.#objects.values()]) {
      if (match(cm.metadata.labels ?? {})) this.#remove(cm.metadata.name);
    }
    return Promise.resolve();
  }

  delete(name: string, signal?: AbortSignal): Promise<void> {
    try {
      this.#fault("delete", signal);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#count("delete", name);
    this.#remove(name);
    return Promise.resolve();
  }

  #remove(name: string): void {
    const before = this.#objects.get(name);
    if (!before) return;
    this.#objects.delete(name);
    ++this.#rv;
    this.#emit("DELETED", before, before);
  }

  watch(
    labelSelector: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent | Bookmark) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watchLog.push(resourceVersion);
    try {
      this.#fault("watch");
    } catch (err) {
      return Promise.reject(err);
    }
    const from = Number(resourceVersion);
    if (!Number.isFinite(from) || from < this.#compactedRv) {
      return Promise.reject(
        new KubeError("gone", "watch", "configmaps", "too old resource version", { code: 410 }),
      );
    }
    const match = parseSelector(labelSelector);
    let seen = from;
    const deliver = () => {
      for (const entry of this.#log) {
        if (entry.rv <= seen) continue;
        seen = entry.rv;
        const now = match(entry.event.object.metadata.labels ?? {});
        const was = entry.labelsBefore !== undefined && match(entry.labelsBefore);
        if (entry.event.type === "DELETED") {
          if (was) onEvent(clone(entry.event));
        } else if (now) {
          onEvent({ type: was ? "MODIFIED" : "ADDED", object: clone(entry.event.object) });
        } else if (was) {
          onEvent({ type: "DELETED", object: clone(entry.event.object) });
        }
      }
    };
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const watcher: Watcher = {
        deliver,
        bookmark: () => {
          deliver();
          seen = this.#rv;
          onEvent({ type: "BOOKMARK", resourceVersion: String(seen) });
        },
        end: () => {
          this.#watchers.delete(watcher);
          signal.removeEventListener("abort", watcher.end);
          resolve();
        },
      };
      this.#watchers.add(watcher);
      signal.addEventListener("abort", watcher.end, { once: true });
      queueMicrotask(deliver);
    });
  }

  watchPods(
    labelSelector: string,
    onPod: (pod: PodInfo) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.podWatches++;
    try {
      this.#fault("watchPods");
    } catch (err) {
      return Promise.reject(err);
    }
    const match = parseSelector(labelSelector);
    const watcher = (pod: PodInfo) => {
      if (match(pod.labels)) onPod(pod);
    };
    for (const pod of this.#pods.values()) watcher(clone(pod));
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      this.#podWatchers.add(watcher);
      signal.addEventListener("abort", () => {
        this.#podWatchers.delete(watcher);
        resolve();
      }, { once: true });
    });
  }

  listPods(labelSelector: string, signal?: AbortSignal): Promise<PodInfo[]> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const match = parseSelector(labelSelector);
    return Promise.resolve(
      [...this.#pods.values()].filter((p) => match(p.labels)).map((p) => clone(p)),
    );
  }
}

/** The `tasks` config with defaults and `overrides` applied. */
export function tasksConfig(overrides: Record<string, unknown> = {}): Config["tasks"] {
  return ConfigSchema.parse({ tasks: overrides }).tasks;
}

/** `n` resolved inputs `echo <i>`. */
export function specs(n: number, overrides: Partial<InputSpec> = {}): InputSpec[] {
  return Array.from({ length: n }, (_, index) => ({
    index,
    input: `echo ${index}`,
    type: "cmd" as const,
    name: `t${index}`,
    timeoutMs: 10_000,
    shell: false,
    headers: {},
    retries: 0,
    ...overrides,
  }));
}

/**
 * A {@linkcode TaskSigner} that settles at once (WebCrypto resolves outside the microtask queue,
 * which a fake clock's `advance` does not wait for). Not secure: tests only.
 */
export function instantSigner(key: string): TaskSigner {
  const sign = (fields: SignedFields) =>
    `${key}:${Array.from(signedPayload(fields)).reduce((h, b) => (h * 31 + b) >>> 0, 7)}`;
  return {
    sign: (fields) => Promise.resolve(sign(fields)),
    verify: (fields, signature) => Promise.resolve(sign(fields) === signature),
  };
}
