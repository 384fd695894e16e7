import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { createCheckMetrics } from "../../lib/observe/check_metrics.ts";
import { checkLabels, snapshot } from "../../lib/observe/check_snapshot.ts";
import { LeaderObserver } from "../../lib/observe/leader_observer.ts";
import { newRoundSummary } from "../../lib/planner/round_summary.ts";
import { newTaskConfigMap, patched, rfc3339, viewTask } from "../../lib/tasks/contract.ts";
import type { ConfigMapLike } from "../../lib/tasks/store.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

const APP = "dz-mcall";
const T0 = Date.parse("2025-01-01T00:00:00Z");

/** A finished task of `round` for input `index`, as worker and planner leave it. */
function finished(
  round: string,
  index: number,
  state: "succeeded" | "failed" | "dead" | "rejected",
  atSec: number,
  extra: { durationMs?: number; error?: string; attempt?: number; reason?: string } = {},
): ConfigMapLike {
  const cm = newTaskConfigMap({
    app: APP,
    round,
    spec: specs(index + 1)[index]!,
    assignedTo: "pod-a",
    epoch: 1,
    signature: "",
  });
  return patched(cm, {
    labels: { state },
    annotations: {
      processed: "true",
      "processed-at": rfc3339(new Date(T0 + atSec * 1000)),
      attempt: String(extra.attempt ?? 1),
      ...(extra.reason ? { reason: extra.reason } : {}),
    },
    data: extra.durationMs === undefined
      ? {}
      : { durationMs: String(extra.durationMs), error: extra.error ?? "", errorCode: "0" },
  });
}

function summary(round: string, startSec: number, endSec: number | undefined, counts = {}) {
  const cm = newRoundSummary({
    app: APP,
    round,
    total: 2,
    epoch: 1,
    leader: "lead",
    start: new Date(T0 + startSec * 1000),
  });
  return {
    ...cm,
    data: {
      ...cm.data,
      ...counts,
      ...(endSec === undefined
        ? {}
        : { phase: "complete", end: rfc3339(new Date(T0 + endSec * 1000)) }),
    },
  };
}

const sec = (s: number) => T0 / 1000 + s;

Deno.test("checkLabels() keeps configured names and makes repeats unique by index", () => {
  const labels = checkLabels([
    { index: 0, name: "web" },
    { index: 1, name: "db" },
    { index: 2, name: "web" },
  ]);
  assert.deepEqual([...labels.entries()], [[0, "web"], [1, "db"], [2, "web#2"]]);
});

Deno.test("snapshot(): the newest result per check, last success, failing since", () => {
  const views = [
    finished("r1", 0, "succeeded", 10, { durationMs: 1500 }),
    finished("r2", 0, "failed", 70, { durationMs: 250, error: "exit status 1" }),
    finished("r3", 0, "failed", 130, { durationMs: 300, error: "still broken" }),
    finished("r1", 1, "succeeded", 11, { durationMs: 20 }),
    finished("r2", 1, "dead", 80, { attempt: 3, reason: "dead after 3 attempts: pod gone" }),
    finished("r3", 1, "succeeded", 131, { durationMs: 40, attempt: 2 }),
  ].map(viewTask);
  const s = snapshot(specs(2), APP, views, []);
  assert.equal(s.checks.length, 2);
  const [t0, t1] = s.checks;
  assert.deepEqual(
    { ...t0 },
    {
      check: "t0",
      state: "failed",
      success: 0,
      lastRun: sec(130),
      lastSuccess: sec(10),
      durationSeconds: 0.3,
      attempts: 1,
      intervalSeconds: undefined,
      round: "r3",
      task: "dz-mcall-r3-000",
      error: "still broken",
      failingSince: sec(70),
    },
  );
  assert.equal(t1!.success, 1);
  assert.equal(t1!.attempts, 2);
  assert.equal(t1!.lastSuccess, sec(131));
  assert.equal(t1!.failingSince, undefined);
  assert.equal(t1!.error, "");
});

Deno.test("snapshot(): a dead task keeps the last run's duration and reports its reason", () => {
  const views = [
    finished("r1", 0, "succeeded", 10, { durationMs: 1500 }),
    finished("r2", 0, "dead", 70, { attempt: 3, reason: "dead after 3 attempts: stuck" }),
  ].map(viewTask);
  const [c] = snapshot(specs(1), APP, views, []).checks;
  assert.equal(c!.state, "dead");
  assert.equal(c!.durationSeconds, 1.5);
  assert.equal(c!.attempts, 3);
  assert.equal(c!.error, "dead after 3 attempts: stuck");
});

Deno.test("snapshot(): tasks of unconfigured indexes or with foreign names make no check", () => {
  const stray = finished("r1", 5, "failed", 10, { durationMs: 1 });
  const renamed = { ...stray, metadata: { ...stray.metadata, name: "evil-label-000" } };
  const noTime = finished("r1", 0, "failed", 10, { durationMs: 1 });
  delete noTime.metadata.annotations!["processed-at"];
  const pending = newTaskConfigMap({
    app: APP,
    round: "r1",
    spec: specs(1)[0]!,
    assignedTo: "a",
    epoch: 1,
    signature: "",
  });
  const s = snapshot(specs(2), APP, [stray, renamed, noTime, pending].map(viewTask), []);
  assert.deepEqual(s.checks, []);
});

Deno.test("snapshot(): rounds newest first; last complete and last finished", () => {
  const deadline = summary("r3", 120, 300, { failed: "1" });
  deadline.data.phase = "deadline-exceeded";
  const s = snapshot(specs(2), APP, [], [
    summary("r1", 0, 20, { succeeded: "2", pending: "0" }),
    summary("r2", 60, 75, { succeeded: "1", failed: "1", pending: "0" }),
    deadline,
    summary("r4", 180, undefined),
  ]);
  assert.deepEqual(s.rounds.map((r) => r.round), ["r4", "r3", "r2", "r1"]);
  assert.equal(s.lastCompleted, sec(75));
  assert.equal(s.lastFinished?.round, "r3");
  assert.equal(s.rounds[0]!.phase, "running");
  assert.equal(s.rounds[0]!.end, undefined);
  assert.equal(s.rounds[2]!.counts.failed, 1);
});

Deno.test("createCheckMetrics(): series from the snapshot, none after clear()", async () => {
  const registry = new Registry();
  const m = createCheckMetrics(registry);
  assert.doesNotMatch(await registry.metrics(), /mcall_check_success\{/);
  const views = [
    finished("r1", 0, "succeeded", 10, { durationMs: 1500 }),
    finished("r2", 0, "failed", 70, { durationMs: 250, error: "boom" }),
    finished("r2", 1, "succeeded", 71, { durationMs: 20 }),
  ].map(viewTask);
  // Check t0 runs every 30 s; t1's interval is not known (no series).
  const inputs = specs(2).map((s) => ({ ...s, intervalSeconds: s.index === 0 ? 30 : undefined }));
  m.update(
    snapshot(inputs, APP, views, [summary("r2", 60, 75, { succeeded: "1", failed: "1" })]),
  );
  const text = await registry.metrics();
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    assert(line, `${series} in\n${text}`);
    return Number(line.split(" ")[1]);
  };
  assert.equal(value('mcall_check_success{check="t0"}'), 0);
  assert.equal(value('mcall_check_success{check="t1"}'), 1);
  assert.equal(value('mcall_check_last_run_timestamp_seconds{check="t0"}'), sec(70));
  assert.equal(value('mcall_check_last_success_timestamp_seconds{check="t0"}'), sec(10));
  assert.equal(value('mcall_check_duration_seconds{check="t0"}'), 0.25);
  assert.equal(value('mcall_check_attempts{check="t1"}'), 1);
  assert.equal(value('mcall_check_interval_seconds{check="t0"}'), 30);
  assert.doesNotMatch(text, /mcall_check_interval_seconds\{check="t1"\}/);
  assert.equal(value("mcall_round_last_completed_timestamp_seconds"), sec(75));
  assert.equal(value("mcall_round_last_duration_seconds"), 15);
  assert.equal(value('mcall_round_tasks{state="failed"}'), 1);
  assert.equal(value('mcall_round_tasks{state="succeeded"}'), 1);
  assert.match(text, /# TYPE mcall_check_success gauge/);
  m.clear();
  const after = await registry.metrics();
  assert.doesNotMatch(after, /mcall_check_success\{|mcall_round_tasks\{|_seconds \d/);
});

Deno.test("the leader's reconcile feeds the per-check series (planner observe hook)", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  store.setPod({ name: "lead" });
  store.setPod({ name: "pod-a" });
  const registry = new Registry();
  const inputs = specs(2);
  const observer = new LeaderObserver({ inputs, app: APP, registry });
  const planner = leadingPlanner(store, clock, { round: "r1" }, {
    observe: (views, summaries) => observer.observe(views, summaries),
  });
  assert.equal(await planner.planRound("r1", inputs), true);
  await planner.reconcile("r1");
  assert.doesNotMatch(await registry.metrics(), /mcall_check_success\{/, "nothing finished yet");
  for (const [i, state] of [[0, "failed"], [1, "succeeded"]] as const) {
    const cm = store.peek(`dz-mcall-r1-00${i}`)!;
    store.put(patched(cm, {
      labels: { state },
      annotations: { processed: "true", "processed-at": rfc3339(clock.wallNow()) },
      data: { durationMs: "5", error: state === "failed" ? "exit status 1" : "" },
    }));
  }
  await planner.reconcile("r1");
  const text = await registry.metrics();
  assert.match(text, /mcall_check_success\{check="t0"\} 0/);
  assert.match(text, /mcall_check_success\{check="t1"\} 1/);
  observer.endTerm();
  assert.doesNotMatch(await registry.metrics(), /mcall_check_success\{/);
});
