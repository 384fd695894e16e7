/**
 * Serve mode's own HTTP/1.1 server (one request per connection, `lib/modes/http_listen.ts`) against
 * `Deno.serve` (hyper, keep-alive) as the reference, with the same handler: requests per second
 * for `GET /healthcheck` from `fetch` clients, measured in the same run, and the ratio. Run
 * standalone with `scripts/deno run --allow-read --allow-env --allow-net bench/serve.ts`.
 *
 * @module
 */
import type { Row } from "./table.ts";
import { SERVE_LIMITS, serveHttp1 } from "../lib/modes/http_listen.ts";
import { systemClock } from "../lib/time/clock.ts";

const REQUESTS = 2000;
const CONCURRENCY = 20;
const ROUNDS = 3;

const handler = () => Promise.resolve(new Response("OK\n"));

async function load(url: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < REQUESTS) {
      const res = await fetch(url);
      if ((await res.text()) !== "OK\n") throw new Error(`unexpected answer ${res.status}`);
    }
  }));
  return REQUESTS / ((performance.now() - started) / 1000);
}

const CLOSE = new TextEncoder().encode(
  "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
);

/** Like {@linkcode load}, each request on a new raw connection that asks to be closed. */
async function loadClosing(port: number): Promise<number> {
  let next = 0;
  const buf = new Uint8Array(4096);
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < REQUESTS) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(CLOSE);
      while ((await conn.read(buf)) !== null) { /* to the end */ }
      conn.close();
    }
  }));
  return REQUESTS / ((performance.now() - started) / 1000);
}

/** Requests per second of both servers, best of {@linkcode ROUNDS} each, interleaved. */
export async function benchServe(): Promise<Row[]> {
  const ours = serveHttp1(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    handler,
    SERVE_LIMITS,
    systemClock,
  );
  const reference = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  let best = { ours: 0, reference: 0, oursClosing: 0, referenceClosing: 0 };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const o = await load(`http://127.0.0.1:${ours.addr.port}/healthcheck`);
      const r = await load(`http://127.0.0.1:${reference.addr.port}/healthcheck`);
      const oc = await loadClosing(ours.addr.port);
      const rc = await loadClosing(reference.addr.port);
      best = {
        ours: Math.max(best.ours, o),
        reference: Math.max(best.reference, r),
        oursClosing: Math.max(best.oursClosing, oc),
        referenceClosing: Math.max(best.referenceClosing, rc),
      };
    }
  } finally {
    await ours.shutdown();
    await reference.shutdown();
  }
  return [
    {
      name: "serve mode's server, GET /healthcheck",
      value: best.ours,
      unit: "req/s",
      note: `${CONCURRENCY} clients, one request per connection`,
    },
    {
      name: "Deno.serve (reference), same handler",
      value: best.reference,
      unit: "req/s",
      note: "keep-alive",
    },
    {
      name: "ratio ours / reference (fetch)",
      value: best.ours / best.reference,
      unit: "×",
      note: "mostly keep-alive, which serve mode does not offer",
    },
    {
      name: "serve mode's server, Connection: close",
      value: best.oursClosing,
      unit: "req/s",
      note: "raw sockets, a new connection each",
    },
    {
      name: "Deno.serve, Connection: close",
      value: best.referenceClosing,
      unit: "req/s",
      note: "raw sockets, a new connection each",
    },
    {
      name: "ratio ours / reference (close)",
      value: best.oursClosing / best.referenceClosing,
      unit: "×",
      note: "JS parsing and per-connection ops against hyper in Rust",
    },
  ];
}

if (import.meta.main) {
  for (const row of await benchServe()) console.log(row.name, row.value, row.unit);
}
