/**
 * The chart's documentation has one source, the `## @param` comments of `chart/values.yaml`:
 * `scripts/chart_docs.ts` (`scripts/deno task chart-docs`) writes the README's parameter tables
 * and the schema's types and descriptions from them with `@bitnami/readme-generator-for-helm`,
 * and merges the constraints of `scripts/chart_schema_rules.ts`. The committed files must be what
 * it prints.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  ChartDocsError,
  escapePipes,
  mergeSchema,
  README_PATH,
  renderChartDocs,
  SCHEMA_PATH,
  VALUES_PATH,
} from "../../scripts/chart_docs.ts";
import { CHART_DIR, ROOT } from "./helpers.ts";

Deno.test("chart docs: README.md and values.schema.json are what `deno task chart-docs` writes", async () => {
  const docs = await renderChartDocs();
  const hint = "regenerate with `scripts/deno task chart-docs` and commit the result";
  assert.ok(
    docs.readme === await Deno.readTextFile(`${ROOT}${README_PATH}`),
    `${README_PATH} is stale: ${hint}`,
  );
  assert.ok(
    docs.schema === await Deno.readTextFile(`${ROOT}${SCHEMA_PATH}`),
    `${SCHEMA_PATH} is stale: ${hint}`,
  );
});

Deno.test("chart docs: the schema declares every value of values.yaml, with its @param text", async () => {
  const schema = JSON.parse(await Deno.readTextFile(`${CHART_DIR}/values.schema.json`));
  const valuesText = await Deno.readTextFile(`${CHART_DIR}/values.yaml`);
  const values = parseYaml(valuesText) as Record<string, unknown>;
  assert.deepEqual(Object.keys(values).filter((k) => !(k in schema.properties)), []);
  // A nested value: its description is its @param text, its constraints are the rules'.
  const param = /## @param election\.leaseDuration (.+)$/m.exec(valuesText)![1];
  const lease = schema.properties.election.properties.leaseDuration;
  assert.equal(lease.description, param);
  assert.ok(lease.pattern, "the duration pattern of scripts/chart_schema_rules.ts is missing");
  assert.equal(schema.properties.election.additionalProperties, false);
});

Deno.test("chart docs: the tasks row names every expect form of docs/commands.md, by its example", async () => {
  const commands = await Deno.readTextFile(`${ROOT}docs/commands.md`);
  const forms = commands.slice(
    commands.indexOf("### The forms"),
    commands.indexOf("#### `status=`"),
  );
  // The forms table's rows: | form | `example` | holds when |
  const examples = [...forms.matchAll(/^\| [a-z ]+ +\| (`[^`]+`) +\|/gm)].map((m) => m[1]!);
  assert.equal(examples.length, 4, forms);
  const readme = await Deno.readTextFile(`${ROOT}${README_PATH}`);
  const row = readme.split("\n").find((l) => l.startsWith("| `tasks` "));
  assert.ok(row, "no tasks row in the README");
  for (const example of examples) assert.ok(row.includes(example), `${example} not in: ${row}`);
  assert.ok(row.includes("docs/commands.md"));
});

Deno.test("chart docs: rules replace generated keywords and merge properties by name", () => {
  const generated = {
    type: "object",
    properties: {
      a: { type: "number", description: "x \\| y", default: 1 },
      b: { type: "object", description: "n", default: null, nullable: true },
    },
  };
  const merged = mergeSchema(generated, {
    additionalProperties: false,
    properties: {
      a: { type: "integer", minimum: 1 },
      b: { type: ["integer", "null"] },
      extra: { type: "object", description: "only in the rules" },
    },
  });
  assert.deepEqual(merged, {
    type: "object",
    additionalProperties: false,
    properties: {
      a: { type: "integer", description: "x | y", minimum: 1 },
      b: { type: ["integer", "null"], description: "n" },
      extra: { type: "object", description: "only in the rules" },
    },
  });
});

Deno.test("chart docs: a rule for a value values.yaml lacks, or an untyped nullable, is an error", () => {
  const generated = { type: "object", properties: { a: { type: "object", nullable: true } } };
  assert.throws(
    () => mergeSchema(generated, { properties: { a: { type: "integer" }, gone: { minimum: 1 } } }),
    (err) => err instanceof ChartDocsError && /^gone: .* does not document$/.test(err.message),
  );
  assert.throws(
    () => mergeSchema(generated, { properties: { a: { minimum: 1 } } }),
    (err) => err instanceof ChartDocsError && err.message.startsWith("a: a [nullable] value"),
  );
});

/** A scratch copy of what `scripts/chart_docs.ts` reads and writes. */
async function scratchRepo(
  values: (text: string) => string,
  readme: (text: string) => string = (text) => text,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chart-docs-test-" });
  await Deno.mkdir(`${dir}/chart`);
  await Deno.mkdir(`${dir}/scripts`);
  for (const f of ["deno.json", "deno.lock", README_PATH, SCHEMA_PATH, VALUES_PATH]) {
    await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`);
  }
  for (const f of ["chart_docs.ts", "chart_schema_rules.ts"]) {
    await Deno.copyFile(`${ROOT}scripts/${f}`, `${dir}/scripts/${f}`);
  }
  await Deno.writeTextFile(
    `${dir}/${README_PATH}`,
    readme(await Deno.readTextFile(`${ROOT}${README_PATH}`)),
  );
  await Deno.writeTextFile(
    `${dir}/${VALUES_PATH}`,
    values(await Deno.readTextFile(`${ROOT}${VALUES_PATH}`)),
  );
  return dir;
}

const BAD_INPUTS = [
  {
    what: "a value without a @param comment",
    values: (text: string) => text + "undocumentedKey: 1\n",
    line: "chart-docs: chart/values.yaml: Missing metadata for key: undocumentedKey",
  },
  {
    what: "a @param comment for no value",
    values: (text: string) => text + "## @param ghost A value that is not there\n",
    line: "chart-docs: chart/values.yaml: Metadata provided for non existing key: ghost",
  },
  {
    what: "a README without a Parameters section",
    readme: (text: string) => text.replace("## Parameters", "## Values"),
    line: 'chart-docs: chart/README.md: needs one "## Parameters" section for the tables',
  },
];

for (const bad of BAD_INPUTS) {
  Deno.test(`chart docs: ${bad.what} fails the task in one line, exit 2, writing nothing`, async () => {
    const dir = await scratchRepo(bad.values ?? ((t) => t), bad.readme);
    try {
      const before = await Deno.readTextFile(`${dir}/${README_PATH}`);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--config", `${dir}/deno.json`, "chart-docs"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.deepEqual(stderr.split("\n").filter((l) => l.startsWith("chart-docs:")), [bad.line]);
      assert.doesNotMatch(stderr, /\n\s+at /, "a stack trace");
      assert.equal(await Deno.readTextFile(`${dir}/${README_PATH}`), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("chart docs: a | in a @param text is escaped for the README table, once", () => {
  const values = "## @param a one|two \\| three\nkey: a|b\n  ## @param b.c x|y\n";
  assert.equal(
    escapePipes(values),
    "## @param a one\\|two \\| three\nkey: a|b\n  ## @param b.c x\\|y\n",
  );
});
