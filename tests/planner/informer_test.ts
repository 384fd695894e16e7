/**
 * The planner's caches (`lib/planner/informer.ts`) and what the planner's run loop does when they
 * are stale: a cache that never hears its watch (a deaf watch: the worst lag there is) must
 * never make the planner create a task twice or miss the task of a dead pod; the periodic relist
 * repairs it.
 */
import assert from "node:assert/strict";
import { Informer } from "../../lib/planner/informer.ts";
import {
  patched,
  taskName,
  tasksSelector,
  type TaskView,
  viewTask,
} from "../../lib/tasks/contract.ts";
import type { TaskStore } from "../../lib/tasks/store.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

const SELECTOR = tasksSelector("dz-mcall");
const TICK_MS = 2000;
const RESYNC_MS = 30_000;

/** `store` whose watches deliver nothing (they stay open until aborted). */
function deaf(store: MemoryStore): TaskStore {
  return {
    list: (s) => store.list(s),
    get: (n) => store.get(n),
    create: (cm) => store.create(cm),
    update: (cm) => store.update(cm),
    delete: (n) => store.delete(n),
    deleteCollection: (s) => store.deleteCollection(s),
    watch: (s, rv, _onEvent, signal) => store.watch(s, rv, () => {}, signal),
  };
}

const task = (name: string, state = "pending") => ({
  metadata: {
    name,
    labels: { app: "dz-mcall", task: "true", state, "round-id": "r", "assigned-to": "pod-a" },
  },
  data: { spec: "{}" },
});

function informer(store: TaskStore, clock: FakeClock) {
  return new Informer<TaskView>({
    store,
    clock,
    selector: SELECTOR,
    resyncMs: RESYNC_MS,
    view: viewTask,
  });
}

Deno.test("Informer follows the watch and lists in name order", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  store.put(task("t-b"));
  store.put({ metadata: { name: "other", labels: { app: "dz-mcall" } } });
  const cache = informer(store, clock);
  const stop = new AbortController();
  const running = cache.run(stop.signal);
  await cache.ready();
  assert.deepEqual(cache.items().map((t) => t.name), ["t-b"]);
  store.put(task("t-a"));
  store.put(patched(store.peek("t-b")!, { labels: { state: "running" } }));
  await clock.advance(0);
  assert.deepEqual(cache.items().map((t) => [t.name, t.state]), [
    ["t-a", "pending"],
    ["t-b", "running"],
  ]);
  await store.delete("t-a");
  await clock.advance(0);
  assert.deepEqual(cache.items().map((t) => t.name), ["t-b"]);
  stop.abort();
  await running;
});

Deno.test("Informer is not ready while it cannot list, and says why", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  store.failNext("list", "transient", 2);
  const cache = informer(store, clock);
  const stop = new AbortController();
  const running = cache.run(stop.signal);
  await assert.rejects(cache.ready(), /injected transient on list/);
  const next = assert.rejects(cache.ready(), /injected transient on list/);
  await clock.advance(1000); // the retry fails too
  await next;
  const third = cache.ready();
  await clock.advance(1000);
  await third;
  assert.deepEqual(cache.items(), []);
  stop.abort();
  await running;
});

Deno.test("Informer with a deaf watch catches up at its relist", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  const cache = informer(deaf(store), clock);
  const stop = new AbortController();
  const running = cache.run(stop.signal);
  await cache.ready();
  store.put(task("t-a"));
  await clock.advance(RESYNC_MS - 1);
  assert.deepEqual(cache.items(), []);
  await clock.advance(1);
  assert.deepEqual(cache.items().map((t) => t.name), ["t-a"]);
  stop.abort();
  await running;
});

function leader(store: TaskStore, memory: MemoryStore, clock: FakeClock, n: number) {
  const planner = leadingPlanner(memory, clock, {
    round: "r",
    leaderRunsTasks: false,
    stuckGrace: "1s",
  }, { store, reconcileIntervalMs: TICK_MS, resyncIntervalMs: RESYNC_MS });
  const stop = new AbortController();
  const running = planner.runLeader(specs(n), stop.signal);
  return async () => {
    stop.abort();
    return await running;
  };
}

Deno.test("a planner whose cache misses its own creates never creates a task twice", async () => {
  const clock = new FakeClock();
  const memory = new MemoryStore({ wallNow: () => clock.wallNow() });
  memory.setPod({ name: "pod-a" });
  // The first planning fails halfway (the 3rd create); the retry plans from a cache that saw none
  // of the creates (deaf watch), so it tries every task again.
  memory.failNext("create", "transient");
  const createsBefore: string[] = [];
  const store = deaf(memory);
  const firstCreate = store.create;
  store.create = (cm) => (createsBefore.push(cm.metadata.name), firstCreate(cm));
  const end = leader(store, memory, clock, 5);
  await clock.advance(0);
  const first = new Map(memory.all().map((cm) => [cm.metadata.name, cm.metadata.uid]));
  await clock.advance(TICK_MS);
  const after = memory.all();
  // Every task exists once; the ones created first were not replaced (same uid).
  assert.equal(after.filter((cm) => cm.metadata.labels?.task === "true").length, 5);
  for (const cm of after) {
    if (first.has(cm.metadata.name)) assert.equal(cm.metadata.uid, first.get(cm.metadata.name));
  }
  assert.ok(createsBefore.length > 6, `the retry re-created from a stale cache: ${createsBefore}`);
  assert.equal(
    memory.writes.create,
    createsBefore.length - 1,
    "the injected failure wrote nothing",
  );
  await end();
});

Deno.test("a planner whose cache is deaf still recovers a dead pod's task by its relist", async () => {
  const clock = new FakeClock();
  const memory = new MemoryStore({ wallNow: () => clock.wallNow() });
  memory.setPod({ name: "pod-a" });
  const end = leader(deaf(memory), memory, clock, 1);
  await clock.advance(0);
  const name = taskName("dz-mcall", "r", 0);
  assert.equal(viewTask(memory.peek(name)!).assignedTo, "pod-a");
  // pod-a claims it (unseen by the cache), then dies; pod-b comes.
  memory.put(patched(memory.peek(name)!, { labels: { state: "running" } }));
  memory.deletePod("pod-a");
  memory.setPod({ name: "pod-b" });
  // The stale cache shows it pending on a gone pod: the handoff is tried and refused by the
  // compare-and-swap (the task moved), so nothing is written on a stale version.
  const writes = memory.writeCount;
  await clock.advance(TICK_MS);
  assert.equal(viewTask(memory.peek(name)!).assignedTo, "pod-a");
  assert.equal(viewTask(memory.peek(name)!).state, "running");
  // The relist shows it running on a gone pod: after the backoff of attempt 1 it moves to pod-b
  // with attempt 2.
  await clock.advance(RESYNC_MS + 2000 + TICK_MS);
  const moved = viewTask(memory.peek(name)!);
  assert.deepEqual([moved.assignedTo, moved.state, moved.attempt], ["pod-b", "pending", 2]);
  assert.ok(memory.writeCount > writes);
  await end();
});
