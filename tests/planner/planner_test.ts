import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { setupLogging } from "../../lib/log/log.ts";
import { NotLeaderError } from "../../lib/planner/write_guard.ts";
import { RoundSchedule } from "../../lib/planner/round_schedule.ts";
import { HmacSigner } from "../../lib/tasks/signing.ts";
import {
  assignTasks,
  eligibleWorkers,
  pickWorker,
  withTask,
  workerSelector,
} from "../../lib/planner/assign.ts";
import { planGarbage } from "../../lib/planner/retention.ts";
import { createTaskMetrics } from "../../lib/tasks/metrics.ts";
import { backoffMs } from "../../lib/planner/recovery_rules.ts";
import {
  newTaskConfigMap,
  patched,
  roundName,
  taskName,
  type TaskView,
  viewTask,
} from "../../lib/tasks/contract.ts";
import type { ConfigMapLike } from "../../lib/tasks/store.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs, tasksConfig } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

const ROUND = "20250101-000000";

async function setup(tasks: Record<string, unknown> = {}, pods = ["lead", "pod-a", "pod-b"]) {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of pods) store.setPod({ name });
  const signer = await HmacSigner.fromKey(new TextEncoder().encode("key"));
  const state = { leader: true, epoch: 1 };
  const registry = new Registry();
  const metrics = createTaskMetrics(registry);
  const make = (identity = "lead") =>
    leadingPlanner(store, clock, tasks, {
      isLeader: () => state.leader,
      epoch: () => state.epoch,
      identity,
      signer,
      metrics,
    });
  return { clock, store, signer, state, planner: make(), make, registry };
}

const tasksOf = (store: MemoryStore) =>
  store.all().filter((cm) => cm.metadata.labels?.task === "true").map(viewTask);
const assignees = (store: MemoryStore) => tasksOf(store).map((t) => t.assignedTo);

function setState(store: MemoryStore, name: string, state: string, extra = {}) {
  const cm = store.peek(name)!;
  store.put(patched(cm, { labels: { state }, annotations: extra }));
}

Deno.test("eligibleWorkers() keeps ready, non-terminating pods and the leader only when alone", () => {
  const pods = [
    { name: "lead", ready: true, terminating: false, labels: {} },
    { name: "b", ready: true, terminating: false, labels: {} },
    { name: "a", ready: true, terminating: false, labels: {} },
    { name: "nr", ready: false, terminating: false, labels: {} },
    { name: "term", ready: true, terminating: true, labels: {} },
  ];
  assert.deepEqual(eligibleWorkers(pods, "lead", true), ["a", "b"]);
  assert.deepEqual(eligibleWorkers(pods.slice(0, 1), "lead", true), ["lead"]);
  assert.deepEqual(eligibleWorkers(pods.slice(0, 1), "lead", false), []);
  assert.deepEqual(eligibleWorkers([pods[3]!, pods[4]!], "lead", true), []);
});

Deno.test("eligibleWorkers() takes a Job's pod once started, before any readiness probe passed", () => {
  const job = { "batch.kubernetes.io/job-name": "round-1" };
  const pods = [
    { name: "lead", ready: false, started: true, terminating: false, labels: job },
    { name: "job-started", ready: false, started: true, terminating: false, labels: job },
    { name: "job-pending", ready: false, started: false, terminating: false, labels: job },
    { name: "job-term", ready: false, started: true, terminating: true, labels: job },
    // A Deployment's pod (no Job label) still waits for its Ready condition.
    { name: "deploy-started", ready: false, started: true, terminating: false, labels: {} },
  ];
  assert.deepEqual(eligibleWorkers(pods, "lead", true), ["job-started"]);
  assert.deepEqual(eligibleWorkers(pods.slice(0, 1), "lead", true), ["lead"]);
  assert.deepEqual(eligibleWorkers(pods.slice(2), "lead", true), []);
});

Deno.test("pickWorker() picks the fewest open tasks, ties by name, and changes nothing", () => {
  const counts = new Map([["a", 2], ["b", 1]]);
  assert.equal(pickWorker(["c", "b", "a"], counts), "c");
  assert.equal(pickWorker(["b", "a"], counts), "b");
  assert.equal(pickWorker([], counts), undefined);
  assert.deepEqual([...counts], [["a", 2], ["b", 1]]);
  assert.deepEqual([...withTask(counts, "c")], [["a", 2], ["b", 1], ["c", 1]]);
  assert.deepEqual([...counts], [["a", 2], ["b", 1]]);
});

Deno.test("assignTasks() gives each new task the least loaded pod so far, ties by name", () => {
  const counts = new Map([["a", 2], ["b", 1]]);
  assert.deepEqual(assignTasks(4, ["c", "b", "a"], counts), ["c", "b", "c", "a"]);
  assert.deepEqual(assignTasks(2, [], counts), []);
  assert.deepEqual([...counts], [["a", 2], ["b", 1]]);
});

Deno.test("workerSelector() is tasks.workerSelector, else app=<app>", () => {
  assert.equal(workerSelector(tasksConfig({ app: "x" })), "app=x");
  assert.equal(workerSelector(tasksConfig({ app: "x", workerSelector: "role=w" })), "role=w");
});

Deno.test("backoffMs() doubles per attempt up to 30 s", () => {
  assert.deepEqual([1, 2, 4, 5, 9].map(backoffMs), [2000, 4000, 16000, 30000, 30000]);
});

Deno.test("Planner.planRound() balances tasks over eligible pods only", async () => {
  const { store, planner, registry } = await setup();
  store.setPod({ name: "pod-c", ready: false });
  store.setPod({ name: "pod-d", terminating: true });
  store.setPod({ name: "other", labels: { app: "other" } });
  // pod-a already carries an open task of an earlier round.
  store.put(newTaskConfigMap({
    app: "dz-mcall",
    round: "old",
    spec: specs(1)[0]!,
    assignedTo: "pod-a",
    epoch: 1,
    signature: "",
  }));
  assert.equal(await planner.planRound(ROUND, specs(5)), true);
  // Creates run concurrently, so order by name (= input index) before comparing.
  const planned = tasksOf(store).filter((t) => t.round === ROUND)
    .sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(
    planned.map((t) => t.name),
    [0, 1, 2, 3, 4].map((i) => taskName("dz-mcall", ROUND, i)),
  );
  assert.deepEqual(planned.map((t) => t.assignedTo), ["pod-b", "pod-a", "pod-b", "pod-a", "pod-b"]);
  assert.ok(planned.every((t) => t.state === "pending" && t.epoch === 1 && t.signature !== ""));
  const summary = store.peek(roundName("dz-mcall", ROUND))!;
  assert.equal(summary.data?.total, "5");
  assert.equal(summary.data?.phase, "running");
  assert.match(await registry.metrics(), /mcall_tasks_planned_total 5/);
});

Deno.test("Planner.planRound() gives tasks to the leader only when it is alone", async () => {
  const alone = await setup({}, ["lead"]);
  await alone.planner.planRound(ROUND, specs(2));
  assert.deepEqual(assignees(alone.store), ["lead", "lead"]);

  const refuses = await setup({ leaderRunsTasks: false }, ["lead", "sick"]);
  refuses.store.setPod({ name: "sick", ready: false });
  assert.equal(await refuses.planner.planRound(ROUND, specs(2)), false);
  assert.equal(refuses.store.writeCount, 0);
});

Deno.test("Planner.planRound() after failover creates only the missing tasks", async () => {
  const { store, planner, make, state } = await setup();
  await planner.planRound(ROUND, specs(4));
  const writes = store.writeCount;
  state.epoch = 2;
  const next = make("pod-b");
  assert.equal(await next.planRound(ROUND, specs(4)), true);
  assert.equal(store.writeCount, writes, "a complete round is not planned again");

  await store.delete(taskName("dz-mcall", ROUND, 1));
  await store.delete(taskName("dz-mcall", ROUND, 3));
  const before = store.writes.create ?? 0;
  await next.planRound(ROUND, specs(4));
  assert.equal((store.writes.create ?? 0) - before, 2);
  assert.equal(tasksOf(store).length, 4);
  assert.equal(viewTask(store.peek(taskName("dz-mcall", ROUND, 3))!).epoch, 2);
});

Deno.test("Planner.planRound() stops writing once leadership is lost", async () => {
  const { store, planner, state } = await setup();
  state.leader = false;
  await assert.rejects(() => planner.planRound(ROUND, specs(2)), NotLeaderError);
  assert.equal(store.writeCount, 0);
});

Deno.test("Planner.reconcile() hands a pending task of a gone, terminating or unready pod off at once, keeping its attempt", async () => {
  for (
    const [what, change] of [
      ["gone", (store: MemoryStore) => store.deletePod("pod-a")],
      ["terminating", (store: MemoryStore) => store.setPod({ name: "pod-a", terminating: true })],
      ["not ready", (store: MemoryStore) => store.setPod({ name: "pod-a", ready: false })],
      ["finished", (store: MemoryStore) => store.setPod({ name: "pod-a", phase: "Succeeded" })],
    ] as const
  ) {
    const { store, planner, state, signer } = await setup();
    await planner.planRound(ROUND, specs(2));
    const name = taskName("dz-mcall", ROUND, 0); // on pod-a
    // Handed back by its worker when SIGTERM cut it short: pending again, attempt unchanged.
    setState(store, name, "pending", { reason: "handed back by pod-a" });
    change(store);
    state.epoch = 3;
    await planner.reconcile(ROUND); // the first observation acts: no backoff, nothing burned
    const moved = viewTask(store.peek(name)!);
    assert.deepEqual([moved.assignedTo, moved.attempt, moved.epoch, moved.state], [
      "pod-b",
      1,
      3,
      "pending",
    ], what);
    assert.match(moved.cm.metadata.annotations?.reason ?? "", /^reassigned from pod-a: pod pod-a/);
    const fields = { name, round: ROUND, epoch: 3, spec: moved.specText };
    assert.equal(await signer.verify(fields, moved.signature), true, what);
  }
});

Deno.test("Planner.reconcile() retries a task running on a vanished pod after the backoff", async () => {
  const { store, planner, clock } = await setup();
  await planner.planRound(ROUND, specs(1));
  const name = taskName("dz-mcall", ROUND, 0); // on pod-a
  setState(store, name, "running", { "processed-by": "pod-a" });
  store.deletePod("pod-a"); // kubectl delete pod --force, or a lost node's pod removed
  await planner.reconcile(ROUND);
  await clock.advance(backoffMs(1) - 1);
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).assignedTo, "pod-a", "backoff respected");
  await clock.advance(1);
  await planner.reconcile(ROUND);
  const moved = viewTask(store.peek(name)!);
  assert.deepEqual([moved.assignedTo, moved.attempt, moved.state], ["pod-b", 2, "pending"]);
  assert.match(
    moved.cm.metadata.annotations?.reason ?? "",
    /reassigned from pod-a: pod pod-a is gone/,
  );
});

Deno.test("Planner.reconcile() leaves a task running on a terminating or restarting pod to its worker", async () => {
  const { store, planner, clock } = await setup({ stuckGrace: "5s" });
  await planner.planRound(ROUND, specs(2)); // timeout 10 s; task 0 on pod-a, task 1 on pod-b
  const draining = taskName("dz-mcall", ROUND, 0);
  const restarting = taskName("dz-mcall", ROUND, 1);
  setState(store, draining, "running", { "processed-by": "pod-a" });
  setState(store, restarting, "running", { "processed-by": "pod-b" });
  store.setPod({ name: "pod-a", terminating: true, ready: false }); // SIGTERM: draining
  store.setPod({ name: "pod-b", ready: false }); // its container restarted in place
  await planner.reconcile(ROUND);
  await clock.advance(15_000);
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(draining)!).state, "running", "the worker may finish it");
  assert.equal(viewTask(store.peek(restarting)!).state, "running");
  assert.deepEqual(
    [draining, restarting].map((n) => viewTask(store.peek(n)!).assignedTo),
    ["pod-a", "pod-b"],
  );
  // The timeout rule stays the backstop (a lost node's pods stay terminating).
  store.setPod({ name: "pod-c" });
  await clock.advance(1);
  await planner.reconcile(ROUND);
  assert.deepEqual(
    [viewTask(store.peek(draining)!).assignedTo, viewTask(store.peek(draining)!).attempt],
    ["pod-c", 2],
  );
});

Deno.test("Planner.reconcile() reassigns a task stuck running past timeout + stuckGrace", async () => {
  const { store, planner, clock } = await setup({ stuckGrace: "5s" });
  await planner.planRound(ROUND, specs(1)); // timeout 10 s, on pod-a
  const name = taskName("dz-mcall", ROUND, 0);
  setState(store, name, "running", { "processed-by": "pod-a" });
  await planner.reconcile(ROUND);
  await clock.advance(15_000);
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).state, "running");
  await clock.advance(1);
  await planner.reconcile(ROUND);
  const t = viewTask(store.peek(name)!);
  assert.deepEqual([t.state, t.assignedTo, t.attempt], ["pending", "pod-b", 2]);
  assert.match(t.cm.metadata.annotations?.reason ?? "", /running on pod-a for over 15000 ms/);
});

Deno.test("Planner.reconcile() reassigns a pending task never claimed by a ready pod", async () => {
  const { store, planner, clock } = await setup({ pollInterval: "1s", stuckGrace: "1s" });
  await planner.planRound(ROUND, specs(1));
  const name = taskName("dz-mcall", ROUND, 0);
  await planner.reconcile(ROUND);
  await clock.advance(3000);
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).attempt, 1);
  await clock.advance(1);
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).assignedTo, "pod-b");
});

Deno.test("Planner.reconcile() retries a task whose pod's container restarted while running it", async () => {
  const { store, planner, clock } = await setup({ stuckGrace: "30s" });
  store.setPod({ name: "pod-a", restarts: 0 });
  await planner.planRound(ROUND, specs(1)); // on pod-a
  const name = taskName("dz-mcall", ROUND, 0);
  setState(store, name, "running", { "processed-by": "pod-a" });
  await planner.reconcile(ROUND); // first sight: 0 restarts
  await clock.advance(backoffMs(1));
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).state, "running", "no restart: left alone");
  // restartPolicy OnFailure: the container died and the kubelet restarted it in the same pod.
  store.setPod({ name: "pod-a", restarts: 1, ready: false });
  await planner.reconcile(ROUND);
  const moved = viewTask(store.peek(name)!);
  assert.deepEqual([moved.state, moved.assignedTo, moved.attempt], ["pending", "pod-b", 2]);
  assert.match(
    moved.cm.metadata.annotations?.reason ?? "",
    /^reassigned from pod-a: the container of pod pod-a restarted while running it$/,
  );
  // A restart before the claim is no reason: first sight records the count after it.
  setState(store, name, "running", { "processed-by": "pod-b" });
  store.setPod({ name: "pod-b", restarts: 3 });
  await planner.reconcile(ROUND);
  await clock.advance(backoffMs(2));
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).state, "running");
});

Deno.test("Planner.reconcile() marks a task dead after maxAttempts", async () => {
  const { store, planner, clock, registry } = await setup({ maxAttempts: 2 });
  await planner.planRound(ROUND, specs(1));
  const name = taskName("dz-mcall", ROUND, 0);
  setState(store, name, "running", { "processed-by": "pod-a" });
  store.deletePod("pod-a");
  await planner.reconcile(ROUND);
  await clock.advance(backoffMs(1));
  await planner.reconcile(ROUND);
  assert.equal(viewTask(store.peek(name)!).assignedTo, "pod-b");
  setState(store, name, "running", { "processed-by": "pod-b" });
  store.deletePod("pod-b");
  await planner.reconcile(ROUND);
  await clock.advance(backoffMs(2));
  await planner.reconcile(ROUND);
  const dead = viewTask(store.peek(name)!);
  assert.equal(dead.state, "dead");
  assert.equal(dead.cm.metadata.annotations?.processed, "true");
  assert.match(
    dead.cm.metadata.annotations?.reason ?? "",
    /dead after 2 attempts: pod pod-b is gone/,
  );
  await planner.reconcile(ROUND);
  const summary = store.peek(roundName("dz-mcall", ROUND))!;
  assert.deepEqual([summary.data?.phase, summary.data?.dead], ["complete", "1"]);
  assert.match(await registry.metrics(), /mcall_tasks_completed_total\{state="dead"\} 1/);
});

Deno.test("Planner.reconcile() adopts pending tasks of an earlier epoch, not running ones", async () => {
  const { store, planner, state, signer } = await setup();
  await planner.planRound(ROUND, specs(2));
  const [pending, running] = [0, 1].map((i) => taskName("dz-mcall", ROUND, i)) as [string, string];
  setState(store, running, "running");
  state.epoch = 5;
  await planner.reconcile(ROUND);
  const adopted = viewTask(store.peek(pending)!);
  assert.equal(adopted.epoch, 5);
  assert.equal(adopted.attempt, 1);
  assert.equal(
    await signer.verify(
      { name: pending, round: ROUND, epoch: 5, spec: adopted.specText },
      adopted.signature,
    ),
    true,
  );
  assert.equal(viewTask(store.peek(running)!).epoch, 1);
});

Deno.test("Planner.reconcile() completes the summary once every task is terminal", async () => {
  const { store, planner } = await setup();
  await planner.planRound(ROUND, specs(2));
  setState(store, taskName("dz-mcall", ROUND, 0), "succeeded");
  assert.equal(await planner.reconcile(ROUND), "running");
  const writes = store.writeCount;
  await planner.reconcile(ROUND);
  assert.equal(store.writeCount, writes, "an unchanged summary is not rewritten");
  setState(store, taskName("dz-mcall", ROUND, 1), "failed");
  assert.equal(await planner.reconcile(ROUND), "complete");
  const data = store.peek(roundName("dz-mcall", ROUND))!.data!;
  assert.deepEqual([data.succeeded, data.failed, data.pending, data.total], ["1", "1", "0", "2"]);
  assert.ok(data.end);
});

Deno.test("Planner.reconcile() ends a one-shot round at roundDeadline", async () => {
  const { planner, clock } = await setup({ round: "job-1", roundDeadline: "60s" });
  await planner.planRound("job-1", specs(1));
  assert.equal(await planner.reconcile("job-1"), "running");
  await clock.advance(60_001);
  assert.equal(await planner.reconcile("job-1"), "deadline-exceeded");
});

Deno.test("planGarbage() keeps both history limits and never open tasks", () => {
  const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, i));
  const summaries: ConfigMapLike[] = [];
  const views: TaskView[] = [];
  for (let i = 1; i <= 5; i++) {
    summaries.push({
      metadata: {
        name: `s${i}`,
        labels: { "round-id": `r${i}` },
        creationTimestamp: at(i),
      },
      data: { phase: i === 5 ? "running" : "complete" },
    });
    // Checks 0, 1 and 2 run every round: 0 succeeds, 1 fails, 2 is dead.
    ["succeeded", "failed", "dead"].forEach((state, check) => {
      const name = taskName("dz-mcall", `r${i}`, check);
      views.push(viewTask({ metadata: { name, labels: { "round-id": `r${i}`, state } } }));
    });
  }
  const open = taskName("dz-mcall", "r1", 3);
  views.push(
    viewTask({ metadata: { name: open, labels: { "round-id": "r1", state: "pending" } } }),
  );
  const g = planGarbage("dz-mcall", views, summaries, { historyLimit: 3, failedHistoryLimit: 2 });
  assert.deepEqual(g.selectors, [
    "app=dz-mcall,task=true,round-id=r3,state in (failed,dead)",
    "app=dz-mcall,task=true,round-id=r2,state in (succeeded,failed,dead)",
    "app=dz-mcall,task=true,round-id=r1,state in (succeeded,failed,dead)",
  ]);
  assert.deepEqual(g.summaries, ["s2"], "s1 still has an open task");
});

Deno.test("planGarbage() keeps the failures of the last failedHistoryLimit rounds that had any", () => {
  const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, i));
  const summaries: ConfigMapLike[] = [];
  const views: TaskView[] = [];
  // r1 failed, r2 had a dead task, r3..r6 were clean; r7 failed and is still running.
  const extra: Record<number, string> = { 1: "failed", 2: "dead", 7: "failed" };
  for (let i = 1; i <= 7; i++) {
    summaries.push({
      metadata: { name: `s${i}`, labels: { "round-id": `r${i}` }, creationTimestamp: at(i) },
      data: { phase: i === 7 ? "running" : "complete" },
    });
    const states = ["succeeded", ...(extra[i] ? [extra[i]!] : [])];
    states.forEach((state, check) => {
      const name = taskName("dz-mcall", `r${i}`, check);
      views.push(viewTask({ metadata: { name, labels: { "round-id": `r${i}`, state } } }));
    });
  }
  const g = planGarbage("dz-mcall", views, summaries, { historyLimit: 2, failedHistoryLimit: 2 });
  // The newest failed rounds are r7 (running) and r2: r2's dead task and summary stay although
  // four clean rounds came since; r1, the third failed round, goes.
  assert.deepEqual(g.selectors, [
    "app=dz-mcall,task=true,round-id=r5,state in (succeeded)",
    "app=dz-mcall,task=true,round-id=r4,state in (succeeded)",
    "app=dz-mcall,task=true,round-id=r3,state in (succeeded)",
    "app=dz-mcall,task=true,round-id=r2,state in (succeeded)",
    "app=dz-mcall,task=true,round-id=r1,state in (succeeded,failed)",
  ]);
  assert.deepEqual(g.summaries, ["s5", "s4", "s3", "s1"]);
});

Deno.test("Planner.reconcile() garbage-collects old rounds with deleteCollection", async () => {
  const { store, planner, clock } = await setup({ historyLimit: 2, failedHistoryLimit: 1 });
  const rounds = ["r1", "r2", "r3", "r4"];
  for (const round of rounds) {
    await planner.planRound(round, specs(2));
    setState(store, taskName("dz-mcall", round, 0), "succeeded");
    setState(store, taskName("dz-mcall", round, 1), "failed");
    await planner.reconcile(round);
    await clock.advance(1000);
  }
  const left = tasksOf(store).map((t) => `${t.round}:${t.state}`).sort();
  assert.deepEqual(left, ["r3:succeeded", "r4:failed", "r4:succeeded"]);
  const summaries = store.all().filter((c) => c.metadata.labels?.round === "true");
  assert.deepEqual(summaries.map((s) => s.metadata.labels?.["round-id"]).sort(), ["r3", "r4"]);
  assert.equal(store.writes.deleteCollection, 5, "at most one call per round and limit");
});

Deno.test("Planner.reconcile() deletes old rounds before the write that ends the current one", async () => {
  // A one-shot round's end lets every pod exit at once: the old rounds go first.
  const { store, planner, clock } = await setup({ historyLimit: 1, failedHistoryLimit: 0 });
  for (const round of ["r1", "r2"]) {
    await planner.planRound(round, specs(1));
    setState(store, taskName("dz-mcall", round, 0), "succeeded");
    await clock.advance(1000);
    if (round === "r1") assert.equal(await planner.reconcile(round), "complete");
  }
  assert.equal(await planner.reconcile("r2"), "complete");
  assert.deepEqual(store.writeLog.slice(-3).map((w) => w.replace(/,state in .*/, "")), [
    "deleteCollection app=dz-mcall,task=true,round-id=r1",
    `delete ${roundName("dz-mcall", "r1")}`,
    `update ${roundName("dz-mcall", "r2")}`,
  ]);
});

Deno.test("Planner.reconcile() rejects, never re-signs, forged tasks it would adopt or reassign", async () => {
  const { store, planner, state } = await setup();
  // A forged task of an earlier epoch (would be adopted) and one assigned to a pod that does
  // not exist (would be reassigned): neither carries a valid signature.
  const forge = (index: number, assignedTo: string, signature: string) =>
    newTaskConfigMap({
      app: "dz-mcall",
      round: ROUND,
      spec: specs(index + 1)[index]!,
      assignedTo,
      epoch: 0,
      signature,
    });
  store.put(forge(0, "pod-a", "00".repeat(32)));
  store.put(forge(1, "ghost", ""));
  state.epoch = 2;
  for (let i = 0; i < 3; i++) await planner.reconcile(ROUND);
  for (const [index, reason] of [[0, /bad signature/], [1, /unsigned task/]] as const) {
    const task = viewTask(store.peek(taskName("dz-mcall", ROUND, index))!);
    assert.equal(task.state, "rejected", `task ${index}`);
    assert.equal(task.epoch, 0, "not re-stamped with the leader's epoch");
    assert.match(task.cm.metadata.annotations?.reason ?? "", reason);
  }
});

Deno.test("Planner.runLeader() after an interval change plans no slot at or before the last round", async () => {
  const clock = new FakeClock(); // 2025-01-01T00:00:00Z
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", "pod-a"]) store.setPod({ name });
  const planner = (interval: string) => leadingPlanner(store, clock, { interval });
  const rounds = () =>
    store.all().filter((c) => c.metadata.labels?.round === "true")
      .map((c) => c.metadata.labels?.["round-id"]).sort();
  // The old leader ran a 20 s interval up to the round of 00:01:00.
  const old = planner("20s");
  for (const id of ["20250101-000040", "20250101-000100"]) {
    await old.planRound(id, specs(1));
    setState(store, taskName("dz-mcall", id, 0), "succeeded");
  }
  await old.reconcile("20250101-000100");
  // At 00:01:05 a new leader with a 45 s interval takes over: its slot is 00:00:45, before the
  // last round. It waits for its first slot after 00:01:00, which is 00:01:30.
  await clock.advance(65_000);
  const stop = new AbortController();
  const next = planner("45s");
  assert.equal(next.currentRound(), "20250101-000045", "not yet read: the plain slot");
  const running = next.runLeader(specs(1), stop.signal);
  await clock.advance(0);
  assert.equal(next.currentRound(), "20250101-000100", "the last round stays current");
  await clock.advance(24_000); // 00:01:29
  assert.deepEqual(rounds(), ["20250101-000040", "20250101-000100"], "no past slot planned");
  await clock.advance(2_000); // 00:01:31, the first reconcile tick in the new slot
  assert.deepEqual(rounds(), ["20250101-000040", "20250101-000100", "20250101-000130"]);
  await clock.advance(45_000);
  assert.deepEqual(rounds().at(-1), "20250101-000215");
  stop.abort();
  await clock.advance(2_000);
  await running;
});

Deno.test("Planner stamps the owner on every task and summary it creates", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", "pod-a"]) store.setPod({ name });
  const owner = { apiVersion: "v1", kind: "ConfigMap", name: "dz-mcall-config", uid: "u-1" };
  const planner = leadingPlanner(store, clock, {}, { owner });
  await planner.planRound(ROUND, specs(2));
  const created = store.all();
  assert.equal(created.length, 3, "two tasks and the summary");
  for (const cm of created) {
    assert.deepEqual(cm.metadata.ownerReferences, [owner], cm.metadata.name);
  }
  // Updates keep it (a replace without it would drop the owner).
  setState(store, taskName("dz-mcall", ROUND, 0), "succeeded");
  await planner.reconcile(ROUND);
  assert.deepEqual(store.peek(roundName("dz-mcall", ROUND))!.metadata.ownerReferences, [owner]);
});

Deno.test("RoundSchedule never goes back and ignores one-shot round ids", () => {
  const s = new RoundSchedule();
  const at = (iso: string) => new Date(`2025-01-01T${iso}Z`);
  assert.equal(
    s.current(at("00:01:05"), [{ kind: "interval", intervalMs: 45_000 }])?.round,
    "20250101-000045",
    "nothing planned yet",
  );
  s.note("dz-mcall-job-7"); // a CronJob round: not on the interval schedule
  s.note("20250101-000100");
  s.note("20250101-000040"); // older: ignored
  assert.equal(
    s.current(at("00:01:05"), [{ kind: "interval", intervalMs: 45_000 }])?.round,
    "20250101-000100",
  );
  assert.equal(
    s.current(at("00:01:29"), [{ kind: "interval", intervalMs: 45_000 }])?.round,
    "20250101-000100",
  );
  assert.equal(
    s.current(at("00:01:30"), [{ kind: "interval", intervalMs: 45_000 }])?.round,
    "20250101-000130",
  );
  assert.equal(
    s.current(at("00:01:05"), [{ kind: "interval", intervalMs: 5_000 }])?.round,
    "20250101-000105",
    "a later slot is planned",
  );
});

Deno.test("Planner logs a state that does not change once, not at every retry", async () => {
  const messages: string[] = [];
  setupLogging({ level: "info", sink: (record) => messages.push(String(record.rawMessage)) });
  try {
    const { store, planner } = await setup({ leaderRunsTasks: false }, ["lead", "sick"]);
    store.setPod({ name: "sick", ready: false });
    for (let i = 0; i < 3; i++) assert.equal(await planner.planRound(ROUND, specs(2)), false);
    const waits = () => messages.filter((m) => m.startsWith("No ready worker pod"));
    assert.equal(waits().length, 1, messages.join("\n"));
    assert.equal(await planner.planRound("20250101-000500", specs(2)), false);
    assert.equal(waits().length, 2, "another round is another state");
    store.setPod({ name: "sick", ready: true });
    assert.equal(await planner.planRound(ROUND, specs(2)), true);
    assert.ok(messages.some((m) => m.startsWith("Ready worker pods")));
    store.setPod({ name: "sick", ready: false });
    assert.equal(await planner.planRound("20250101-001000", specs(2)), false);
    assert.equal(waits().length, 3, "waiting again after planning is logged again");
  } finally {
    setupLogging({ level: "error" });
  }
});
