/**
 * An aborted watch ends at once, even right after a burst of events. Seen on Deno 2.9 over HTTP/2:
 * after a `deletecollection` of 1,000 ConfigMaps streamed 1,000 DELETED events to the planner's
 * task cache, aborting the watch's request left its pending body read hanging until the API server
 * closed the stream (75 s measured), so a leader whose term ended could not stop its caches and
 * kept the Lease waiting (bench/tasks.ts, round 2). `runWatch` now also cancels the body's reader.
 */
import assert from "node:assert/strict";
import { e2eTest, waitFor } from "./harness.ts";
import { KubeApi } from "../../lib/kube/api.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { LIST_PAGE_SIZE } from "../../lib/kube/configmaps.ts";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";
import { runPool } from "../../lib/engine/pool.ts";
import { PlannerCaches } from "../../lib/planner/informer.ts";
import { systemClock } from "../../lib/time/clock.ts";

const OBJECTS = 1000;
/** Far below the server's own end of a watch (`timeoutSeconds` ≥ 300 s, `lib/kube/watch.ts`). */
const ENDS_WITHIN_MS = 20_000;

e2eTest("the planner's caches stop at once after a burst of DELETED events", async (env) => {
  using conn = new KubeConnection(await loadKubeConfig({ KUBECONFIG: env.kubeconfigPath }));
  const store = new KubeApi(conn, env.ns).taskStore();
  const term = new AbortController();
  const caches = new PlannerCaches(
    { store, clock: systemClock, app: "burst" },
    term.signal,
  );
  const cached = async () => (await caches.read()).views.length;
  await runPool(Array.from({ length: OBJECTS }, (_, i) => i), 16, async (i) => {
    await store.create({
      metadata: { name: `burst-${i}`, labels: { app: "burst", task: "true", state: "succeeded" } },
      data: { x: "y".repeat(1000) },
    });
  });
  await waitFor(async () => await cached() === OBJECTS, { timeoutMs: 60_000, message: "cached" });
  // A list of more than one page (LIST_PAGE_SIZE) returns every object once, and a
  // resourceVersion a watch can start from.
  const listed = await store.list("app=burst,task=true");
  assert.ok(OBJECTS > LIST_PAGE_SIZE);
  assert.equal(new Set(listed.items.map((cm) => cm.metadata.name)).size, OBJECTS);
  assert.notEqual(listed.resourceVersion, "");
  await store.deleteCollection("app=burst,task=true");
  await waitFor(async () => await cached() === 0, { timeoutMs: 60_000, message: "all deleted" });
  term.abort();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    caches.stop().then(() => true),
    new Promise<false>((r) => timer = setTimeout(() => r(false), ENDS_WITHIN_MS)),
  ]);
  clearTimeout(timer);
  assert.ok(stopped, `the caches' watches still run ${ENDS_WITHIN_MS} ms after the term ended`);
  await caches.stop();
}, { timeoutMs: 180_000 });
