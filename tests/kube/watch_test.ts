/**
 * Requests and watches over the native `fetch` pool (`lib/kube/requests.ts`, `lib/kube/watch.ts`)
 * against a local HTTP server playing the API server: what goes on the wire (path, query,
 * authorization, body) and how responses and watch streams are read — events split across
 * chunks, bookmarks' resourceVersions, an ERROR event's code, an error status's Status body, a
 * silent stream.
 */
import assert from "node:assert/strict";
import { isKubeError } from "../../lib/apimachinery/errors.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { Grants, JsonApi } from "../../lib/kube/requests.ts";
import { runWatch, WATCH_SILENCE_MS } from "../../lib/kube/watch.ts";

interface Seen {
  method: string;
  url: URL;
  authorization: string | null;
  body: string;
}

/** A local server answering every request with `respond`; records what it received. */
async function withServer(
  respond: (req: Request) => Response,
  fn: (conn: KubeConnection, seen: Seen[]) => Promise<void>,
) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({
      method: req.method,
      url: new URL(req.url),
      authorization: req.headers.get("authorization"),
      body: await req.text(),
    });
    return respond(req);
  });
  const conn = new KubeConnection({
    server: `http://127.0.0.1:${server.addr.port}`,
    caCerts: [],
    authorization: () => Promise.resolve("Bearer t0ken"),
  });
  try {
    await fn(conn, seen);
  } finally {
    conn.close();
    await server.shutdown();
  }
}

/** A streamed body: each chunk after a short pause, so they arrive apart. */
function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const next = chunks.shift();
      if (next === undefined) return controller.close();
      await new Promise((r) => setTimeout(r, 5));
      controller.enqueue(enc.encode(next));
    },
  });
}

Deno.test("JsonApi sends JSON with the token and reads an error status's Status body", async () => {
  await withServer(
    (req) =>
      req.method === "POST"
        ? Response.json({ metadata: { name: "a" } })
        : Response.json({ kind: "Status", code: 409, reason: "Conflict", message: "changed" }, {
          status: 409,
        }),
    async (conn, seen) => {
      const api = new JsonApi(conn);
      assert.deepEqual(await api.request("POST", "/api/v1/x", { a: 1 }), {
        metadata: { name: "a" },
      });
      assert.equal(seen[0]!.authorization, "Bearer t0ken");
      assert.equal(seen[0]!.body, '{"a":1}');
      const err = await api.request("PUT", "/api/v1/x/a?q=1", {}).catch((e) => e);
      const kube = api.grants.classify(err, "update", "configmaps", "ns");
      assert.equal(kube.kind, "conflict");
      assert.equal(kube.message, "update configmaps (HTTP 409): changed");
    },
  );
});

Deno.test("runWatch() reads events split across chunks, reports bookmarks, and rejects on ERROR", async () => {
  const object = (name: string) => ({ metadata: { name } });
  const line = (type: string, obj: unknown) => JSON.stringify({ type, object: obj }) + "\n";
  const added = line("ADDED", object("a"));
  const body = [
    added.slice(0, 10),
    added.slice(10) + line("BOOKMARK", { metadata: { resourceVersion: "9" } }),
    line("MODIFIED", object("a")) + line("DELETED", object("a")),
    line("ERROR", { kind: "Status", code: 410, message: "too old resource version" }),
  ];
  await withServer(() => new Response(stream(body)), async (conn, seen) => {
    const got: string[] = [];
    const err = await runWatch(conn, {
      path: "/api/v1/namespaces/ns/configmaps",
      query: { labelSelector: "app=x", resourceVersion: "5" },
      onObject: (type, obj) =>
        got.push(`${type} ${(obj as ReturnType<typeof object>).metadata.name}`),
      onBookmark: (rv) => got.push(`BOOKMARK ${rv}`),
      toError: (e, code) => new Grants().classify(e, "watch", "configmaps", "ns", code),
    }, new AbortController().signal).then(() => undefined, (e) => e);
    assert.deepEqual(got, ["ADDED a", "BOOKMARK 9", "MODIFIED a", "DELETED a"]);
    assert.ok(isKubeError(err, "gone"), String(err));
    const q = seen[0]!.url.searchParams;
    assert.equal(q.get("watch"), "true");
    assert.equal(q.get("labelSelector"), "app=x");
    assert.equal(q.get("resourceVersion"), "5");
    assert.equal(q.get("allowWatchBookmarks"), "true");
    // client-go's reflector: timeoutSeconds in [5 min, 10 min).
    assert.ok(Number(q.get("timeoutSeconds")) >= 300 && Number(q.get("timeoutSeconds")) < 600);
    assert.equal(seen[0]!.authorization, "Bearer t0ken");
  });
});

Deno.test("runWatch() resolves when the server ends it or the caller aborts, rejects on 403", async () => {
  let mode: "end" | "hang" | "deny" = "end";
  await withServer(
    () =>
      mode === "deny"
        ? Response.json({ kind: "Status", code: 403, reason: "Forbidden" }, { status: 403 })
        : new Response(mode === "end" ? stream([]) : new ReadableStream()),
    async (conn) => {
      const watch = (signal: AbortSignal) =>
        runWatch(conn, {
          path: "/w",
          query: {},
          onObject: () => {},
          toError: (e, code) => new Grants().classify(e, "watch", "leases", "ns", code),
        }, signal);
      await watch(new AbortController().signal);
      mode = "hang";
      const stop = new AbortController();
      const hanging = watch(stop.signal);
      setTimeout(() => stop.abort(), 50);
      await hanging;
      mode = "deny";
      const err = await watch(new AbortController().signal).then(() => undefined, (e) => e);
      assert.ok(isKubeError(err, "forbidden"), String(err));
    },
  );
});

Deno.test("runWatch() keeps a silent watch open far beyond 30 s: its silence limit is above two bookmark periods", () => {
  assert.ok(WATCH_SILENCE_MS > 2 * 60_000, `${WATCH_SILENCE_MS}`);
});

Deno.test("runWatch() ends a stream that never sends a byte after its silence limit, as a normal end", async () => {
  const silenceMs = 300;
  await withServer(() => new Response(new ReadableStream()), async (conn) => {
    const started = performance.now();
    // Resolves (a normal end: the caller watches again from its last resourceVersion).
    await runWatch(conn, {
      path: "/w",
      query: {},
      onObject: () => {},
      toError: (e, code) => new Grants().classify(e, "watch", "configmaps", "ns", code),
      silenceMs,
    }, new AbortController().signal);
    const took = performance.now() - started;
    assert.ok(took >= silenceMs && took < silenceMs + 5_000, `${took} ms`);
  });
});

Deno.test("runWatch() keeps a watch whose bookmarks come more often than its silence limit", async () => {
  const silenceMs = 400;
  const bookmark = (rv: number) =>
    JSON.stringify({ type: "BOOKMARK", object: { metadata: { resourceVersion: String(rv) } } }) +
    "\n";
  const enc = new TextEncoder();
  await withServer(() => {
    let rv = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, silenceMs / 2));
          if (++rv > 6) return c.close(); // the server's timeout: 6 × 200 ms = 3 silence limits
          c.enqueue(enc.encode(bookmark(rv)));
        },
      }),
    );
  }, async (conn) => {
    const got: string[] = [];
    await runWatch(conn, {
      path: "/w",
      query: {},
      onObject: () => {},
      onBookmark: (rv) => got.push(rv),
      toError: (e, code) => new Grants().classify(e, "watch", "configmaps", "ns", code),
      silenceMs,
    }, new AbortController().signal);
    assert.deepEqual(got, ["1", "2", "3", "4", "5", "6"]);
  });
});
