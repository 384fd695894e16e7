/**
 * kubeconfig `exec` plugins (`lib/kube/exec_credential.ts`) with real plugin processes: a
 * relative command resolved against the kubeconfig's directory, one run for many concurrent
 * requests after the token expired, and a user with exec in a two-file `KUBECONFIG` that repeats
 * a cluster name (our merged result is used, nothing re-merges the files).
 */
import assert from "node:assert/strict";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";
import { FakeClock } from "../fakes/clock.ts";
import { ApiError, JsonApi } from "../../lib/kube/requests.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { issue, makeCa } from "./pki.ts";
import { Recorder } from "./recorder.ts";

/** A plugin script that counts its runs in `runs` and prints a token expiring at `expiry`. */
function plugin(dir: string, expiry: string): string {
  const credential = JSON.stringify({
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: { token: "tok", expirationTimestamp: expiry },
  });
  return `#!/bin/sh\necho run >> '${dir}/runs'\nsleep 0.3\nprintf '%s' '${credential}'\n`;
}

function config(command: string, clusterServer = "https://127.0.0.1:6443") {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: clusterServer } }],
    users: [{
      name: "u",
      user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command } },
    }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    "current-context": "ctx",
  });
}

const runs = async (dir: string) => (await Deno.readTextFile(`${dir}/runs`)).split("\n").length - 1;

Deno.test("an exec plugin's relative command runs from the kubeconfig's directory, not the cwd", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/conf/bin`, { recursive: true });
    await Deno.writeTextFile(`${dir}/conf/bin/cred`, plugin(dir, "2999-01-01T00:00:00Z"), {
      mode: 0o755,
    });
    await Deno.writeTextFile(`${dir}/conf/config`, config("./bin/cred"));
    // The cwd (the repository) has no ./bin/cred: only the kubeconfig's directory has.
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/conf/config` });
    assert.equal(await kc.authorization(), "Bearer tok");
    assert.equal(await runs(dir), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after the token expired, 8 concurrent requests run the plugin once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Expires 10 minutes after the wall clock of the fake clock.
    const clock = new FakeClock();
    const expiry = new Date(clock.wallNow().getTime() + 600_000).toISOString();
    await Deno.writeTextFile(`${dir}/cred`, plugin(dir, expiry), { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/config`, config(`${dir}/cred`));
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/config` }, { clock });
    assert.equal(await runs(dir), 1, "loading runs it once");
    const cached = await Promise.all(Array.from({ length: 8 }, () => kc.authorization()));
    assert.deepEqual(new Set(cached), new Set(["Bearer tok"]));
    assert.equal(await runs(dir), 1, "cached until the expiry");
    await clock.advance(600_001);
    const after = await Promise.all(Array.from({ length: 8 }, () => kc.authorization()));
    assert.deepEqual(new Set(after), new Set(["Bearer tok"]));
    assert.equal(await runs(dir), 2, "one run for 8 concurrent requests");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exec with a two-file KUBECONFIG repeating a cluster name: the first file's cluster, our merge", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cred`, plugin(dir, "2999-01-01T00:00:00Z"), { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/a`, config(`${dir}/cred`, "https://127.0.0.1:1111"));
    await Deno.writeTextFile(`${dir}/b`, config(`${dir}/cred`, "https://127.0.0.1:2222"));
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/a:${dir}/b` });
    assert.equal(kc.server, "https://127.0.0.1:1111");
    assert.equal(await kc.authorization(), "Bearer tok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 401 to a request made with the plugin's token runs the plugin again on the next request (client-go)", async () => {
  const dir = await Deno.makeTempDir();
  const ca = await makeCa(dir, "ca");
  const cert = await issue(dir, ca, "server", { san: "IP:127.0.0.1" });
  const server = await Recorder.start({ cert: cert.certFile, key: cert.keyFile });
  try {
    await Deno.writeTextFile(`${dir}/cred`, plugin(dir, "2999-01-01T00:00:00Z"), { mode: 0o755 });
    const doc = JSON.parse(config(`${dir}/cred`, server.url));
    doc.clusters[0].cluster["certificate-authority"] = ca.certFile;
    await Deno.writeTextFile(`${dir}/config`, JSON.stringify(doc));
    using conn = new KubeConnection(await loadKubeConfig({ KUBECONFIG: `${dir}/config` }));
    const api = new JsonApi(conn);
    await api.request("GET", "/api/v1/namespaces/ns/configmaps");
    assert.equal(await runs(dir), 1, "a 200 keeps the token");
    await assert.rejects(() => api.request("GET", "/api/v1/namespaces/ns/unauthorized"), ApiError);
    assert.equal(await runs(dir), 1, "the 401 itself does not run the plugin");
    await api.request("GET", "/api/v1/namespaces/ns/configmaps");
    assert.equal(await runs(dir), 2, "the next request got a fresh token");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
