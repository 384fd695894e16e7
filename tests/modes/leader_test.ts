import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { probeHost, resolveIdentity, resolveOwner, runLeader } from "../../lib/modes/leader.ts";
import type { LeaderDeps } from "../../lib/modes/leader_wiring.ts";
import type { Outcome } from "../../lib/modes/outcome.ts";
import { roundName } from "../../lib/tasks/contract.ts";
import { systemClock } from "../../lib/time/clock.ts";
import { MemoryLeaseServer } from "../fakes/memory_lease.ts";
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

/** Leader mode wired against in-memory fakes of the API server, on the real clock. */
function inMemory(values: Record<string, unknown>) {
  const store = new MemoryStore();
  const leases = new MemoryLeaseServer();
  const events: string[] = [];
  const deps: LeaderDeps = {
    config: loadConfig({
      layers: [{ values: { tasks: { insecureUnsignedTasks: true } }, sources: new Map() }, {
        values,
        sources: new Map(),
      }],
    }),
    namespace: "ns",
    identity: "pod-a",
    signer: undefined,
    owner: undefined,
    cluster: {
      store,
      pods: store,
      leases: leases.client(),
      events: { record: (e) => Promise.resolve(void events.push(e.reason)) },
    },
    clock: systemClock,
  };
  const holder = () => leases.lease("dz-mcall-leader", "ns")?.spec?.holderIdentity;
  return { store, deps, holder, events };
}

for (
  const [summary, kind] of [
    [{ phase: "complete", succeeded: "2", failed: "1" }, "ok"],
    [{ phase: "complete", succeeded: "1", dead: "1" }, "failed"],
    [{ phase: "deadline-exceeded" }, "roundDeadline"],
  ] as const
) {
  Deno.test(`runLeader() ends a one-shot round whose summary says ${JSON.stringify(summary)} with outcome ${kind}`, async () => {
    const { store, deps, holder } = inMemory({
      tasks: { round: "job-1" },
      metrics: { enable: false },
      election: { retryPeriod: "100ms" },
    });
    store.put({ metadata: { name: roundName("dz-mcall", "job-1") }, data: summary });
    const outcome: Outcome = await runLeader(deps, {
      signal: new AbortController().signal,
      env: {},
    });
    assert.deepEqual(outcome, { kind });
    assert.equal(holder(), undefined, "a pod whose round is over never takes the Lease");
  });
}

Deno.test("runLeader() leads, serves the probes, and on abort releases the Lease and ends ok", async () => {
  const { deps, holder, events } = inMemory({
    metrics: { host: "127.0.0.1", port: 0 },
    election: { retryPeriod: "100ms" },
  });
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const running = runLeader(deps, {
    signal: controller.signal,
    env: {},
    onProbesListening: resolve,
  });
  const base = `http://127.0.0.1:${(await listening).port}`;
  for (let i = 0; i < 100 && holder() !== "pod-a"; i++) await systemClock.sleep(50);
  assert.equal(holder(), "pod-a");
  const ready = await fetch(`${base}/readyz`);
  assert.deepEqual([ready.status, await ready.text()], [200, "ready\n"]);
  let metrics = "";
  for (let i = 0; i < 100 && !/^mcall_leader 1$/m.test(metrics); i++) {
    metrics = await (await fetch(`${base}/metrics`)).text();
    if (!/^mcall_leader 1$/m.test(metrics)) await systemClock.sleep(50);
  }
  assert.match(metrics, /^mcall_leader 1$/m);
  assert.match(metrics, /^mcall_leader_transitions_total 1$/m);
  controller.abort();
  assert.deepEqual(await running, { kind: "ok" });
  assert.equal(holder(), "", "the Lease is released on shutdown");
  assert.ok(events.includes("LeaderElected"), `events: ${events}`);
  await assert.rejects(() => fetch(`${base}/readyz`), "the probe server stopped");
});

Deno.test("runLeader() reads the environment main.ts passes, not the process's", async () => {
  // The test process has no KUBERNETES_SERVICE_HOST: only the passed env can make it a pod.
  assert.equal(Deno.env.get("KUBERNETES_SERVICE_HOST"), undefined);
  const { deps } = inMemory({ metrics: { port: 0 }, election: { retryPeriod: "100ms" } });
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const running = runLeader(deps, {
    signal: controller.signal,
    env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" },
    onProbesListening: resolve,
  });
  const addr = await listening;
  controller.abort();
  await running;
  assert.equal(addr.hostname, "0.0.0.0", "a pod's probes listen on every address");
});
