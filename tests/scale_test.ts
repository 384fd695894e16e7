/**
 * Scale (issue 12): the API requests of a round grow linearly with its tasks — nothing in the
 * planner or the worker is O(n²) in requests. A counting wrapper around the in-memory store counts
 * every request by verb while one leader plans a round, two workers run it, and the leader
 * reconciles it to completion; rounds of 100, 200 and 400 tasks must differ by exactly the same
 * number of requests per task, and the writes per task must stay at 3 (create, claim, record).
 *
 * An idle leader (its run loop over many ticks) costs exactly what its algorithm says: per tick, a
 * pod list while a round waits for workers and nothing once the round is done; the task and
 * summary caches cost one list and one watch each at the start, and nothing after (their watches
 * resume; they never relist on a timer).
 */
import assert from "node:assert/strict";
import type { InputSpec, Result } from "../lib/engine/input.ts";
import { ARRIVAL_QUIET_MS } from "../lib/planner/worker_arrival.ts";
import type { PlannerOptions } from "../lib/planner/planner.ts";
import { roundName } from "../lib/tasks/contract.ts";
import type { PodLister, TaskStore } from "../lib/tasks/store.ts";
import { Worker } from "../lib/worker/worker.ts";
import { FakeClock } from "./fakes/clock.ts";
import { instantSigner, MemoryStore, specs, tasksConfig } from "./fakes/memory_store.ts";
import { leadingPlanner } from "./fakes/planner.ts";

const ROUND = "20250101-000000";
const WORKERS = ["pod-a", "pod-b"];

/** `store` with every request counted by verb. */
function counting(
  store: MemoryStore,
): { store: TaskStore & PodLister; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const count = (verb: string) => counts.set(verb, (counts.get(verb) ?? 0) + 1);
  const counted: TaskStore & PodLister = {
    list: (s) => (count("list"), store.list(s)),
    get: (n) => (count("get"), store.get(n)),
    create: (cm) => (count("create"), store.create(cm)),
    update: (cm) => (count("update"), store.update(cm)),
    delete: (n) => (count("delete"), store.delete(n)),
    deleteCollection: (s) => (count("deletecollection"), store.deleteCollection(s)),
    watch: (s, rv, on, signal) => (count("watch"), store.watch(s, rv, on, signal)),
    listPods: (s) => (count("listpods"), store.listPods(s)),
    watchPods: (s, on, signal) => (count("watchpods"), store.watchPods(s, on, signal)),
  };
  return { store: counted, counts };
}

const result = (spec: InputSpec): Result => ({
  errorCode: "0",
  input: spec.input,
  name: spec.name,
  result: "",
  ts: "2025-01-01T00:00:00.000",
  type: spec.type,
  exitCode: 0,
  status: null,
  durationMs: 1,
  truncated: false,
});

/** Requests of one round of `n` tasks, by verb, and the final phase of its summary. */
async function round(n: number) {
  const clock = new FakeClock();
  const memory = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", ...WORKERS]) memory.setPod({ name });
  const { store, counts } = counting(memory);
  const signer = instantSigner("key");
  const tasks = tasksConfig({ leaderRunsTasks: false });
  const planner = leadingPlanner(store, clock, {}, { tasks, signer });
  assert.equal(await planner.planRound(ROUND, specs(n)), true);
  for (const identity of WORKERS) {
    const worker = new Worker({
      store,
      clock,
      identity,
      tasks,
      signer,
      executor: (spec) => Promise.resolve(result(spec)),
    });
    // One list, as the worker's run loop starts with, then every task it was given.
    for (const cm of (await store.list(`app=dz-mcall,task=true,assigned-to=${identity}`)).items) {
      worker.consider(cm);
    }
    await worker.idle();
  }
  const phase = await planner.reconcile(ROUND);
  return {
    counts: Object.fromEntries(counts),
    phase,
    summary: memory.peek(roundName("dz-mcall", ROUND)),
  };
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
const writes = (c: Record<string, number>) =>
  (c.create ?? 0) + (c.update ?? 0) + (c.delete ?? 0) + (c.deletecollection ?? 0);

Deno.test("a round's API requests grow linearly with its tasks: 3 writes per task", async () => {
  const [r100, r200, r400] = [await round(100), await round(200), await round(400)];
  for (const r of [r100, r200, r400]) assert.equal(r.phase, "complete", JSON.stringify(r.summary));
  // Linear: r(n) = a·n + b, so doubling the tasks adds the same requests per task each time.
  const perTask = (a: Record<string, number>, b: Record<string, number>, n: number) =>
    (total(b) - total(a)) / n;
  assert.equal(perTask(r100.counts, r200.counts, 100), perTask(r200.counts, r400.counts, 200));
  assert.equal((writes(r400.counts) - writes(r100.counts)) / 300, 3, JSON.stringify(r400.counts));
  // Reads do not grow with the tasks at all: a fixed number of lists, gets and pod lists.
  for (const verb of ["list", "get", "listpods"]) {
    assert.equal(r400.counts[verb] ?? 0, r100.counts[verb] ?? 0, `${verb} requests`);
  }
});

const TICK_MS = 2000;
/** Ticks counted per idle case. */
const TICKS = 97;

/** A leader's run loop in deployment mode (rounds of an hour), with every request counted. */
function idleLeader(pods: string[], overrides: Partial<PlannerOptions> = {}) {
  const clock = new FakeClock();
  const memory = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of pods) memory.setPod({ name });
  const { store, counts } = counting(memory);
  const stop = new AbortController();
  const planner = leadingPlanner(store, clock, { leaderRunsTasks: false, interval: "1h" }, {
    reconcileIntervalMs: TICK_MS,
    ...overrides,
  });
  const running = planner.runLeader(specs(10), stop.signal);
  let before: Record<string, number> = {};
  /** The requests made since the last call, while the clock moves `ms` forward. */
  const during = async (ms: number) => {
    await clock.advance(ms);
    const after = Object.fromEntries(counts);
    const delta = Object.keys(after).map((v) => [v, after[v]! - (before[v] ?? 0)] as const);
    before = after;
    return Object.fromEntries(delta.filter(([, n]) => n !== 0));
  };
  const end = async () => {
    stop.abort();
    await running;
  };
  return { memory, store, clock, during, end };
}

Deno.test("an idle leader waiting for workers lists only the pods at each tick", async () => {
  const leader = idleLeader(["lead"]);
  try {
    // Start: one list and one watch per cache, then the first tick's pod list; the round waits,
    // so one pod watch opens (and stays open).
    assert.deepEqual(await leader.during(0), { list: 2, watch: 2, listpods: 1, watchpods: 1 });
    // No ready worker: each tick must list the pods (a worker may have come), and nothing else;
    // the caches' watches stay open (no relist: list_watch.ts).
    assert.deepEqual(await leader.during(TICKS * TICK_MS), { listpods: TICKS });
    // A worker comes: the pod watch wakes the loop, which plans the round (summary and tasks)
    // once no other pod turned ready for ARRIVAL_QUIET_MS, before the next tick.
    leader.memory.setPod({ name: "pod-a" });
    const planned = await leader.during(ARRIVAL_QUIET_MS);
    assert.deepEqual(planned, { listpods: 1, create: 11 }, JSON.stringify(planned));
  } finally {
    await leader.end();
  }
});

Deno.test("an idle leader whose round is done sends no request at its ticks", async () => {
  const leader = idleLeader(["lead", "pod-a"]);
  try {
    await leader.during(0); // caches, the pod list, the round planned
    // The worker runs every task it was given (its requests are not the leader's: not counted).
    const worker = new Worker({
      store: leader.memory,
      clock: leader.clock,
      identity: "pod-a",
      tasks: tasksConfig({ leaderRunsTasks: false, interval: "1h" }),
      signer: instantSigner("key"),
      executor: (spec) => Promise.resolve(result(spec)),
    });
    const mine = await leader.memory.list("app=dz-mcall,task=true,assigned-to=pod-a");
    for (const cm of mine.items) worker.consider(cm);
    await worker.idle();
    // The last open task closing wakes the loop at once (no tick to wait for): it completes the
    // summary, its only request.
    assert.deepEqual(await leader.during(0), { update: 1 });
    const summaries = leader.memory.all().filter((cm) => cm.metadata.labels?.round === "true");
    assert.deepEqual(summaries.map((s) => s.data?.phase), ["complete"]);
    // Nothing open, nothing to plan: the ticks cost nothing, and the caches never relist.
    assert.deepEqual(await leader.during(TICKS * TICK_MS), {});
  } finally {
    await leader.end();
  }
});

Deno.test("a leader with open tasks lists the pods once per tick, nothing else while they wait", async () => {
  const leader = idleLeader(["lead", "pod-a"]);
  try {
    // Start: the caches, one pod list, the round planned (its summary and 10 tasks).
    assert.deepEqual(await leader.during(0), { list: 2, watch: 2, listpods: 1, create: 11 });
    // The tasks wait on a ready pod (not claimed yet, far from the never-claimed limit): each
    // tick must look at the pods (the recovery of open tasks needs them), and does nothing else.
    const ticks = 10;
    assert.deepEqual(await leader.during(ticks * TICK_MS), { listpods: ticks });
  } finally {
    await leader.end();
  }
});
