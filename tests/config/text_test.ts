/**
 * Config text → layer: JSON read as JSON (same result as YAML, repeated keys refused as YAML
 * refuses them), YAML capped, alias cycles and non-finite numbers reported by field.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import {
  loadConfig,
  loadYaml,
  parseConfigText,
  readConfigFile,
  YAML_TEXT_CAP,
} from "../../lib/config/load.ts";
import { CONFIG_FILE_CAP } from "../../lib/files/bounded_read.ts";

await loadYaml();

const load = (text: string) =>
  loadConfig({ layers: [{ values: parseConfigText(text), sources: new Map() }] });

/** The one-line ConfigError message `fn` throws. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes("\n"));
    return err.message;
  }
  assert.fail("no ConfigError");
}

Deno.test("config: a YAML alias cycle is exit-2 material naming the field, not a JSON error", () => {
  assert.equal(
    configError(() => load("request: {subject: &r {a: *r}}")),
    "request.subject.a: a YAML alias that contains itself (an alias cycle)",
  );
  assert.equal(
    configError(() => load('request: {inputs: [{input: "true", name: &r [*r]}]}')),
    "request.inputs[0].name[0]: a YAML alias that contains itself (an alias cycle)",
  );
  // A shared anchor is not a cycle.
  assert.equal(load("request: {subject: &s x, timeout: 5s}\nlog: {file: ''}").request.subject, "x");
});

Deno.test("config: .nan and .inf show as NaN and Infinity, not as JSON's null", () => {
  assert.equal(
    configError(() => load("worker: {number: .nan}")),
    "worker.number: expected number, got NaN",
  );
  assert.equal(
    configError(() => load("worker: {number: .inf}")),
    "worker.number: expected number, got Infinity",
  );
  assert.equal(
    configError(() => load("worker: {number: -.inf}")),
    "worker.number: expected number, got -Infinity",
  );
});

Deno.test("config: JSON text parses as JSON to the layer YAML gives it", () => {
  const texts = [
    '{"worker": {"number": 3}, "request": {"inputs": [{"input": "echo a", "name": "x\\u00e9"}]}}',
    '  \n{"request": {"subject": "s", "timeout": "5s", "inputs": []}, "log": {"level": "warn"}}',
    '{"a": [1, 2.5e3, -0, true, null, "\\"q\\\\"], "b": {}}',
  ];
  for (const text of texts) {
    const viaYaml = parseConfigText(`# a comment makes it YAML\n${text}`);
    assert.deepEqual(parseConfigText(text), viaYaml, text);
  }
});

Deno.test("config: a key repeated in JSON is refused with its path, as YAML refuses it", () => {
  assert.equal(
    configError(() => parseConfigText('{"worker": {"number": 2}, "worker": {"number": 3}}')),
    "config: worker: a repeated key",
  );
  assert.equal(
    configError(() =>
      parseConfigText(
        '{"request": {"inputs": [{"input": "a"}, {"input": "b", "\\u0069nput": "c"}]}}',
      )
    ),
    "config: request.inputs[1].input: a repeated key",
  );
  // Equal keys in different objects are fine; so is a key that only looks alike.
  assert.deepEqual(parseConfigText('{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}], "A": 0}'), {
    a: { a: 1 },
    b: [{ a: 1 }, { a: 2 }],
    A: 0,
  });
  assert.match(configError(() => parseConfigText("{a: 1, a: 2}")), /^config: invalid YAML: /);
});

Deno.test("config: YAML over its cap is refused in one line; JSON up to the file cap is read", () => {
  const input = (i: number) => `    - input: echo ${i}\n`;
  let yaml = "request:\n  inputs:\n";
  for (let i = 0; yaml.length <= YAML_TEXT_CAP; i++) yaml += input(i);
  assert.match(
    configError(() => parseConfigText(yaml, "big.yaml")),
    /^big\.yaml: 26\d{4} bytes of YAML is over the 256 KiB cap for YAML \(write it as JSON: up to 4 MiB\)$/,
  );
  const inputs: string[] = [];
  let size = 40;
  for (let i = 0; size < CONFIG_FILE_CAP - 100; i++) {
    const one = `{"input": "echo ${i}"}`;
    inputs.push(one);
    size += one.length + 1;
  }
  const config = load(`{"request": {"inputs": [${inputs.join(",")}]}}`);
  assert.equal(config.request.inputs?.length, inputs.length);
  assert.equal(config.request.inputs?.at(-1)?.input, `echo ${inputs.length - 1}`);
});

Deno.test("readConfigFile() refuses a file over the cap naming the file and the cap", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/big.json`;
    await Deno.writeTextFile(path, " ".repeat(CONFIG_FILE_CAP + 1));
    const err = await readConfigFile(path).catch((e) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `config file "${path}": larger than the 4 MiB cap`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: an input loses only the blanks sh ignores around it (no trim())", () => {
  const inputs = load(
    'request: {inputs: [{input: "  echo a\\\\  "}, {input: "\\u00a0x\\r"}, {input: "\\ttrue\\n"}]}',
  ).request.inputs!.map((i) => i.input);
  assert.deepEqual(inputs, ["echo a\\ ", "\u00a0x\r", "true"]);
  assert.match(
    configError(() => load('request: {inputs: [{input: " \\t\\n"}]}')),
    /must not be empty/,
  );
});
