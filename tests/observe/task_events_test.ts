import assert from "node:assert/strict";
import { EVENT_MAX_AGE_S, leaderElectedEvent, taskEvents } from "../../lib/observe/task_events.ts";
import { newTaskConfigMap, patched, rfc3339, viewTask } from "../../lib/tasks/contract.ts";
import { specs } from "../fakes/memory_store.ts";

const NOW = Date.parse("2025-01-01T01:00:00Z") / 1000;

function task(index: number, state: string, ageS: number, extra: Record<string, string> = {}) {
  const cm = newTaskConfigMap({
    app: "dz-mcall",
    round: "r1",
    spec: specs(index + 1)[index]!,
    assignedTo: "p",
    epoch: 1,
    signature: "",
  });
  return viewTask(patched(cm, {
    labels: { state },
    annotations: {
      processed: "true",
      "processed-at": rfc3339(new Date((NOW - ageS) * 1000)),
      attempt: extra.attempt ?? "1",
      ...(extra.reason ? { reason: extra.reason } : {}),
    },
    data: extra.error ? { error: extra.error } : {},
  }));
}

const checkOf = (v: { name: string }) => v.name.endsWith("-000") ? "web" : undefined;

Deno.test("taskEvents(): one Warning per failed, dead or rejected task, with its why", () => {
  const views = [
    task(0, "failed", 5, { error: "exit code 3" }),
    task(1, "dead", 5, { attempt: "3", reason: "dead after 3 attempts: pod gone" }),
    task(2, "rejected", 5, { reason: "bad signature" }),
    task(3, "succeeded", 5),
  ];
  const out = taskEvents(views, new Set(), NOW, checkOf);
  assert.deepEqual(out.map((o) => [o.event.name, o.event.reason, o.event.type]), [
    ["dz-mcall-r1-000.failed-1", "TaskFailed", "Warning"],
    ["dz-mcall-r1-001.dead-3", "TaskDead", "Warning"],
    ["dz-mcall-r1-002.rejected-1", "TaskRejected", "Warning"],
  ]);
  assert.equal(out[0]!.event.note, 'Check "web" failed in round r1 (attempt 1): exit code 3');
  assert.equal(
    out[1]!.event.note,
    "Task dz-mcall-r1-001 is dead in round r1 (attempt 3): dead after 3 attempts: pod gone",
  );
  assert.deepEqual(out[2]!.event.regarding, { kind: "ConfigMap", name: "dz-mcall-r1-002" });
});

Deno.test("taskEvents(): skips recorded outcomes and tasks older than the window", () => {
  const views = [task(0, "failed", EVENT_MAX_AGE_S + 1), task(1, "failed", 1)];
  const first = taskEvents(views, new Set(), NOW, checkOf);
  assert.deepEqual(first.map((o) => o.event.name), ["dz-mcall-r1-001.failed-1"]);
  assert.deepEqual(taskEvents(views, new Set(first.map((o) => o.key)), NOW, checkOf), []);
  // A new attempt of the same task is a new outcome.
  const retried = task(1, "failed", 1, { attempt: "2" });
  assert.equal(taskEvents([retried], new Set(first.map((o) => o.key)), NOW, checkOf).length, 1);
});

Deno.test("taskEvents(): a long error is cut to the API's 1 KiB note", () => {
  const [o] = taskEvents(
    [task(0, "failed", 1, { error: "é".repeat(2000) })],
    new Set(),
    NOW,
    checkOf,
  );
  assert(new TextEncoder().encode(o!.event.note).length <= 1024);
});

Deno.test("leaderElectedEvent(): Normal, on the Lease, named by epoch", () => {
  assert.deepEqual(leaderElectedEvent("dz-mcall-leader", "pod-1", 7), {
    name: "dz-mcall-leader.elected-7",
    regarding: { kind: "Lease", name: "dz-mcall-leader" },
    reason: "LeaderElected",
    type: "Normal",
    action: "Elect",
    note: "pod-1 became the leader (epoch 7)",
  });
  assert.equal(leaderElectedEvent("x".repeat(253), "p", 1).name.length, 253);
});
