/**
 * Logging: JSON lines on stderr (and optionally appended to a file) through logtape. Results go
 * to stdout only, so `dz-mcall … | jq` always sees clean output.
 *
 * @module
 */
import {
  configureSync,
  getLogger,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  type Sink,
} from "@logtape/logtape";
import { ConfigError } from "../config/layer.ts";

/** The configured levels as logtape names them. */
export type Level = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** Options for {@linkcode setupLogging}. */
export interface LogOptions {
  readonly level: Level;
  /** Also append JSON lines to this file. */
  readonly file?: string;
  /** Where lines go instead of stderr (tests). */
  readonly sink?: Sink;
}

/**
 * Configures the root `dz-mcall` logger. Safe to call again (reconfigures).
 *
 * @throws {ConfigError} When `file` cannot be opened for appending (one line, exit 2).
 *
 * @example Usage
 * ```ts
 * import { logger, setupLogging } from "./log.ts";
 * setupLogging({ level: "error" });
 * logger("exec").debug("not shown at level error");
 * ```
 */
export function setupLogging({ level, file, sink }: LogOptions): void {
  const encoder = new TextEncoder();
  // Synchronous writes: a line is on stderr before the next statement runs, even if the
  // process is killed right after (what a crash post-mortem needs).
  const sinks: Record<string, Sink> = {
    stderr: sink ?? ((record) => Deno.stderr.writeSync(encoder.encode(jsonLinesFormatter(record)))),
  };
  if (file) {
    let handle: Deno.FsFile;
    try {
      handle = Deno.openSync(file, { append: true, create: true });
    } catch (err) {
      // The program may write only under /tmp (etc/deno-permissions).
      const reason = err instanceof Deno.errors.NotCapable
        ? "writes are allowed only under /tmp"
        : err instanceof Deno.errors.NotFound
        ? "its directory does not exist"
        : err instanceof Deno.errors.IsADirectory || isDirectory(file)
        ? "is a directory"
        : err instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : String((err as Error)?.message ?? err).split("\n")[0];
      throw new ConfigError(`log.file: cannot open ${JSON.stringify(file)}: ${reason}`);
    }
    sinks.file = (record) => handle.writeSync(encoder.encode(jsonLinesFormatter(record)));
  }
  configureSync({
    reset: true,
    sinks,
    loggers: [
      { category: ["dz-mcall"], lowestLevel: level as LogLevel, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: Object.keys(sinks) },
    ],
  });
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** A child logger of `dz-mcall`, e.g. `logger("election")`. */
export function logger(...category: string[]): Logger {
  return getLogger(["dz-mcall", ...category]);
}
