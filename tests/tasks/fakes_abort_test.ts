/**
 * The in-memory fakes (`tests/fakes/`) honour an `AbortSignal` exactly as the adapters of
 * `lib/kube/` do (tests/kube/retry_test.ts): an aborted call rejects with the signal's reason as
 * it is (not a `KubeError`) and writes nothing; a call held by the fake ends at once on abort with
 * that reason. Tests written against the fakes then see what production code sees.
 */
import assert from "node:assert/strict";
import { MemoryStore } from "../fakes/memory_store.ts";
import { MemoryLeaseServer } from "../fakes/memory_lease.ts";

const reason = new DOMException("gave up", "AbortError");
const aborted = () => AbortSignal.abort(reason);

Deno.test("MemoryStore: every call with an aborted signal rejects with its reason and writes nothing", async () => {
  const store = new MemoryStore();
  await store.create({ metadata: { name: "a", labels: { x: "y" } } });
  const writes = store.writeCount;
  const a = store.peek("a")!;
  const calls: (() => Promise<unknown>)[] = [
    () => store.list("x=y", aborted()),
    () => store.get("a", aborted()),
    () => store.create({ metadata: { name: "b" } }, aborted()),
    () => store.update(a, aborted()),
    () => store.delete("a", aborted()),
    () => store.deleteCollection("x=y", aborted()),
    () => store.listPods("", aborted()),
  ];
  for (const call of calls) assert.equal(await call().then(() => "resolved", (e) => e), reason);
  assert.equal(store.writeCount, writes);
  assert.deepEqual(store.all().map((cm) => cm.metadata.name), ["a"]);
  // A watch resolves (it is not an error to stop watching), as the adapter's does.
  await store.watch("x=y", "1", () => assert.fail("no event after abort"), aborted());
});

Deno.test("MemoryLeaseClient: an aborted call rejects with its reason and writes nothing; a held call ends at once on abort", async () => {
  const server = new MemoryLeaseServer();
  const client = server.client();
  const lease = { metadata: { name: "l", namespace: "ns" } };
  for (
    const call of [
      () => client.read("l", "ns", aborted()),
      () => client.create("ns", lease, aborted()),
      () => client.replace("l", "ns", lease, aborted()),
    ]
  ) assert.equal(await call().then(() => "resolved", (e) => e), reason);
  assert.equal(server.lease("l", "ns"), undefined, "nothing was created");
  client.failNext(1, "hang");
  const stop = new AbortController();
  const held = client.create("ns", lease, stop.signal);
  stop.abort(reason);
  assert.equal(await held.then(() => "resolved", (e) => e), reason);
  assert.equal(server.lease("l", "ns"), undefined);
});
