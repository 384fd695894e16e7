/**
 * Generates the chart's documentation from the `## @param` comments of `chart/values.yaml` with
 * `@bitnami/readme-generator-for-helm` (pinned in deno.json, run in-process):
 *
 * - `chart/README.md`: the tables of its `## Parameters` section (name, description, default);
 * - `chart/values.schema.json`: the generator's types (from the defaults) and descriptions (from
 *   the `@param` texts), merged with the constraints it cannot express, which live in
 *   `scripts/chart_schema_rules.ts`.
 *
 * Regenerate with `scripts/deno task chart-docs`; `tests/chart/docs_test.ts` fails when the
 * committed files differ from what this prints. A value without a `@param` comment (or a comment
 * for a value that does not exist) is an error naming it, exit code 2, and nothing is written.
 *
 * @module
 */
import readmeGenerator from "@bitnami/readme-generator-for-helm";
import { SCHEMA_RULES, type SchemaRule } from "./chart_schema_rules.ts";

/** The files, from the repository root. */
export const VALUES_PATH = "chart/values.yaml";
export const README_PATH = "chart/README.md";
export const SCHEMA_PATH = "chart/values.schema.json";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** values.yaml's comments do not match its values, or a schema rule names no value. */
export class ChartDocsError extends Error {
  override name = "ChartDocsError";
}

/** What the generator makes of the committed files. */
export interface ChartDocs {
  readme: string;
  schema: string;
}

type Node = { [keyword: string]: unknown };

const isObject = (v: unknown): v is Node =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Merges the rules into a generated schema node: a rule's keywords replace the generated ones,
 * `properties` merge name by name (see scripts/chart_schema_rules.ts). Of the generated node it
 * drops `default` (values.yaml is the one home of defaults) and the OpenAPI `nullable` (the rules
 * give such a value a JSON Schema type list), and unescapes the `\|` that README table cells
 * need in descriptions.
 *
 * @param generated The generator's node at `path`.
 * @param rule The rules at `path` (`{}` for none).
 * @param path The values path, for errors (`""` at the root).
 * @returns The merged node.
 * @throws {ChartDocsError} When a rule names a value values.yaml does not have and carries no
 *   description, or a `[nullable]` value gets no type from the rules.
 */
export function mergeSchema(generated: Node, rule: SchemaRule, path = ""): Node {
  if (generated.nullable === true && rule.type === undefined) {
    throw new ChartDocsError(
      `${path}: a [nullable] value needs its type in scripts/chart_schema_rules.ts`,
    );
  }
  const ruleProps = isObject(rule.properties) ? rule.properties : {};
  const node: Node = {};
  for (const [key, value] of Object.entries(generated)) {
    if (key === "default" || key === "nullable") continue;
    if (key === "description" && typeof value === "string") {
      node[key] = value.replaceAll("\\|", "|");
    } else if (key === "properties" && isObject(value)) {
      node[key] = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [
          name,
          mergeSchema(child as Node, (ruleProps[name] ?? {}) as SchemaRule, join(path, name)),
        ]),
      );
    } else {
      node[key] = value;
    }
  }
  for (const [key, value] of Object.entries(rule)) {
    if (key !== "properties") node[key] = value;
  }
  const props = isObject(node.properties) ? node.properties : {};
  for (const [name, childRule] of Object.entries(ruleProps)) {
    if (name in props) continue;
    if (!isObject(childRule) || typeof childRule.description !== "string") {
      throw new ChartDocsError(
        `${
          join(path, name)
        }: scripts/chart_schema_rules.ts constrains a value ${VALUES_PATH} does not document`,
      );
    }
    props[name] = childRule;
  }
  if (Object.keys(props).length > 0) node.properties = props;
  return node;
}

const join = (path: string, name: string) => path ? `${path}.${name}` : name;

/**
 * values.yaml with every `|` of a `## @param` comment escaped as `\|`: the generator copies the
 * text into a README table cell, where a bare `|` ends the cell. (`mergeSchema` unescapes the
 * schema's descriptions.) An already escaped `\|` stays as it is.
 */
export function escapePipes(valuesYaml: string): string {
  return valuesYaml.replace(
    /^(\s*## @param .*)$/gm,
    (line) => line.replace(/(?<!\\)\|/g, "\\|"),
  );
}

/**
 * Runs the generator on copies of values.yaml and README.md and merges the schema rules.
 *
 * @param root The repository root (tests pass a scratch copy).
 * @returns The README and the schema as the generator and the rules make them.
 * @throws {ChartDocsError} When the `@param` comments and the values disagree, with the
 *   generator's own error lines.
 */
export async function renderChartDocs(root = ROOT): Promise<ChartDocs> {
  const dir = await Deno.makeTempDir({ prefix: "chart-docs-" });
  const readme = `${dir}/README.md`;
  const schema = `${dir}/values.schema.json`;
  const values = `${dir}/values.yaml`;
  await Deno.copyFile(`${root}/${README_PATH}`, readme);
  await Deno.writeTextFile(
    values,
    escapePipes(await Deno.readTextFile(`${root}/${VALUES_PATH}`)),
  );
  // The generator prints progress and its errors through console.log; keep its ERROR lines.
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    readmeGenerator.runReadmeGenerator({ values, readme, schema });
    const generated = JSON.parse(await Deno.readTextFile(schema)) as Node;
    const merged = mergeSchema(generated, SCHEMA_RULES);
    // `$schema` and the keywords first, properties last, as a reader scans a schema.
    const { $schema, title, properties, ...keywords } = merged;
    return {
      readme: await Deno.readTextFile(readme),
      schema: JSON.stringify({ $schema, title, ...keywords, properties }, null, 2) + "\n",
    };
  } catch (err) {
    if (err instanceof ChartDocsError) throw err;
    const errors = lines.filter((l) => l.startsWith("ERROR: ")).map((l) => l.slice(7));
    if (errors.length > 0) throw new ChartDocsError(`${VALUES_PATH}: ${errors.join("; ")}`);
    if (/Parameters section/.test((err as Error).message)) {
      throw new ChartDocsError(`${README_PATH}: needs one "## Parameters" section for the tables`);
    }
    throw err;
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    const docs = await renderChartDocs();
    await Deno.writeTextFile(`${ROOT}/${README_PATH}`, docs.readme);
    await Deno.writeTextFile(`${ROOT}/${SCHEMA_PATH}`, docs.schema);
    console.log(`chart-docs: wrote ${README_PATH} and ${SCHEMA_PATH}`);
  } catch (err) {
    if (!(err instanceof ChartDocsError)) throw err;
    console.error(`chart-docs: ${err.message}`);
    Deno.exit(2);
  }
}
