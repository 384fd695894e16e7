import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { setupLogging } from "../../lib/log/log.ts";
import { GarbageCollector } from "../../lib/planner/collector.ts";
import { WriteGuard } from "../../lib/planner/write_guard.ts";
import type { TaskStore } from "../../lib/tasks/store.ts";
import { patched, roundName, taskName } from "../../lib/tasks/contract.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

/** `store` whose deleteCollection waits until released (or its signal aborts). */
function slowDeletes(store: MemoryStore) {
  const pending: { selector: string; release: () => void; signal?: AbortSignal }[] = [];
  const slow: TaskStore = {
    list: (s) => store.list(s),
    get: (n) => store.get(n),
    create: (cm) => store.create(cm),
    update: (cm) => store.update(cm),
    delete: (n) => store.delete(n),
    watch: (s, rv, on, signal) => store.watch(s, rv, on, signal),
    deleteCollection: (selector, signal) =>
      new Promise<void>((resolve, reject) => {
        const release = () => store.deleteCollection(selector).then(resolve, reject);
        pending.push({ selector, release, ...(signal ? { signal } : {}) });
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  };
  return { slow, pending };
}

const garbage = (round: string) => ({
  selectors: [`app=dz-mcall,task=true,round-id=${round}`],
  tasks: [],
  summaries: [`dz-mcall-round-${round}`],
});

function stored(store: MemoryStore, name: string, labels: Record<string, string>) {
  store.put({ metadata: { name, labels: { app: "dz-mcall", ...labels } }, data: {} });
}

Deno.test("GarbageCollector runs in the background, one collection at a time, tasks before summaries", async () => {
  const store = new MemoryStore();
  stored(store, "t-r1", { task: "true", "round-id": "r1", state: "succeeded" });
  stored(store, "dz-mcall-round-r1", { round: "true", "round-id": "r1" });
  const { slow, pending } = slowDeletes(store);
  const gc = new GarbageCollector(slow, new WriteGuard(() => true, undefined), getLogger(["test"]));
  gc.collect(garbage("r1"));
  gc.collect(garbage("r1")); // still running: not started twice
  await Promise.resolve();
  assert.equal(pending.length, 1, "one deleteCollection in flight");
  assert.ok(store.peek("dz-mcall-round-r1"), "the summary waits for its tasks");
  let settled = false;
  const settling = gc.settle().then(() => settled = true);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(settled, false, "settle waits for the collection");
  pending[0]!.release();
  await settling;
  assert.equal(store.peek("t-r1"), undefined);
  assert.equal(store.peek("dz-mcall-round-r1"), undefined);
  gc.collect(garbage("r1"));
  await Promise.resolve();
  assert.equal(pending.length, 2, "a finished collection lets the next one start");
  pending[1]!.release();
  await gc.settle();
});

Deno.test("GarbageCollector: the term's signal aborts a collection in flight; a non-leader deletes nothing", async () => {
  const store = new MemoryStore();
  stored(store, "t-r1", { task: "true", "round-id": "r1", state: "succeeded" });
  const { slow, pending } = slowDeletes(store);
  let leader = true;
  const gc = new GarbageCollector(
    slow,
    new WriteGuard(() => leader, undefined),
    getLogger(["test"]),
  );
  const term = new AbortController();
  gc.collect(garbage("r1"), term.signal);
  await Promise.resolve();
  assert.equal(pending.length, 1);
  term.abort();
  await gc.settle(); // ends without the release
  assert.ok(store.peek("t-r1"), "nothing deleted by an aborted collection");
  leader = false;
  gc.collect(garbage("r1"));
  await gc.settle();
  assert.equal(pending.length, 1, "no delete issued without leadership");
});

Deno.test("GarbageCollector logs a failure that does not change once", async () => {
  const messages: string[] = [];
  setupLogging({ level: "info", sink: (record) => messages.push(String(record.rawMessage)) });
  try {
    const store = new MemoryStore();
    store.failNext("deleteCollection", "transient", 2);
    const gc = new GarbageCollector(
      store,
      new WriteGuard(() => true, undefined),
      getLogger(["dz-mcall"]),
    );
    for (let i = 0; i < 2; i++) {
      gc.collect(garbage("r1"));
      await gc.settle();
    }
    const failures = messages.filter((m) => m.startsWith("Garbage collection failed"));
    assert.equal(failures.length, 1, messages.join("\n"));
  } finally {
    setupLogging({ level: "error" });
  }
});

Deno.test("Planner: the write that ends a one-shot round waits for the collection of old rounds", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", "pod-a"]) store.setPod({ name });
  const planner = (s: TaskStore) =>
    leadingPlanner(store, clock, { round: "job-2", historyLimit: 1 }, { store: s });
  // An old round, complete, then this round's tasks, all run.
  const setup = planner(store);
  for (const round of ["job-1", "job-2"]) {
    await setup.planRound(round, specs(2));
    for (const i of [0, 1]) {
      const cm = store.peek(taskName("dz-mcall", round, i))!;
      store.put(patched(cm, { labels: { state: "succeeded" } }));
    }
    if (round === "job-1") await setup.reconcile(round);
    await clock.advance(1000);
  }
  const phase = () => store.peek(roundName("dz-mcall", "job-2"))!.data?.phase;
  const { slow, pending } = slowDeletes(store);
  const stop = new AbortController();
  const running = planner(slow).runLeader(specs(2), stop.signal);
  for (let i = 0; i < 5; i++) await clock.advance(0);
  assert.equal(pending.length, 1, "job-1's tasks are being deleted");
  assert.equal(phase(), "running", "the round is not ended before the collection is done");
  pending[0]!.release();
  assert.equal(await running, "complete");
  assert.equal(store.peek(taskName("dz-mcall", "job-1", 0)), undefined);
  assert.equal(phase(), "complete");
});
