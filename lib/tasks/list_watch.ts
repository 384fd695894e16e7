/**
 * The list-then-watch loop that both the worker (its own tasks) and the planner's caches
 * (`informer.ts`: every task, every round summary) run: list, then watch from the list's
 * resourceVersion; relist on 410 Gone, on any watch end, and every `resyncMs` as a safety net
 * (a watch that silently stopped delivering is replaced by a fresh list at the latest then).
 * The store and clock come in as parameters.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { ConfigMapLike, TaskStore, WatchEvent } from "./store.ts";

/** Shortest list-and-watch cycle. */
export const MIN_WATCH_MS = 1000;

/** Options of {@linkcode listWatch}. */
export interface ListWatchOptions {
  readonly store: TaskStore;
  readonly clock: Clock;
  readonly selector: string;
  /** The safety-net relist period. */
  readonly resyncMs: number;
  /** The wait after a failed list or watch before the next list. */
  readonly retryMs: number;
  /** Every list's items (the whole current state). */
  readonly onList: (items: ConfigMapLike[]) => void;
  /** Every watch event after the list. */
  readonly onEvent: (event: WatchEvent) => void;
  /** A failed list or watch (never 410 Gone, which only means "relist"). */
  readonly onError: (err: unknown) => void;
}

/** Lists and watches `selector` until `signal` aborts (see the module doc). */
export async function listWatch(o: ListWatchOptions, signal: AbortSignal): Promise<void> {
  const { store, clock, selector } = o;
  while (!signal.aborted) {
    const session = new AbortController();
    const stop = () => session.abort();
    signal.addEventListener("abort", stop, { once: true });
    const startedAt = clock.now();
    try {
      const { items, resourceVersion } = await store.list(selector, signal);
      o.onList(items);
      clock.sleep(o.resyncMs, session.signal).then(stop, () => {});
      await store.watch(selector, resourceVersion, o.onEvent, session.signal);
      // A watch the server ends at once must not turn into a tight list loop.
      if (!session.signal.aborted && clock.now() - startedAt < MIN_WATCH_MS) {
        await clock.sleep(MIN_WATCH_MS, signal).catch(() => {});
      }
    } catch (err) {
      if (signal.aborted) break;
      if (!isKubeError(err, "gone")) {
        o.onError(err);
        await clock.sleep(o.retryMs, signal).catch(() => {});
      }
    } finally {
      session.abort();
      signal.removeEventListener("abort", stop);
    }
  }
}
