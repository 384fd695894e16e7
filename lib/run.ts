/**
 * Dispatches the configured mode: run once (default), serve (`-w`), or leader mode
 * (`LEADER_ELECTION=true` / `--elect`).
 *
 * @module
 */
import { requireInputs } from "./config.ts";
import type { Config } from "./config_schema.ts";
import { configuredInputs, exitCodeOf, runAll } from "./once.ts";
import { formatResults } from "./output.ts";
import { serveMcall } from "./server.ts";
import { runLeaderMode, runStatus } from "./leader_mode.ts";

/** The abort reason the CLI gives when a signal arrives; one-shot runs report it per input. */
export class Interrupted extends Error {
  /** @param signal The signal that arrived. */
  constructor(readonly signal: "SIGINT" | "SIGTERM") {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }

  /** The shell's convention: 128 + the signal number (SIGINT 130, SIGTERM 143). */
  get exitCode(): number {
    return this.signal === "SIGINT" ? 130 : 143;
  }
}

/** What the CLI passes besides configuration. */
export interface RunContext {
  readonly command: "run" | "status";
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly version: string;
  /** Where results go (stdout by default). */
  readonly write?: (text: string) => void;
}

/**
 * Runs the mode the configuration asks for.
 *
 * @returns The process exit code.
 * @throws {ConfigError} for configuration that only shows up as wrong at start (e.g. a
 *   non-loopback bind without a token, no namespace in leader mode).
 */
export async function run(config: Config, ctx: RunContext): Promise<number> {
  const write = ctx.write ??
    ((text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text)));
  if (ctx.command === "status") return await runStatus(config, write);
  if (config.election.enabled) return await runLeaderMode(config, { signal: ctx.signal });
  if (config.webserver.enable) return await serveMcall(config, ctx.env, ctx.signal);
  requireInputs(config);
  let results = await runAll(configuredInputs(config), config, ctx.signal);
  const reason = ctx.signal.reason;
  if (reason instanceof Interrupted) {
    // Finished results stay as they are; the inputs the signal stopped (or never started) say so.
    results = results.map((r) =>
      r.error?.startsWith("aborted")
        ? { ...r, error: r.error.replace("aborted", reason.message) }
        : r
    );
  }
  write(formatResults(results, {
    format: config.response.format,
    encoding: config.response.encoding.type,
  }));
  return reason instanceof Interrupted ? reason.exitCode : exitCodeOf(results);
}
