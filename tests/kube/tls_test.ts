/**
 * The pinned TLS transport (`lib/kube/tls.ts`) against a recording HTTPS server (Go's TLS and
 * HTTP/2, tests/kube/recorder) on 127.0.0.1: the kubeconfig's CA is the only trust even when the
 * runtime's default roots hold the server's CA; the one-line causes of failed connections;
 * impersonation headers on requests and watches; `tls-server-name` and `insecure-skip-tls-verify`.
 */
import assert from "node:assert/strict";
import { JsonApi } from "../../lib/kube/requests.ts";
import { runWatch } from "../../lib/kube/watch.ts";
import type { KubeConfig } from "../../lib/kube/kubeconfig.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { issue, type Issued, makeCa } from "./pki.ts";
import { Recorder } from "./recorder.ts";

interface Pki {
  dir: string;
  good: Issued;
  evil: Issued;
  server: Issued;
  attacker: Issued;
  other: Issued;
  client: Issued;
}

let pki: Promise<Pki> | undefined;
function certs(): Promise<Pki> {
  pki ??= (async () => {
    const dir = await Deno.makeTempDir();
    const good = await makeCa(dir, "cluster-ca");
    const evil = await makeCa(dir, "attacker-ca");
    return {
      dir,
      good,
      evil,
      server: await issue(dir, good, "server", { san: "IP:127.0.0.1,DNS:kubernetes" }),
      attacker: await issue(dir, evil, "attacker", { san: "IP:127.0.0.1,DNS:kubernetes" }),
      other: await issue(dir, good, "other", { san: "DNS:elsewhere.example" }),
      client: await issue(dir, good, "client", { subject: "/O=system:masters/CN=alice" }),
    };
  })();
  return pki;
}

const token = () => Promise.resolve("Bearer secret-token");

/** One GET through a fresh connection of `kc`; the error's message when it fails. */
async function get(kc: KubeConfig, path = "/api"): Promise<string> {
  using conn = new KubeConnection(kc);
  try {
    await new JsonApi(conn).request("GET", path);
    return "ok";
  } catch (err) {
    return (err as Error).message;
  }
}

Deno.test("the kubeconfig's CA is the only trust: a server chaining to a CA in the default roots (DENO_CERT) is refused before any header is sent", async () => {
  const p = await certs();
  const attacker = await Recorder.start({ cert: p.attacker.certFile, key: p.attacker.keyFile });
  const genuine = await Recorder.start({ cert: p.server.certFile, key: p.server.keyFile });
  try {
    const run = async (url: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write=/tmp",
          "--allow-env",
          "--allow-net",
          new URL("./pinned_client.ts", import.meta.url).pathname,
          url,
          p.good.certFile,
        ],
        // The attacker's CA is in this process's default roots.
        env: { DENO_CERT: p.evil.certFile },
        stdout: "piped",
      }).output();
      return JSON.parse(new TextDecoder().decode(out.stdout)) as { ok?: unknown; error?: string };
    };
    const refused = await run(attacker.url);
    assert.match(refused.error ?? "", /^certificate signed by unknown authority: /);
    assert.deepEqual(attacker.requests, [], "no request (no bearer token) reached the attacker");
    const accepted = await run(genuine.url);
    assert.deepEqual(accepted.ok, {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
    });
    assert.equal(genuine.requests.length, 1);
    assert.deepEqual(genuine.requests[0]!.headers.authorization, ["Bearer secret-token"]);
    assert.equal(genuine.requests[0]!.proto, "HTTP/2.0", "the pool still speaks HTTP/2");
  } finally {
    await attacker.close();
    await genuine.close();
  }
});

Deno.test("a failed connection's cause is in the one-line message: unknown authority, name mismatch, certificate required, connection refused", async () => {
  const p = await certs();
  const server = await Recorder.start({ cert: p.server.certFile, key: p.server.keyFile });
  const wrongName = await Recorder.start({ cert: p.other.certFile, key: p.other.keyFile });
  const mtls = await Recorder.start({
    cert: p.server.certFile,
    key: p.server.keyFile,
    clientCa: p.good.certFile,
  });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = closed.addr.port;
  closed.close();
  try {
    const cases: [string, KubeConfig, RegExp][] = [
      [
        "wrong CA",
        { server: server.url, caCerts: [p.evil.cert], authorization: token },
        /^certificate signed by unknown authority: .*(UNABLE_TO_VERIFY|unable to verify)/,
      ],
      [
        "name mismatch",
        { server: wrongName.url, caCerts: [p.good.cert], authorization: token },
        /^certificate is not valid for the server's name: /,
      ],
      [
        "no client certificate",
        { server: mtls.url, caCerts: [p.good.cert], authorization: token },
        /certificate required/,
      ],
      [
        "refused",
        { server: `https://127.0.0.1:${closedPort}`, caCerts: [p.good.cert], authorization: token },
        /^connection refused: /,
      ],
    ];
    for (const [name, kc, pattern] of cases) {
      const message = await get(kc);
      assert.match(message, pattern, `${name}: ${message}`);
      assert.ok(!message.includes("\n"), name);
    }
    assert.deepEqual([...server.requests, ...wrongName.requests, ...mtls.requests], []);
    const withCert = {
      server: mtls.url,
      caCerts: [p.good.cert],
      cert: p.client.cert,
      key: p.client.key,
      authorization: token,
    };
    assert.equal(await get(withCert), "ok");
    assert.equal(mtls.requests[0]!.client, "CN=alice,O=system:masters");
  } finally {
    await server.close();
    await wrongName.close();
    await mtls.close();
  }
});

Deno.test("impersonation headers go with every request and watch; tls-server-name sets SNI and the name checked; insecure-skip-tls-verify checks nothing", async () => {
  const p = await certs();
  const server = await Recorder.start({ cert: p.other.certFile, key: p.other.keyFile });
  try {
    const impersonate = [
      ["Impersonate-User", "bob"],
      ["Impersonate-Group", "dev"],
      ["Impersonate-Group", "ops"],
      ["Impersonate-Extra-scopes", "view"],
    ] as const;
    const kc: KubeConfig = {
      server: server.url,
      caCerts: [p.good.cert],
      tlsServerName: "elsewhere.example",
      impersonate,
      authorization: token,
    };
    assert.equal(await get(kc, "/api/v1/namespaces/ns/configmaps"), "ok");
    const controller = new AbortController();
    const conn = new KubeConnection(kc);
    await runWatch(conn, {
      path: "/api/v1/namespaces/ns/configmaps",
      query: {},
      onObject: () => {},
      toError: (e) => e as Error,
    }, controller.signal)
      .catch(() => {});
    conn.close();
    assert.equal(server.requests.length, 2);
    for (const request of server.requests) {
      assert.equal(request.sni, "elsewhere.example");
      assert.deepEqual(request.headers["impersonate-user"], ["bob"]);
      assert.deepEqual(request.headers["impersonate-group"], ["dev", "ops"]);
      assert.deepEqual(request.headers["impersonate-extra-scopes"], ["view"]);
    }
    assert.match(server.requests[1]!.query, /watch=(1|true)/);
    // Without tls-server-name the certificate (for elsewhere.example) does not name 127.0.0.1.
    assert.match(
      await get({ server: server.url, caCerts: [p.good.cert], authorization: token }),
      /^certificate is not valid for the server's name/,
    );
    assert.equal(
      await get({ server: server.url, caCerts: [], insecure: true, authorization: token }),
      "ok",
    );
  } finally {
    await server.close();
  }
});

Deno.test("bodies larger than the relay's buffers arrive whole both ways (an 8 MiB list, a 3 MiB request)", async () => {
  const p = await certs();
  const server = await Recorder.start({ cert: p.server.certFile, key: p.server.keyFile });
  const conn = new KubeConnection({
    server: server.url,
    caCerts: [p.good.cert],
    authorization: token,
  });
  try {
    const size = 8 * 1024 * 1024;
    const sent = { data: { y: "b".repeat(3 * 1024 * 1024) } };
    const lists = await Promise.all(
      [1, 2, 3].map(() =>
        new JsonApi(conn).request<{ items: { data: { x: string; sent: string } }[] }>(
          "POST",
          `/api/v1/namespaces/ns/configmaps?size=${size}`,
          sent,
        )
      ),
    );
    for (const list of lists) {
      assert.equal(list.items[0]!.data.x.length, size);
      assert.equal(Number(list.items[0]!.data.sent), JSON.stringify(sent).length);
    }
  } finally {
    conn.close();
    await server.close();
  }
});
