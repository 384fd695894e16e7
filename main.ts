/**
 * dz-mcall's command line: flags and environment → configuration → mode. Everything else lives
 * in `lib/` and knows nothing of the CLI.
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { printOnly } from "./lib/cli/flags.ts";
import { ConfigError, type Layer } from "./lib/config/layer.ts";
import { Interrupted } from "./lib/cli/interrupted.ts";
import type { Outcome } from "./lib/modes/outcome.ts";

// Invariant: this module statically imports only what a lone `--version` needs (the flag table,
// no parser, zod, YAML, logging or engine), so it starts as fast as a bare `deno run`; `--help`
// adds its text, and the rest is imported once the command line asks for a run
// (bench/startup.ts; tests/startup_graph_test.ts checks it). deno.json's `unstable:
// lazy-dynamic-imports` keeps `deno run` from reading every module behind a literal dynamic import
// at start-up (91 files; `--version` 23.8 → 18.3 ms). `deno install --entrypoint` and
// `deno compile` still follow those imports, so the image's cache and binary hold them all.

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** How a process ends: an outcome's kind, an interrupting signal, or an error caught here. */
type Ending =
  | Exclude<Outcome["kind"], "interrupted">
  | Extract<Outcome, { kind: "interrupted" }>["signal"]
  | "usage"
  | "error";

/**
 * The process exit code of every way a run ends: the one table of exit codes (the README's "Exit
 * codes" section describes it). The modes return an {@linkcode Outcome}; only this module turns
 * it into a number.
 */
export const EXIT_CODES = {
  /** Every input succeeded; leader mode shut down cleanly or its one-shot round ran every task. */
  ok: 0,
  /** An input failed; a one-shot round's task was dead or rejected; `status` is not ok. */
  failed: 1,
  /** An unexpected error (printed as one line). */
  error: 1,
  /** A usage or configuration error (one line names the field). */
  usage: 2,
  /** A one-shot round passed `tasks.roundDeadline`. */
  roundDeadline: 3,
  /** Interrupted: the shell's convention, 128 + the signal number. */
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
} as const satisfies Record<Ending, number>;

/** The exit code of an outcome, from {@linkcode EXIT_CODES}. */
export function exitCode(outcome: Outcome): number {
  return outcome.kind === "interrupted" ? EXIT_CODES[outcome.signal] : EXIT_CODES[outcome.kind];
}

/**
 * Parses `args` and `env`, runs the requested mode until it ends or `signal` aborts.
 *
 * @returns The process exit code ({@linkcode EXIT_CODES}).
 */
export async function main(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<number> {
  try {
    // A lone --version or --help needs no parser (printOnly says what parseCli would).
    const only = printOnly(args);
    const cli = only === undefined ? (await import("./lib/cli/args.ts")).parseCli(args) : undefined;
    if (cli === undefined || cli.help || cli.version) {
      console.log(
        only === "help" || cli?.help
          ? (await import("./lib/cli/help.ts")).helpText(VERSION)
          : `dz-mcall ${VERSION}`,
      );
      return EXIT_CODES.ok;
    }
    const [{ loadConfig, readConfigFile, readEnvLayer }, { run }] = await Promise.all([
      import("./lib/config/load.ts"),
      import("./lib/cli/run.ts"),
    ]);
    const layers: Layer[] = [];
    const configPath = cli.configPath ?? env.MCALL_CONFIG;
    if (configPath) layers.push(await readConfigFile(configPath, signal));
    layers.push(await readEnvLayer(env), cli.layer);
    const warnings: string[] = [];
    const config = loadConfig({ layers, warn: (w) => warnings.push(w) });
    return exitCode(
      await run(config, {
        command: cli.command,
        env,
        signal,
        version: VERSION,
        warnings,
        ...(cli.output ? { output: cli.output } : {}),
      }),
    );
  } catch (err) {
    // A signal that ended a blocking read (the config or token file a FIFO with no writer).
    if (err instanceof Interrupted) return EXIT_CODES[err.signal];
    if (err instanceof ConfigError) {
      console.error(`dz-mcall: ${err.message}`);
      return EXIT_CODES.usage;
    }
    // Never a stack trace: one line, exit 1 (a bug if it happens; the line says what).
    console.error(`dz-mcall: ${String((err as Error)?.message ?? err).split("\n")[0]}`);
    return EXIT_CODES.error;
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  // SIGHUP (the terminal went away) ends a run as SIGTERM does: the process groups of running
  // commands are killed and what finished is printed (a `sleep` in its own session would
  // otherwise outlive us).
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, () => controller.abort(new Interrupted(sig)));
  }
  const code = await main(Deno.args, Deno.env.toObject(), controller.signal);
  Deno.exit(code);
}
