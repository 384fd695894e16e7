/**
 * dz-mcall's command line: flags and environment → configuration → mode. Everything else lives
 * in `lib/` and knows nothing of the CLI.
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { parseCli } from "./lib/cli/args.ts";
import { helpText } from "./lib/cli/help.ts";
import { ConfigError, type Layer } from "./lib/config/layer.ts";
import { Interrupted } from "./lib/cli/interrupted.ts";

// Invariant: this module statically imports only what `--help` and `--version` need (no zod,
// YAML, logging or engine), so they start as fast as a bare `deno run`; the rest is imported once
// the command line asks for a run (bench/startup.ts; tests/startup_graph_test.ts checks it).

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/**
 * Parses `args` and `env`, runs the requested mode until it ends or `signal` aborts.
 *
 * @returns The process exit code: 0 success, 1 a failed input, 2 usage or configuration error.
 */
export async function main(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<number> {
  let dispose: (() => Promise<void>) | undefined;
  try {
    const cli = parseCli(args);
    if (cli.help) {
      console.log(helpText(VERSION));
      return 0;
    }
    if (cli.version) {
      console.log(`dz-mcall ${VERSION}`);
      return 0;
    }
    const [
      { loadConfig, readConfigFile, readEnvLayer },
      { logger, setupLogging },
      logtape,
      { run },
    ] = await Promise.all([
      import("./lib/config/load.ts"),
      import("./lib/log/log.ts"),
      import("@logtape/logtape"),
      import("./lib/cli/run.ts"),
    ]);
    dispose = logtape.dispose;
    const layers: Layer[] = [];
    const configPath = cli.configPath ?? env.MCALL_CONFIG;
    if (configPath) layers.push(await readConfigFile(configPath));
    layers.push(await readEnvLayer(env), cli.layer);
    const warnings: string[] = [];
    const config = loadConfig({ layers, warn: (w) => warnings.push(w) });
    setupLogging({
      level: config.log.level,
      ...(config.log.file ? { file: config.log.file } : {}),
    });
    // Doubled braces: logtape would read `{x}` in the text as a placeholder.
    for (const w of warnings) logger("config").warn(w.replaceAll("{", "{{").replaceAll("}", "}}"));
    return await run(config, {
      command: cli.command,
      env,
      signal,
      version: VERSION,
      ...(cli.output ? { output: cli.output } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`dz-mcall: ${err.message}`);
      return 2;
    }
    // Never a stack trace: one line, exit 1 (a bug if it happens; the line says what).
    console.error(`dz-mcall: ${String((err as Error)?.message ?? err).split("\n")[0]}`);
    return 1;
  } finally {
    await dispose?.();
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => controller.abort(new Interrupted(sig)));
  }
  const code = await main(Deno.args, Deno.env.toObject(), controller.signal);
  Deno.exit(code);
}
