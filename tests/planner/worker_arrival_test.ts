import assert from "node:assert/strict";
import { setupLogging } from "../../lib/log/log.ts";
import { ARRIVAL_QUIET_MS } from "../../lib/planner/worker_arrival.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

const ROUND = "job-1";
/** Far longer than the quiet period: a plan before it is the watch's doing. */
const TICK_MS = 60_000;

/** A one-shot leader whose workers are not ready yet; its log messages are collected. */
function waitingLeader(tasks: Record<string, unknown> = {}, tickMs = TICK_MS) {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  store.setPod({ name: "lead" });
  store.setPod({ name: "pod-a", ready: false });
  const messages: string[] = [];
  setupLogging({ level: "info", sink: (record) => messages.push(String(record.rawMessage)) });
  const planner = leadingPlanner(store, clock, { round: ROUND, leaderRunsTasks: false, ...tasks }, {
    reconcileIntervalMs: tickMs,
  });
  const stop = new AbortController();
  const running = planner.runLeader(specs(3), stop.signal);
  const tasksCreated = () => store.all().filter((cm) => cm.metadata.labels?.task === "true").length;
  const finish = async () => {
    stop.abort();
    await clock.advance(tickMs);
    await running;
    setupLogging({ level: "error" });
  };
  return { clock, store, messages, tasksCreated, finish };
}

/** The pods the tasks were assigned to, sorted, each once. */
function assignees(store: MemoryStore): string[] {
  const tasks = store.all().filter((cm) => cm.metadata.labels?.task === "true");
  return [...new Set(tasks.map((cm) => cm.metadata.labels?.["assigned-to"] ?? ""))].sort();
}

/** Lets every pending promise run without moving the clock. */
async function settle(clock: FakeClock) {
  for (let i = 0; i < 5; i++) await clock.advance(0);
}

Deno.test("WorkerArrival: a round that waits is planned once a worker turned ready and the pods are quiet, not at the next tick", async () => {
  const l = waitingLeader();
  try {
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 0, "no ready worker: nothing planned");
    assert.equal(l.store.openPodWatches, 1, "the waiting leader watches the pods");
    l.store.setPod({ name: "pod-a", ready: true });
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 0, "planned only after the quiet period");
    await l.clock.advance(ARRIVAL_QUIET_MS);
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 3, "planned well before the next tick");
    assert.ok(l.clock.now() < TICK_MS);
    assert.equal(l.store.openPodWatches, 0, "the watch closes once nothing waits");
    assert.equal(l.messages.filter((m) => m.startsWith("No ready worker pod")).length, 1);
    assert.ok(l.messages.some((m) => m.startsWith("Ready worker pods")));
  } finally {
    await l.finish();
  }
});

Deno.test("WorkerArrival: pods turning ready together are planned once, over all of them", async () => {
  const l = waitingLeader();
  try {
    await settle(l.clock);
    l.store.setPod({ name: "pod-a", ready: true });
    await l.clock.advance(ARRIVAL_QUIET_MS - 100);
    l.store.setPod({ name: "pod-b", ready: true });
    await l.clock.advance(ARRIVAL_QUIET_MS - 100);
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 0, "pod-b's arrival restarted the quiet period");
    await l.clock.advance(100);
    await settle(l.clock);
    assert.deepEqual(assignees(l.store), ["pod-a", "pod-b"]);
  } finally {
    await l.finish();
  }
});

Deno.test("WorkerArrival: a reconcile tick inside the quiet period waits for it, so pods turning ready together still share the round", async () => {
  const tick = 1_000;
  const l = waitingLeader({}, tick);
  try {
    await settle(l.clock);
    await l.clock.advance(tick - 100);
    l.store.setPod({ name: "pod-a", ready: true });
    await settle(l.clock);
    await l.clock.advance(100); // the tick: pod-a turned ready 100 ms ago
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 0, "a tick inside the quiet period does not plan");
    l.store.setPod({ name: "pod-b", ready: true });
    await settle(l.clock);
    await l.clock.advance(ARRIVAL_QUIET_MS);
    await settle(l.clock);
    assert.ok(l.clock.now() < 2 * tick, "planned at the quiet period's end, before the next tick");
    assert.deepEqual(assignees(l.store), ["pod-a", "pod-b"]);
  } finally {
    await l.finish();
  }
});

Deno.test("WorkerArrival: pods that cannot take tasks do not wake the planner", async () => {
  const l = waitingLeader();
  try {
    await settle(l.clock);
    l.store.setPod({ name: "lead", ready: true }); // the leader itself, with leaderRunsTasks false
    l.store.setPod({ name: "pod-a", ready: true, terminating: true });
    l.store.setPod({ name: "other", ready: true, labels: { app: "someone-else" } });
    await settle(l.clock);
    await l.clock.advance(ARRIVAL_QUIET_MS);
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 0, "no eligible worker reported: still waiting");
    l.store.setPod({ name: "pod-b", ready: true });
    await l.clock.advance(ARRIVAL_QUIET_MS);
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 3);
  } finally {
    await l.finish();
  }
});

Deno.test("WorkerArrival: a failing pod watch is logged once and the reconcile still finds the worker", async () => {
  const l = waitingLeader();
  l.store.failNext("watchPods", "forbidden", 3);
  try {
    await settle(l.clock);
    l.store.setPod({ name: "pod-a", ready: true });
    await l.clock.advance(ARRIVAL_QUIET_MS);
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 0, "no watch: the wake waits for the tick");
    await l.clock.advance(TICK_MS);
    await settle(l.clock);
    assert.equal(l.tasksCreated(), 3, "the next reconcile lists the pods and plans");
    const failures = l.messages.filter((m) => m.startsWith("Worker pod watch failed"));
    assert.equal(failures.length, 1, l.messages.join("\n"));
  } finally {
    await l.finish();
  }
});

Deno.test("WorkerArrival: a pod watch the server ends at once is not reopened in a tight loop", async () => {
  const l = waitingLeader();
  const watchPods = l.store.watchPods.bind(l.store);
  // Every watch ends as soon as it has reported the pods that exist.
  l.store.watchPods = (selector, onPod, _signal) => watchPods(selector, onPod, AbortSignal.abort());
  try {
    await settle(l.clock);
    const opened = l.store.podWatches;
    assert.ok(opened >= 1);
    await settle(l.clock);
    assert.equal(l.store.podWatches, opened, "no new watch without the clock moving");
    // client-go's backoff: 800 ms doubling, each pause jittered by up to 100 %, so within 10 s
    // the next watches start at [0.8, 1.6], [2.4, 4.8], [5.6, 11.2] s: 2 or 3 of them.
    for (let t = 0; t < 10_000; t += 100) await l.clock.advance(100);
    await settle(l.clock);
    const more = l.store.podWatches - opened;
    assert.ok(more >= 2 && more <= 3, `${more} watches in 10 s`);
  } finally {
    await l.finish();
  }
});
