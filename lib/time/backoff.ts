/**
 * {@linkcode Backoff}: the pause between failed attempts, as client-go's reflector takes it
 * (`wait.NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)`): it starts at
 * {@linkcode BACKOFF.initialMs}, doubles with every failure up to {@linkcode BACKOFF.maxMs}, each
 * pause stretched by up to 100 % random jitter, and starts over once {@linkcode BACKOFF.resetMs}
 * passed since the last pause (the attempts in between lived long enough).
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/** client-go's reflector backoff: 800 ms doubling to 30 s, jitter 1.0, reset after 2 min. */
export const BACKOFF = {
  initialMs: 800,
  maxMs: 30_000,
  resetMs: 120_000,
  factor: 2,
  jitter: 1,
} as const;

/** Options of {@linkcode Backoff}; every field defaults to {@linkcode BACKOFF}'s. */
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly resetMs?: number;
  readonly factor?: number;
  readonly jitter?: number;
}

/**
 * Exponential backoff with jitter that resets after a quiet period.
 *
 * @example Usage
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * import { systemClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const backoff = new Backoff(systemClock, {}, () => 0);
 * assert.equal(backoff.next(), 800);
 * assert.equal(backoff.next(), 1600);
 * ```
 */
export class Backoff {
  readonly #clock: Clock;
  readonly #o: Required<BackoffOptions>;
  readonly #random: () => number;
  /** The un-jittered next pause. */
  #durationMs: number;
  /** When the last pause was handed out (monotonic); undefined before the first. */
  #lastAt: number | undefined;

  /**
   * @param clock Measures the quiet period that resets the backoff.
   * @param options Overrides of {@linkcode BACKOFF}.
   * @param random The jitter's source, in [0, 1).
   */
  constructor(clock: Clock, options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#clock = clock;
    this.#o = { ...BACKOFF, ...options };
    this.#random = random;
    this.#durationMs = this.#o.initialMs;
  }

  /** The pause to take now (ms); the next one is longer unless `resetMs` passes first. */
  next(): number {
    const now = this.#clock.now();
    // Invariant: a failure after resetMs without one starts over at initialMs.
    if (this.#lastAt !== undefined && now - this.#lastAt >= this.#o.resetMs) {
      this.#durationMs = this.#o.initialMs;
    }
    this.#lastAt = now;
    const base = this.#durationMs;
    this.#durationMs = Math.min(this.#o.maxMs, base * this.#o.factor);
    return Math.round(base + base * this.#o.jitter * this.#random());
  }

  /** Sleeps {@linkcode Backoff.next}; resolves early (never rejects) when `signal` aborts. */
  async sleep(signal: AbortSignal): Promise<void> {
    await this.#clock.sleep(this.next(), signal).catch(() => {});
  }
}
