/**
 * Generates docs/configuration.md from the configuration schema (`lib/config/schema.ts`): every
 * field's path, type, bounds or pattern, default and description, with the environment variables
 * (`lib/config/load.ts`) and flags (`lib/cli/args.ts`) that set it. Only the short prose around
 * the tables is written here.
 *
 * Regenerate with `scripts/deno task docs`; `tests/config/docs_test.ts` fails when the committed
 * file differs from what this prints.
 *
 * @module
 */
import { z } from "zod/mini";
import { ConfigSchema, InputSchema } from "../lib/config/schema.ts";
import { type Field, fields } from "../lib/config/fields.ts";
import { ENV_ALIASES, envName, ORIGINAL_ENV } from "../lib/config/load.ts";
import { FLAGS } from "../lib/cli/flags.ts";
import { formatDurationMs } from "../lib/time/duration.ts";

/** Where the generated file lives, from the repository root. */
export const DOC_PATH = "docs/configuration.md";

const HEADER = `# Configuration

Part of the [dz-mcall](../README.md) documentation. Generated from \`lib/config/schema.ts\` by
\`scripts/deno task docs\` (\`scripts/config_docs.ts\`): edit the schema's descriptions, not this file.

Precedence: **flags > environment > config file > defaults**. A flag you did not pass never
overrides the file. Every key can be set from the environment as \`MCALL_<SECTION>_<KEY>\` in upper
snake case (\`worker.number\` → \`MCALL_WORKER_NUMBER\`, \`request.inputs\` → \`MCALL_REQUEST_INPUTS\` as
YAML/JSON); the original's names are read too, and the \`MCALL_<SECTION>_<KEY>\` name wins if both are
set. The config file is \`-c FILE\` or \`MCALL_CONFIG\`. Unknown keys are errors (a typo never silently
does nothing); an unknown \`MCALL_*\` variable is a warning naming the nearest known one (a warning,
because Kubernetes injects \`<SERVICE>_SERVICE_HOST\`-style variables; the chart turns those off with
\`enableServiceLinks: false\`). Keys the original accepted but that do nothing here (\`response.es.*\`,
per-input \`id\`/\`pswd\`) are accepted with a one-line warning naming them. Flags are also accepted
Go-style, as the original's README writes them: \`-i="echo x"\`, \`-f=plain\`, \`-worker=4\`, \`-w=true\`.

Durations are written \`250ms\`, \`10s\`, \`5m\`, \`1h30m\`, or a plain number of seconds.

The lease timings must satisfy \`election.leaseDuration\` > \`election.renewDeadline\` > 1.2 ×
\`election.retryPeriod\`, the lease duration in whole seconds (a Lease stores seconds).

The original \`mcall.yaml\` layout is read unchanged — inputs as a JSON string:

\`\`\`yaml
request:
  type: cmd
  input: |
    {"inputs":[{"input":"echo 'Hello from task 1'","type":"cmd","name":"task1"}]}
\`\`\`

and inputs may also be a plain YAML list (what the Helm chart writes), see \`etc/mcall.yaml\`.
`;

/** Text in a table cell: pipes escaped. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

const code = (text: string) => "`" + text + "`";

/** A Markdown table laid out as `deno fmt` lays it out (padded columns). */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [head, ...rows].map((r) => r.map(cell));
  const width = (s: string) => [...s].length;
  const widths = head.map((_, i) => Math.max(3, ...all.map((r) => width(r[i]!))));
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => c + " ".repeat(widths[i]! - width(c))).join(" | ")} |`;
  return [line(all[0]!), line(widths.map((w) => "-".repeat(w))), ...all.slice(1).map(line)]
    .join("\n");
}

type CheckDef = {
  check: string;
  format?: string;
  pattern?: RegExp;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
};

/** A number's or a length's bounds and a number's format, folded from a schema's checks. */
function bounds(schema: z.ZodMiniType) {
  const checks = (schema._zod.def as { checks?: { _zod: { def: CheckDef } }[] }).checks ?? [];
  const out: { minimum?: number; maximum?: number; isInt?: boolean; patterns: RegExp[] } = {
    patterns: [],
  };
  for (const { _zod: { def } } of checks) {
    if (def.check === "number_format" && def.format?.includes("int")) out.isInt = true;
    if (def.check === "greater_than" && def.inclusive) out.minimum = def.value!;
    if (def.check === "less_than" && def.inclusive) out.maximum = def.value!;
    if (def.check === "min_length") out.minimum = def.minimum!;
    if (def.check === "max_length") out.maximum = def.maximum!;
    if (def.format === "regex") out.patterns.push(def.pattern!);
  }
  return out;
}
type Def = { type: string; entries?: Record<string, string> };

/** The values of the first enum among a field's schemas. */
function enumValues(field: Field): string[] | undefined {
  for (const layer of field.layers) {
    const def = layer._zod.def as Def;
    if (def.type === "enum" && def.entries) return Object.values(def.entries);
  }
  return undefined;
}

/** A field's type with its bounds or pattern. */
function typeOf(field: Field): string {
  const inner = field.inner;
  const bag = bounds(inner);
  const values = enumValues(field);
  if (values) return values.map((v) => code(v === "" ? '""' : v)).join(" | ");
  switch (field.kind) {
    case "boolean":
      return "boolean";
    case "duration": {
      const meta = field.layers
        .map((l) => z.globalRegistry.get(l)?.durationMs as { min: number; max: number })
        .find((m) => m);
      if (!meta) throw new Error(`${field.path}: a duration without its bounds`);
      return `duration, ${formatDurationMs(meta.min)} to ${formatDurationMs(meta.max)}`;
    }
    case "number": {
      const kind = bag.isInt ? "integer" : "number";
      const { minimum: min, maximum: max } = bag;
      return min != null && max != null ? `${kind}, ${min} to ${max}` : kind;
    }
    case "list":
      return "list of inputs (below)";
  }
  if (inner._zod.def.type === "record") return "map of string to string";
  const { patterns } = bag;
  const parts = ["string"];
  if (patterns.length > 0) parts.push(`matching ${patterns.map((p) => code(p.source)).join(", ")}`);
  if (bag.minimum !== undefined && bag.minimum > 0) parts.push(`at least ${bag.minimum}`);
  if (bag.maximum !== undefined) parts.push(`at most ${bag.maximum} characters`);
  return parts.join(", ");
}

/** A field's default as the config file would write it. */
function defaultOf(field: Field): string {
  if (!field.default) return "—";
  const { value } = field.default;
  if (field.kind === "duration") return code(formatDurationMs(value as number));
  if (value === "") return code('""');
  return code(typeof value === "string" ? value : JSON.stringify(value));
}

/** The environment variables that set a config path. */
function envOf(path: string): string {
  const aliases = Object.entries({ ...ENV_ALIASES, ...ORIGINAL_ENV }).filter(([, p]) => p === path)
    .map(([name]) => name);
  return [envName(path), ...aliases].map(code).join(", ");
}

/** The flags that set a config path (`-i` builds `request.inputs` from its list). */
function flagsOf(path: string): string {
  return FLAGS.filter((f) => f.path === path || (f.long === "input" && path === "request.inputs"))
    .map(flagText).join(", ");
}

function flagText(flag: typeof FLAGS[number]): string {
  const long = flag.arg ? `--${flag.long} ${flag.arg}` : `--${flag.long}`;
  return [flag.short && `-${flag.short}`, flag.alias && `-${flag.alias}`, long].filter(Boolean)
    .map((f) => code(f as string)).join(", ");
}

function describe(field: Field, where: string): string {
  if (!field.description) throw new Error(`${where}${field.path} has no .describe() text`);
  return field.description;
}

/**
 * The whole of docs/configuration.md.
 *
 * @throws {Error} When a field has no description or a duration no bounds.
 */
export function renderConfigDocs(): string {
  const settings = fields(ConfigSchema).map((f) => [
    code(f.path),
    typeOf(f),
    defaultOf(f),
    envOf(f.path),
    flagsOf(f.path),
    describe(f, ""),
  ]);
  const inputs = fields(InputSchema).map((f) => [
    code(f.path),
    typeOf(f),
    describe(f, "request.inputs[]."),
  ]);
  const cliOnly = FLAGS.filter((f) => f.path === undefined && f.long !== "input")
    .map((f) => [flagText(f), f.help]);
  return [
    HEADER,
    "## Settings\n",
    table(["key", "type", "default", "environment", "flag", "meaning"], settings),
    "\n## Per input (`request.inputs[]`)\n",
    "Each input sets these keys; `input` is required, the others default as their meaning says.\n",
    table(["key", "type", "meaning"], inputs),
    "\n## Flags that set no key\n",
    table(["flag", "meaning"], cliOnly),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  await Deno.writeTextFile(`${root}${DOC_PATH}`, renderConfigDocs());
  console.log(`wrote ${DOC_PATH}`);
}
