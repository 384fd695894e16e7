import assert from "node:assert/strict";
import { runInput } from "../../lib/engine/exec.ts";
import { cmdSpec } from "./cmd_spec.ts";
import { runPool, Semaphore } from "../../lib/engine/pool.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { configuredInputs, runAll } from "../../lib/modes/once.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cmd = (input: string, index: number) => cmdSpec(input, { index });

Deno.test("runPool() runs ten 1-second sleeps at concurrency 10 in about a second", async () => {
  const specs = Array.from({ length: 10 }, (_, i) => cmd("sleep 1", i));
  const started = performance.now();
  const results = await runPool(specs, 10, (spec, _i, signal) => runInput(spec, { signal }));
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1800, `took ${elapsed} ms`);
  assert.deepEqual(results.map((r) => r.errorCode), Array(10).fill("0"));
});

Deno.test("runPool() never has more than concurrency calls in flight", async () => {
  let inFlight = 0;
  let most = 0;
  const results = await runPool(Array.from({ length: 20 }, (_, i) => i), 3, async (n) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await delay(5 + (n % 4) * 3);
    inFlight--;
    return n;
  });
  assert.equal(most, 3);
  assert.equal(results.length, 20);
});

Deno.test("runPool() keeps input order when later items finish first", async () => {
  const results = await runPool([50, 10, 30, 0], 4, async (ms, i) => {
    await delay(ms);
    return `${i}:${ms}`;
  });
  assert.deepEqual(results, ["0:50", "1:10", "2:30", "3:0"]);
});

Deno.test("runPool() runs duplicated inputs each time", async () => {
  const specs = ["echo same", "echo same", "echo other", "echo same"].map(cmd);
  const results = await runPool(specs, 2, (spec) => runInput(spec));
  assert.deepEqual(results.map((r) => r.result), ["same\n", "same\n", "other\n", "same\n"]);
  assert.deepEqual(results.map((r) => r.errorCode), ["0", "0", "0", "0"]);
});

Deno.test("runPool() returns an empty list for no items", async () => {
  assert.deepEqual(await runPool([], 5, () => Promise.resolve(1)), []);
});

Deno.test("runPool() rejects with the first error after in-flight calls settle", async () => {
  const started: number[] = [];
  const settled: number[] = [];
  let sawAbort = false;
  await assert.rejects(
    runPool([0, 1, 2, 3, 4, 5], 2, async (n, _i, signal) => {
      started.push(n);
      if (n === 1) throw new Error("boom");
      await delay(30);
      sawAbort ||= signal.aborted;
      settled.push(n);
      return n;
    }),
    { message: "boom" },
  );
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(settled, [0], "the in-flight call settled before the rejection");
  assert.equal(sawAbort, true);
});

Deno.test("runPool() stops starting items when its signal aborts", async () => {
  const controller = new AbortController();
  const started: number[] = [];
  const pool = runPool([0, 1, 2, 3], 1, async (n) => {
    started.push(n);
    if (n === 1) controller.abort(new Error("stop"));
    await delay(1);
    return n;
  }, { signal: controller.signal });
  await assert.rejects(pool, { message: "stop" });
  assert.deepEqual(started, [0, 1]);
});

Deno.test("runPool() rejects a bad concurrency", async () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(runPool([1], bad, () => Promise.resolve(1)), {
      name: "RangeError",
      message:
        `Cannot run pool as 'concurrency' must be an integer of at least 1: current value is ${bad}`,
    });
  }
});

Deno.test("Semaphore hands slots out first come, first served and drops aborted waiters", async () => {
  const slots = new Semaphore(1);
  const order: string[] = [];
  const first = await slots.acquire();
  const controller = new AbortController();
  const aborted = slots.acquire(controller.signal);
  const second = slots.acquire().then((release) => {
    order.push("second");
    return release;
  });
  assert.equal(slots.pending, 3);
  controller.abort(new Error("gone"));
  await assert.rejects(aborted, /gone/);
  assert.equal(slots.pending, 2);
  first();
  (await second)();
  assert.deepEqual(order, ["second"]);
  assert.equal(slots.running, 0);
  assert.throws(() => new Semaphore(0), RangeError);
});

Deno.test("runAll() runs 5,000 × true at the highest allowed worker count with no false timeout", async () => {
  const layer = (number: number) => ({
    values: {
      worker: { number },
      request: { inputs: Array.from({ length: 5000 }, () => ({ input: "true" })) },
    },
    sources: new Map(),
  });
  assert.throws(() => loadConfig({ layers: [layer(1001)] }), /above the maximum of 1000$/);
  const config = loadConfig({ layers: [layer(1000)] });
  const results = await runAll(configuredInputs(config), config);
  const failed = results.filter((r) => r.errorCode !== "0");
  assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 3)));
});
