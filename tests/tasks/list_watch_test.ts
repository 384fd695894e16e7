/**
 * `lib/tasks/list_watch.ts` keeps client-go's reflector contract (against the in-memory store
 * and a fake clock): one LIST, then watches that resume from the last resourceVersion (events and
 * BOOKMARKs), a relist only on 410 Gone, and backoff (800 ms doubling, reset after a watch that
 * lived) after failures and repeated 410s.
 */
import assert from "node:assert/strict";
import { listWatch } from "../../lib/tasks/list_watch.ts";
import { Backoff } from "../../lib/time/backoff.ts";
import type { WatchEvent } from "../../lib/tasks/store.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore } from "../fakes/memory_store.ts";

const cm = (name: string) => ({ metadata: { name, labels: { app: "x" } } });

function start(store: MemoryStore, clock: FakeClock) {
  const seen: string[] = [];
  const errors: string[] = [];
  const stop = new AbortController();
  const running = listWatch({
    store,
    clock,
    selector: "app=x",
    onList: (items) => seen.push(`list ${items.map((i) => i.metadata.name)}`),
    onEvent: (e: WatchEvent) => seen.push(`${e.type} ${e.object.metadata.name}`),
    onError: (err, during) => errors.push(`${during}: ${err}`),
    backoff: new Backoff(clock, {}, () => 0),
  }, stop.signal);
  return {
    seen,
    errors,
    end: async () => {
      stop.abort();
      await running;
    },
  };
}

Deno.test("listWatch() resumes a watch the server ended from the last resourceVersion, bookmarks included, without a LIST", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  await store.create(cm("a"));
  const run = start(store, clock);
  await clock.advance(0);
  assert.deepEqual(store.watchLog, ["1"]);
  await store.create(cm("b"));
  await clock.advance(5_000);
  store.endWatches(); // the server's timeoutSeconds
  await clock.advance(0);
  // Resumed after b's version: nothing missed, nothing seen twice.
  assert.deepEqual(store.watchLog, ["1", "2"]);
  // Writes the watch does not show (another selector) advance the version; a bookmark says so.
  await store.create({ metadata: { name: "other", labels: { app: "y" } } });
  store.bookmark();
  await clock.advance(5_000);
  store.endWatches();
  await clock.advance(0);
  assert.deepEqual(store.watchLog, ["1", "2", "3"]);
  await store.create(cm("c"));
  await clock.advance(0);
  assert.deepEqual(run.seen, ["list a", "ADDED b", "ADDED c"]);
  assert.equal(store.lists, 1, "a watch end is not a reason to list");
  assert.deepEqual(run.errors, []);
  await run.end();
});

Deno.test("listWatch() relists exactly once after 410 Gone", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  await store.create(cm("a"));
  const run = start(store, clock);
  await clock.advance(0);
  await store.create(cm("b"));
  await clock.advance(5_000);
  // The watch ends, and before it is resumed from version 2, c is written and the log compacted.
  store.endWatches();
  void store.create(cm("c"));
  store.compact();
  await clock.advance(0);
  // The watch from version 2 got 410: after the backoff, one list, and a watch from its version.
  await clock.advance(799);
  assert.equal(store.lists, 1);
  await clock.advance(1);
  assert.equal(store.lists, 2);
  assert.deepEqual(store.watchLog, ["1", "2", "3"]);
  assert.deepEqual(run.seen, ["list a", "ADDED b", "list a,b,c"]);
  assert.deepEqual(run.errors, [], "a 410 is not an error");
  await clock.advance(60_000);
  assert.equal(store.lists, 2);
  await run.end();
});

Deno.test("listWatch() backs off a watch that answers 410 again and again (not 67 LISTs in 3 s)", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  store.failNext("watch", "gone", 1000);
  const run = start(store, clock);
  await clock.advance(0);
  for (let t = 0; t < 3000; t += 100) await clock.advance(100);
  // Lists at 0, 0.8 s and 2.4 s (800 ms doubling, no jitter here).
  assert.equal(store.lists, 3);
  await run.end();
});

Deno.test("listWatch() backs off failed watches 800 ms → 30 s, resumes each from where it stopped, and resets after a watch that lived", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  await store.create(cm("a"));
  const run = start(store, clock);
  await clock.advance(5_000);
  store.failNext("watch", "transient", 7);
  store.endWatches();
  await clock.advance(0); // the first failed watch, at once
  const watchesAt: number[] = [clock.now()];
  let count = store.watchLog.length;
  for (let t = 0; t < 120_000; t += 100) {
    await clock.advance(100);
    if (store.watchLog.length > count) watchesAt.push(clock.now());
    count = store.watchLog.length;
  }
  const gaps = watchesAt.slice(1).map((t, i) => t - watchesAt[i]!);
  assert.deepEqual(gaps, [800, 1600, 3200, 6400, 12800, 25600, 30000]);
  assert.ok(store.watchLog.every((rv) => rv === "1"), String(store.watchLog));
  assert.equal(store.lists, 1);
  assert.equal(run.errors.length, 7);
  // The last watch lived more than 2 minutes: the next failure waits 800 ms again.
  await clock.advance(150_000);
  store.failNext("watch", "transient", 1);
  store.endWatches();
  const before = store.watchLog.length;
  await clock.advance(799);
  assert.equal(store.watchLog.length, before + 1, "the failed watch");
  await clock.advance(1);
  assert.equal(store.watchLog.length, before + 2, "the next, after 800 ms");
  await run.end();
});
