/**
 * Kubernetes Events, end to end: program processes bound to the chart's Role run a one-shot
 * round with a failing check and a forged task; the leader records TaskFailed, TaskRejected and
 * LeaderElected events that a user finds with `--field-selector reason=…`.
 */
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { REPORTING_CONTROLLER } from "../../lib/kube/events.ts";
import { e2eTest, waitFor } from "./harness.ts";
import { APP, LEASE, startCluster } from "./task_cluster.ts";

e2eTest("events: failed and rejected tasks and new leaders, filterable by reason", async (env) => {
  // A hand-made task (no signature) assigned to a member: its worker rejects it.
  const forged = "dz-mcall-r1-042";
  await env.core.createNamespacedConfigMap({
    namespace: env.ns,
    body: {
      metadata: {
        name: forged,
        labels: {
          app: APP,
          task: "true",
          "assigned-to": "mcall-b",
          "round-id": "r1",
          state: "pending",
        },
        annotations: { processed: "false", "leader-epoch": "1", attempt: "1" },
      },
      data: { spec: '{"index":42}' },
    },
  });
  const cluster = await startCluster(env, {
    names: ["mcall-a", "mcall-b"],
    inputs: [
      { input: "echo fine", name: "good" },
      { input: "sh -c 'echo db unreachable >&2; exit 3'", name: "bad" },
    ],
    env: { MCALL_TASKS_ROUND: "r1" },
    leaderFirst: true,
  });
  const leader = await cluster.leader();
  const codes = await Promise.all(cluster.members.map((m) => m.proc.exited));
  assert(codes.every((c) => c.code === 1), `one-shot exit codes ${codes.map((c) => c.code)}`);

  const byReason = async (reason: string) =>
    (await env.core.listNamespacedEvent({ namespace: env.ns, fieldSelector: `reason=${reason}` }))
      .items;
  const failed = await waitFor(async () => {
    const l = await byReason("TaskFailed");
    return l.length > 0 && l;
  }, { timeoutMs: 10_000, message: "a TaskFailed event" });
  assert.equal(failed.length, 1, "one event for the one failed task");
  const [f] = failed;
  assert.equal(f!.type, "Warning");
  assert.deepEqual(
    [f!.involvedObject.kind, f!.involvedObject.name, f!.involvedObject.namespace],
    ["ConfigMap", "dz-mcall-r1-001", env.ns],
  );
  assert.match(f!.message ?? "", /^Check "bad" failed in round r1 \(attempt 1\): /);
  assert.equal(f!.reportingComponent, REPORTING_CONTROLLER);
  assert.equal(f!.reportingInstance, leader.name);

  const rejected = await byReason("TaskRejected");
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]!.involvedObject.name, forged);
  assert.match(rejected[0]!.message ?? "", /^Task dz-mcall-r1-042 was rejected in round r1/);

  const elected = await byReason("LeaderElected");
  assert(elected.length >= 1, "a LeaderElected event");
  assert.deepEqual(
    [elected[0]!.involvedObject.kind, elected[0]!.involvedObject.name, elected[0]!.type],
    ["Lease", LEASE, "Normal"],
  );
  assert.match(elected[0]!.message ?? "", new RegExp(`^${leader.name} became the leader`));

  // The same events through events.k8s.io/v1, as written.
  const ev = env.kc.makeApiClient(k8s.EventsV1Api);
  const all = (await ev.listNamespacedEvent({ namespace: env.ns })).items;
  assert.deepEqual(
    all.map((e) => e.reason).filter((r) => r !== "LeaderElected").sort(),
    ["TaskFailed", "TaskRejected"],
    "nothing for the check that succeeded",
  );
  for (const m of cluster.members) {
    assert(!m.proc.tail(200).match(/Could not record event/), `${m.name}: ${m.proc.tail()}`);
  }
});
