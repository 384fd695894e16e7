/**
 * Evaluates a regex `expect` off the main thread, bounded in time. A pattern such as `/(a+)+$/`
 * backtracks catastrophically on some outputs; run on the main thread it would block the event
 * loop (no timeout, no signal handling, no `/healthcheck`). Here it runs in a Worker that is
 * terminated when the time is up or the signal aborts (V8 interrupts a running regex then).
 *
 * Starting a Worker costs about 12 ms, a call on a running one under 1 ms (measured on the dev
 * machine), so workers are reused while calls are in flight: at most {@linkcode MAX_REGEX_WORKERS}
 * run at once, further calls queue. Invariant: when no call is in flight, no worker is alive (an
 * idle Worker would keep the process from exiting).
 *
 * @module
 */

import type { Clock } from "../time/clock.ts";
import { formatDurationMs } from "../time/duration.ts";
import type { Verdict } from "./expect.ts";
import type { Limits } from "./attempt.ts";

/** Most regex workers alive at once; further calls wait for one. */
const MAX_REGEX_WORKERS = 4;

const SOURCE = `self.onmessage = (e) => {
  const { source, flags, text } = e.data;
  let ok = false;
  try { ok = new RegExp(source, flags).test(text); } catch { ok = false; }
  self.postMessage(ok);
};`;

let scriptUrl: string | undefined;
const idle: Worker[] = [];
let alive = 0;
let inFlight = 0;
const waiting: (() => void)[] = [];

function spawn(): Worker {
  scriptUrl ??= URL.createObjectURL(new Blob([SOURCE], { type: "text/javascript" }));
  alive++;
  return new Worker(scriptUrl, { type: "module" });
}

function kill(worker: Worker): void {
  worker.terminate();
  alive--;
}

/** Hands a worker back: to the next waiter, to the idle list, or terminated once all is idle. */
function release(worker: Worker | undefined): void {
  inFlight--;
  if (worker !== undefined) idle.push(worker);
  waiting.shift()?.();
  if (inFlight === 0) { for (const w of idle.splice(0)) kill(w); }
}

async function acquire(signal: AbortSignal): Promise<Worker | undefined> {
  inFlight++;
  while (idle.length === 0 && alive >= MAX_REGEX_WORKERS && !signal.aborted) {
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  if (signal.aborted) return undefined;
  return idle.pop() ?? spawn();
}

/** The outcome of {@linkcode testRegex}. */
export type RegexOutcome = "match" | "no-match" | "timeout" | "aborted";

/**
 * Tests `regex` against `text` in a Worker, giving up after `timeoutMs` on `clock` or when
 * `signal` aborts.
 *
 * @example Usage
 * ```ts
 * import { testRegex } from "./regex_check.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await testRegex(/^ok$/m, "x\nok\n", 1000, systemClock), "match");
 * assert.equal(await testRegex(/(a+)+$/, "a".repeat(40) + "b", 200, systemClock), "timeout");
 * ```
 */
export async function testRegex(
  regex: RegExp,
  text: string,
  timeoutMs: number,
  clock: Clock,
  signal?: AbortSignal,
): Promise<RegexOutcome> {
  const controller = new AbortController();
  const timer = clock.setTimeout(() => controller.abort("timeout"), timeoutMs);
  const onAbort = () => controller.abort("aborted");
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let worker: Worker | undefined;
  try {
    worker = await acquire(controller.signal);
    if (worker === undefined) return controller.signal.reason as RegexOutcome;
    const w = worker;
    let broken = false;
    const outcome = await new Promise<RegexOutcome>((resolve) => {
      const stop = () => resolve(controller.signal.reason as RegexOutcome);
      controller.signal.addEventListener("abort", stop, { once: true });
      w.onmessage = (e: MessageEvent<boolean>) => {
        controller.signal.removeEventListener("abort", stop);
        resolve(e.data ? "match" : "no-match");
      };
      w.onerror = (e) => {
        e.preventDefault();
        controller.signal.removeEventListener("abort", stop);
        broken = true;
        resolve("no-match");
      };
      w.postMessage({ source: regex.source, flags: regex.flags, text });
    });
    if (outcome === "timeout" || outcome === "aborted" || broken) {
      kill(w);
      worker = undefined;
    }
    return outcome;
  } finally {
    clock.clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    release(worker);
  }
}

/**
 * The verdict of a regex `expect` on `output`, bounded by `timeoutMs` on the try's clock and
 * stopped by its signal (see {@linkcode testRegex}).
 */
export async function regexVerdict(
  regex: RegExp,
  output: string,
  timeoutMs: number,
  limits: Pick<Limits, "clock" | "signal" | "aborted">,
): Promise<Verdict> {
  switch (await testRegex(regex, output, timeoutMs, limits.clock, limits.signal)) {
    case "match":
      return { ok: true };
    case "no-match":
      return { ok: false, reason: `output does not match ${regex}` };
    case "timeout":
      return {
        ok: false,
        reason:
          `expect ${regex} did not finish within ${
            formatDurationMs(Math.round(timeoutMs), "single")
          } ` +
          "(the rest of the input's timeout); simplify the pattern",
      };
    case "aborted":
      return { ok: false, reason: limits.aborted() };
  }
}
