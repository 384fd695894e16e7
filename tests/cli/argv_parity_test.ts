/**
 * lib/cli/argv.ts claims node's `parseArgs({ strict: true, allowPositionals: true })` contract:
 * a differential run against `node:util` itself (imported here only; the program never loads it).
 * Same accept/refuse verdict and, when accepted, the same values and positionals.
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { type OptionSpec, parseArgv } from "../../lib/cli/argv.ts";
import { parseCli } from "../../lib/cli/args.ts";
import { ConfigError } from "../../lib/config/layer.ts";

const OPTIONS: Record<string, OptionSpec> = {
  input: { type: "string", short: "i" },
  subject: { type: "string" },
  worker: { type: "string" },
  format: { type: "string", short: "f" },
  web: { type: "boolean", short: "w" },
  version: { type: "boolean", short: "v" },
};

const CASES: string[][] = [
  ["--subject=-x", "-i", "true"],
  ["--subject", "-x", "-i", "true"],
  ["--worker=-1"],
  ["--worker", "-1"],
  ["--worker=--1"],
  ["--input=-x"],
  ["--input="],
  ["--input=a=b"],
  ["--input", "-"],
  ["--input", "--"],
  ["--input", "--web"],
  ["-i", "-x"],
  ["-i-x"],
  ["-i=x"],
  ["-ix"],
  ["-wix"],
  ["-wi", "x"],
  ["-wi"],
  ["-wfplain", "run"],
  ["-w", "--", "-i", "x"],
  ["--web=true"],
  ["--web=", "x"],
  ["-"],
  ["--"],
  ["-x"],
  ["--bogus=1"],
  ["--input"],
  ["-i", "a", "--input=b"],
  ["status", "-w", "x"],
];

function ours(args: string[]) {
  try {
    const { values, positionals } = parseArgv(args, OPTIONS);
    return { values: { ...values }, positionals };
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return "refused";
  }
}

function node(args: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    });
    return { values: { ...values }, positionals };
  } catch {
    return "refused";
  }
}

Deno.test("parseArgv agrees with node:util parseArgs (strict, positionals allowed)", async (t) => {
  for (const args of CASES) {
    await t.step(JSON.stringify(args), () => assert.deepEqual(ours(args), node(args)));
  }
});

Deno.test("parseCli: the --flag=value form takes values that start with a dash", () => {
  const subject = parseCli(["--subject=-x", "-i", "true"]).layer.values;
  assert.deepEqual(subject.request, { subject: "-x", inputs: [{ input: "true" }] });
  // Go's one-dash spelling too: the value stays attached, so the schema judges it.
  assert.deepEqual(parseCli(["-worker=-1"]).layer.values, { worker: { number: -1 } });
  assert.deepEqual(parseCli(["-subject=-x"]).layer.values, { request: { subject: "-x" } });
  // A detached dash value is still ambiguous, as parseArgs says.
  assert.throws(() => parseCli(["--subject", "-x"]), /argument is ambiguous/);
});
