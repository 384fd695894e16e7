/**
 * Garbage collection off the planner's tick ({@linkcode GarbageCollector}): the deletes that
 * `planGarbage` (`retention.ts`) decided run in the background, one collection at a time, so the tick
 * goes on planning, recovering and completing summaries meanwhile. The API server deletes the
 * objects of a `deletecollection` one after another (`--delete-collection-workers`, default 1),
 * which took 2–14 s for a round of 1,000 tasks here (bench/tasks.ts), and scales with the round.
 *
 * Invariants kept here: only the leader deletes — each delete is issued after the write guard
 * confirmed leadership, and the term's signal aborts a collection in flight. What a collection
 * deletes stays garbage whoever deletes it (terminal tasks of finished rounds, whose states are
 * final), so a collection cut short is simply decided again by a later reconcile.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Garbage } from "./retention.ts";
import type { TaskStore } from "../tasks/store.ts";
import { NotLeaderError, type WriteGuard } from "./write_guard.ts";

/** Runs one garbage collection at a time in the background (see the module doc). */
export class GarbageCollector {
  readonly #store: TaskStore;
  readonly #guard: WriteGuard;
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  #failLogged: string | undefined;

  constructor(store: TaskStore, guard: WriteGuard, log: Logger) {
    this.#store = store;
    this.#guard = guard;
    this.#log = log;
  }

  /**
   * Starts deleting `garbage` unless a collection is still running (its garbage is then decided
   * again at a later reconcile): old rounds' tasks first, then single tasks, then summaries.
   */
  collect(garbage: Garbage, signal?: AbortSignal): void {
    if (this.#running !== undefined || signal?.aborted) return;
    if (garbage.selectors.length + garbage.tasks.length + garbage.summaries.length === 0) return;
    this.#running = this.#delete(garbage, signal).finally(() => this.#running = undefined);
  }

  /** Resolves when no collection runs (at once when none does). */
  async settle(): Promise<void> {
    await this.#running;
  }

  /**
   * Deletes `garbage` and waits: after the collection still running, if any (decided from older
   * reads), then this one. For the write that ends a one-shot round.
   */
  async collectNow(garbage: Garbage, signal?: AbortSignal): Promise<void> {
    await this.settle();
    this.collect(garbage, signal);
    await this.settle();
  }

  async #delete(garbage: Garbage, signal?: AbortSignal): Promise<void> {
    const store = this.#store;
    try {
      for (const selector of garbage.selectors) {
        this.#guard.assertLeader();
        await store.deleteCollection(selector, signal);
      }
      for (const name of garbage.tasks) {
        await this.#guard.write(["notFound"], () => store.delete(name, signal));
      }
      for (const name of garbage.summaries) {
        await this.#guard.write(["notFound"], () => store.delete(name, signal));
      }
      this.#failLogged = undefined;
    } catch (err) {
      if (err instanceof NotLeaderError || signal?.aborted) return;
      const error = String(err);
      if (this.#failLogged === error) return;
      this.#failLogged = error;
      this.#log.warn("Garbage collection failed, retrying at a later reconcile: {error}", {
        error,
      });
    }
  }
}
