/**
 * Runs one input — a command or an HTTP GET/POST — and reports a `Result`. Never throws for
 * anything the input does: a missing program, shell syntax without `shell: true`, a refused
 * connection or a timeout all become a failed `Result` with a one-line `error`.
 *
 * Each try is run by `command.ts` (cmd) or `http_probe.ts` (get/post) and judged by `expect.ts`;
 * a failed try is retried up to `spec.retries` more times. `http_probe.ts` is imported on the first
 * get/post: it loads `node:http` and `node:https`, about a third of a one-shot run's start-up
 * (31 ms measured), which a run of commands never needs.
 *
 * @module
 */
import { type Clock, systemClock } from "../time/clock.ts";
import type { Attempt, Limits } from "./attempt.ts";
import { DEFAULT_MAX_OUTPUT_BYTES } from "./capture.ts";
import { runCommand } from "./command.ts";
import { type Expect, judge, parseExpect } from "./expect.ts";
import { formatTs, type InputSpec, type Result } from "./input.ts";
import { regexVerdict } from "./regex_check.ts";

/** Options of {@linkcode runInput}. */
export interface RunInputOptions {
  /** Cap on the captured output in bytes (default 64 KiB). */
  maxOutputBytes?: number;
  /** Copied into the result as `subject` when non-empty. */
  subject?: string;
  /** Also keep the output's raw bytes in `Result.bytes` (for `-e std|url`; default false). */
  keepBytes?: boolean;
  /** Aborting kills the command (as a timeout does) or cancels the request. */
  signal?: AbortSignal;
  /**
   * The error of an input the signal stopped, from the signal's reason; `undefined` (and the
   * default) words it `aborted`. The CLI names the interrupting signal this way.
   */
  describeAbort?: (reason: unknown) => string | undefined;
  /**
   * Reads time: `durationMs`, the rest of the timeout left for a regex, the wait between tries and
   * the reuse of PATH lookups (default `systemClock`).
   */
  clock?: Clock;
  /** The wall clock for `ts` (default the clock's `wallNow`). */
  now?: () => Date;
  /** Time between SIGTERM and SIGKILL on timeout or abort (default 2000 ms). */
  killGraceMs?: number;
  /** Wait between a failed try and the next of `spec.retries` (default 500 ms). */
  retryDelayMs?: number;
  /** How long pipes may stay open after the program exits (default 250 ms). */
  drainMs?: number;
}

/** `http_probe.ts`, imported on first use (see the module doc). */
let httpProbeModule: Promise<typeof import("./http_probe.ts")> | undefined;
function httpProbe(): Promise<typeof import("./http_probe.ts")> {
  return httpProbeModule ??= import("./http_probe.ts");
}

/** Runs the tries of one input: the last attempt, its error (if any) and how many tries ran. */
async function attempts(
  spec: InputSpec,
  expect: Expect | undefined,
  limits: Limits,
  retryDelayMs: number,
): Promise<{ attempt: Attempt; error: string | undefined; tries: number }> {
  const { signal } = limits;
  let tries = 0;
  for (;;) {
    tries++;
    const started = limits.clock.now();
    const attempt: Attempt = signal?.aborted
      ? { ...nothing(), error: limits.aborted() }
      : spec.type === "cmd"
      ? await runCommand(spec, limits)
      : await (await httpProbe()).runHttp(spec, limits);
    let verdict = judge(
      { type: spec.type, ...attempt },
      expect?.kind === "regex" ? undefined : expect,
    );
    if (verdict.ok && attempt.error === undefined && expect?.kind === "regex") {
      // Off the main thread and bounded by what is left of the input's timeout (at least 100 ms).
      const left = Math.max(100, spec.timeoutMs - (limits.clock.now() - started));
      verdict = await regexVerdict(expect.regex, attempt.output, left, limits);
    }
    const error = attempt.error ?? (verdict.ok ? undefined : verdict.reason);
    if (error === undefined || attempt.final || tries > spec.retries || signal?.aborted) {
      return { attempt, error, tries };
    }
    // An abort ends the wait early; the next turn of the loop then reports it.
    await limits.clock.sleep(retryDelayMs, signal).catch(() => {});
  }
}

/**
 * Runs one input, retrying a failed check up to `spec.retries` more times, and reports the result.
 *
 * Success (`errorCode` "0") is decided by `judge` from `lib/engine/expect.ts`: a cmd must exit 0 and an
 * HTTP status must be 2xx unless `expect` is `status=…`, and a content `expect` must hold too.
 * Redirects are not followed, so a 3xx is what the server answered.
 *
 * @param spec The input, every default resolved.
 * @param opts Output cap, subject, cancellation, clock and timing knobs.
 * @returns The result; it never rejects for anything the input does.
 * @throws {RangeError} When an option is not a non-negative integer (`maxOutputBytes` ≥ 1).
 *
 * @example Usage
 * ```ts
 * import { runInput } from "./exec.ts";
 * import assert from "node:assert/strict";
 * const result = await runInput({
 *   index: 0, input: "echo 'a b'", type: "cmd", name: "echo", timeoutMs: 5000,
 *   shell: false, headers: {}, retries: 0,
 * });
 * assert.equal(result.errorCode, "0");
 * assert.equal(result.result, "a b\n");
 * ```
 */
export async function runInput(spec: InputSpec, opts: RunInputOptions = {}): Promise<Result> {
  const { subject = "", clock = systemClock, now = () => clock.wallNow() } = opts;
  const { limits, retryDelayMs } = checkedOptions(opts, clock);
  const started = clock.now();
  const { attempt: last, error } = await runChecked(spec, limits, retryDelayMs);
  return {
    errorCode: error === undefined ? "0" : "-1",
    input: spec.input,
    name: spec.name,
    result: last.output,
    ...(last.bytes !== undefined ? { bytes: last.bytes } : {}),
    ...(subject ? { subject } : {}),
    ts: formatTs(now()),
    type: spec.type,
    exitCode: last.exitCode,
    status: last.status,
    durationMs: Math.round(clock.now() - started),
    truncated: last.truncated,
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * The limits of each try and the wait between tries, from the options and their defaults.
 *
 * @throws {RangeError} When a number is not a non-negative integer (`maxOutputBytes` ≥ 1).
 */
function checkedOptions(
  opts: RunInputOptions,
  clock: Clock,
): { limits: Limits; retryDelayMs: number } {
  const {
    maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES,
    killGraceMs = 2000,
    retryDelayMs = 500,
    drainMs = 250,
  } = opts;
  const numbers = { maxOutputBytes, killGraceMs, retryDelayMs, drainMs };
  for (const [option, value] of Object.entries(numbers)) {
    const min = option === "maxOutputBytes" ? 1 : 0;
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(
        `Cannot run input as '${option}' must be an integer of at least ${min}: current value is ${value}`,
      );
    }
  }
  const keepBytes = opts.keepBytes ?? false;
  const { signal, describeAbort } = opts;
  const aborted = () => describeAbort?.(signal?.reason) ?? "aborted";
  const limits = { maxOutputBytes, keepBytes, killGraceMs, drainMs, signal, clock, aborted };
  return { limits, retryDelayMs };
}

/**
 * Parses the input's `expect` and runs its tries: the last attempt and the input's error (a bad
 * `expect`, the last try's failure with how many tries ran, or an unforeseen failure).
 */
async function runChecked(
  spec: InputSpec,
  limits: Limits,
  retryDelayMs: number,
): Promise<{ attempt: Attempt; error: string | undefined }> {
  let expect: Expect | undefined;
  try {
    expect = spec.expect === undefined ? undefined : parseExpect(spec.expect);
  } catch (e) {
    return { attempt: nothing(), error: (e as Error).message };
  }
  try {
    const { attempt, error, tries } = await attempts(spec, expect, limits, retryDelayMs);
    return {
      attempt,
      error: error !== undefined && tries > 1 ? `${error} (after ${tries} tries)` : error,
    };
  } catch (e) {
    // Nothing an input does may reject runInput: an unforeseen failure is this input's error.
    const error = `cannot run input: ${String((e as Error)?.message ?? e).split("\n")[0]}`;
    return { attempt: nothing(), error };
  }
}

/** An attempt that produced nothing. */
function nothing(): Attempt {
  return { output: "", truncated: false, exitCode: null, status: null };
}
