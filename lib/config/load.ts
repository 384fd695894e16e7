/**
 * Builds the validated configuration from four layers, lowest first: schema defaults, the
 * `mcall.yaml` file, the environment (`MCALL_<SECTION>_<KEY>` plus the original's
 * `LEADER_ELECTION`, `NAMESPACE`, `HOSTNAME`), and command-line flags. A layer only contributes
 * the keys it actually sets, so a flag the user did not pass never overrides the file.
 *
 * Every error is one line naming the config path, where the value came from and the bad value,
 * e.g. `request.inputs[2].type: "gte" is not one of cmd, get, post`.
 *
 * @module
 */
import type YamlModule from "yaml";
import { type Config, ConfigSchema, type InputConfig } from "./schema.ts";
import { dropOriginalKeys, nearest } from "./compat.ts";
import { formatDurationMs } from "../time/duration.ts";
import { ConfigError, isRecord, type Layer, parseBool, type RawLayer, setPath } from "./layer.ts";
import { describeIssue, realLimit, show } from "./issues.ts";
import { fields, type LeafKind } from "./fields.ts";
import { checkCadences } from "./cadence_rules.ts";
import { loadCron } from "../time/cadence.ts";
import { LEASE_JITTER_FACTOR, leaseTimingViolation } from "../election/timings.ts";
import { CONFIG_FILE_CAP, FileTooLarge, formatCap, readTextCapped } from "../files/bounded_read.ts";
import { duplicateJsonKey, selfReference } from "./text_checks.ts";

/**
 * The YAML parser, imported on first need: config files and YAML-valued environment variables
 * need it, a run configured by flags alone does not, and importing it is a third of start-up
 * (bench/startup.ts).
 */
let yamlParser: typeof YamlModule | undefined;

/**
 * Loads the YAML parser that {@linkcode parseConfigText} and YAML list values of
 * {@linkcode envLayer} need ({@linkcode readConfigFile} and {@linkcode readEnvLayer} call it).
 * Idempotent.
 */
export async function loadYaml(): Promise<void> {
  yamlParser ??= (await import("yaml")).default;
}

/** The parser loaded by {@linkcode loadYaml}. @throws {Error} when it is not loaded yet. */
function yaml(): typeof YamlModule {
  if (yamlParser === undefined) {
    throw new Error("Cannot parse YAML before the parser is loaded: await loadYaml() first");
  }
  return yamlParser;
}

/**
 * The original's environment names, accepted as aliases; the `MCALL_<SECTION>_<KEY>` name wins
 * when both are set. (`MCALL_LOG_LEVEL` is both the original's name and ours.)
 */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  MCALL_WORKER_NUM: "worker.number",
  MCALL_HTTP_PORT: "webserver.port",
};

/** The original's variables outside the `MCALL_*` names, and the config path each sets. */
export const ORIGINAL_ENV: Readonly<Record<string, string>> = {
  LEADER_ELECTION: "election.enabled",
  NAMESPACE: "election.namespace",
  HOSTNAME: "election.identity",
};

/** `MCALL_*` variables read outside the config tree. */
const OTHER_ENV = ["MCALL_CONFIG", "MCALL_WEBSERVER_TOKEN"];

/**
 * Reads and parses a YAML config file into a layer: at most {@linkcode CONFIG_FILE_CAP} bytes,
 * and the read ends when `signal` aborts (a FIFO with no writer blocks until then).
 *
 * @throws {ConfigError} When the file cannot be read, is over the cap, or does not parse.
 * @throws {unknown} `signal.reason` when `signal` aborts during the read.
 */
export async function readConfigFile(path: string, signal?: AbortSignal): Promise<Layer> {
  await loadYaml();
  let text: string;
  try {
    text = await readTextCapped(path, CONFIG_FILE_CAP, signal);
  } catch (err) {
    if (signal?.aborted && err === signal.reason) throw err;
    const reason = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof FileTooLarge
      ? `larger than the ${formatCap(err.capBytes)} cap`
      : String(err);
    throw new ConfigError(`config file ${JSON.stringify(path)}: ${reason}`, { cause: err });
  }
  const values = parseConfigText(text, path);
  if (setsSchedule(values)) await loadCron();
  return { values, sources: new Map() };
}

/**
 * Most bytes of config text read as YAML. The YAML parser holds ~150 times the text while it works
 * (256 KiB of block-style YAML: 95 MiB peak, 148× its size above a one-input config; 1 MiB took
 * 159 MiB and seconds), while JSON text up to the file cap (`CONFIG_FILE_CAP`, 4 MiB) is read by
 * `JSON.parse` at ~9× its size (`deno task bench config`). Larger configurations are JSON.
 */
export const YAML_TEXT_CAP: number = 256 * 1024;

/**
 * Parses config text into a raw layer, normalising the original `request.input` JSON string.
 * Text that is a JSON object is read as JSON (YAML 1.2 reads it the same; a repeated key is
 * refused as YAML refuses it); anything else needs {@linkcode loadYaml} first.
 *
 * @throws {ConfigError} For text that does not parse, YAML over {@linkcode YAML_TEXT_CAP}, a
 *   repeated JSON key, an alias that contains itself, or a top level that is not a mapping.
 */
export function parseConfigText(text: string, label = "config"): RawLayer {
  let doc = parseJsonObject(text, label);
  if (doc === undefined) {
    const bytes = new TextEncoder().encode(text).byteLength;
    if (bytes > YAML_TEXT_CAP) {
      throw new ConfigError(
        `${label}: ${bytes} bytes of YAML is over the ${formatCap(YAML_TEXT_CAP)} cap ` +
          `for YAML (write it as JSON: up to ${formatCap(CONFIG_FILE_CAP)})`,
      );
    }
    const parser = yaml();
    try {
      // logLevel "error": the parser would otherwise print multi-line warnings (unknown tags or
      // directives) straight to stderr, outside the JSON log.
      doc = parser.parse(text, { prettyErrors: true, logLevel: "error" });
    } catch (err) {
      const first = String((err as Error).message).split("\n")[0]!.replace(/:\s*$/, "");
      throw new ConfigError(`${label}: invalid YAML: ${first}`, { cause: err });
    }
    // An alias inside its own anchor parses to a cyclic object, which no check below can print.
    const cycle = selfReference(doc);
    if (cycle !== undefined) {
      throw new ConfigError(`${cycle}: a YAML alias that contains itself (an alias cycle)`);
    }
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`${label}: expected a mapping at the top level`);
  }
  return normaliseInputJson(doc as RawLayer, "request.input");
}

/** The object `text` holds when it is JSON text of an object, else undefined (YAML's turn). */
function parseJsonObject(text: string, label: string): unknown {
  if (!/^[\s\uFEFF]*\{/.test(text)) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // YAML flow style, e.g. `{a: 1}`
  }
  const repeated = duplicateJsonKey(text);
  if (repeated !== undefined) throw new ConfigError(`${label}: ${repeated}: a repeated key`);
  return doc;
}

/**
 * The original layout carries inputs as a JSON string `request.input` = `{"inputs":[...]}`.
 * Turns it into `request.inputs` so later layers (e.g. `-i`) replace it as a whole.
 */
function normaliseInputJson(layer: RawLayer, source: string): RawLayer {
  const request = layer.request;
  if (!isRecord(request) || request.input === undefined) return layer;
  if (request.inputs !== undefined) {
    throw new ConfigError("request.input and request.inputs are both set: use one of them");
  }
  if (typeof request.input !== "string") {
    throw new ConfigError(`${source}: expected a JSON string, got ${show(request.input)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.input);
  } catch (err) {
    throw new ConfigError(`${source}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  const inputs = isRecord(parsed) ? parsed.inputs : undefined;
  if (!Array.isArray(inputs)) {
    throw new ConfigError(`${source}: expected {"inputs": [...]}, got ${show(parsed)}`);
  }
  const { input: _dropped, ...rest } = request;
  return { ...layer, request: { ...rest, inputs } };
}

/**
 * {@linkcode envLayer}, after loading the YAML parser when a list-valued variable is not plain
 * JSON (JSON, the usual form, needs no YAML parser).
 */
export async function readEnvLayer(env: Readonly<Record<string, string>>): Promise<Layer> {
  const needsYaml = leaves().some(({ path, kind }) => {
    const text = kind === "list" ? env[envName(path)] : undefined;
    return text !== undefined && parseJson(text) === undefined;
  });
  if (needsYaml) await loadYaml();
  const layer = envLayer(env);
  if (setsSchedule(layer.values)) await loadCron();
  return layer;
}

/**
 * Whether a layer sets a cron schedule anywhere (a task's `schedule`, `tasks.schedule`): then the
 * cron library is loaded before {@linkcode loadConfig} validates it (a run without one never
 * loads it).
 */
export function setsSchedule(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(setsSchedule);
  if (!isRecord(value)) return false;
  return Object.entries(value).some(([k, v]) => (k === "schedule" && v !== "") || setsSchedule(v));
}

/** `MCALL_<SECTION>_<KEY>` of a config path. */
export function envName(path: string): string {
  return "MCALL_" + path.split(".").map(screamingSnake).join("_");
}

/** The JSON value of `text`, or `undefined` when it is not JSON. */
function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * The environment as a layer. `env` is injected so tests need not touch the real one. A list
 * value that is not JSON is parsed as YAML, which needs {@linkcode loadYaml} first
 * ({@linkcode readEnvLayer} does that).
 */
export function envLayer(env: Readonly<Record<string, string>>): Layer {
  const values: RawLayer = {};
  const sources = new Map<string, string>();
  const set = (path: string, value: unknown, name: string) => {
    setPath(values, path, value);
    sources.set(path, name);
  };
  const kinds = new Map(leaves().map(({ path, kind }) => [path, kind]));
  // The original's variables; the MCALL_* ones below win over them. An empty NAMESPACE or
  // HOSTNAME says nothing; an empty LEADER_ELECTION says false.
  for (const [name, path] of Object.entries(ORIGINAL_ENV)) {
    const text = env[name];
    if (text === undefined || (text === "" && kinds.get(path) !== "boolean")) continue;
    set(path, coerce(text, kinds.get(path)!, name), name);
  }
  const known = new Set(OTHER_ENV);
  for (const [alias, path] of Object.entries(ENV_ALIASES)) {
    known.add(alias);
    const text = env[alias];
    if (text !== undefined) set(path, coerce(text, kinds.get(path)!, alias), alias);
  }
  for (const [path, kind] of kinds) {
    const name = envName(path);
    known.add(name);
    const text = env[name];
    if (text === undefined) continue;
    set(path, coerce(text, kind, name), name);
  }
  // A typo never silently does nothing: warn (not fail: Kubernetes injects variables such as
  // MCALL_SERVICE_HOST for a Service named mcall), naming the nearest known name.
  const warnings = Object.keys(env).filter((name) => name.startsWith("MCALL_") && !known.has(name))
    .sort().map((name) =>
      `${name} is not a setting and is ignored (did you mean ${nearest(name, [...known])}?)`
    );
  if (isRecord(values.request) && values.request.input !== undefined) {
    return { values: normaliseInputJson(values, "MCALL_REQUEST_INPUT"), sources, warnings };
  }
  return { values, sources, warnings };
}

/** Options for {@linkcode loadConfig}. */
export interface LoadOptions {
  /** Layers from lowest to highest precedence (file, env, flags). */
  readonly layers: readonly Layer[];
  /** Receives one-line warnings: the layers' own and the original's do-nothing keys. */
  readonly warn?: (message: string) => void;
}

/**
 * Merges the layers and validates the result.
 *
 * @returns The configuration with every default applied.
 * @throws {ConfigError} naming the first bad path, its source and value.
 */
export function loadConfig({ layers, warn = () => {} }: LoadOptions): Config {
  let merged: RawLayer = {};
  const sources = new Map<string, string>();
  for (const layer of layers) {
    merged = deepMerge(merged, layer.values);
    for (const [k, v] of layer.sources) sources.set(k, v);
    for (const w of layer.warnings ?? []) warn(w);
  }
  merged = dropOriginalKeys(merged, warn);
  const parsed = ConfigSchema.safeParse(merged, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(describeIssue(realLimit(merged, parsed.error.issues[0]!), sources));
  }
  checkRelations(parsed.data);
  checkCadences(parsed.data);
  const { webserver, election, request } = parsed.data;
  if (webserver.enable && !election.enabled && (request.inputs?.length ?? 0) > 0) {
    warn("request.inputs: not run in serve mode (-w); each request brings its own inputs");
  }
  return parsed.data;
}

/** Cross-field rules zod cannot express per field: the lease timings (`lib/election/timings.ts`). */
function checkRelations(config: Config): void {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = config.election;
  const [lease, renew, retry] = [leaseDurationMs, renewDeadlineMs, retryPeriodMs].map((ms) =>
    formatDurationMs(ms)
  );
  const violation = leaseTimingViolation({ leaseDurationMs, renewDeadlineMs, retryPeriodMs });
  switch (violation?.rule) {
    case undefined:
      return;
    case "positive": // the schema's minimums keep every timing positive
      throw new ConfigError(`election: ${violation.option} must be positive`);
    case "wholeSeconds":
      throw new ConfigError(
        `election.leaseDuration: ${lease} is not a whole number of seconds (a Lease stores seconds)`,
      );
    case "renewBelowLease":
      throw new ConfigError(
        `election.renewDeadline (${renew}) must be less than election.leaseDuration (${lease})`,
      );
    case "renewAboveRetry":
      throw new ConfigError(
        `election.renewDeadline (${renew}) must be greater than ${LEASE_JITTER_FACTOR} × ` +
          `election.retryPeriod (${retry})`,
      );
  }
}

/** The inputs of a config, or an error when there are none to run. */
export function requireInputs(config: Config): readonly InputConfig[] {
  const inputs = config.request.inputs ?? [];
  if (inputs.length === 0) {
    throw new ConfigError("request.inputs: no inputs to run (give -i, or a config file with -c)");
  }
  return inputs;
}

/** Every settable leaf of the schema with the kind env text coerces to. */
export function leaves(): { path: string; kind: LeafKind }[] {
  return fields(ConfigSchema).map(({ path, kind }) => ({ path, kind }));
}

function coerce(text: string, kind: LeafKind, name: string): unknown {
  switch (kind) {
    case "boolean":
      return parseBool(text, name);
    case "number":
      return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
    case "list": {
      // JSON is YAML too: only text that is not JSON needs the YAML parser.
      const json = parseJson(text);
      if (json !== undefined) return json.value;
      const parser = yaml();
      try {
        return parser.parse(text, { logLevel: "error" });
      } catch {
        throw new ConfigError(`${name}: expected a YAML or JSON list`);
      }
    }
    default:
      return text;
  }
}

function screamingSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Objects merge key by key; anything else (arrays included) is replaced by the higher layer. */
function deepMerge(low: RawLayer, high: RawLayer): RawLayer {
  const out: RawLayer = { ...low };
  for (const [key, value] of Object.entries(high)) {
    if (value === undefined) continue;
    const base = out[key];
    out[key] = isRecord(base) && isRecord(value) ? deepMerge(base, value) : value;
  }
  return out;
}
