/**
 * The list-then-watch loop that both the worker (its own tasks) and the planner's caches
 * (`informer.ts`: every task, every round summary) run, with client-go's reflector semantics:
 * list once, then watch from the list's resourceVersion; every event and every BOOKMARK advances
 * the last resourceVersion, and each new watch resumes from it. A watch the server ended (its
 * `timeoutSeconds`, 5–10 min) is followed at once by the next; a failed one by the next after
 * {@linkcode Backoff} (800 ms doubling to 30 s with jitter, reset after 2 quiet minutes). The
 * loop lists again only when the server says the resourceVersion is gone (410 Gone, `Expired`) —
 * never because a watch ended, and never on a timer. The store and clock come in as parameters.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { Backoff } from "../time/backoff.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { ConfigMapLike, TaskStore, WatchEvent } from "./store.ts";

/** A watch that ends sooner without an event counts as failed (client-go: "very short watch"). */
export const MIN_WATCH_MS = 1000;

/** Options of {@linkcode listWatch}. */
export interface ListWatchOptions {
  readonly store: TaskStore;
  readonly clock: Clock;
  readonly selector: string;
  /** Every list's items (the whole current state). */
  readonly onList: (items: ConfigMapLike[]) => void;
  /** Every watch event after the list. */
  readonly onEvent: (event: WatchEvent) => void;
  /**
   * A failed list or watch (never 410 Gone, which only means "relist"). After a failed watch the
   * next one resumes where it stopped: nothing is missed, the state only lags meanwhile.
   */
  readonly onError: (err: unknown, during: "list" | "watch") => void;
  /** The pauses after failures; default client-go's ({@linkcode Backoff}). */
  readonly backoff?: Backoff;
}

/** Lists and watches `selector` until `signal` aborts (see the module doc). */
export async function listWatch(o: ListWatchOptions, signal: AbortSignal): Promise<void> {
  const { store, clock, selector } = o;
  const backoff = o.backoff ?? new Backoff(clock);
  // Invariant: `rv` is the resourceVersion of the latest state delivered to onList/onEvent
  // (the list's, then every event's and bookmark's); "" means "list first".
  let rv = "";
  while (!signal.aborted) {
    try {
      if (rv === "") {
        // A failed list leaves rv "": the next attempt lists again.
        const { items, resourceVersion } = await store.list(selector, signal);
        o.onList(items);
        rv = resourceVersion;
      }
      const startedAt = clock.now();
      let events = 0;
      await store.watch(selector, rv, (event) => {
        if (event.type === "BOOKMARK") {
          rv = event.resourceVersion;
          return;
        }
        events++;
        rv = event.object.metadata.resourceVersion ?? rv;
        o.onEvent(event);
      }, signal);
      // A watch the server ends at once must not turn into a tight loop.
      if (!signal.aborted && events === 0 && clock.now() - startedAt < MIN_WATCH_MS) {
        await backoff.sleep(signal);
      }
    } catch (err) {
      if (signal.aborted) break;
      if (isKubeError(err, "gone")) rv = ""; // the version is gone: list afresh
      else o.onError(err, rv === "" ? "list" : "watch");
      // After a 410 too, as client-go's reflector: a server that answers 410 again and again
      // (a resourceVersion ahead of it after an etcd restore) must not get a LIST per response.
      await backoff.sleep(signal);
    }
  }
}
