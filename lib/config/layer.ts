/**
 * The dependency-free part of configuration: the error type, the layer shape and the helpers the
 * command line needs to build its layer. Kept apart from `lib/config/load.ts` (zod, the schema, YAML)
 * so `--help` and `--version` start as fast as a bare `deno run` (bench/startup.ts). Import these
 * names from here: `lib/config/load.ts` does not re-export them.
 *
 * @module
 */

/** A configuration or usage problem: the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  /** @param message One line naming the field and the bad value. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** A partial configuration tree as one layer supplies it. */
export type RawLayer = Record<string, unknown>;

/** One layer: its keys and a label naming where each leaf came from (for error messages). */
export interface Layer {
  readonly values: RawLayer;
  /** Config path (`worker.number`) → source (`--worker`, `MCALL_WORKER_NUMBER`). */
  readonly sources: ReadonlyMap<string, string>;
  /** One-line warnings about the layer (e.g. an unknown `MCALL_*` variable). */
  readonly warnings?: readonly string[];
}

/** Parses true/false the way env vars and the original write them. */
export function parseBool(text: string, name: string): boolean {
  const t = text.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(t)) return true;
  if (["false", "0", "no", "off", ""].includes(t)) return false;
  throw new ConfigError(`${name}: ${JSON.stringify(text)} is not true or false`);
}

/** Whether `v` is a plain object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Sets `a.b.c` in a nested object, creating parents. */
export function setPath(target: RawLayer, path: string, value: unknown): void {
  const keys = path.split(".");
  let node: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    if (!isRecord(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}
