import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig, loadYaml, parseConfigText } from "../../lib/config/load.ts";
import { mcallHandler, parseParams, serveMcall } from "../../lib/modes/serve.ts";
import { isLoopback } from "../../lib/modes/serve_guard.ts";

await loadYaml();
const config = loadConfig({
  layers: [{
    values: parseConfigText("log: {level: error}\nworker: {number: 4}"),
    sources: new Map(),
  }],
});

const b64 = (text: string) => btoa(text);
const b64url = (text: string) =>
  btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Starts serve mode on a free loopback port; returns its base URL and a stop function. */
async function startServe(env: Record<string, string> = {}) {
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const cfg = { ...config, webserver: { ...config.webserver, port: 0 } };
  const done = serveMcall(cfg, env, controller.signal, resolve);
  const addr = await listening;
  return {
    base: `http://127.0.0.1:${addr.port}`,
    stop: async () => {
      controller.abort();
      assert.deepEqual(await done, { kind: "ok" });
    },
  };
}

Deno.test("serveMcall() answers /healthcheck with OK", async () => {
  const server = await startServe();
  try {
    const res = await fetch(`${server.base}/healthcheck`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "OK\n");
  } finally {
    await server.stop();
  }
});

Deno.test("serveMcall() runs GET /mcall/{type}/{params} with raw JSON, base64 std and url", async () => {
  const server = await startServe();
  try {
    const params = JSON.stringify({ inputs: [{ input: "echo one" }, { input: "echo 'two ?'" }] });
    for (const encoded of [encodeURIComponent(params), b64(params), b64url(params)]) {
      const res = await fetch(`${server.base}/mcall/cmd/${encoded}`);
      assert.equal(res.status, 200);
      const results = await res.json();
      assert.deepEqual(results.map((r: { result: string }) => r.result), ["one\n", "two ?\n"]);
      assert.deepEqual(results.map((r: { errorCode: string }) => r.errorCode), ["0", "0"]);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("serveMcall() runs POST /mcall with a JSON body, refuses form and text bodies", async () => {
  const server = await startServe();
  try {
    const params = JSON.stringify({ inputs: [{ input: "echo hi" }] });
    const bodies: [string, BodyInit][] = [
      ["application/x-www-form-urlencoded", new URLSearchParams({ type: "cmd", params })],
      ["text/plain", params],
    ];
    for (const [type, body] of bodies) {
      const res = await fetch(`${server.base}/mcall`, { method: "POST", body });
      assert.equal(res.status, 415, type);
      assert.match(
        await res.text(),
        /^Content-Type: ".*": POST \/mcall takes application\/json only/,
      );
    }
    const form = new FormData();
    form.set("params", params);
    const multipart = await fetch(`${server.base}/mcall`, { method: "POST", body: form });
    assert.equal(multipart.status, 415);
    await multipart.body?.cancel();

    const named = await fetch(`${server.base}/mcall`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ type: "cmd", name: "greeting", params }),
    });
    const [namedResult] = await named.json();
    assert.equal(namedResult.result, "hi\n");
    assert.equal(namedResult.name, "greeting");

    const json = await fetch(`${server.base}/mcall`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "cmd", inputs: [{ input: "echo json", name: "j" }] }),
    });
    const [jsonResult] = await json.json();
    assert.equal(jsonResult.result, "json\n");
    assert.equal(jsonResult.name, "j");
  } finally {
    await server.stop();
  }
});

Deno.test("serveMcall() answers 400 with a one-line reason for bad requests", async () => {
  const server = await startServe();
  try {
    const cases: [string, RequestInit | undefined, RegExp][] = [
      [
        "/mcall/gte/" + b64('{"inputs":[{"input":"x"}]}'),
        undefined,
        /^type: "gte" is not one of cmd, get, post\n$/,
      ],
      ["/mcall/cmd/notjson", undefined, /^params: expected JSON/],
      ["/mcall/cmd/" + encodeURIComponent('{"inputs":[]}'), undefined, /^params\.inputs: \[\] /],
      [
        "/mcall/cmd/" + encodeURIComponent('{"inputs":[{"input":"x","type":"gte"}]}'),
        undefined,
        /^params\.inputs\[0\]\.type: "gte" is not one of/,
      ],
      [
        "/mcall",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            type: "get",
            inputs: [{ input: "http://127.0.0.1:9/", headers: { X: "a\r\nB: c" } }],
          }),
        },
        /^params\.inputs\[0\]\.headers\.X: "a\\r\\nB: c" contains CR, LF/,
      ],
      [
        "/mcall",
        { method: "POST", headers: { "content-type": "application/json" }, body: '{"type":"cmd"}' },
        /^body: expected params or inputs\n$/,
      ],
    ];
    for (const [path, init, pattern] of cases) {
      const res = await fetch(server.base + path, init);
      assert.equal(res.status, 400, path);
      assert.match(await res.text(), pattern);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("serveMcall() with a token answers 401 without it and 200 with it", async () => {
  const server = await startServe({ MCALL_WEBSERVER_TOKEN: "s3cret-0123456789abcdef" });
  try {
    const path = `${server.base}/mcall/cmd/${b64('{"inputs":[{"input":"echo ok"}]}')}`;
    const anonymous = await fetch(path);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="dz-mcall"');
    await anonymous.body?.cancel();
    const wrong = await fetch(path, { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const right = await fetch(path, {
      headers: { authorization: "Bearer s3cret-0123456789abcdef" },
    });
    assert.equal(right.status, 200);
    assert.equal((await right.json())[0].result, "ok\n");
  } finally {
    await server.stop();
  }
});

Deno.test("serveMcall() refuses to bind a public address without a token", async () => {
  const cfg = { ...config, webserver: { ...config.webserver, host: "0.0.0.0", port: 0 } };
  await assert.rejects(
    () => serveMcall(cfg, {}, AbortSignal.abort()),
    (err: Error) =>
      err instanceof ConfigError &&
      err.message === 'webserver.host: refusing to serve "0.0.0.0" without a bearer token ' +
          "(set MCALL_WEBSERVER_TOKEN or webserver.tokenFile, or bind 127.0.0.1, ::1 or localhost)",
  );
});

Deno.test("serveMcall() refuses a blank or short token, naming the minimum length", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/newline`, "\n");
    const publicCfg = { ...config, webserver: { ...config.webserver, host: "0.0.0.0", port: 0 } };
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ MCALL_WEBSERVER_TOKEN: "   " }, "", /^MCALL_WEBSERVER_TOKEN: the bearer token is blank;/],
      [{ MCALL_WEBSERVER_TOKEN: "" }, "", /^MCALL_WEBSERVER_TOKEN: the bearer token is blank;/],
      [{ MCALL_WEBSERVER_TOKEN: "short" }, "", /is 5 characters; it must be at least 16/],
      [{}, `${dir}/newline`, /^webserver\.tokenFile: .*newline: the bearer token is blank;/],
    ];
    for (const [env, tokenFile, pattern] of cases) {
      const cfg = { ...publicCfg, webserver: { ...publicCfg.webserver, tokenFile } };
      await assert.rejects(
        () => serveMcall(cfg, env, AbortSignal.abort()),
        (err: Error) => err instanceof ConfigError && pattern.test(err.message),
        JSON.stringify(env),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mcallHandler() never lets a request without a header match an empty token", async () => {
  const res = await mcallHandler(config, "")(new Request("http://127.0.0.1/mcall/cmd/e30="));
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("serveMcall() names an unreadable token file", async () => {
  const cfg = { ...config, webserver: { ...config.webserver, tokenFile: "/nonexistent/token" } };
  await assert.rejects(
    () => serveMcall(cfg, {}, AbortSignal.abort()),
    (err: Error) =>
      err instanceof ConfigError &&
      /^webserver\.tokenFile: cannot read \/nonexistent\/token/.test(err.message),
  );
});

Deno.test("mcallHandler() answers 404 outside its routes", async () => {
  const res = await mcallHandler(config, undefined)(new Request("http://127.0.0.1/other"));
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("isLoopback() accepts only loopback addresses", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) {
    assert.ok(isLoopback(host), host);
  }
  for (const host of ["0.0.0.0", "10.0.0.1", "::", "example.org"]) {
    assert.ok(!isLoopback(host), host);
  }
});

Deno.test("parseParams() caps the number of inputs per request", () => {
  const many = JSON.stringify({ inputs: Array.from({ length: 101 }, () => ({ input: "true" })) });
  assert.match(String(parseParams(many)), /^params\.inputs: .* is above the maximum of 100$/);
});

Deno.test("serveMcall() stops reading a chunked body at 1 MiB and answers 413", async () => {
  const server = await startServe();
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      // Endless unless the server stops reading (bounded at 64 MiB so a broken server fails
      // instead of hanging the test).
      if (pulled >= 64 * 1024 * 1024) return controller.close();
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  try {
    const res = await fetch(`${server.base}/mcall`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(res.status, 413);
    assert.equal(await res.text(), "body larger than 1048576 bytes\n");
    assert.ok(pulled < 16 * 1024 * 1024, `the client sent ${pulled} bytes`);
  } finally {
    await server.stop();
  }
});

Deno.test("mcallHandler() runs at most worker.number inputs at once across requests", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/log`;
  try {
    const cfg = {
      ...config,
      worker: { ...config.worker, number: 2 },
      request: { ...config.request, shell: true },
    };
    const handler = mcallHandler(cfg, undefined);
    const input = `echo start >> ${log}; sleep 0.2; echo end >> ${log}`;
    const params = encodeURIComponent(JSON.stringify({ inputs: [{ input }, { input }] }));
    const responses = await Promise.all(
      [1, 2, 3].map(() => handler(new Request(`http://127.0.0.1/mcall/cmd/${params}`))),
    );
    for (const res of responses) assert.equal(res.status, 200);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    let running = 0;
    let most = 0;
    for (const line of (await Deno.readTextFile(log)).trim().split("\n")) {
      running += line === "start" ? 1 : -1;
      most = Math.max(most, running);
    }
    assert.equal(most, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mcallHandler() answers 503 with Retry-After when the queue is full, 405 to PUT", async () => {
  const cfg = { ...config, worker: { ...config.worker, number: 1 } };
  const handler = mcallHandler(cfg, undefined, 2);
  const slow = encodeURIComponent(
    JSON.stringify({ inputs: [{ input: "sleep 0.3" }, { input: "sleep 0.3" }] }),
  );
  const first = handler(new Request(`http://127.0.0.1/mcall/cmd/${slow}`));
  const one = encodeURIComponent(JSON.stringify({ inputs: [{ input: "true" }] }));
  const busy = await handler(new Request(`http://127.0.0.1/mcall/cmd/${one}`));
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.match(await busy.text(), /^busy: 2 inputs are running or queued \(limit 2\)/);
  assert.equal((await first).status, 200);
  await (await first).body?.cancel();
  const after = await handler(new Request(`http://127.0.0.1/mcall/cmd/${one}`));
  assert.equal(after.status, 200);
  await after.body?.cancel();
  const put = await handler(new Request("http://127.0.0.1/mcall", { method: "PUT", body: "x" }));
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "GET, POST");
  await put.body?.cancel();
});

Deno.test("serveMcall(): the curl commands of docs/serve.md work as written", async () => {
  const curl = await Deno.stat("/usr/bin/curl").then(() => true, () => false);
  if (!curl) {
    console.warn("%cSKIPPED: /usr/bin/curl is missing", "color: red");
    return;
  }
  const doc = await Deno.readTextFile(new URL("../../docs/serve.md", import.meta.url));
  const block = /```sh\n([\s\S]*?)```/.exec(doc)![1]!;
  const commands = block.replace(/\\\n\s*/g, "").split("\n").filter((l) => l.startsWith("curl "));
  assert.equal(commands.length, 2, block);
  const server = await startServe();
  try {
    const outputs: string[] = [];
    for (const command of commands) {
      const line = command.replaceAll("http://127.0.0.1:3000", server.base);
      const out = await new Deno.Command("/bin/sh", { args: ["-c", line], stderr: "inherit" })
        .output();
      assert.equal(out.code, 0, line);
      outputs.push(new TextDecoder().decode(out.stdout));
    }
    const [uname, hi] = outputs.map((o) => JSON.parse(o)[0]);
    assert.equal(uname.errorCode, "0");
    assert.match(uname.result, /^Linux /);
    assert.equal(hi.result, "hi\n");
    const head = await new Deno.Command("curl", { args: ["-sI", `${server.base}/healthcheck`] })
      .output();
    assert.match(new TextDecoder().decode(head.stdout), /^HTTP\/1\.1 200 OK\r\n/);
  } finally {
    await server.stop();
  }
});
