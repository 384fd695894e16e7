/**
 * The planner's caches ({@linkcode PlannerCaches}): one per kind of ConfigMap (every task, every
 * round summary of the app), each an {@linkcode Informer} kept by one list-then-watch
 * (`list_watch.ts`: listed once, then watched from the last resourceVersion, relisted only on 410
 * Gone — the client-go informer pattern). The planner reads them at every tick instead of listing,
 * so a tick where nothing changed costs no ConfigMap request.
 *
 * What a cache may be, and why the planner can live with it (see `planner.ts`): it lags (a write
 * reaches it when its watch event does; while a watch fails, until the next one resumes), it
 * never runs ahead of the API server, and until a list succeeded (and after a failed list) it is
 * not {@linkcode Informer.ready} (the planner's tick then fails and retries). A stale entry can only make a planner write fail (every write is a create or a
 * compare-and-swap on resourceVersion), never succeed twice.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { listWatch } from "../tasks/list_watch.ts";
import type { ConfigMapLike, TaskStore, WatchEvent } from "../tasks/store.ts";
import {
  isOpen,
  roundsSelector,
  tasksSelector,
  type TaskView,
  viewTask,
} from "../tasks/contract.ts";

/** Options of {@linkcode Informer}. */
export interface InformerOptions<T> {
  readonly store: TaskStore;
  readonly clock: Clock;
  readonly selector: string;
  /** What is cached of each ConfigMap (computed once per version). */
  readonly view: (cm: ConfigMapLike) => T;
  /** Called after each list with every item. */
  readonly onList?: (items: readonly T[]) => void;
  /** Called after each watch event with the item's views before and after. */
  readonly onChange?: (before: T | undefined, after: T | undefined) => void;
}

/** A list-and-watch cache of the ConfigMaps matching one selector. */
export class Informer<T> {
  readonly #o: InformerOptions<T>;
  readonly #byName = new Map<string, T>();
  #sorted: T[] | undefined;
  /** The last list succeeded. */
  #live = false;
  #lastError: unknown;
  #waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Bumped by every change: equal values mean the same cached state. */
  #generation = 0;

  constructor(options: InformerOptions<T>) {
    this.#o = options;
  }

  /** Runs the list-and-watch loop until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    const { store, clock, selector } = this.#o;
    return listWatch({
      store,
      clock,
      selector,
      onList: (items) => this.#replace(items),
      onEvent: (event) => this.#apply(event),
      // A failed watch is resumed from its last resourceVersion: the cache lags, it stays live.
      onError: (err, during) => {
        if (during === "list") this.#fail(err);
      },
    }, signal).finally(() => this.#fail(new Error("The cache stopped")));
  }

  /**
   * Resolves once the cache is live (at once when it is); rejects with the error of the next
   * failed list, so a caller never waits forever on an unreachable API server.
   */
  ready(): Promise<void> {
    if (this.#live) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The cached views, in name order (as the API server lists them). */
  items(): readonly T[] {
    this.#sorted ??= [...this.#byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => v);
    return this.#sorted;
  }

  /** Changes with every change of the cached state. */
  get generation(): number {
    return this.#generation;
  }

  /** The last list error while not live. */
  get lastError(): unknown {
    return this.#lastError;
  }

  #replace(items: readonly ConfigMapLike[]): void {
    this.#byName.clear();
    for (const cm of items) this.#byName.set(cm.metadata.name, this.#o.view(cm));
    this.#changed();
    this.#o.onList?.([...this.#byName.values()]);
    this.#live = true;
    this.#lastError = undefined;
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  #apply({ type, object }: WatchEvent): void {
    const name = object.metadata.name;
    const before = this.#byName.get(name);
    const after = type === "DELETED" ? undefined : this.#o.view(object);
    if (after === undefined) this.#byName.delete(name);
    else this.#byName.set(name, after);
    this.#changed();
    this.#o.onChange?.(before, after);
  }

  #changed(): void {
    this.#sorted = undefined;
    this.#generation++;
  }

  #fail(err: unknown): void {
    this.#live = false;
    this.#lastError = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}

/** Options of {@linkcode PlannerCaches}. */
export interface PlannerCachesOptions {
  readonly store: TaskStore;
  readonly clock: Clock;
  readonly app: string;
}

/** The planner's two caches, for one term: every task of the app, and every round summary. */
export class PlannerCaches {
  readonly #term = new AbortController();
  readonly #tasks: Informer<TaskView>;
  readonly #rounds: Informer<ConfigMapLike>;
  readonly #running: Promise<unknown>;
  /** Open tasks in the task cache, kept per event (never recounted per event: linear). */
  #open = 0;
  #wakers: (() => void)[] = [];
  readonly #clock: Clock;

  /** Starts both list-and-watch loops; they stop with `signal` (or {@linkcode stop}). */
  constructor({ store, clock, app }: PlannerCachesOptions, signal: AbortSignal) {
    this.#clock = clock;
    if (signal.aborted) this.#term.abort();
    signal.addEventListener("abort", () => this.#term.abort(), {
      once: true,
      signal: this.#term.signal,
    });
    const opens = (t: TaskView | undefined) => (t !== undefined && isOpen(t.state) ? 1 : 0);
    this.#tasks = new Informer({
      store,
      clock,
      selector: tasksSelector(app),
      view: viewTask,
      onList: (items) => this.#count(items.filter((t) => isOpen(t.state)).length),
      onChange: (before, after) => this.#count(this.#open - opens(before) + opens(after)),
    });
    this.#rounds = new Informer({
      store,
      clock,
      selector: roundsSelector(app),
      view: (cm) => cm,
    });
    this.#running = Promise.allSettled([
      this.#tasks.run(this.#term.signal),
      this.#rounds.run(this.#term.signal),
    ]);
  }

  /**
   * The cached tasks and summaries once both caches are live.
   *
   * @throws {unknown} The error of a failed list while a cache is not live.
   */
  async read(): Promise<{ views: readonly TaskView[]; summaries: readonly ConfigMapLike[] }> {
    await Promise.all([this.#tasks.ready(), this.#rounds.ready()]);
    return { views: this.#tasks.items(), summaries: this.#rounds.items() };
  }

  /**
   * Waits `ms` on the clock, or less: until the last open task of the cache stops being open (a
   * round may be over), `also` resolves (e.g. a worker turned ready), or `signal` aborts.
   *
   * @param also Called with a signal that aborts when the nap ends.
   */
  async nap(
    ms: number,
    signal: AbortSignal,
    also?: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const nap = new AbortController();
    const wake = () => nap.abort();
    signal.addEventListener("abort", wake, { once: true });
    try {
      await Promise.race([
        this.#clock.sleep(ms, nap.signal).catch(() => {}),
        this.#drained(nap.signal),
        ...(also ? [also(nap.signal)] : []),
      ]);
    } finally {
      nap.abort();
      signal.removeEventListener("abort", wake);
    }
  }

  /** Resolves when the last open task stops being open, or when `signal` aborts. */
  #drained(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const wake = () => {
        this.#wakers = this.#wakers.filter((w) => w !== wake);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      this.#wakers.push(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }

  #count(open: number): void {
    const was = this.#open;
    this.#open = open;
    if (was > 0 && open === 0) { for (const wake of [...this.#wakers]) wake(); }
  }

  /** Stops both loops and waits for them. */
  async stop(): Promise<void> {
    this.#term.abort();
    await this.#running;
  }
}
