/**
 * The one place dz-mcall reads time. Code that measures durations, waits or stamps timestamps takes
 * a {@linkcode Clock} instead of calling `Date.now()`, `performance.now()` or `setTimeout`, so tests
 * can drive time by hand (see `tests/fakes/clock.ts`) instead of sleeping through it.
 *
 * Two kinds of time are kept apart on purpose:
 * - {@linkcode Clock.now} is monotonic milliseconds with an arbitrary origin. It is the only time
 *   used to judge durations (lease expiry, deadlines). Values from different processes are never
 *   comparable.
 * - {@linkcode Clock.wallNow} is the wall clock. It is only ever written (for example into a
 *   Lease's `renewTime`) for humans to read, never compared with another pod's timestamps.
 *
 * @module
 */

/** A source of monotonic time, wall-clock time and cancellable waits. */
export interface Clock {
  /**
   * Monotonic time in milliseconds from an arbitrary origin; never goes backwards.
   *
   * @returns Milliseconds, possibly fractional.
   */
  now(): number;
  /**
   * The wall clock, for timestamps that are written, never compared.
   *
   * @returns The current date and time.
   */
  wallNow(): Date;
  /**
   * Waits for `ms` milliseconds of monotonic time.
   *
   * @param ms How long to wait; zero or less resolves on the next turn.
   * @param signal Aborts the wait.
   * @returns A promise that resolves after the wait.
   * @throws {unknown} `signal.reason` when the signal aborts first (rejects the promise).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The real clock: `performance.now()`, `new Date()` and `setTimeout`.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const start = systemClock.now();
 * await systemClock.sleep(1);
 * assert.ok(systemClock.now() >= start);
 * ```
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
