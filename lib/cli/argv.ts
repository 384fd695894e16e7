/**
 * A small strict argv parser, in place of `node:util`'s `parseArgs` (whose import boots Deno's
 * Node compatibility layer: ~6 ms of every start, `--help` included). It accepts the syntax
 * `parseArgs({ strict: true, allowPositionals: true })` accepts, with the same precedence:
 *
 * - `--name value` and `--name=value` for string options; `--name` for booleans;
 * - `-x value` and `-xvalue` for a string option's short name; `-x` for a boolean's;
 * - short groups: `-ab` is `-a -b`; a string option inside a group takes the rest of the group
 *   as its value (`-abfFILE` is `-a -b -f FILE`), or the next argument when it ends the group;
 * - `--` ends the options: everything after it is positional;
 * - anything else (including a lone `-`) is positional; a repeated option keeps its last value.
 *
 * A string option's value is the next argument whatever it is, but a detached value that looks
 * like an option (`--input -x`) is refused as ambiguous (write `--input=-x`), as parseArgs does.
 *
 * @module
 */
import { ConfigError } from "../config/layer.ts";

/** One option the parser knows, by its long name. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** A one-character short name. */
  readonly short?: string;
}

/** What {@linkcode parseArgv} found. */
export interface ParsedArgv {
  /** By long name: the last value of each option given (`true` for a boolean). */
  readonly values: Record<string, string | boolean>;
  readonly positionals: string[];
}

/**
 * Parses `args` against `options`.
 *
 * @throws {ConfigError} At the first problem, in argument order: `unknown flag -x (see --help)`,
 *   `--name: needs a value`, `--name: takes no value`, or
 *   `Option '--name' argument is ambiguous.` (a detached value that starts with `-`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgv } from "./argv.ts";
 * const options = {
 *   input: { type: "string", short: "i" },
 *   web: { type: "boolean", short: "w" },
 * } as const;
 * const parsed = parseArgv(["-wi", "true", "status"], options);
 * assert.deepEqual(parsed.values, { web: true, input: "true" });
 * assert.deepEqual(parsed.positionals, ["status"]);
 * ```
 */
export function parseArgv(
  args: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
): ParsedArgv {
  // A Map, so names such as `constructor` or `__proto__` are never found on Object.prototype.
  const specs = new Map(Object.entries(options));
  const longOf = (short: string) => {
    for (const [name, spec] of specs) if (spec.short === short) return name;
    return short;
  };
  const isString = (name: string) => specs.get(name)?.type === "string";
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];

  /** Stores one option; `inline` when its value was part of the same argument. */
  const store = (name: string, rawName: string, value: string | undefined, inline: boolean) => {
    const spec = specs.get(name);
    if (spec === undefined) throw new ConfigError(`unknown flag ${rawName} (see --help)`);
    if (spec.type === "boolean") {
      if (value !== undefined) throw new ConfigError(`--${name}: takes no value`);
      values[name] = true;
      return;
    }
    if (value === undefined) throw new ConfigError(`--${name}: needs a value`);
    if (!inline && value.length > 1 && value.startsWith("-")) {
      throw new ConfigError(`Option '${rawName}' argument is ambiguous.`);
    }
    values[name] = value;
  };

  const rest = [...args];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg === "--") {
      positionals.push(...rest);
      break;
    }
    if (arg.length >= 2 && arg[0] === "-" && arg[1] !== "-") {
      const name = longOf(arg[1]!);
      if (arg.length === 2) {
        // -x, with the next argument as a string option's value.
        store(name, arg, isString(name) ? rest.shift() : undefined, false);
      } else if (isString(name)) {
        // -xVALUE
        store(name, `-${arg[1]}`, arg.slice(2), true);
      } else {
        // -abc → -a -b -c; a string option in the middle takes the rest: -abfFILE → -a -b -fFILE.
        const expanded: string[] = [];
        for (let i = 1; i < arg.length; i++) {
          if (!isString(longOf(arg[i]!)) || i === arg.length - 1) {
            expanded.push(`-${arg[i]}`);
          } else {
            expanded.push(`-${arg.slice(i)}`);
            break;
          }
        }
        rest.unshift(...expanded);
      }
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      const eq = arg.indexOf("=", 3);
      if (eq === -1) {
        const name = arg.slice(2);
        store(name, arg, isString(name) ? rest.shift() : undefined, false);
      } else {
        const name = arg.slice(2, eq);
        store(name, `--${name}`, arg.slice(eq + 1), true);
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals };
}
