/**
 * The client process of bench/tls.ts: `BENCH_TLS_REQUESTS` GETs (16 at once) to a recording
 * HTTPS server, through `lib/kube`'s pinned pool (`pinned`) or Deno's own TLS pool with the same
 * CA added to the default roots (`deno`, the reference: what lib/kube did before the CA was
 * pinned). Prints `{"perSecond": …, "rssMiB": …}`, the RSS after a full GC.
 *
 * Usage: deno run --v8-flags=--expose-gc … bench/tls_client.ts <server> <ca-file> pinned|deno
 */
import { JsonApi } from "../lib/kube/requests.ts";
import { KubeConnection } from "../lib/kube/client.ts";
import { systemClock } from "../lib/time/clock.ts";

const [server, caFile, mode] = Deno.args;
const ca = Deno.readTextFileSync(caFile!);
const total = Number(Deno.env.get("BENCH_TLS_REQUESTS") ?? 3000);
// One connection for every request, as the program shares one per API server.
const conn = new KubeConnection({
  server: server!,
  caCerts: [ca],
  authorization: () => Promise.resolve("Bearer bench"),
});
const api = new JsonApi(conn);
const path = "/api/v1/namespaces/bench/configmaps";
const client = mode === "deno" ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
const one = async () => {
  if (client === undefined) return void await api.request("GET", path);
  const r = await fetch(server + path, { client, headers: { authorization: "Bearer bench" } });
  await r.text();
};
for (let i = 0; i < 50; i++) await one();
const start = systemClock.now();
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next++ < total) await one();
}));
const perSecond = total / ((systemClock.now() - start) / 1000);
(globalThis as { gc?: () => void }).gc?.();
console.log(JSON.stringify({ perSecond, rssMiB: Deno.memoryUsage().rss / 2 ** 20 }));
conn.close();
client?.close();
