/**
 * The lock over a Lease object (`lib/election/lease_object_lock.ts`).
 */
import assert from "node:assert/strict";
import type { LeaseObject } from "../../lib/election/lease_object_lock.ts";
import { LeaseObjectLock } from "../../lib/election/lease_object_lock.ts";
import type { LeaderElectionRecord } from "../../lib/election/lease_record.ts";
import { MemoryLeaseServer } from "../fakes/memory_lease.ts";
import { NAME, NS, wallAt } from "../fakes/election_world.ts";

// --- Lease lock and conversions ------------------------------------------------------------------

Deno.test("LeaseObjectLock.update() sends the cached resourceVersion and fails on a stale one", async () => {
  const server = new MemoryLeaseServer();
  const a = new LeaseObjectLock({ client: server.client(), namespace: NS, identity: "a" });
  const b = new LeaseObjectLock({ client: server.client(), namespace: NS, identity: "b" });
  const record: LeaderElectionRecord = {
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: wallAt(0),
    renewTime: wallAt(0),
    leaseTransitions: 0,
  };
  assert.equal(await a.get(), null);
  await a.create(record);
  await assert.rejects(b.update(record), { name: "KubeError", kind: "conflict" });
  const seen = await b.get();
  assert.deepEqual(seen?.record, record);
  await a.update({ ...record, renewTime: wallAt(2000) });
  await assert.rejects(b.update({ ...record, holderIdentity: "b" }), { kind: "conflict" });
  server.delete(NAME, NS);
  await assert.rejects(a.update(record), { kind: "notFound" });
});

Deno.test("LeaseObjectLock.update() keeps metadata and spec fields it does not own", async () => {
  const server = new MemoryLeaseServer();
  const lease: LeaseObject = {
    metadata: { name: NAME, namespace: NS, labels: { app: "dz-mcall" } },
    spec: { holderIdentity: "x", strategy: "OldestEmulationVersion" },
  };
  server.put(lease);
  const lock = new LeaseObjectLock({ client: server.client(), namespace: NS, identity: "a" });
  await lock.get();
  await lock.update({
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: null,
    renewTime: wallAt(0),
    leaseTransitions: 1,
  });
  const stored = server.lease(NAME, NS);
  assert.deepEqual(stored?.metadata?.labels, { app: "dz-mcall" });
  assert.equal(stored?.spec?.strategy, "OldestEmulationVersion");
  assert.equal("acquireTime" in (stored?.spec ?? {}), false);
});

Deno.test("LeaseObjectLock puts its owner on the Lease it creates and on one it updates", async () => {
  const owner = { apiVersion: "v1", kind: "ConfigMap", name: "dz-mcall-config", uid: "u-1" };
  const record = {
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: wallAt(0),
    renewTime: wallAt(0),
    leaseTransitions: 0,
  };
  const server = new MemoryLeaseServer();
  const lock = (o = [owner]) =>
    new LeaseObjectLock({
      client: server.client(),
      namespace: NS,
      identity: "a",
      ownerReferences: o,
    });
  await lock().create(record);
  assert.deepEqual(server.lease(NAME, NS)?.metadata?.ownerReferences, [owner]);
  // A Lease of an older install, without owner: the next write adds it, keeping other owners.
  const other = { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "u-0" };
  server.put({ metadata: { name: NAME, namespace: NS, ownerReferences: [other] }, spec: {} });
  const l = lock();
  await l.get();
  await l.update(record);
  assert.deepEqual(server.lease(NAME, NS)?.metadata?.ownerReferences, [other, owner]);
  await l.update(record);
  assert.deepEqual(server.lease(NAME, NS)?.metadata?.ownerReferences, [other, owner], "once");
});

Deno.test("new LeaseObjectLock() rejects an empty namespace", () => {
  const client = new MemoryLeaseServer().client();
  assert.throws(() => new LeaseObjectLock({ client, namespace: "", identity: "a" }), {
    name: "TypeError",
    message: "Cannot create lease lock as 'namespace' must not be empty",
  });
});
