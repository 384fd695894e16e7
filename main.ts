/**
 * dz-mcall's command line: flags and environment → configuration → mode. Everything else lives
 * in `lib/` and knows nothing of the CLI.
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { helpText, parseCli } from "./lib/cli.ts";
import { ConfigError, envLayer, type Layer, loadConfig, readConfigFile } from "./lib/config.ts";
import { dispose } from "@logtape/logtape";
import { setupLogging } from "./lib/log.ts";
import { run } from "./lib/run.ts";

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
    const layers: Layer[] = [];
    const configPath = cli.configPath ?? env.MCALL_CONFIG;
    if (configPath) layers.push(await readConfigFile(configPath));
    layers.push(envLayer(env), cli.layer);
    const config = loadConfig({ layers });
    setupLogging({
      level: config.log.level,
      ...(config.log.file ? { file: config.log.file } : {}),
    });
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
    throw err;
  } finally {
    await dispose();
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => controller.abort(new Error(`received ${sig}`)));
  }
  const code = await main(Deno.args, Deno.env.toObject(), controller.signal);
  Deno.exit(code);
}
