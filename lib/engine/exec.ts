/**
 * Runs one input — a command or an HTTP GET/POST — and reports a `Result`. Never throws for
 * anything the input does: a missing program, shell syntax without `shell: true`, a refused
 * connection or a timeout all become a failed `Result` with a one-line `error`.
 *
 * Commands run without a shell (argv from `splitCommand`), or through `/bin/sh -c` with
 * `shell: true`. Each runs in its own process group so a timeout kills its children too. The argv
 * is prefixed with util-linux `setsid`, which — because a freshly spawned child is never a group
 * leader — calls setsid(2) and execs the program in place, without forking. The pid Deno reports
 * is therefore the program's own pid and also its process-group id (verified on Linux), and
 * `Deno.kill(-pid, signal)` reaches every process of the input that did not leave the group
 * itself. Without a `setsid` binary, `Deno.Command`'s `detached: true` does the same, but Deno
 * then forks the whole runtime instead of posix_spawn-ing, which measured 2–3× slower per command
 * (see `bench/engine.ts`) — hence the extra exec of `setsid` is the default. That exec is now
 * most of the engine's cost per command (about as much CPU as `true` itself; see `bench/engine.ts`).
 * A program's PATH lookup is reused for a second; a program removed since is looked up again.
 *
 * stdout and stderr are read concurrently and appended in arrival order (interleaved chunk by
 * chunk, as the pipes deliver them), capped at `maxOutputBytes`; bytes beyond the cap are read and
 * discarded so the child never blocks, and the cut never splits a UTF-8 character.
 *
 * When the program exits, whatever is left of its process group (background processes, orphans
 * holding the pipes) is killed with SIGKILL once the pipes close or `drainMs` passes, so no input
 * leaves strays behind and `runInput` never waits on a pipe held by an orphan.
 *
 * @module
 */
import { Capture, DEFAULT_MAX_OUTPUT_BYTES } from "./capture.ts";
import { type Expect, judge, parseExpect } from "./expect.ts";
import { regexVerdict } from "./regex_check.ts";
import { hasExited, spawnTurn } from "./spawn_gate.ts";
import type { Attempt, Limits } from "./attempt.ts";
import { formatDurationMs } from "../time/duration.ts";
import { runHttp } from "./http_probe.ts";
import { formatTs, type InputSpec, type Result } from "./input.ts";
import { splitCommand } from "./shellwords.ts";

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
  /** Clock for `ts` (default `() => new Date()`). */
  now?: () => Date;
  /** Time between SIGTERM and SIGKILL on timeout or abort (default 2000 ms). */
  killGraceMs?: number;
  /** Wait between a failed try and the next of `spec.retries` (default 500 ms). */
  retryDelayMs?: number;
  /** How long pipes may stay open after the program exits (default 250 ms). */
  drainMs?: number;
}

function bytesOf(capture: Capture): { bytes?: Uint8Array } {
  const bytes = capture.bytes();
  return bytes === undefined ? {} : { bytes };
}

/** Resolves after `ms` or when `promise` settles, whichever is first; true if it settled. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

/** Why `name` cannot be run: "not found", or for a path, "is a directory" / "is not executable". */
function whyNotRunnable(name: string): string {
  if (!name.includes("/")) return "not found";
  try {
    const info = Deno.statSync(name);
    return info.isDirectory ? "is a directory" : "is not executable";
  } catch {
    return "not found";
  }
}

/** How long a PATH lookup is reused before it is done again. */
const PROGRAM_CACHE_MS = 1000;
/** Successful PATH lookups by `PATH\0name`: the path found and when. */
const programCache = new Map<string, { path: string; at: number }>();

/**
 * Finds a program as execvp(3) would: a path when it contains `/`, else the first on PATH. A
 * lookup on PATH (one stat per directory, most of them failing) is reused for
 * `PROGRAM_CACHE_MS`; `fresh` skips the cache, for when the cached path turned out to be gone.
 */
function findProgram(name: string, fresh = false): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  let path = "/usr/local/bin:/usr/bin:/bin";
  try {
    path = Deno.env.get("PATH") ?? path;
  } catch { /* no env permission: the default path */ }
  const key = `${path}\0${name}`;
  const now = performance.now();
  const cached = programCache.get(key);
  if (!fresh && cached !== undefined && now - cached.at < PROGRAM_CACHE_MS) return cached.path;
  programCache.delete(key);
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${name}`;
    if (isExecutable(candidate)) {
      if (programCache.size >= 256) programCache.clear();
      programCache.set(key, { path: candidate, at: now });
      return candidate;
    }
  }
  return undefined;
}

/** Size of the buffers a command's output is read into. */
const READ_BUFFER_BYTES = 16 * 1024;
/** Read buffers of finished commands, reused by the next ones. */
const readBuffers: ArrayBuffer[] = [];

/**
 * A buffer to read a command's output into. Output is read with a BYOB reader into buffers reused
 * from command to command: the default reader allocates a fresh 64 KiB chunk per read (two per
 * command, even for a command that prints nothing), and that memory came back to the system so
 * late that a run's peak RSS grew with the number of inputs (bench/engine.ts).
 */
function takeReadBuffer(): ArrayBuffer {
  return readBuffers.pop() ?? new ArrayBuffer(READ_BUFFER_BYTES);
}

function returnReadBuffer(buffer: ArrayBuffer): void {
  if (buffer.byteLength === READ_BUFFER_BYTES && readBuffers.length < 64) readBuffers.push(buffer);
}

/** util-linux `setsid`, looked up on first use; null when absent. */
let setsidPath: string | null | undefined;

async function runCommand(spec: InputSpec, limits: Limits, fresh = false): Promise<Attempt> {
  const failed = (error: string, final = true): Attempt => ({
    output: "",
    truncated: false,
    exitCode: null,
    status: null,
    error,
    final,
  });
  let argv: string[];
  try {
    argv = spec.shell ? ["/bin/sh", "-c", spec.input] : splitCommand(spec.input);
  } catch (error) {
    return failed((error as Error).message);
  }
  if (setsidPath === undefined) setsidPath = findProgram("setsid") ?? null;
  const spawn = (program: string) =>
    new Deno.Command(setsidPath ?? program, {
      args: setsidPath === null ? argv.slice(1) : [program, ...argv.slice(1)],
      detached: setsidPath === null,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const notFound = failed(`program ${JSON.stringify(argv[0])} ${whyNotRunnable(argv[0]!)}`);
  let program = findProgram(argv[0]!, fresh);
  if (program === undefined) return notFound;
  let child: Deno.ChildProcess;
  await spawnTurn();
  try {
    try {
      child = spawn(program);
    } catch (error) {
      // A cached PATH lookup may name a program removed since: look again, once.
      if (!(error instanceof Deno.errors.NotFound) || argv[0]!.includes("/")) throw error;
      program = findProgram(argv[0]!, true);
      if (program === undefined) return notFound;
      child = spawn(program);
    }
  } catch (error) {
    return failed(`cannot start program ${JSON.stringify(argv[0])}: ${(error as Error).message}`);
  }
  const signalAll = (sig: Deno.Signal) => {
    try {
      Deno.kill(-child.pid, sig);
    } catch { /* already gone */ }
  };

  const capture = new Capture(limits.maxOutputBytes, limits.keepBytes);
  const readers: ReadableStreamBYOBReader[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const write = capture.stream();
    const reader = stream.getReader({ mode: "byob" });
    readers.push(reader);
    let buffer = takeReadBuffer();
    let own = true;
    try {
      for (;;) {
        own = false; // the read transfers `buffer`; the result views the same memory
        const { done, value }: ReadableStreamReadResult<Uint8Array> = await reader.read(
          new Uint8Array(buffer),
        );
        if (value === undefined) break; // cancelled
        buffer = value.buffer as ArrayBuffer;
        own = true;
        if (done) break;
        write(value);
      }
    } catch { /* cancelled */ }
    if (own) returnReadBuffer(buffer);
    write();
  };
  let pumped = false;
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {
    pumped = true;
  });

  let stopped: string | undefined;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = (why: string) => {
    if (stopped !== undefined) return;
    stopped = why;
    signalAll("SIGTERM");
    killTimer = setTimeout(() => signalAll("SIGKILL"), limits.killGraceMs);
  };
  // The clock starts once the child exists. A child that is a zombie when it rings has exited
  // and only waits for the runtime to collect its status: not a timeout (see spawn_gate.ts in this folder).
  const timer = setTimeout(() => {
    if (!hasExited(child.pid)) {
      stop(`timed out after ${formatDurationMs(spec.timeoutMs, "single")}`);
    }
  }, spec.timeoutMs);
  const onAbort = () => stop("aborted");
  limits.signal?.addEventListener("abort", onAbort, { once: true });
  if (limits.signal?.aborted) onAbort();

  const status = await child.status;
  clearTimeout(timer);
  clearTimeout(killTimer);
  limits.signal?.removeEventListener("abort", onAbort);
  // The program is gone; give its pipes a moment, then kill what is left of its group (orphans
  // holding the pipes or background strays), and finally stop reading whatever still holds them.
  const drained = pumped || await within(pumps, limits.drainMs);
  signalAll("SIGKILL");
  if (!drained && !(await within(pumps, 100))) {
    await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    await pumps;
  }

  // `setsid` exits 127 when it cannot exec the program: if that is because a cached PATH lookup
  // names a program removed since, look again and run what is there now (it never started).
  if (
    status.code === 127 && setsidPath !== null && !fresh && !argv[0]!.includes("/") &&
    stopped === undefined && !isExecutable(program)
  ) {
    return runCommand(spec, limits, true);
  }
  const exitCode = status.signal === null ? status.code : null;
  const attempt: Attempt = {
    output: capture.text(),
    ...bytesOf(capture),
    truncated: capture.truncated,
    exitCode: stopped === undefined ? exitCode : null,
    status: null,
  };
  if (stopped !== undefined) attempt.error = stopped;
  else if (status.signal !== null) attempt.error = `killed by ${status.signal}`;
  return attempt;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
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
    const started = performance.now();
    const attempt: Attempt = signal?.aborted
      ? { output: "", truncated: false, exitCode: null, status: null, error: "aborted" }
      : spec.type === "cmd"
      ? await runCommand(spec, limits)
      : await runHttp(spec, limits);
    let verdict = judge(
      { type: spec.type, ...attempt },
      expect?.kind === "regex" ? undefined : expect,
    );
    if (verdict.ok && attempt.error === undefined && expect?.kind === "regex") {
      // Off the main thread and bounded by what is left of the input's timeout (at least 100 ms).
      const left = Math.max(100, spec.timeoutMs - (performance.now() - started));
      verdict = await regexVerdict(expect.regex, attempt.output, left, signal);
    }
    const error = attempt.error ?? (verdict.ok ? undefined : verdict.reason);
    if (error === undefined || attempt.final || tries > spec.retries || signal?.aborted) {
      return { attempt, error, tries };
    }
    await sleep(retryDelayMs, signal);
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
  const {
    maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES,
    subject = "",
    signal,
    now = () => new Date(),
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
  const started = performance.now();
  const limits: Limits = {
    maxOutputBytes,
    keepBytes: opts.keepBytes ?? false,
    killGraceMs,
    drainMs,
    signal,
  };
  let expect: Expect | undefined;
  let attempt: Attempt;
  let error: string | undefined;
  let tries = 0;
  try {
    expect = spec.expect === undefined ? undefined : parseExpect(spec.expect);
  } catch (e) {
    attempt = { output: "", truncated: false, exitCode: null, status: null };
    error = (e as Error).message;
  }
  if (error === undefined) {
    try {
      ({ attempt, error, tries } = await attempts(spec, expect, limits, retryDelayMs));
    } catch (e) {
      // Nothing an input does may reject runInput: an unforeseen failure is this input's error.
      attempt = { output: "", truncated: false, exitCode: null, status: null };
      error = `cannot run input: ${String((e as Error)?.message ?? e).split("\n")[0]}`;
    }
    if (error !== undefined && tries > 1) error += ` (after ${tries} tries)`;
  }
  const last = attempt!;
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
    durationMs: Math.round(performance.now() - started),
    truncated: last.truncated,
    ...(error !== undefined ? { error } : {}),
  };
}
