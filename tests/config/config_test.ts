import assert from "node:assert/strict";
import process from "node:process";
import { parseCli } from "../../lib/cli/args.ts";
import { ConfigError, type Layer } from "../../lib/config/layer.ts";
import {
  envLayer,
  loadConfig,
  loadYaml,
  parseConfigText,
  readConfigFile,
  readEnvLayer,
} from "../../lib/config/load.ts";
import { formatDurationMs, parseDurationMs } from "../../lib/time/duration.ts";

await loadYaml(); // parseConfigText and YAML-valued env lists need the lazily loaded parser
const fileLayer = (text: string): Layer => ({ values: parseConfigText(text), sources: new Map() });

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.ok(!err.message.includes("\n"), `message is one line: ${err.message}`);
    return err.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("loadConfig() applies every default to an empty config", () => {
  const config = loadConfig({ layers: [] });
  assert.equal(config.request.timeoutMs, 10_000);
  assert.equal(config.request.type, "cmd");
  assert.equal(config.worker.number, 10);
  assert.equal(config.response.format, "json");
  assert.equal(config.webserver.host, "127.0.0.1");
  assert.equal(config.webserver.port, 3000);
  assert.equal(config.election.leaseName, "dz-mcall-leader");
  assert.equal(config.election.leaseDurationMs, 15_000);
  assert.equal(config.election.renewDeadlineMs, 10_000);
  assert.equal(config.election.retryPeriodMs, 2_000);
  assert.equal(config.tasks.intervalMs, 300_000);
  assert.equal(config.tasks.pollIntervalMs, 30_000);
  assert.equal(config.tasks.historyLimit, 3);
  assert.equal(config.tasks.failedHistoryLimit, 1);
  assert.equal(config.tasks.maxAttempts, 3);
});

Deno.test("readConfigFile() reads the original layout with request.input as a JSON string", async () => {
  const config = loadConfig({ layers: [await readConfigFile("etc/mcall-original.yaml")] });
  assert.deepEqual(config.request.inputs?.map((i) => [i.name, i.input]), [
    ["task1", "echo 'Hello from task 1'"],
    ["task2", "echo 'Hello from task 2'"],
  ]);
  assert.equal(config.response.format, "plain");
  assert.equal(config.worker.number, 3);
});

Deno.test("readConfigFile() reads the bundled example with request.inputs as a list", async () => {
  const config = loadConfig({ layers: [await readConfigFile("etc/mcall.yaml")] });
  assert.equal(config.request.inputs?.length, 4);
  assert.equal(config.request.inputs?.[3]?.shell, true);
  assert.equal(config.request.subject, "example");
});

Deno.test("readConfigFile() names a missing file", async () => {
  await assert.rejects(
    () => readConfigFile("/nonexistent/mcall.yaml"),
    (err: Error) =>
      err instanceof ConfigError && /"\/nonexistent\/mcall.yaml": no such file/.test(err.message),
  );
});

Deno.test("loadConfig() accepts the original's `plan` typo and upper-case log levels", () => {
  const config = loadConfig({
    layers: [fileLayer("response: {format: plan}\nlog: {level: DEBUG}")],
  });
  assert.equal(config.response.format, "plain");
  assert.equal(config.log.level, "debug");
});

Deno.test("loadConfig() parses durations in every accepted form", () => {
  const config = loadConfig({
    layers: [fileLayer("request: {timeout: 3}\ntasks: {interval: 1h30m, pollInterval: 250ms}")],
  });
  assert.equal(config.request.timeoutMs, 3_000);
  assert.equal(config.tasks.intervalMs, 5_400_000);
  assert.equal(config.tasks.pollIntervalMs, 250);
});

const badFiles: [string, string, RegExp][] = [
  [
    "unknown type",
    "request:\n  inputs:\n    - {input: a}\n    - {input: b}\n    - {input: c, type: gte}",
    /^request\.inputs\[2\]\.type: "gte" is not one of cmd, get, post$/,
  ],
  [
    "empty input",
    "request: {inputs: [{input: ''}]}",
    /^request\.inputs\[0\]\.input: "" must not be empty$/,
  ],
  ["missing input", "request: {inputs: [{name: x}]}", /^request\.inputs\[0\]\.input: is required$/],
  ["worker zero", "worker: {number: 0}", /^worker\.number: 0 is below the minimum of 1$/],
  ["worker text", "worker: {number: many}", /^worker\.number: expected number, got "many"$/],
  ["bad duration", "request: {timeout: soon}", /^request\.timeout: "soon" is not a duration/],
  ["unknown key", "request: {timout: 5}", /^request\.timout: is not a known setting$/],
  ["unknown section", "workers: {number: 5}", /^workers: is not a known setting$/],
  [
    "bad format",
    "response: {format: xml}",
    /^response\.format: "xml" is not one of json, plain, plan$/,
  ],
  [
    "bad encoding",
    "response: {encoding: {type: hex}}",
    /^response\.encoding\.type: "hex" is not one of "", std, url$/,
  ],
  [
    "bad port",
    "webserver: {port: 70000}",
    /^webserver\.port: 70000 is above the maximum of 65535$/,
  ],
  [
    "bad lease name",
    "election: {leaseName: Bad_Name}",
    /^election\.leaseName: "Bad_Name" is not a valid object name$/,
  ],
  [
    "bad headers",
    "request: {inputs: [{input: x, headers: [a]}]}",
    /^request\.inputs\[0\]\.headers: expected record, got \["a"\]$/,
  ],
  [
    "header value with CR LF",
    'request: {inputs: [{input: x, headers: {X: "a\\r\\nB: c"}}]}',
    /^request\.inputs\[0\]\.headers\.X: "a\\r\\nB: c" contains CR, LF, NUL or another control/,
  ],
  [
    "header value with NUL",
    'request: {inputs: [{input: x, headers: {X: "\\0"}}]}',
    /^request\.inputs\[0\]\.headers\.X: "\\u0000" contains CR, LF, NUL/,
  ],
  [
    "header name with a space",
    'request: {inputs: [{input: x, headers: {"a b": x}}]}',
    /^request\.inputs\[0\]\.headers\.a b: "a b" is not a valid header name/,
  ],
  ["input JSON broken", "request: {input: '{\"inputs\": ['}", /^request\.input: invalid JSON/],
  [
    "input JSON shape",
    "request: {input: '[1]'}",
    /^request\.input: expected \{"inputs": \[\.\.\.\]\}, got \[1\]$/,
  ],
  [
    "both input forms",
    "request: {input: '{}', inputs: []}",
    /^request\.input and request\.inputs are both set/,
  ],
  [
    "empty expect",
    "request: {inputs: [{input: x, expect: ''}]}",
    /^request\.inputs\[0\]\.expect: "" is empty$/,
  ],
  [
    "bad count expect",
    "request: {inputs: [{input: x, expect: '$count ~ 3'}]}",
    /^request\.inputs\[0\]\.expect: "\$count ~ 3" is not a valid count check/,
  ],
  [
    "bad regex expect",
    "request: {inputs: [{input: x, expect: '/a(/'}]}",
    /^request\.inputs\[0\]\.expect: "\/a\(\/" is not a valid regular expression/,
  ],
  [
    "a number beyond 2^53",
    "worker: {number: 99999999999999999999}",
    /^worker\.number: 100000000000000000000 is above the maximum of 1000$/,
  ],
  ["YAML error", "request: {a: b: c}", /^config: invalid YAML: [^\n]*[^:]$/],
  ["a key with a bracket (found by fuzzing)", 'u[4#!": x', /^u\[4#!": is not a known setting$/],
  ["not a mapping", "- a\n- b", /expected a mapping at the top level$/],
  ["invalid YAML", "request: [unclosed", /^config: invalid YAML/],
  [
    "fractional lease",
    "election: {leaseDuration: 15.5s}",
    /^election\.leaseDuration: 15s500ms is not a whole number of seconds \(a Lease stores seconds\)$/,
  ],
  [
    "renew >= lease",
    "election: {leaseDuration: 5s, renewDeadline: 5s}",
    /^election\.renewDeadline \(5s\) must be less than election\.leaseDuration \(5s\)$/,
  ],
  [
    "renew <= 1.2 retry",
    "election: {renewDeadline: 2s, retryPeriod: 2s}",
    /^election\.renewDeadline \(2s\) must be greater than 1\.2 × election\.retryPeriod \(2s\)$/,
  ],
];
for (const [what, text, pattern] of badFiles) {
  Deno.test(`loadConfig() rejects ${what} with a one-line message`, () => {
    const message = configError(() => loadConfig({ layers: [fileLayer(text)] }));
    assert.match(message, pattern);
  });
}

Deno.test("loadConfig() precedence is flags > environment > file > defaults", () => {
  const file = fileLayer(
    "worker: {number: 3}\nrequest: {timeout: 20s, subject: file}\nlog: {level: error}",
  );
  const env = envLayer({ MCALL_WORKER_NUMBER: "5", MCALL_REQUEST_SUBJECT: "env" });
  const flags = parseCli(["-worker", "7"]).layer;
  const config = loadConfig({ layers: [file, env, flags] });
  assert.equal(config.worker.number, 7, "flag beats env and file");
  assert.equal(config.request.subject, "env", "env beats file");
  assert.equal(config.request.timeoutMs, 20_000, "file beats default");
  assert.equal(config.log.level, "error");
  assert.equal(config.response.format, "json", "default where nobody set it");
});

Deno.test("loadConfig() never lets a flag the user did not pass override the file", () => {
  const file = fileLayer(
    "webserver: {port: 4000}\nresponse: {format: plain}\nrequest: {type: get}",
  );
  const config = loadConfig({ layers: [file, envLayer({}), parseCli(["-c", "x.yaml"]).layer] });
  assert.equal(config.webserver.port, 4000);
  assert.equal(config.response.format, "plain");
  assert.equal(config.request.type, "get");
});

Deno.test("loadConfig() replaces file inputs with -i inputs", () => {
  const file = fileLayer('request: {input: \'{"inputs":[{"input":"date"}]}\'}');
  const config = loadConfig({ layers: [file, parseCli(["-i", "echo a,echo b"]).layer] });
  assert.deepEqual(config.request.inputs?.map((i) => i.input), ["echo a", "echo b"]);
});

Deno.test("envLayer() maps MCALL_* names, the original's variables, and coerces types", () => {
  const config = loadConfig({
    layers: [envLayer({
      LEADER_ELECTION: "true",
      NAMESPACE: "ops",
      HOSTNAME: "pod-1",
      MCALL_ELECTION_LEASE_NAME: "custom-leader",
      MCALL_TASKS_POLL_INTERVAL: "5s",
      MCALL_TASKS_INSECURE_UNSIGNED_TASKS: "yes",
      MCALL_RESPONSE_ENCODING_TYPE: "url",
      MCALL_REQUEST_INPUTS: '[{"input": "true"}]',
    })],
  });
  assert.equal(config.election.enabled, true);
  assert.equal(config.election.namespace, "ops");
  assert.equal(config.election.identity, "pod-1");
  assert.equal(config.election.leaseName, "custom-leader");
  assert.equal(config.tasks.pollIntervalMs, 5_000);
  assert.equal(config.tasks.insecureUnsignedTasks, true);
  assert.equal(config.response.encoding.type, "url");
  assert.deepEqual(config.request.inputs, [{ input: "true" }]);
});

Deno.test("envLayer() errors name the variable", () => {
  assert.match(
    configError(() => envLayer({ LEADER_ELECTION: "maybe" })),
    /^LEADER_ELECTION: "maybe" is not true or false$/,
  );
  const message = configError(() =>
    loadConfig({ layers: [envLayer({ MCALL_WORKER_NUMBER: "lots" })] })
  );
  assert.equal(message, 'worker.number (from MCALL_WORKER_NUMBER): expected number, got "lots"');
});

Deno.test("loadConfig() errors name the flag a bad value came from", () => {
  const message = configError(() =>
    loadConfig({ layers: [parseCli(["-t", "gte", "-i", "x"]).layer] })
  );
  assert.equal(message, 'request.type (from --type): "gte" is not one of cmd, get, post');
});

Deno.test("parseDurationMs() reads compound durations and rejects junk", () => {
  assert.equal(parseDurationMs("1h2m3s4ms"), 3_723_004);
  assert.equal(parseDurationMs("1.5s"), 1_500);
  assert.equal(parseDurationMs("10"), 10_000);
  assert.equal(parseDurationMs(""), undefined);
  assert.equal(parseDurationMs("5 minutes"), undefined);
  assert.equal(parseDurationMs("m5"), undefined);
  assert.equal(formatDurationMs(3_723_004), "1h2m3s4ms");
});

Deno.test("readEnvLayer() parses a list variable as JSON, else as YAML", async () => {
  const json = await readEnvLayer({ MCALL_REQUEST_INPUTS: '[{"input": "true"}]' });
  assert.deepEqual(json.values, { request: { inputs: [{ input: "true" }] } });
  const yamlList = await readEnvLayer({ MCALL_REQUEST_INPUTS: "- input: echo hi\n  name: hi" });
  assert.deepEqual(yamlList.values, { request: { inputs: [{ input: "echo hi", name: "hi" }] } });
  assert.equal(
    configError(() => envLayer({ MCALL_REQUEST_INPUTS: "[oops" })),
    "MCALL_REQUEST_INPUTS: expected a YAML or JSON list",
  );
});

Deno.test("loadConfig() accepts the original's do-nothing keys with one warning line each", () => {
  const warnings: string[] = [];
  const file = fileLayer(
    "response: {format: json, es: {host: es, id: elastic, password: x, index_name: d}}\n" +
      `request: {input: '{"inputs":[{"input":"http://a","id":"u","pswd":"p"},{"input":"b"}]}'}`,
  );
  const config = loadConfig({ layers: [file], warn: (w) => warnings.push(w) });
  assert.equal(config.response.format, "json");
  assert.deepEqual(warnings, [
    "response.es: the original's Elasticsearch output is not supported; ignored",
    "request.inputs[0].id, [0].pswd: the original's id/pswd do nothing here; ignored",
  ]);
  // Keys the original never had stay errors.
  assert.match(
    configError(() => loadConfig({ layers: [fileLayer("response: {kafka: {}}")] })),
    /^response\.kafka: is not a known setting$/,
  );
});

Deno.test("readConfigFile() runs the original's layout, Elasticsearch block included", async () => {
  const warnings: string[] = [];
  const config = loadConfig({
    layers: [await readConfigFile("etc/mcall-original.yaml")],
    warn: (w) => warnings.push(w),
  });
  assert.equal(config.request.inputs?.length, 2);
  assert.deepEqual(warnings, [
    "response.es: the original's Elasticsearch output is not supported; ignored",
  ]);
});

Deno.test("envLayer() warns about an unknown MCALL_* variable, naming the nearest known one", () => {
  const layer = envLayer({ MCALL_WORKER_NUMBR: "3", MCALL_LOG_LEVL: "debug", PATH: "/bin" });
  assert.deepEqual(layer.warnings, [
    "MCALL_LOG_LEVL is not a setting and is ignored (did you mean MCALL_LOG_LEVEL?)",
    "MCALL_WORKER_NUMBR is not a setting and is ignored (did you mean MCALL_WORKER_NUMBER?)",
  ]);
  assert.deepEqual(envLayer({ MCALL_WEBSERVER_TOKEN: "x", MCALL_CONFIG: "y" }).warnings, []);
});

Deno.test("envLayer() accepts the original's MCALL_WORKER_NUM, MCALL_LOG_LEVEL, MCALL_HTTP_PORT", () => {
  const layer = envLayer({
    MCALL_WORKER_NUM: "7",
    MCALL_LOG_LEVEL: "DEBUG",
    MCALL_HTTP_PORT: "3100",
  });
  assert.deepEqual(layer.warnings, []);
  const config = loadConfig({ layers: [layer] });
  assert.equal(config.worker.number, 7);
  assert.equal(config.log.level, "debug");
  assert.equal(config.webserver.port, 3100);
  assert.equal(
    loadConfig({ layers: [envLayer({ MCALL_WORKER_NUM: "7", MCALL_WORKER_NUMBER: "2" })] }).worker
      .number,
    2,
  );
  assert.equal(
    configError(() => loadConfig({ layers: [envLayer({ MCALL_HTTP_PORT: "x" })] })),
    'webserver.port (from MCALL_HTTP_PORT): expected number, got "x"',
  );
});

Deno.test("loadConfig() warns that serve mode does not run configured inputs", () => {
  const warnings: string[] = [];
  loadConfig({ layers: [parseCli(["-w", "-i", "true"]).layer], warn: (w) => warnings.push(w) });
  assert.deepEqual(warnings, [
    "request.inputs: not run in serve mode (-w); each request brings its own inputs",
  ]);
});

Deno.test("parseConfigText() prints no raw YAML warnings for unknown tags or directives", () => {
  const printed: unknown[] = [];
  const saved = { emit: process.emitWarning, warn: console.warn };
  process.emitWarning = ((w: unknown) => printed.push(w)) as typeof process.emitWarning;
  console.warn = (...args: unknown[]) => printed.push(args);
  try {
    parseConfigText("!custom\nrequest: {subject: x}");
    parseConfigText("%FOO bar\n---\nrequest: {subject: x}");
    envLayer({ MCALL_REQUEST_INPUTS: "!tag [1]" });
  } catch {
    // A ConfigError is fine here; printing is not.
  } finally {
    process.emitWarning = saved.emit;
    console.warn = saved.warn;
  }
  assert.deepEqual(printed, []);
});
