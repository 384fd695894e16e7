/**
 * The client configuration and the namespace: what `loadKubeConfig` and `resolveNamespace` read,
 * and the one-line errors when something is missing. The connection (`KubeConnection`) against a
 * local HTTP/1.1 server that counts the TCP connections it accepts and sees end: one pool reused,
 * discarded after a transport failure (not after the caller's own abort), closed for good.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { KubeConnection, resolveNamespace } from "../../lib/kube/client.ts";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";
import { JsonApi } from "../../lib/kube/requests.ts";

const config = (election: Record<string, unknown> = {}) =>
  loadConfig({ layers: [{ values: { election }, sources: new Map() }] });

Deno.test("resolveNamespace() prefers election.namespace, then the service-account file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/namespace`;
    await Deno.writeTextFile(file, "from-file\n");
    assert.equal(await resolveNamespace(config({ namespace: "ops" }), file), "ops");
    assert.equal(await resolveNamespace(config(), file), "from-file");
    await Deno.writeTextFile(file, "  ");
    await assert.rejects(
      () => resolveNamespace(config(), file),
      (err: Error) =>
        err instanceof ConfigError && /^election\.namespace: not set/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadKubeConfig() names what is missing or malformed in one line", async () => {
  const home = await Deno.makeTempDir();
  try {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { HOME: home },
        /^no Kubernetes credentials: not in a pod \(KUBERNETES_SERVICE_HOST is not set\) and no kubeconfig \(KUBECONFIG is not set and .*\/\.kube\/config does not exist\)$/,
      ],
      [{ HOME: home, KUBECONFIG: `${home}/none` }, /^KUBECONFIG: .*\/none does not exist/],
    ];
    await Deno.writeTextFile(`${home}/broken`, "apiVersion: v1\nclusters: [\n");
    cases.push([
      { HOME: home, KUBECONFIG: `${home}/broken` },
      /^KUBECONFIG: .*\/broken is not a valid kubeconfig: /,
    ]);
    await Deno.writeTextFile(`${home}/empty`, "apiVersion: v1\nkind: Config\n");
    cases.push([
      { HOME: home, KUBECONFIG: `${home}/empty` },
      /^KUBECONFIG: .*\/empty has no current context with a cluster server/,
    ]);
    for (const [env, pattern] of cases) {
      await assert.rejects(() => loadKubeConfig(env), (err: Error) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes("\n"));
        return true;
      }, JSON.stringify(env));
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** A keep-alive HTTP/1.1 server answering `{}`: the connections it accepted, and those that ended. */
function countingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counts = { opened: 0, ended: 0 };
  const ok = new TextEncoder().encode(
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
  );
  const serving = (async () => {
    for await (const conn of listener) {
      counts.opened++;
      (async () => {
        const buf = new Uint8Array(65536);
        while ((await conn.read(buf).catch(() => null)) !== null) {
          await conn.write(ok).catch(() => {});
        }
        counts.ended++;
        conn.close();
      })();
    }
  })();
  return {
    counts,
    server: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    /** Waits until `ended` connections have ended (5 s at most), then returns the counts. */
    async until(ended: number) {
      for (let i = 0; i < 100 && counts.ended < ended; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      return { ...counts };
    },
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

const anonymous = () => Promise.resolve(undefined);

Deno.test("KubeConnection reuses one connection; discard() ends it, close() ends it for good and refuses requests", async () => {
  const s = countingServer();
  const conn = new KubeConnection({ server: s.server, caCerts: [], authorization: anonymous });
  try {
    const api = new JsonApi(conn);
    for (let i = 0; i < 5; i++) assert.deepEqual(await api.request("GET", "/api"), {});
    assert.deepEqual(await s.until(0), { opened: 1, ended: 0 }, "five requests, one connection");
    conn.discard();
    assert.deepEqual(await s.until(1), { opened: 1, ended: 1 }, "discard() closed it");
    await api.request("GET", "/api");
    assert.deepEqual(await s.until(1), { opened: 2, ended: 1 }, "the next request built a pool");
    conn.close();
    assert.deepEqual(await s.until(2), { opened: 2, ended: 2 }, "close() closed it");
    conn.close(); // idempotent
    await assert.rejects(
      () => api.request("GET", "/api"),
      /^Error: the connection to .* was closed$/,
    );
    assert.deepEqual(await s.until(2), { opened: 2, ended: 2 }, "nothing sent after close()");
  } finally {
    conn.close();
    await s.close();
  }
});

Deno.test("KubeConnection.failed() discards the pool after a transport failure or a timeout, not after the caller's abort", async () => {
  const s = countingServer();
  using conn = new KubeConnection({ server: s.server, caCerts: [], authorization: anonymous });
  try {
    const api = new JsonApi(conn);
    const broken = new TypeError("error sending request: connection reset");
    const aborted = new AbortController();
    aborted.abort(new DOMException("stopped", "AbortError"));
    const timedOut = new AbortController();
    timedOut.abort(new DOMException("no response for 30 s", "TimeoutError"));

    await api.request("GET", "/api");
    assert.match((conn.failed(aborted.signal, broken) as Error).message, /connection reset/);
    assert.deepEqual(await s.until(0), { opened: 1, ended: 0 }, "kept after the caller's abort");
    assert.equal(conn.failed(timedOut.signal, broken), timedOut.signal.reason);
    assert.deepEqual(await s.until(1), { opened: 1, ended: 1 }, "discarded after a timeout");
    await api.request("GET", "/api");
    const described = conn.failed(new AbortController().signal, broken) as Error;
    assert.match(described.message, /connection reset/);
    assert.deepEqual(await s.until(2), { opened: 2, ended: 2 }, "discarded after a failure");
  } finally {
    await s.close();
  }
});
