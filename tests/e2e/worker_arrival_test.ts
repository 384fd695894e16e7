/**
 * The leader's pod watch on the real API server, with the chart's rendered Role: a round waiting
 * for workers is planned once a worker pod turned ready (and no other did for the quiet period).
 * The planner's reconcile interval is 10 minutes, so only the watch can wake it within the test
 * (without `watch` on pods in the Role, or with pod events the adapter misreads, nothing is
 * planned and the test fails).
 * A Job's pods (a CronJob round's) count once their containers started, Ready or not.
 */
import assert from "node:assert/strict";
import { type E2E, e2eTest, waitFor } from "./harness.ts";
import { chartRoleRules } from "../chart/helpers.ts";
import { KubeApi } from "../../lib/kube/api.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";
import { Planner } from "../../lib/planner/planner.ts";
import { setupLogging } from "../../lib/log/log.ts";
import { systemClock } from "../../lib/time/clock.ts";
import { instantSigner, specs, tasksConfig } from "../fakes/memory_store.ts";

/** The planner's reconcile interval here: far beyond what the test waits. */
const TICK_MS = 600_000;

/** A connection as the service account bound to the chart's leader Role. */
async function chartConnection(env: E2E): Promise<KubeConnection> {
  const sa = await env.withServiceAccount("dz-mcall", await chartRoleRules("dz-mcall-leader"));
  return new KubeConnection(await loadKubeConfig({ KUBECONFIG: sa.kubeconfigPath }));
}

/** A planner leading term 1 as pod `lead` over `api`, woken only by its pod watch in time. */
function podWatchPlanner(api: KubeApi, round: string): Planner {
  return new Planner({
    store: api.taskStore(),
    pods: api.podLister(),
    clock: systemClock,
    isLeader: () => true,
    epoch: () => 1,
    identity: "lead",
    tasks: tasksConfig({ round, leaderRunsTasks: false }),
    signer: instantSigner("key"),
    reconcileIntervalMs: TICK_MS,
  });
}

e2eTest(
  "tasks: a waiting round is planned when a worker pod turns ready (pod watch, chart Role)",
  async (env) => {
    using conn = await chartConnection(env);
    const api = new KubeApi(conn, env.ns);
    await env.startFakePod({ name: "lead", labels: { app: "dz-mcall" } });
    const worker = await env.startFakePod({
      name: "worker",
      labels: { app: "dz-mcall" },
      ready: false,
    });
    const messages: string[] = [];
    setupLogging({ level: "info", sink: (record) => messages.push(String(record.rawMessage)) });
    const stop = new AbortController();
    const planner = podWatchPlanner(api, "arrival");
    const running = planner.runLeader(specs(2), stop.signal);
    try {
      const store = api.taskStore();
      const tasks = async () => (await store.list("app=dz-mcall,task=true")).items;
      await waitFor(() => messages.some((m) => m.startsWith("No ready worker pod")), {
        timeoutMs: 20_000,
        message: "the round waits",
      });
      assert.equal((await tasks()).length, 0);
      await worker.setReady(true);
      // The next tick is 10 minutes away: only the watch's wake plans the round in time.
      const planned = await waitFor(async () => {
        const items = await tasks();
        return items.length === 2 && items;
      }, { timeoutMs: 20_000, message: "planned after the worker turned ready" });
      assert.deepEqual(planned.map((t) => t.metadata.labels?.["assigned-to"]), [
        "worker",
        "worker",
      ]);
      // What operators see as the writer of a task (the User-Agent names the field manager).
      const task = await env.core.readNamespacedConfigMap({
        name: planned[0]!.metadata.name,
        namespace: env.ns,
      });
      assert.deepEqual(task.metadata?.managedFields?.map((f) => f.manager), ["dz-mcall"]);
      assert.ok(
        !messages.some((m) => m.startsWith("Worker pod watch failed")),
        messages.join("\n"),
      );
    } finally {
      stop.abort();
      await running;
      setupLogging({ level: "error" });
    }
  },
);

e2eTest(
  "tasks: a Job's pods take a round once their containers started, before any readiness probe",
  async (env) => {
    using conn = await chartConnection(env);
    const api = new KubeApi(conn, env.ns);
    // A CronJob round's pods as the kubelet reports them before the first readiness probe:
    // Running, every container started, Ready False.
    const job = { app: "dz-mcall", "batch.kubernetes.io/job-name": "round-1" };
    await env.startFakePod({ name: "lead", labels: job, ready: false });
    await env.startFakePod({ name: "worker", labels: job, ready: false });
    const stop = new AbortController();
    const planner = podWatchPlanner(api, "round-1");
    const running = planner.runLeader(specs(2), stop.signal);
    try {
      const store = api.taskStore();
      // Planned at the first tick: no readiness to wait for, no later tick within the test.
      const planned = await waitFor(async () => {
        const items = (await store.list("app=dz-mcall,task=true")).items;
        return items.length === 2 && items;
      }, { timeoutMs: 20_000, message: "planned on the Job's started, unready pods" });
      assert.deepEqual(planned.map((t) => t.metadata.labels?.["assigned-to"]), [
        "worker",
        "worker",
      ]);
    } finally {
      stop.abort();
      await running;
    }
  },
);
