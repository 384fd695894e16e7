/**
 * The abort reason of a run stopped by a signal (SIGHUP, SIGINT, SIGTERM: a closed terminal ends a
 * run as SIGTERM does). Its own module so `main.ts` can name it without
 * importing the run modes (start-up stays at bare-Deno speed).
 *
 * @module
 */

/** The abort reason the CLI gives when a signal arrives; one-shot runs report it per input. */
export class Interrupted extends Error {
  /** @param signal The signal that arrived. */
  constructor(readonly signal: "SIGHUP" | "SIGINT" | "SIGTERM") {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }
}
