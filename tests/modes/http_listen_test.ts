/**
 * Serve mode's HTTP server on real sockets: deadlines, the connection cap, strict parsing, paths
 * sent as is (`curl --path-as-is`), HEAD, and the drain deadline.
 */
import assert from "node:assert/strict";
import { loadConfig, loadYaml, parseConfigText } from "../../lib/config/load.ts";
import { serveMcall } from "../../lib/modes/serve.ts";
import { SERVE_LIMITS, serveHttp1, type ServerLimits } from "../../lib/modes/http_listen.ts";
import { systemClock } from "../../lib/time/clock.ts";

await loadYaml();
const config = loadConfig({
  layers: [{ values: parseConfigText("log: {level: error}"), sources: new Map() }],
});

const encoder = new TextEncoder();

/** Starts serve mode on a free loopback port with `limits`. */
async function startServe(limits: Partial<ServerLimits> = {}) {
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const cfg = { ...config, webserver: { ...config.webserver, port: 0 } };
  const done = serveMcall(cfg, {}, controller.signal, resolve, { ...SERVE_LIMITS, ...limits });
  const { port } = await listening;
  return { port, done, stop: (reason?: unknown) => controller.abort(reason) };
}

/** Sends `request` on a new connection and reads until the server closes it. */
async function raw(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = encoder.encode(request);
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  let out = "";
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return out;
}

/** Resolves when the server closes `conn` (EOF or reset). */
async function closedByServer(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(1024);
  let out = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return out;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("serve closes 200 half-open connections after the header timeout and serves again", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = serveHttp1(
    listener,
    () => Promise.resolve(new Response("ok")),
    { ...SERVE_LIMITS, headerTimeoutMs: 1000 },
    systemClock,
  );
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
      conns.push(conn);
    }
    const start = performance.now();
    const outputs = await Promise.all(conns.map(closedByServer));
    const waited = performance.now() - start;
    assert.deepEqual(new Set(outputs), new Set([""]), "closed without an answer");
    assert.ok(waited < 6000, `the last one closed after ${Math.round(waited)} ms`);
    assert.equal(server.connections, 0);
    const res = await raw(server.addr.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(res, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n\r\nok$/);
  } finally {
    for (const conn of conns) conn.close();
    assert.equal(await server.shutdown(), true);
  }
});

Deno.test("serve answers 503 beyond maxConnections at once and keeps the others", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = serveHttp1(
    listener,
    () => Promise.resolve(new Response("ok")),
    { ...SERVE_LIMITS, maxConnections: 20 },
    systemClock,
  );
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await conn.write(encoder.encode("GET / HT"));
      conns.push(conn);
    }
    while (server.connections < 20) await new Promise((r) => setTimeout(r, 10));
    const refused = await raw(server.addr.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(
      refused,
      /\r\nretry-after: 1\r\n[\s\S]*busy: 20 connections are open; retry later\n$/,
    );
    assert.equal(server.connections, 20);
    conns.pop()!.close();
    while (server.connections > 19) await new Promise((r) => setTimeout(r, 10));
    const res = await raw(server.addr.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(res, /^HTTP\/1\.1 200 OK\r\n/);
  } finally {
    for (const conn of conns) conn.close();
    await server.shutdown();
  }
});

Deno.test("serve refuses a path that URL parsing would rewrite; the encoded one runs as sent", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startServe();
  try {
    const get = (path: string) =>
      raw(server.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    // `curl --path-as-is`: the JSON is percent-encoded but for its slashes.
    const encodeAllBut = (json: string) => encodeURIComponent(json).replace(/%2F/g, "/");
    for (
      const input of [
        "echo a/./b/../c",
        "echo a/%2e/b/%2E%2E/c",
        `touch ${dir}/x/../rewritten`,
        "echo a\\b",
      ]
    ) {
      const json = JSON.stringify({ inputs: [{ input }] });
      const path = "/mcall/cmd/" + encodeAllBut(json).replace(/%25(2e|2E)/g, "%$1")
        .replace(/%5C/g, "\\");
      const res = await get(path);
      assert.match(
        res,
        /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\nrequest target: the path would be rewritten/,
        path,
      );
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    const sent = encodeURIComponent(JSON.stringify({ inputs: [{ input: "echo a/./b/../c" }] }));
    const res = await get(`/mcall/cmd/${sent}`);
    assert.match(res, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(JSON.parse(res.split("\r\n\r\n")[1]!)[0].result, "a/./b/../c\n");
  } finally {
    server.stop();
    await server.done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve answers HEAD /healthcheck 200 with no body", async () => {
  const server = await startServe();
  try {
    const res = await raw(server.port, "HEAD /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(res, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(res, /\r\ncontent-length: 3\r\n/);
    assert.match(res, /\r\nx-content-type-options: nosniff\r\n/);
    assert.ok(res.endsWith("\r\n\r\n"), JSON.stringify(res));
  } finally {
    server.stop();
    await server.done;
  }
});

Deno.test("serve answers 400 to heads a lenient parser would have to guess at", async () => {
  const server = await startServe();
  const body = '{"inputs":[{"input":"true"}]}';
  try {
    const cases: [string, RegExp][] = [
      [
        `POST /mcall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
        /both Transfer-Encoding and Content-Length/,
      ],
      [
        `POST /mcall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n`,
        /Content-Length or Host given more than once/,
      ],
      [
        `POST /mcall HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n`,
        /only chunked is accepted/,
      ],
      ["GET /healthcheck HTTP/1.1\nHost: 127.0.0.1\r\n\r\n", /a bare CR or LF/],
      ["GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n folded\r\n\r\n", /folded lines/],
      ["GET http://127.0.0.1/healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", /starting with \//],
      ["GET /healthcheck HTTP/1.1\r\n\r\n", /Host: required/],
      [
        "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
        /Host given more than once/,
      ],
      ["GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\nx", /no body/],
    ];
    for (const [request, pattern] of cases) {
      const res = await raw(server.port, request);
      assert.match(res, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(request));
      assert.match(res.split("\r\n\r\n")[1]!, pattern);
    }
    const long = await raw(
      server.port,
      `GET /mcall/cmd/${
        "a".repeat(SERVE_LIMITS.maxHeaderBytes)
      } HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    assert.match(
      long,
      /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*request head larger than 65536 bytes\n$/,
    );
    // A chunked body with an extension and a trailer is read correctly.
    const chunked = await raw(
      server.port,
      `POST /mcall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n5;x=y\r\n${body.slice(0, 5)}\r\n` +
        `${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\nX-T: 1\r\n\r\n`,
    );
    assert.match(chunked, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(JSON.parse(chunked.split("\r\n\r\n")[1]!)[0].errorCode, "0");
  } finally {
    server.stop();
    await server.done;
  }
});

Deno.test("serve's drain deadline cuts off a half-sent body: interrupted, not hung", async () => {
  const server = await startServe({ drainTimeoutMs: 300 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(encoder.encode(
      "POST /mcall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        'Content-Length: 100\r\n\r\n{"in',
    ));
    await new Promise((r) => setTimeout(r, 100));
    const start = performance.now();
    server.stop({ signal: "SIGTERM" });
    assert.deepEqual(await server.done, { kind: "interrupted", signal: "SIGTERM" });
    assert.ok(performance.now() - start < 3000);
    assert.equal(await closedByServer(conn), "");
  } finally {
    conn.close();
  }
});

Deno.test("serve's shutdown returns after the drain deadline even if a handler ignores its signal", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { promise: never } = Promise.withResolvers<Response>();
  const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
  const server = serveHttp1(listener, () => (enter(), never), {
    ...SERVE_LIMITS,
    drainTimeoutMs: 200,
  }, systemClock);
  const pending = raw(server.addr.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await entered;
  const start = performance.now();
  assert.equal(await server.shutdown(), false);
  assert.ok(performance.now() - start < 3000, `${performance.now() - start} ms`);
  assert.equal(await pending, "");
});
