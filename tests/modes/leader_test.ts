import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { loadKubeConfig } from "../../lib/kube/api.ts";
import {
  probeHost,
  resolveIdentity,
  resolveNamespace,
  resolveOwner,
} from "../../lib/modes/leader.ts";
import { MemoryStore } from "../fakes/memory_store.ts";

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

Deno.test("resolveIdentity() requires a non-empty identity", () => {
  assert.equal(resolveIdentity(config({ identity: "pod-a" })), "pod-a");
  assert.throws(() => resolveIdentity(config()), /^ConfigError: election\.identity: not set/);
});

Deno.test("resolveOwner() reads the owner ConfigMap's uid, and refuses a missing one", async () => {
  const store = new MemoryStore();
  assert.equal(await resolveOwner(store, "", "ns"), undefined, "no owner configured");
  const cm = await store.create({ metadata: { name: "dz-mcall-config" }, data: {} });
  assert.deepEqual(await resolveOwner(store, "dz-mcall-config", "ns"), {
    apiVersion: "v1",
    kind: "ConfigMap",
    name: "dz-mcall-config",
    uid: cm.metadata.uid,
  });
  await assert.rejects(
    () => resolveOwner(store, "gone", "ns"),
    (err: Error) =>
      err instanceof ConfigError && err.message === "tasks.owner: ConfigMap ns/gone does not exist",
  );
  store.failNext("get", "forbidden");
  await assert.rejects(
    () => resolveOwner(store, "dz-mcall-config", "ns"),
    (err: Error) =>
      err instanceof ConfigError && /^tasks\.owner: cannot read ConfigMap/.test(err.message),
  );
});

Deno.test("probeHost() binds what metrics.host says, else 0.0.0.0 in a pod and 127.0.0.1 outside", () => {
  const cfg = (host: string) =>
    loadConfig({ layers: [{ values: { metrics: { host } }, sources: new Map() }] });
  assert.equal(probeHost(cfg("0.0.0.0"), {}), "0.0.0.0");
  assert.equal(probeHost(cfg("10.1.2.3"), { KUBERNETES_SERVICE_HOST: "10.0.0.1" }), "10.1.2.3");
  assert.equal(probeHost(config(), { KUBERNETES_SERVICE_HOST: "10.0.0.1" }), "0.0.0.0");
  assert.equal(probeHost(config(), {}), "127.0.0.1");
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
      assert.throws(() => loadKubeConfig(env), (err: Error) => {
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
