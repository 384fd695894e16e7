/**
 * A bounded worker pool: runs a function over a list with at most `concurrency` calls in flight
 * and returns the results in input order. Each item is its own job, so duplicated items each run
 * (the original hung forever on a duplicated input string).
 *
 * @module
 */

/** Options of {@linkcode runPool}. */
export interface RunPoolOptions {
  /** Aborting stops starting new items and aborts the signal the running calls received. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` over `items`, never more than `concurrency` at once, starting the next item as soon as
 * one finishes.
 *
 * If a call rejects (or the signal aborts), no further items start, the signal passed to the
 * running calls aborts, and once those have settled the pool rejects with the first error (or the
 * signal's reason). It never leaves calls running behind a rejected promise.
 *
 * @param items The items; may contain duplicates.
 * @param concurrency The most calls in flight, an integer of at least 1.
 * @param fn Called with the item, its index and a signal that aborts when the pool gives up.
 * @param opts An optional signal to cancel the pool.
 * @returns The results, `results[i]` for `items[i]`.
 * @throws {RangeError} When `concurrency` is not an integer of at least 1.
 *
 * @example Usage
 * ```ts
 * import { runPool } from "./pool.ts";
 * import assert from "node:assert/strict";
 * const doubled = await runPool([1, 2, 3, 2], 2, async (n) => n * 2);
 * assert.deepEqual(doubled, [2, 4, 6, 4]);
 * ```
 */
export async function runPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  opts: RunPoolOptions = {},
): Promise<R[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot run pool as 'concurrency' must be an integer of at least 1: current value is ${concurrency}`,
    );
  }
  const { signal } = opts;
  signal?.throwIfAborted();
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });

  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && failure === undefined && !controller.signal.aborted) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (failure !== undefined) throw failure.error;
  if (next < items.length || signal?.aborted) signal?.throwIfAborted();
  return results;
}

/**
 * A counting semaphore shared by several pools (serve mode: every request's inputs share
 * `worker.number` slots). Waiters are served first come, first served.
 *
 * Invariant: `running <= limit`; `pending` counts holders plus waiters.
 *
 * @example Usage
 * ```ts
 * import { Semaphore } from "./pool.ts";
 * import assert from "node:assert/strict";
 * const slots = new Semaphore(1);
 * const release = await slots.acquire();
 * assert.equal(slots.running, 1);
 * release();
 * assert.equal(slots.running, 0);
 * ```
 */
export class Semaphore {
  readonly limit: number;
  #running = 0;
  #waiters: (() => void)[] = [];

  /** @param limit The most holders at once, an integer of at least 1. */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create semaphore as 'limit' must be an integer of at least 1: current value is ${limit}`,
      );
    }
    this.limit = limit;
  }

  /** Holders now. */
  get running(): number {
    return this.#running;
  }

  /** Holders plus waiters. */
  get pending(): number {
    return this.#running + this.#waiters.length;
  }

  /**
   * Waits for a slot. Resolves to the function that gives it back (call it exactly once).
   *
   * @throws The signal's reason when it aborts while waiting (no slot is taken then).
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#running < this.limit) {
      this.#running++;
    } else {
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#waiters = this.#waiters.filter((w) => w !== grant);
          reject(signal!.reason);
        };
        this.#waiters.push(grant);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      // The slot passes straight to the next waiter, so `running` stays as it is.
      if (next !== undefined) next();
      else this.#running--;
    };
  }
}
