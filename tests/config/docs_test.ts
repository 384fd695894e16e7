/**
 * docs/configuration.md is generated from the configuration schema by `scripts/config_docs.ts`
 * (`scripts/deno task docs`): the committed file must be what the generator prints, so it cannot
 * drift from the schema, the environment names or the flags.
 */
import assert from "node:assert/strict";
import { DOC_PATH, renderConfigDocs } from "../../scripts/config_docs.ts";
import { leaves } from "../../lib/config/load.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("docs/configuration.md is what `scripts/deno task docs` generates", async () => {
  const committed = await Deno.readTextFile(`${ROOT}${DOC_PATH}`);
  assert.ok(
    committed === renderConfigDocs(),
    `${DOC_PATH} is stale: regenerate it with \`scripts/deno task docs\` and commit the result`,
  );
});

Deno.test("docs/configuration.md has a row for every setting, with its environment variable", () => {
  const doc = renderConfigDocs();
  for (const { path } of leaves()) {
    const row = doc.split("\n").find((line) => line.startsWith(`| \`${path}\` `));
    assert.ok(row, `no row for ${path}`);
    const env = "MCALL_" + path.split(".").map((k) => k.replace(/([a-z])([A-Z])/g, "$1_$2"))
      .join("_").toUpperCase();
    assert.ok(row.includes(`\`${env}\``), `${path}: ${env} missing from ${row}`);
  }
});
