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
import { runLeaderMode } from "./leader_mode.ts";
import { runStatus, type StatusOutput } from "./status.ts";

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
  if (ctx.command === "status") return await runStatus(config, write, ctx.output);
  if (config.election.enabled) return await runLeaderMode(config, { signal: ctx.signal });
  if (config.webserver.enable) return await serveMcall(config, ctx.env, ctx.signal);
  requireInputs(config);
  const results = await runAll(configuredInputs(config), config, ctx.signal);
  write(formatResults(results, {
    format: config.response.format,
    encoding: config.response.encoding.type,
  }));
  return exitCodeOf(results);
}
