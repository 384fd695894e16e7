/**
 * Generated serve requests: a path is served exactly as sent or refused, never rewritten; and a
 * request runs iff no browser mark is on it (the model restates docs/serve.md's table).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { loadConfig, loadYaml, parseConfigText } from "../../lib/config/load.ts";
import { mcallHandler } from "../../lib/modes/serve.ts";
import { SERVE_LIMITS, serveHttp1 } from "../../lib/modes/http_listen.ts";
import { systemClock } from "../../lib/time/clock.ts";

await loadYaml();
const config = loadConfig({
  layers: [{ values: parseConfigText("log: {level: error}"), sources: new Map() }],
});

async function raw(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  return new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
}

Deno.test("property: a request target is served as sent (decoded) or refused, never rewritten", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = serveHttp1(
    listener,
    (req) => Promise.resolve(new Response(decodeURIComponent(new URL(req.url).pathname))),
    SERVE_LIMITS,
    systemClock,
  );
  const piece = fc.constantFrom(
    "/",
    ".",
    "..",
    "%2e",
    "%2E",
    "\\",
    "a",
    "b",
    "%2F",
    "%5C",
    "%20",
    "#",
    "é",
    "{",
    '"',
  );
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 12 }), async (pieces) => {
        const path = "/p/" + pieces.join("");
        const res = await raw(server.addr.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        const [head, body] = res.split("\r\n\r\n");
        if (head!.startsWith("HTTP/1.1 400 ")) {
          assert.match(body!, /^request target: the path would be rewritten/);
        } else {
          assert.match(head!, /^HTTP\/1\.1 200 OK/);
          assert.equal(body, decodeURIComponent(path));
        }
      }),
      { numRuns: 150 },
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("property: a /mcall request runs iff it carries no browser mark, a loopback Host and JSON", async () => {
  const handler = mcallHandler(config, undefined);
  const params = JSON.stringify({ inputs: [{ input: "true" }] });
  const request = fc.record({
    method: fc.constantFrom("GET", "POST"),
    host: fc.constantFrom("127.0.0.1:3000", "localhost", "[::1]:3000", "evil.example:3000"),
    origin: fc.option(fc.constantFrom("http://evil.example", "null", "http://127.0.0.1:3000")),
    site: fc.option(fc.constantFrom("none", "same-origin", "same-site", "cross-site")),
    type: fc.constantFrom(
      "application/json",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/plain",
    ),
  });
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const headers = new Headers({ host: r.host });
      if (r.origin !== null) headers.set("origin", r.origin);
      if (r.site !== null) headers.set("sec-fetch-site", r.site);
      const req = r.method === "GET"
        ? new Request(`http://127.0.0.1/mcall/cmd/${encodeURIComponent(params)}`, { headers })
        : new Request("http://127.0.0.1/mcall", {
          method: "POST",
          headers: (headers.set("content-type", r.type), headers),
          body: params,
        });
      const res = await handler(req);
      await res.body?.cancel();
      const allowed = r.origin === null && (r.site === null || r.site === "none") &&
        r.host !== "evil.example:3000" &&
        (r.method === "GET" || r.type === "application/json");
      assert.equal(res.status === 200, allowed, `${JSON.stringify(r)} → ${res.status}`);
    }),
    { numRuns: 80 },
  );
});
