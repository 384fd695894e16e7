/**
 * Command-line flags: the original's short flags (`-i -t -c -w -p -f -e -n -worker -l -lf`) plus
 * long forms. Only flags the user actually passed enter the flag layer, so a flag left at its
 * default never overrides the config file.
 *
 * @module
 */
import { ConfigError, type Layer, parseBool, type RawLayer, setPath } from "../config/layer.ts";
import { parseDurationMs } from "../time/duration.ts";
import { splitInputList } from "../engine/input.ts";
import { type OptionSpec, parseArgv } from "./argv.ts";
import { FLAGS, type FlagSpec } from "./flags.ts";

/** What the command line asks for, besides configuration. */
export interface Cli {
  /** `run` (default), `status` (is the release healthy?). */
  readonly command: "run" | "status";
  readonly help: boolean;
  readonly version: boolean;
  /** `status -o`: `table` or `json`, when given. */
  readonly output?: "table" | "json";
  /** `-c`: the config file, if any (else env MCALL_CONFIG). */
  readonly configPath?: string;
  /** The flag layer for {@linkcode loadConfig}. */
  readonly layer: Layer;
}

/** FLAGS as {@linkcode parseArgv} reads them. */
const OPTIONS: Record<string, OptionSpec> = Object.fromEntries(
  FLAGS.map((f) => [f.long, { type: f.type, ...(f.short ? { short: f.short } : {}) }]),
);

/**
 * Parses argv.
 *
 * @param args `Deno.args`.
 * @returns The command, meta flags and the flag layer.
 * @throws {ConfigError} for unknown flags or bad values, naming the flag.
 */
export function parseCli(args: readonly string[]): Cli {
  const { normalised, booleans } = goStyle(args);
  const parsed = parseArgv(normalised, OPTIONS);
  const { positionals } = parsed;
  const values: Record<string, string | boolean | undefined> = { ...parsed.values, ...booleans };
  const command = positionals[0] ?? "run";
  if (command !== "run" && command !== "status") {
    throw new ConfigError(`unknown command ${JSON.stringify(command)} (expected run or status)`);
  }
  if (positionals.length > 1) {
    throw new ConfigError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  }

  const output = values.output;
  if (typeof output === "string" && output !== "table" && output !== "json") {
    throw new ConfigError(`--output: ${JSON.stringify(output)} is not table or json`);
  }
  if (typeof output === "string" && command !== "status") {
    throw new ConfigError("--output: applies to the status command only");
  }

  const layerValues: RawLayer = {};
  const sources = new Map<string, string>();
  for (const flag of FLAGS) {
    const value = values[flag.long];
    if (value === undefined || !flag.path) continue;
    const name = `--${flag.long}`;
    setPath(layerValues, flag.path, convert(value, flag, name));
    sources.set(flag.path, name);
  }
  if (typeof values.input === "string") {
    const inputs = splitInputList(values.input).map((input) => ({ input }));
    if (inputs.length === 0) throw new ConfigError("--input: no inputs in the list");
    setPath(layerValues, "request.inputs", inputs);
    sources.set("request.inputs", "--input");
  }
  return {
    command,
    help: values.help === true,
    version: values.version === true,
    ...(typeof values.config === "string" ? { configPath: values.config } : {}),
    ...(output === "table" || output === "json" ? { output } : {}),
    layer: { values: layerValues, sources },
  };
}

function convert(value: string | boolean, flag: FlagSpec, name: string): unknown {
  if (typeof value === "boolean") return value;
  switch (flag.kind) {
    case "int": {
      if (!/^-?\d+$/.test(value.trim())) {
        throw new ConfigError(`${name}: ${JSON.stringify(value)} is not an integer`);
      }
      return Number(value);
    }
    case "duration":
      if (parseDurationMs(value) === undefined) {
        throw new ConfigError(
          `${name}: ${JSON.stringify(value)} is not a duration (use e.g. 10s, 5m)`,
        );
      }
      return value;
    case "bool-text":
      return parseBool(value, name);
    default:
      return value;
  }
}

/**
 * Go's flag package spellings, as the original's README writes them: `-worker 3`, `-lf x`,
 * `-i="echo x"`, `-f=plain`, `--port=3000`, `-w=true`. Every flag, by its short, alias or long
 * name, with one or two dashes, takes `=value`; a boolean's `=value` is read as true/false.
 * Rewritten to `--long` / `--long=value` for {@linkcode parseArgv}; booleans given a value come back
 * separately.
 * Nothing after `--` is touched.
 *
 * @throws {ConfigError} For a boolean whose `=value` is not true or false.
 */
function goStyle(args: readonly string[]): {
  normalised: string[];
  booleans: Record<string, boolean>;
} {
  const normalised: string[] = [];
  const booleans: Record<string, boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      normalised.push(...args.slice(i));
      break;
    }
    const m = /^--?([A-Za-z][\w-]*)(?:=([\s\S]*))?$/.exec(arg);
    const name = m?.[1];
    const flag = name === undefined
      ? undefined
      : FLAGS.find((f) =>
        f.long === name || f.alias === name || (f.short === name && !arg.startsWith("--"))
      );
    if (flag === undefined || m === null) {
      normalised.push(arg);
    } else if (m[2] === undefined) {
      normalised.push(`--${flag.long}`);
    } else if (flag.type === "boolean") {
      booleans[flag.long] = parseBool(m[2], `--${flag.long}`);
    } else {
      // Kept attached: a detached value that starts with "-" would read as ambiguous
      // (`--subject=-x`, `-worker=-1`), and `=value` is the form that says it is a value.
      normalised.push(`--${flag.long}=${m[2]}`);
    }
  }
  return { normalised, booleans };
}
