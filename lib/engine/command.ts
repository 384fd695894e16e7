/**
 * One try of a cmd input. Never throws for anything the command does: a missing program, shell
 * syntax without `shell: true` or a timeout all become the attempt's one-line `error`.
 *
 * Commands run without a shell (argv from `splitCommand`), or through `/bin/sh -c` with
 * `shell: true`. Each runs in a session and process group of its own so a timeout kills its
 * children too. The argv is prefixed with a session launcher, the first of these on PATH:
 *
 * 1. `dz-mcall-setsid` (`native/setsid.c`, built static against musl by `scripts/native.sh`; both
 *    images ship it read-only in /usr/local/bin);
 * 2. `setsid` (util-linux, or busybox's applet).
 *
 * Because a freshly spawned child is never a group leader, either calls setsid(2) and execs the
 * program in place, without forking. The pid Deno reports is therefore the program's own pid and
 * also its process-group id (verified on Linux), and `Deno.kill(-pid, signal)` reaches every
 * process of the input that did not leave the group itself. Both exit 127 when the program is not
 * there (a PATH lookup gone stale, retried below) and 126 when it cannot be executed. Without
 * either, `Deno.Command`'s `detached: true` does the same, but Deno then forks the whole runtime
 * instead of posix_spawn-ing, which measured 2–3× slower per command (see `bench/engine.ts`).
 * The launcher's exec is most of the engine's cost per command beyond Deno's own spawn: util-linux
 * and busybox spend ~0.6–0.8 ms of CPU starting glibc, `dz-mcall-setsid` ~0.04 ms.
 * Only `dz-mcall-setsid` also empties the signal mask: behind the images' entrypoint
 * (`dz-mcall-nosigusr1`) the runtime runs with SIGUSR1 blocked and Deno's spawn passes the mask on,
 * so with another launcher a command would start with SIGUSR1 blocked.
 * A program's PATH lookup is reused for a second; a program removed since is looked up again
 * (`program.ts` in this folder).
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
import type { Clock, TimerId } from "../time/clock.ts";
import { formatDurationMs } from "../time/duration.ts";
import type { Attempt, Limits } from "./attempt.ts";
import { Capture } from "./capture.ts";
import type { InputSpec } from "./input.ts";
import { findProgram, isExecutable, whyNotRunnable } from "./program.ts";
import { splitCommand } from "./shellwords.ts";
import { hasExited, spawnTurn } from "./spawn_gate.ts";

/**
 * Runs one try of a cmd input: split (or wrap in `/bin/sh -c`), start, read its output while
 * waiting for it to exit or be stopped, kill what is left of its group, and report.
 *
 * @param spec The input (type cmd).
 * @param limits Output cap, kill grace, drain time, cancellation and clock.
 * @param fresh Look the program up on PATH again (a cached path turned out to be gone).
 * @returns The attempt; `final` when retrying cannot help (shell syntax, no such program).
 */
export async function runCommand(spec: InputSpec, limits: Limits, fresh = false): Promise<Attempt> {
  let argv: string[];
  try {
    argv = spec.shell ? ["/bin/sh", "-c", spec.input] : splitCommand(spec.input);
  } catch (error) {
    return failed((error as Error).message);
  }
  const started = await start(argv, limits.clock, fresh);
  if (!("child" in started)) return started;
  const { child, program } = started;
  const output = readOutput(child, limits);
  const { status, stopped } = await waitForExit(child, spec, limits);
  await output.close(limits.drainMs, () => signalGroup(child, "SIGKILL"));
  // The launcher exits 127 when it cannot exec the program: if that is because a cached PATH
  // lookup names a program removed since, look again and run what is there now (it never started).
  if (
    status.code === 127 && launcher !== null && !fresh && !argv[0]!.includes("/") &&
    stopped === undefined && !isExecutable(program)
  ) {
    return runCommand(spec, limits, true);
  }
  return attemptOf(status, stopped, output.capture);
}

/** An attempt that produced nothing; `final` (default) when a retry cannot help. */
function failed(error: string, final = true): Attempt {
  return { output: "", truncated: false, exitCode: null, status: null, error, final };
}

/** The session launcher (see the module doc), looked up once, on first use; null when absent. */
let launcher: string | null | undefined;

/**
 * The session launcher every command is spawned through: the path of `dz-mcall-setsid`, else of
 * `setsid`, the first on PATH when first asked (the answer is kept for the process's life); null
 * when there is neither and commands are spawned with `detached: true`.
 *
 * @param clock Times the reuse of PATH lookups (`program.ts`).
 * @returns The launcher's path, or null.
 */
export function sessionLauncher(clock: Clock): string | null {
  if (launcher === undefined) {
    launcher = findProgram("dz-mcall-setsid", clock) ?? findProgram("setsid", clock) ?? null;
  }
  return launcher;
}

/** Spawns `program` with `argv`'s arguments in a session of its own (see the module doc). */
function spawn(program: string, argv: string[]): Deno.ChildProcess {
  return new Deno.Command(launcher ?? program, {
    args: launcher === null ? argv.slice(1) : [program, ...argv.slice(1)],
    detached: launcher === null,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Finds and spawns argv[0] (in its spawn turn, see `spawn_gate.ts`). A cached PATH lookup may
 * name a program removed since: on NotFound it looks again, once.
 *
 * @returns The child and the program's path, or the failed attempt.
 */
async function start(
  argv: string[],
  clock: Clock,
  fresh: boolean,
): Promise<{ child: Deno.ChildProcess; program: string } | Attempt> {
  const name = argv[0]!;
  sessionLauncher(clock);
  const notFound = () => failed(`program ${JSON.stringify(name)} ${whyNotRunnable(name)}`);
  let program = findProgram(name, clock, fresh);
  if (program === undefined) return notFound();
  await spawnTurn();
  try {
    try {
      return { child: spawn(program, argv), program };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || name.includes("/")) throw error;
      program = findProgram(name, clock, true);
      if (program === undefined) return notFound();
      return { child: spawn(program, argv), program };
    }
  } catch (error) {
    return failed(`cannot start program ${JSON.stringify(name)}: ${(error as Error).message}`);
  }
}

/**
 * Sends `signal` to the child's whole process group. Called once per command after it exits, when
 * the group is usually empty: the error Deno then throws is built without a stack trace (it is
 * dropped anyway, and the trace was most of the per-command garbage it made).
 */
function signalGroup(child: Deno.ChildProcess, signal: Deno.Signal): void {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    Deno.kill(-child.pid, signal);
  } catch {
    /* already gone */
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * Waits for the child to exit, stopping it (SIGTERM, then SIGKILL after `killGraceMs`) when the
 * input's timeout rings or `limits.signal` aborts.
 *
 * @returns The exit status, and why the child was stopped (undefined when it was not).
 */
async function waitForExit(
  child: Deno.ChildProcess,
  spec: InputSpec,
  limits: Limits,
): Promise<{ status: Deno.CommandStatus; stopped: string | undefined }> {
  let stopped: string | undefined;
  const { clock } = limits;
  let killTimer: TimerId | undefined;
  const stop = (why: string) => {
    if (stopped !== undefined) return;
    stopped = why;
    signalGroup(child, "SIGTERM");
    killTimer = clock.setTimeout(() => signalGroup(child, "SIGKILL"), limits.killGraceMs);
  };
  // The clock starts once the child exists. A child that is a zombie when it rings has exited
  // and only waits for the runtime to collect its status: not a timeout (see spawn_gate.ts in this folder).
  const timer = clock.setTimeout(() => {
    if (!hasExited(child.pid)) {
      stop(`timed out after ${formatDurationMs(spec.timeoutMs, "single")}`);
    }
  }, spec.timeoutMs);
  const onAbort = () => stop(limits.aborted());
  limits.signal?.addEventListener("abort", onAbort, { once: true });
  if (limits.signal?.aborted) onAbort();

  const status = await child.status;
  clock.clearTimeout(timer);
  clock.clearTimeout(killTimer);
  limits.signal?.removeEventListener("abort", onAbort);
  return { status, stopped };
}

/** What the command produced, from its exit status and captured output. */
function attemptOf(
  status: Deno.CommandStatus,
  stopped: string | undefined,
  capture: Capture,
): Attempt {
  const exitCode = status.signal === null ? status.code : null;
  const bytes = capture.bytes();
  const attempt: Attempt = {
    output: capture.text(),
    ...(bytes === undefined ? {} : { bytes }),
    truncated: capture.truncated,
    exitCode: stopped === undefined ? exitCode : null,
    status: null,
  };
  if (stopped !== undefined) attempt.error = stopped;
  else if (status.signal !== null) attempt.error = `killed by ${status.signal}`;
  return attempt;
}

/** A command's output being read: the capture it fills, and how to stop reading. */
interface OutputReading {
  readonly capture: Capture;
  /**
   * Once the program is gone: gives its pipes `drainMs` to close, then calls `killGroup` (orphans
   * holding the pipes or background strays) and finally stops reading whatever still holds them.
   */
  close(drainMs: number, killGroup: () => void): Promise<void>;
}

/** Reads the child's stdout and stderr concurrently into one capture, in arrival order. */
function readOutput(child: Deno.ChildProcess, limits: Limits): OutputReading {
  const capture = new Capture(limits.maxOutputBytes, limits.keepBytes);
  const readers: ReadableStreamBYOBReader[] = [];
  let pumped = false;
  const pumps = Promise.all([
    pump(child.stdout, capture.stream(), readers),
    pump(child.stderr, capture.stream(), readers),
  ]).then(() => {
    pumped = true;
  });
  return {
    capture,
    async close(drainMs, killGroup) {
      const drained = pumped || await within(pumps, drainMs, limits.clock);
      killGroup();
      if (!drained && !(await within(pumps, 100, limits.clock))) {
        await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
        await pumps;
      }
    },
  };
}

/** Size of the buffers a command's output is read into. */
const READ_BUFFER_BYTES = 16 * 1024;
/** Read buffers of finished commands, reused by the next ones. */
const readBuffers: ArrayBuffer[] = [];

/**
 * Reads one stream to its end (or until cancelled) into `write`, then ends `write`'s stream.
 * Output is read with a BYOB reader into buffers reused from command to command: the default
 * reader allocates a fresh 64 KiB chunk per read (two per command, even for a command that prints
 * nothing), and that memory came back to the system so late that a run's peak RSS grew with the
 * number of inputs (bench/engine.ts).
 */
async function pump(
  stream: ReadableStream<Uint8Array>,
  write: (chunk?: Uint8Array) => void,
  readers: ReadableStreamBYOBReader[],
): Promise<void> {
  const reader = stream.getReader({ mode: "byob" });
  readers.push(reader);
  let buffer = readBuffers.pop() ?? new ArrayBuffer(READ_BUFFER_BYTES);
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
  if (own && buffer.byteLength === READ_BUFFER_BYTES && readBuffers.length < 64) {
    readBuffers.push(buffer);
  }
  write();
}

/** Resolves after `ms` or when `promise` settles, whichever is first; true if it settled. */
async function within(promise: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  let timer: TimerId | undefined;
  const expired = new Promise<false>((resolve) =>
    timer = clock.setTimeout(() => resolve(false), ms)
  );
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clock.clearTimeout(timer);
  }
}
