import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../lib/config/load.ts";
import { probeHost, resolveIdentity, resolveOwner } from "../../lib/modes/leader.ts";
import { MemoryStore } from "../fakes/memory_store.ts";

const config = (election: Record<string, unknown> = {}) =>
  loadConfig({ layers: [{ values: { election }, sources: new Map() }] });

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
