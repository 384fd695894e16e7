/**
 * The request policy of `lib/kube/requests.ts` and `lib/kube/retry.ts` against local servers
 * playing the API server: 429/5xx with `Retry-After` sent again (every verb, as client-go), a
 * reset GET sent again, bounded attempts, the caller's signal honoured (nothing sent after it
 * aborted, a pending request aborted at once), per-call time limits.
 */
import assert from "node:assert/strict";
import { KubeConnection } from "../../lib/kube/client.ts";
import { ApiError, JsonApi } from "../../lib/kube/requests.ts";
import { MAX_RETRIES, retryAfterMs } from "../../lib/kube/retry.ts";
import { KubeLeaseClient } from "../../lib/kube/leases.ts";
import { KubeTaskStore } from "../../lib/kube/configmaps.ts";
import { KubeEventRecorder } from "../../lib/kube/events.ts";

/** A local server answering with `respond`; counts requests by method. */
async function withServer(
  respond: (req: Request, n: number) => Response | Promise<Response>,
  fn: (conn: KubeConnection, seen: string[]) => Promise<void>,
) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname}`);
    return respond(req, seen.length);
  });
  const conn = new KubeConnection({
    server: `http://127.0.0.1:${server.addr.port}`,
    caCerts: [],
    authorization: () => Promise.resolve(undefined),
  });
  try {
    await fn(conn, seen);
  } finally {
    conn.close();
    await server.shutdown();
  }
}

const status = (code: number, headers: Record<string, string> = {}) =>
  Response.json({ kind: "Status", code }, { status: code, headers });

/** A retry wait that records and returns at once. */
const recording = (waits: number[]) => (ms: number) => {
  waits.push(ms);
  return Promise.resolve();
};

Deno.test("retryAfterMs() retries 429 and 5xx only with a Retry-After in seconds", () => {
  const cases: [number, string | null, number | undefined][] = [
    [429, "3", 3000],
    [503, "1", 1000],
    [500, "0", 0],
    [429, null, undefined],
    [503, null, undefined],
    [409, "1", undefined],
    [429, "Wed, 21 Oct 2026 07:28:00 GMT", undefined],
  ];
  for (const [code, header, want] of cases) assert.equal(retryAfterMs(code, header), want);
});

Deno.test("a 429 with Retry-After is sent again after the seconds it names, for GET and POST", async () => {
  await withServer(
    (_req, n) => n % 3 === 0 ? Response.json({ n }) : status(429, { "retry-after": "2" }),
    async (conn, seen) => {
      const waits: number[] = [];
      const api = new JsonApi(conn, recording(waits));
      assert.deepEqual(await api.request("GET", "/a"), { n: 3 });
      assert.deepEqual(await api.request("POST", "/b", {}), { n: 6 });
      assert.deepEqual(seen, ["GET /a", "GET /a", "GET /a", "POST /b", "POST /b", "POST /b"]);
      assert.deepEqual(waits, [2000, 2000, 2000, 2000]);
    },
  );
});

Deno.test("a 503 with Retry-After is retried, one without is not", async () => {
  await withServer(
    (req, n) =>
      req.method === "GET"
        ? (n === 1 ? status(503, { "retry-after": "1" }) : Response.json({}))
        : status(503),
    async (conn, seen) => {
      const api = new JsonApi(conn, recording([]));
      await api.request("GET", "/a");
      const err = await api.request("PUT", "/b", {}).catch((e) => e);
      assert.ok(err instanceof ApiError && err.code === 503, String(err));
      assert.deepEqual(seen, ["GET /a", "GET /a", "PUT /b"]);
    },
  );
});

Deno.test("retries are bounded: MAX_RETRIES after the first attempt, then the 429 is thrown", async () => {
  await withServer(() => status(429, { "retry-after": "0" }), async (conn, seen) => {
    const err = await new JsonApi(conn, recording([])).request("GET", "/a").catch((e) => e);
    assert.ok(err instanceof ApiError && err.code === 429, String(err));
    assert.equal(seen.length, MAX_RETRIES + 1);
  });
});

Deno.test("an abort during a Retry-After wait ends the call at once and nothing more is sent", async () => {
  await withServer(() => status(429, { "retry-after": "1" }), async (conn, seen) => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("gave up")), 100);
    const started = performance.now();
    const err = await new KubeLeaseClient(conn).replace(
      "l",
      "ns",
      { metadata: { name: "l" } },
      stop.signal,
    )
      .catch((e) => e);
    assert.equal(err.message, "gave up");
    assert.ok(performance.now() - started < 900, "the call did not wait out Retry-After");
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(seen, ["PUT /apis/coordination.k8s.io/v1/namespaces/ns/leases/l"]);
  });
});

let current = new AbortController();
const reason = new DOMException("stopped", "AbortError");

Deno.test("every adapter call honours its signal: a pending request is cut at once and rejects with the reason; nothing is sent after the abort", async () => {
  await withServer(
    (req) =>
      new Promise<Response>((resolve) => {
        // The caller gives up while the server holds the request.
        setTimeout(() => current.abort(reason), 20);
        const timer = setTimeout(() => resolve(Response.json({})), 3_000);
        req.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(Response.json({}));
        });
      }),
    async (conn, seen) => {
      const store = new KubeTaskStore(conn, "ns");
      const lease = new KubeLeaseClient(conn);
      const events = new KubeEventRecorder(conn, "ns", "pod");
      const cm = { metadata: { name: "a", resourceVersion: "1" } };
      const calls: ((s: AbortSignal) => Promise<unknown>)[] = [
        (s) => store.list("", s),
        (s) => store.get("a", s),
        (s) => store.create(cm, s),
        (s) => store.update(cm, s),
        (s) => store.delete("a", s),
        (s) => store.deleteCollection("x=y", s),
        (s) => lease.read("l", "ns", s),
        (s) => lease.create("ns", { metadata: { name: "l" } }, s),
        (s) => lease.replace("l", "ns", { metadata: { name: "l" } }, s),
        (s) =>
          events.record({
            name: "e",
            action: "a",
            reason: "TaskFailed",
            type: "Normal",
            note: "n",
            regarding: { kind: "ConfigMap", name: "a" },
          }, s),
      ];
      for (const call of calls) {
        const stop = current = new AbortController();
        const started = performance.now();
        const err = await call(stop.signal).then(() => "resolved", (e) => e);
        assert.equal(err, reason, `${call}`);
        assert.ok(performance.now() - started < 2_000, `${call} took too long`);
        // Already aborted: nothing is sent.
        assert.equal(await call(stop.signal).catch((e) => e), reason);
      }
      // Each call reached the server once (before its abort); the calls made with the aborted
      // signal sent nothing.
      assert.equal(seen.length, calls.length, `${seen}`);
    },
  );
});

Deno.test("a GET whose connection is reset before the response is sent again; a POST is not", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      const buf = new Uint8Array(65536);
      await conn.read(buf);
      if (connections % 2 === 1) {
        conn.close(); // reset before any response
        continue;
      }
      const body = "{}";
      await conn.write(new TextEncoder().encode(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      ));
      conn.close();
    }
  })();
  using conn = new KubeConnection({
    server: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    caCerts: [],
    authorization: () => Promise.resolve(undefined),
  });
  try {
    const api = new JsonApi(conn, recording([]));
    assert.deepEqual(await api.request("GET", "/a"), {});
    assert.equal(connections, 2);
    const err = await api.request("POST", "/b", {}).catch((e) => e);
    assert.ok(err instanceof Error && !(err instanceof ApiError), String(err));
    assert.equal(connections, 3);
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("a response that never sends a byte of its body fails after the call's time limit", async () => {
  await withServer(() => new Response(new ReadableStream()), async (conn) => {
    const started = performance.now();
    const err = await new JsonApi(conn).request("GET", "/a", undefined, { timeoutMs: 300 })
      .catch((e) => e);
    assert.equal((err as DOMException).name, "TimeoutError", String(err));
    assert.ok(performance.now() - started < 5_000);
  });
});

Deno.test("a body of declared length read in one piece still fails after the call's time limit when it stalls", async () => {
  // Headers declare 100 bytes; 10 come, then nothing: the one-piece read must end at the limit.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      await conn.read(new Uint8Array(64 * 1024));
      await conn.write(new TextEncoder().encode(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":"1234`,
      ));
    }
  })();
  using conn = new KubeConnection({
    server: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    caCerts: [],
    authorization: () => Promise.resolve(undefined),
  });
  try {
    const started = performance.now();
    const err = await new JsonApi(conn, recording([])).request("GET", "/a", undefined, {
      timeoutMs: 300,
    }).catch((e) => e);
    assert.equal((err as DOMException).name, "TimeoutError", String(err));
    assert.ok(performance.now() - started < 5_000);
  } finally {
    listener.close();
    for (const c of open) c.close();
    await serving.catch(() => {});
  }
});

Deno.test("deleteCollection() waits beyond the 30 s of a short call for a slow server", async () => {
  await withServer(
    async (req) => {
      if (req.method === "DELETE") await new Promise((r) => setTimeout(r, 31_000));
      return Response.json({ kind: "Status", status: "Success" });
    },
    async (conn, seen) => {
      await new KubeTaskStore(conn, "ns").deleteCollection("round=1");
      assert.deepEqual(seen, ["DELETE /api/v1/namespaces/ns/configmaps"]);
    },
  );
});
