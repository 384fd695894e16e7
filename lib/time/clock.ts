/**
 * The one place dz-mcall reads time and starts timers. Code that measures durations, waits, times
 * out or stamps timestamps takes a {@linkcode Clock} instead of calling `Date.now()`,
 * `performance.now()`, `new Date()` or `setTimeout`, so tests can drive time by hand (see
 * `tests/fakes/clock.ts`) instead of sleeping through it. `tests/layout_test.ts` finds every such
 * call outside `lib/time/`.
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

/** A timer started by {@linkcode Clock.setTimeout}, for {@linkcode Clock.clearTimeout}. */
export type TimerId = ReturnType<typeof setTimeout> | number;

/** A source of monotonic time, wall-clock time, cancellable waits and timers. */
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
  /**
   * Calls `fn` once after `ms` milliseconds of monotonic time, unless cleared first (the web's
   * `setTimeout`, on this clock).
   *
   * @param fn Called with no arguments.
   * @param ms How long to wait; zero or less calls it on a later turn.
   * @returns The timer, for {@linkcode Clock.clearTimeout}.
   */
  setTimeout(fn: () => void, ms: number): TimerId;
  /**
   * Cancels a timer of {@linkcode Clock.setTimeout}; no-op when it already fired, was cleared or
   * is `undefined`.
   *
   * @param id The timer.
   */
  clearTimeout(id: TimerId | undefined): void;
}

/**
 * The real clock: `performance.now()`, `new Date()` and the runtime's timers.
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
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (id) => clearTimeout(id),
};
