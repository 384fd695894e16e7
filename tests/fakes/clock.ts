/**
 * A {@linkcode Clock} for tests: time moves only when the test calls
 * {@linkcode FakeClock.advance}, which wakes due sleepers one at a time in deadline order and lets
 * all resulting promise work settle before the next one, so tests are deterministic and never
 * sleep.
 *
 * Several candidates can share one timeline while each sees its own clock: {@linkcode FakeClock.view}
 * shifts the monotonic origin and the wall clock per view (a pod whose wall clock is an hour ahead,
 * a process that started at another time).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Clock, TimerId } from "../../lib/time/clock.ts";

/** Shifts applied by one {@linkcode FakeClock.view}. */
export interface FakeClockViewOptions {
  /** Added to `now()`: monotonic origins differ between processes. Default 0. */
  monoOffsetMs?: number;
  /** Added to `wallNow()`: a pod whose wall clock is wrong. Default 0. */
  wallOffsetMs?: number;
}

/** A sleep or a timer: woken in deadline order, then in the order they were started. */
interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
  /** A timer of `setTimeout` (cleared by its `seq`), not a sleep. */
  readonly timer?: true;
}

/** Lets every queued promise continuation run (one macrotask turn drains all microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Manually driven time.
 *
 * @example Usage
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const clock = new FakeClock();
 * let woke = false;
 * clock.sleep(1000).then(() => woke = true);
 * await clock.advance(999);
 * assert.equal(woke, false);
 * await clock.advance(1);
 * assert.equal(woke, true);
 * ```
 */
export class FakeClock implements Clock {
  #now = 0;
  #wallStartMs: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  /**
   * @param options.wallStart The wall clock at monotonic time 0. Default 2025-01-01T00:00:00Z.
   */
  constructor(options: { wallStart?: Date } = {}) {
    this.#wallStartMs = (options.wallStart ?? new Date("2025-01-01T00:00:00Z")).getTime();
  }

  /** @returns Milliseconds advanced since construction. */
  now(): number {
    return this.#now;
  }

  /** @returns The wall start plus the time advanced. */
  wallNow(): Date {
    return new Date(this.#wallStartMs + this.#now);
  }

  /** How many sleeps are waiting (timers are counted by {@linkcode FakeClock.pendingTimers}). */
  get pendingSleepers(): number {
    return this.#sleepers.filter((s) => !s.timer).length;
  }

  /** How many timers of `setTimeout` are waiting. */
  get pendingTimers(): number {
    return this.#sleepers.filter((s) => s.timer).length;
  }

  /**
   * Calls `fn` when {@linkcode FakeClock.advance} moves time past `ms` from now (at least one
   * advance later, as a real timer fires on a later turn).
   *
   * @returns The timer, for {@linkcode FakeClock.clearTimeout}.
   */
  setTimeout(fn: () => void, ms: number): number {
    const seq = this.#seq++;
    this.#sleepers.push({ at: this.#now + Math.max(0, ms), seq, resolve: fn, timer: true });
    return seq;
  }

  /** Cancels a timer; no-op when it already fired or was cleared. */
  clearTimeout(id: TimerId | undefined): void {
    this.#sleepers = this.#sleepers.filter((s) => !(s.timer && s.seq === id));
  }

  /**
   * Waits until {@linkcode FakeClock.advance} moves time past `ms` from now.
   *
   * @param ms How long to wait; zero or less resolves on the next microtask.
   * @param signal Rejects the wait with its reason.
   * @returns A promise settled by `advance` or the signal.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      const sleeper: Sleeper = {
        at: this.#now + ms,
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Moves time forward by `ms`, waking each due sleeper in deadline order and letting promise work
   * settle after each, so sleeps started by woken code within the window also fire.
   *
   * @param ms How far to move; must not be negative.
   */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError(`Cannot move a fake clock backwards: ${ms}`);
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.at > target) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.at);
      next.resolve();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /**
   * Moves time forward by `ms` without waking anyone, as if this process had been frozen (a GC
   * pause, SIGSTOP): code that reads the clock sees the jump before any timer fires. The overdue
   * sleepers wake on the next `advance`.
   *
   * @param ms How far to move; must not be negative.
   */
  jump(ms: number): void {
    if (ms < 0) throw new RangeError(`Cannot move a fake clock backwards: ${ms}`);
    this.#now += ms;
  }

  /**
   * A clock on the same timeline with shifted readings.
   *
   * @param options The shifts.
   * @returns A clock whose sleeps are woken by this clock's `advance`.
   */
  view(options: FakeClockViewOptions = {}): Clock {
    const { monoOffsetMs = 0, wallOffsetMs = 0 } = options;
    return {
      now: () => this.now() + monoOffsetMs,
      wallNow: () => new Date(this.wallNow().getTime() + wallOffsetMs),
      sleep: (ms, signal) => this.sleep(ms, signal),
      setTimeout: (fn, ms) => this.setTimeout(fn, ms),
      clearTimeout: (id) => this.clearTimeout(id),
    };
  }

  #next(): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.#sleepers) {
      if (best === undefined || s.at < best.at || (s.at === best.at && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
