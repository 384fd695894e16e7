import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { resolveIdentity, resolveNamespace, resolveOwner } from "../lib/leader_mode.ts";
import { MemoryStore } from "./memory_store.ts";

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
