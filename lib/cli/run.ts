/**
 * Dispatches the configured mode: run once (default), serve (`-w`), or leader mode
 * (`LEADER_ELECTION=true` / `--elect`).
 *
 * @module
 */
import { requireInputs } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { configuredInputs, outcomeOf, runAll } from "../modes/once.ts";
import { formatResults } from "../engine/output.ts";
import { Interrupted } from "./interrupted.ts";
import { STDOUT_CLOSED, stdoutClosed } from "./stdout.ts";
import type { StatusOutput } from "../modes/status.ts";
import type { Outcome } from "../modes/outcome.ts";

// Invariant: one-shot mode (the default) statically reaches neither leader mode (the Kubernetes
// client, prom-client, election, planner, worker) nor the web server; they are imported only when
// their mode is chosen, which keeps `dz-mcall -i …` start-up near a bare `deno run`
// (bench/startup.ts; tests/startup_graph_test.ts checks the static graph).

/** What the CLI passes besides configuration. */
export interface RunContext {
  readonly command: "run" | "status";
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly version: string;
  /** `status -o`: table (default) or json. */
  readonly output?: StatusOutput;
  /** Where results go (stdout by default). */
  readonly write?: (text: string) => void;
  /** Configuration warnings, logged once logging is set up. */
  readonly warnings?: readonly string[];
}

/**
 * Runs the mode the configuration asks for.
 *
 * @returns How the run ended; `main.ts` turns it into the exit code.
 * @throws {ConfigError} for configuration that only shows up as wrong at start (e.g. a
 *   non-loopback bind without a token, no namespace in leader mode, a log file that cannot be
 *   opened).
 */
export async function run(config: Config, ctx: RunContext): Promise<Outcome> {
  const oneShot = ctx.command === "run" && !config.election.enabled && !config.webserver.enable;
  const dispose = await startLogging(config, ctx.warnings ?? [], oneShot);
  try {
    return await runMode(config, ctx);
  } finally {
    await dispose();
  }
}

/**
 * Configures logging (`lib/log/log.ts`), logs the configuration warnings, and returns what
 * flushes the sinks at the end.
 *
 * Invariant: one-shot mode logs nothing of its own (no module on its path imports
 * `lib/log/log.ts`; tests/startup_graph_test.ts checks it), so a one-shot run with no warning to
 * log and no log file to open never loads logtape, nor the Node compatibility layer logtape's
 * `node:util` import boots (~10 ms of start-up, bench/startup.ts).
 *
 * @throws {ConfigError} When `log.file` cannot be opened.
 */
async function startLogging(
  config: Config,
  warnings: readonly string[],
  oneShot: boolean,
): Promise<() => Promise<void>> {
  if (oneShot && warnings.length === 0 && !config.log.file) return () => Promise.resolve();
  const [{ logger, setupLogging }, { dispose }] = await Promise.all([
    import("../log/log.ts"),
    import("@logtape/logtape"),
  ]);
  try {
    setupLogging({
      level: config.log.level,
      ...(config.log.file ? { file: config.log.file } : {}),
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  // Doubled braces: logtape would read `{x}` in the text as a placeholder.
  for (const w of warnings) logger("config").warn(w.replaceAll("{", "{{").replaceAll("}", "}}"));
  return dispose;
}

/** Runs the mode the configuration asks for, logging already set up. */
async function runMode(config: Config, ctx: RunContext): Promise<Outcome> {
  const write = ctx.write ??
    ((text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text)));
  if (ctx.command === "status") {
    return await (await import("../modes/status.ts")).runStatus(
      config,
      ctx.env,
      write,
      ctx.output,
    );
  }
  if (config.election.enabled) {
    return await (await import("../modes/leader.ts")).runLeaderMode(config, {
      signal: ctx.signal,
      env: ctx.env,
    });
  }
  if (config.webserver.enable) {
    return await (await import("../modes/serve.ts")).serveMcall(config, ctx.env, ctx.signal);
  }
  requireInputs(config);
  // Started beside the run, awaited before the results are written (lib/cli/stdout.ts).
  const closed = ctx.write === undefined ? stdoutClosed() : Promise.resolve(false);
  // Finished results stay as they are; the inputs the signal stopped (or never started) say which
  // signal (the abort reason is a value: `Interrupted`).
  const interrupted = (reason: unknown) =>
    reason instanceof Interrupted ? reason.message : undefined;
  const results = await runAll(
    configuredInputs(config),
    config,
    ctx.signal,
    undefined,
    interrupted,
  );
  if (await closed) throw new Error(STDOUT_CLOSED);
  const reason = ctx.signal.reason;
  write(formatResults(results, {
    format: config.response.format,
    encoding: config.response.encoding.type,
  }));
  return reason instanceof Interrupted
    ? { kind: "interrupted", signal: reason.signal }
    : outcomeOf(results);
}
