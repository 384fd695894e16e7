/**
 * The planner's caches (`lib/planner/informer.ts`) and what the planner's run loop does when they
 * are stale: a cache that never hears its watch (a deaf watch: the worst lag there is) must
 * never make the planner create a task twice. A cache stays live through a failed watch (the next
 * resumes where it stopped) and is not ready while it cannot list.
 */
import assert from "node:assert/strict";
import { Informer } from "../../lib/planner/informer.ts";
import { patched, tasksSelector, type TaskView, viewTask } from "../../lib/tasks/contract.ts";
import type { TaskStore } from "../../lib/tasks/store.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

const SELECTOR = tasksSelector("dz-mcall");
const TICK_MS = 2000;

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
  await clock.advance(1600); // the retry (after 800 ms, jittered up to 100 %) fails too
  await next;
  const third = cache.ready();
  await clock.advance(3200);
  await third;
  assert.deepEqual(cache.items(), []);
  stop.abort();
  await running;
});

Deno.test("Informer stays live through a failed watch and misses nothing: the next watch resumes where it stopped", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  const cache = informer(store, clock);
  const stop = new AbortController();
  const running = cache.run(stop.signal);
  await cache.ready();
  await clock.advance(5_000);
  store.failNext("watch", "transient");
  store.endWatches();
  store.put(task("t-a")); // written while no watch is open
  await clock.advance(0);
  await cache.ready(); // live: no failed list
  await clock.advance(2_000); // the backoff (800 ms doubling, jittered up to 100 %)
  assert.deepEqual(cache.items().map((t) => t.name), ["t-a"]);
  assert.equal(store.lists, 1);
  stop.abort();
  await running;
});

function leader(store: TaskStore, memory: MemoryStore, clock: FakeClock, n: number) {
  const planner = leadingPlanner(memory, clock, {
    round: "r",
    leaderRunsTasks: false,
    stuckGrace: "1s",
  }, { store, reconcileIntervalMs: TICK_MS });
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
