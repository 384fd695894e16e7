/**
 * A client process for tls_test.ts: one `GET /api` through `lib/kube`'s pool, with the bearer
 * token `secret-token`, trusting only the CA file given. Run with `DENO_CERT` naming another CA,
 * which the runtime then adds to its default roots. Prints `{"ok": …}` or `{"error": "…"}`.
 *
 * Usage: deno run … pinned_client.ts <server> <ca-file>
 */
import { JsonApi } from "../../lib/kube/requests.ts";
import { KubeConnection } from "../../lib/kube/client.ts";

const [server, caFile] = Deno.args;
const conn = new KubeConnection({
  server: server!,
  caCerts: [Deno.readTextFileSync(caFile!)],
  authorization: () => Promise.resolve("Bearer secret-token"),
});
try {
  const body = await new JsonApi(conn).request("GET", "/api");
  console.log(JSON.stringify({ ok: body }));
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message }));
}
conn.close();
Deno.exit(0);
