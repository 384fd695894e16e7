import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig, loadYaml, parseConfigText } from "../../lib/config/load.ts";
import { mcallHandler, serveMcall } from "../../lib/modes/serve.ts";
import { millis } from "../../lib/time/duration.ts";
import {
  browserRefusal,
  contentTypeRefusal,
  hostRefusal,
  isLoopback,
  policyRefusal,
} from "../../lib/modes/serve_guard.ts";

await loadYaml();
const config = loadConfig({
  layers: [{ values: parseConfigText("log: {level: error}"), sources: new Map() }],
});

Deno.test("isLoopback() compares addresses: 127.0.0.0/8, ::1, the literal localhost — never a name", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "LOCALHOST"]) {
    assert.ok(isLoopback(host), host);
  }
  for (const host of ["::1", "[::1]", "0:0:0:0:0:0:0:1", "::0:1", "[0::1]"]) {
    assert.ok(isLoopback(host), host);
  }
  for (
    const host of [
      "127.attacker.example",
      "127.0.0.1.nip.io",
      "127.0.0.1.",
      "127.1",
      "127.0.0.256",
      "0x7f.0.0.1",
      "localhost.",
      "localhost.example",
      "::ffff:127.0.0.1",
      "::2",
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "example.org",
      "",
    ]
  ) {
    assert.ok(!isLoopback(host), host);
  }
});

Deno.test("serveMcall() refuses a name that merely starts with 127. without a token, asking no DNS", async () => {
  for (const host of ["127.attacker.example", "127.0.0.1.nip.io", "localhost.example"]) {
    const cfg = { ...config, webserver: { ...config.webserver, host, port: 0 } };
    await assert.rejects(
      () => serveMcall(cfg, {}, AbortSignal.abort()),
      (err: Error) =>
        err instanceof ConfigError &&
        err.message.startsWith(
          `webserver.host: refusing to serve "${host}" without a bearer token`,
        ),
      host,
    );
  }
});

Deno.test("hostRefusal() lets loopback Host headers through and names any other", () => {
  for (
    const host of ["127.0.0.1:3000", "127.0.0.1", "localhost:3000", "[::1]:3000", "127.9.9.9:1"]
  ) {
    assert.equal(hostRefusal(host), null, host);
  }
  for (
    const host of [
      "evil.example:3000",
      "127.attacker.example:3000",
      "evil.example@127.0.0.1:3000",
      "127.0.0.1:3000/x",
      "127.0.0.1 :3000",
      "",
    ]
  ) {
    assert.match(String(hostRefusal(host)), /^Host: ".*" is not a loopback address;/, host);
  }
  assert.equal(hostRefusal(null), "Host: missing");
});

Deno.test("browserRefusal() refuses Origin and cross-site Sec-Fetch-Site, allows curl and a typed URL", () => {
  assert.equal(browserRefusal(new Headers({ "user-agent": "curl/8" })), null);
  assert.equal(browserRefusal(new Headers({ "sec-fetch-site": "none" })), null);
  for (
    const [name, value] of [
      ["origin", "http://evil.example"],
      ["origin", "null"],
      ["sec-fetch-site", "cross-site"],
      ["sec-fetch-site", "same-site"],
      ["sec-fetch-site", "same-origin"],
    ]
  ) {
    assert.match(
      String(browserRefusal(new Headers({ [name!]: value! }))),
      /refused \(serve mode is for local clients such as curl\)$/,
      `${name}: ${value}`,
    );
  }
});

Deno.test("contentTypeRefusal() takes application/json only", () => {
  for (const type of ["application/json", "application/json; charset=utf-8", "Application/JSON"]) {
    assert.equal(contentTypeRefusal(type), null, type);
  }
  for (
    const type of [
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/plain",
      "text/plain; application/json",
      null,
    ]
  ) {
    assert.match(String(contentTypeRefusal(type)), /takes application\/json only/, String(type));
  }
});

Deno.test("policyRefusal() holds remote inputs to the server's shell and timeout settings", () => {
  const policy = { shell: false, maxTimeoutMs: 10_000 };
  assert.equal(
    policyRefusal([{ input: "true" }, { input: "x", timeoutMs: millis(10_000) }], policy),
    null,
  );
  assert.equal(policyRefusal([{ input: "true", shell: false }], policy), null);
  assert.equal(
    policyRefusal([{ input: "true" }, { input: "touch x", shell: true }], policy),
    "params.inputs[1].shell: true is refused: this server runs a shell only when started with " +
      "--shell (request.shell: true)",
  );
  assert.equal(policyRefusal([{ input: "x", shell: true }], { ...policy, shell: true }), null);
  assert.equal(
    policyRefusal([{ input: "sleep 1", timeoutMs: millis(168 * 3600_000) }], policy),
    "params.inputs[0].timeout: 168h is above this server's request.timeout of 10s",
  );
});

Deno.test("mcallHandler() answers 400 to shell: true and long timeouts before running anything", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const handler = mcallHandler(config, undefined);
    for (
      const input of [
        { input: `touch ${dir}/shell; true`, shell: true },
        { input: `touch ${dir}/long`, timeout: "168h" },
      ]
    ) {
      const params = encodeURIComponent(JSON.stringify({ inputs: [input] }));
      const res = await handler(new Request(`http://127.0.0.1/mcall/cmd/${params}`));
      assert.equal(res.status, 400);
      assert.match(await res.text(), /^params\.inputs\[0\]\.(shell|timeout): /);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // The same inputs run when the server's own configuration allows them.
    const allowing = mcallHandler({
      ...config,
      request: { ...config.request, shell: true, timeoutMs: millis(168 * 3600_000) },
    }, undefined);
    const params = encodeURIComponent(
      JSON.stringify({ inputs: [{ input: `touch ${dir}/shell; true`, timeout: "1m" }] }),
    );
    const res = await allowing(new Request(`http://127.0.0.1/mcall/cmd/${params}`));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await Deno.stat(`${dir}/shell`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mcallHandler() answers HEAD /healthcheck 200", async () => {
  const res = await mcallHandler(config, undefined)(
    new Request("http://127.0.0.1/healthcheck", { method: "HEAD" }),
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
});
