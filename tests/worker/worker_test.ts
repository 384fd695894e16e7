import assert from "node:assert/strict";
import type { InputSpec, Result } from "../../lib/engine/input.ts";
import { ROUND_EXIT, type RoundExit, roundExitStatus } from "../../lib/worker/round_exit.ts";
import { newRoundSummary } from "../../lib/planner/round_summary.ts";
import { HmacSigner, type TaskSigner } from "../../lib/tasks/signing.ts";
import {
  newTaskConfigMap,
  patched,
  roundName,
  taskName,
  viewTask,
} from "../../lib/tasks/contract.ts";
import type { ConfigMapLike } from "../../lib/tasks/store.ts";
import { Worker, type WorkerOptions } from "../../lib/worker/worker.ts";
import type { LogRecord } from "@logtape/logtape";
import { logger, setupLogging } from "../../lib/log/log.ts";
import { LOG_RESULT_CAP_BYTES } from "../../lib/worker/finished_log.ts";
import { FakeClock, settle } from "../fakes/clock.ts";
import { instantSigner, MemoryStore, specs, tasksConfig } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";

const ROUND = "20250101-000000";
const key = (text: string) => new TextEncoder().encode(text);

function okResult(
  spec: InputSpec,
  output = `out ${spec.index}`,
  errorCode: "0" | "-1" = "0",
): Result {
  return {
    errorCode,
    input: spec.input,
    name: spec.name,
    result: output,
    ts: "2025-01-01T00:00:00.000",
    type: spec.type,
    exitCode: errorCode === "0" ? 0 : 1,
    status: null,
    durationMs: 5,
    truncated: false,
  };
}

async function setup(tasks: Record<string, unknown> = {}, instant = false) {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  const signer = instant ? instantSigner("key") : await HmacSigner.fromKey(key("key"));
  const calls: string[] = [];
  let exec = (spec: InputSpec, _signal?: AbortSignal): Promise<Result> =>
    Promise.resolve(okResult(spec));
  const observed = { epoch: 0 };
  const worker = (
    identity = "pod-a",
    opts: {
      signer?: TaskSigner | undefined;
      concurrency?: number;
      more?: Partial<WorkerOptions>;
    } = {},
  ) =>
    new Worker({
      store,
      clock,
      identity,
      tasks: tasksConfig(tasks),
      signer: "signer" in opts ? opts.signer : signer,
      executor: (spec, signal) => {
        calls.push(`${identity}:${spec.index}`);
        return exec(spec, signal);
      },
      observedEpoch: () => observed.epoch,
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      ...opts.more,
    });
  /** Creates a signed pending task the way the planner does. */
  const addTask = async (
    index: number,
    o: { assignedTo?: string; epoch?: number; signWith?: TaskSigner | null } = {},
  ) => {
    const epoch = o.epoch ?? 1;
    const cm = newTaskConfigMap({
      app: "dz-mcall",
      round: ROUND,
      spec: specs(index + 1)[index]!,
      assignedTo: o.assignedTo ?? "pod-a",
      epoch,
      signature: "",
    });
    const s = o.signWith === undefined ? signer : o.signWith;
    if (s) {
      cm.metadata.annotations!.signature = await s.sign({
        name: cm.metadata.name,
        round: ROUND,
        epoch,
        spec: cm.data!.spec!,
      });
    }
    return store.put(cm);
  };
  return {
    clock,
    store,
    signer,
    calls,
    observed,
    worker,
    addTask,
    setExec: (f: typeof exec) => exec = f,
  };
}

const stateOf = (store: MemoryStore, index: number) =>
  viewTask(store.peek(taskName("dz-mcall", ROUND, index))!);

Deno.test("Worker.consider() claims, runs and records a signed task once", async () => {
  const { store, worker, addTask, calls, setExec } = await setup();
  const w = worker();
  const cm = await addTask(0);
  w.consider(cm);
  w.consider(cm);
  await w.idle();
  w.consider(cm); // stale copy after the run: the attempt was already executed
  await w.idle();
  assert.deepEqual(calls, ["pod-a:0"]);
  const t = stateOf(store, 0);
  assert.equal(t.state, "succeeded");
  assert.equal(t.processedBy, "pod-a");
  const ann = t.cm.metadata.annotations!;
  assert.equal(ann.processed, "true");
  assert.match(ann["processed-at"] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(ann["claimed-at"]);
  assert.deepEqual(
    [t.cm.data?.errorCode, t.cm.data?.output, t.cm.data?.exitCode, t.cm.data?.status],
    ["0", "out 0", "0", ""],
  );

  setExec((spec) => Promise.resolve(okResult(spec, "bad", "-1")));
  w.consider(await addTask(1));
  await w.idle();
  assert.equal(stateOf(store, 1).state, "failed", "a failing check is a result, not a retry");
  assert.equal(stateOf(store, 1).attempt, 1);
});

Deno.test("Worker logs one line per finished task with its result in the configured format", async () => {
  const records: LogRecord[] = [];
  setupLogging({ level: "info", sink: (r) => records.push(r) });
  try {
    const { worker, addTask, setExec } = await setup();
    const finished = () =>
      records.filter((r) => r.properties.event === "task-finished").map((r) => r.properties);
    const json = worker("pod-a", { more: { log: logger("worker") } });
    json.consider(await addTask(0));
    await json.idle();
    setExec((spec) => Promise.resolve(okResult(spec, "x".repeat(10_000), "-1")));
    json.consider(await addTask(1));
    await json.idle();
    const [ok, bad] = finished();
    assert.equal(ok?.name, taskName("dz-mcall", ROUND, 0));
    assert.deepEqual([ok?.task, ok?.state, ok?.attempt, ok?.exitCode], ["t0", "succeeded", 1, 0]);
    assert.deepEqual(JSON.parse(String(ok?.result)), {
      errorCode: "0",
      input: "echo 0",
      name: "t0",
      result: "out 0",
      ts: "2025-01-01T00:00:00.000",
      type: "cmd",
      exitCode: 0,
      status: null,
      durationMs: 5,
      truncated: false,
    });
    assert.equal(bad?.state, "failed");
    const badResult = JSON.parse(String(bad?.result));
    assert.equal(badResult.result.length, LOG_RESULT_CAP_BYTES, "the result text is capped");
    assert.equal(badResult.truncated, true);
    assert.equal(records.find((r) => r.properties.state === "failed")?.level, "warning");

    records.length = 0;
    setExec((spec) => Promise.resolve(okResult(spec, "plain text\n")));
    const plain = worker("pod-a", {
      more: { log: logger("worker"), resultFormat: { format: "plain", encoding: "" } },
    });
    plain.consider(await addTask(2));
    await plain.idle();
    assert.equal(finished()[0]?.result, "plain text");
  } finally {
    setupLogging({ level: "error", sink: () => {} });
  }
});

Deno.test("Worker.consider() ignores tasks of other pods and non-pending tasks", async () => {
  const { store, worker, addTask, calls } = await setup();
  const w = worker();
  w.consider(await addTask(0, { assignedTo: "pod-b" }));
  const running = await addTask(1);
  w.consider(store.put(patched(running, { labels: { state: "running" } })));
  await w.idle();
  assert.deepEqual(calls, []);
  assert.equal(stateOf(store, 0).state, "pending");
});

Deno.test("Worker.consider() rejects unsigned, tampered and wrongly signed tasks without running them", async () => {
  const { store, worker, addTask, calls } = await setup();
  const w = worker();
  w.consider(await addTask(0, { signWith: null }));
  const tampered = await addTask(1);
  w.consider(store.put({
    ...tampered,
    data: { spec: tampered.data!.spec!.replace("echo 1", "rm -rf /") },
  }));
  w.consider(await addTask(2, { signWith: await HmacSigner.fromKey(key("wrong")) }));
  await w.idle();
  assert.deepEqual(calls, []);
  const reasons = [0, 1, 2].map((i) => {
    const t = stateOf(store, i);
    assert.equal(t.state, "rejected");
    assert.equal(t.cm.metadata.annotations?.processed, "true");
    return t.cm.metadata.annotations?.reason;
  });
  assert.deepEqual(reasons, ["unsigned task", "bad signature", "bad signature"]);
});

Deno.test("Worker.consider() accepts unsigned tasks only with insecureUnsignedTasks", async () => {
  const { store, worker, addTask, calls } = await setup({ insecureUnsignedTasks: true });
  const w = worker("pod-a", { signer: undefined });
  w.consider(await addTask(0, { signWith: null }));
  await w.idle();
  assert.deepEqual(calls, ["pod-a:0"]);
  assert.equal(stateOf(store, 0).state, "succeeded");
  assert.throws(
    () =>
      new Worker({
        store,
        clock: new FakeClock(),
        identity: "x",
        tasks: tasksConfig(),
        signer: undefined,
        executor: () => Promise.reject(new Error("unused")),
      }),
    /signing key/,
  );
});

Deno.test("Worker.consider() rejects garbled task ConfigMaps without crashing", async () => {
  const { store, worker, addTask, calls } = await setup();
  const w = worker();
  const base = await addTask(0);
  const variants: [string, (cm: ConfigMapLike) => ConfigMapLike][] = [
    ["missing spec data key", (cm) => ({ metadata: cm.metadata })],
    [
      "missing or invalid leader-epoch annotation",
      (cm) => patched(cm, { annotations: { "leader-epoch": "x" } }),
    ],
    ["missing round-id label", (cm) => patched(cm, { labels: { "round-id": null } })],
    ["missing or unknown state label", (cm) => patched(cm, { labels: { state: null } })],
    ["missing or invalid leader-epoch annotation", (cm) => {
      delete cm.metadata.annotations;
      return cm;
    }],
  ];
  for (const [i, [expected, mutate]] of variants.entries()) {
    const name = `garbled-${i}`;
    const garbled = mutate(structuredClone(base));
    garbled.metadata.name = name;
    const cm = store.put(garbled);
    w.consider(cm);
    await w.idle();
    const t = viewTask(store.peek(name)!);
    assert.equal(t.state, "rejected", name);
    assert.equal(t.cm.metadata.annotations?.reason, expected);
  }
  // A spec that is not JSON, correctly signed: rejected for its content.
  const signer = await HmacSigner.fromKey(key("key"));
  const bad = store.put(patched(base, {
    annotations: {
      signature: await signer.sign({
        name: base.metadata.name,
        round: ROUND,
        epoch: 1,
        spec: "{oops",
      }),
    },
    data: { spec: "{oops" },
  }));
  w.consider(bad);
  // deno-lint-ignore no-explicit-any
  w.consider({} as any);
  // deno-lint-ignore no-explicit-any
  w.consider({ metadata: { name: "n", labels: { "assigned-to": "pod-a" } } } as any);
  await w.idle();
  assert.equal(stateOf(store, 0).cm.metadata.annotations?.reason, "spec is not JSON");
  assert.deepEqual(calls, []);
});

Deno.test("Worker.consider() leaves a stale-epoch task untouched until the new leader adopts it", async () => {
  const { store, worker, addTask, calls, observed, signer, clock } = await setup();
  const w = worker();
  observed.epoch = 2;
  const cm = await addTask(0, { epoch: 1 });
  w.consider(cm);
  await w.idle();
  assert.deepEqual(calls, []);
  let t = stateOf(store, 0);
  assert.deepEqual([t.state, t.cm.metadata.annotations?.processed], ["pending", "false"]);

  store.setPod({ name: "lead" });
  store.setPod({ name: "pod-a" });
  const planner = leadingPlanner(store, clock, {}, { epoch: () => 2, signer });
  await planner.reconcile(ROUND);
  t = stateOf(store, 0);
  assert.equal(t.epoch, 2);
  w.consider(t.cm);
  await w.idle();
  assert.deepEqual(calls, ["pod-a:0"]);
  assert.equal(stateOf(store, 0).state, "succeeded");
});

Deno.test("Worker.consider() raises its epoch from verified tasks", async () => {
  const { worker, addTask, calls } = await setup();
  const w = worker();
  w.consider(await addTask(0, { epoch: 4 }));
  await w.idle();
  assert.equal(w.highestEpoch, 4);
  w.consider(await addTask(1, { epoch: 3 }));
  w.consider(await addTask(2, { epoch: 9, signWith: null })); // unverified: does not count
  await w.idle();
  assert.deepEqual(calls, ["pod-a:0"]);
  assert.equal(w.highestEpoch, 4);
});

Deno.test("Worker.consider() does not run a task whose claim conflicts", async () => {
  const { store, worker, addTask, calls } = await setup();
  const w = worker();
  const cm = await addTask(0);
  store.failNext("update", "conflict");
  w.consider(cm);
  await w.idle();
  assert.deepEqual(calls, []);
  assert.equal(stateOf(store, 0).state, "pending");
});

Deno.test("Worker.consider() discards the result of a superseded claim", async () => {
  const { store, worker, addTask, calls, setExec } = await setup();
  const w = worker();
  setExec((spec) => {
    // The leader reassigns the task while it runs.
    const cur = store.peek(taskName("dz-mcall", ROUND, 0))!;
    store.put(patched(cur, {
      labels: { "assigned-to": "pod-b", state: "pending" },
      annotations: { attempt: "2" },
    }));
    return Promise.resolve(okResult(spec));
  });
  w.consider(await addTask(0));
  await w.idle();
  assert.deepEqual(calls, ["pod-a:0"]);
  const t = stateOf(store, 0);
  assert.deepEqual([t.state, t.assignedTo, t.attempt], ["pending", "pod-b", 2]);
  assert.equal(t.cm.data?.output, undefined);
});

Deno.test("Worker.consider() stores a 2 MB output truncated in a small object", async () => {
  const { store, worker, addTask, setExec } = await setup();
  setExec((spec) => Promise.resolve(okResult(spec, "x".repeat(2 * 1024 * 1024))));
  const w = worker();
  w.consider(await addTask(0));
  await w.idle();
  const cm = store.peek(taskName("dz-mcall", ROUND, 0))!;
  assert.equal(cm.data?.truncated, "true");
  assert.ok(new TextEncoder().encode(JSON.stringify(cm)).length < 100 * 1024);
});

Deno.test("Worker.consider() runs at most `concurrency` tasks at once", async () => {
  const { store, worker, addTask, setExec } = await setup();
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  setExec((spec) => {
    peak = Math.max(peak, ++running);
    return new Promise((resolve) =>
      gates.push(() => {
        running--;
        resolve(okResult(spec));
      })
    );
  });
  const w = worker("pod-a", { concurrency: 2 });
  for (let i = 0; i < 5; i++) w.consider(await addTask(i));
  // Open one gate per turn until all five ran. How many turns a claim (a store write and a
  // WebCrypto signature check) takes depends on the machine's load: a fixed count of turns left
  // tasks waiting on a gate on a busy CI machine, and `idle()` never resolved.
  let released = 0;
  for (let turn = 0; released < 5 && turn < 10_000; turn++) {
    await settle();
    const gate = gates.shift();
    if (gate) {
      gate();
      released++;
    }
  }
  await w.idle();
  assert.equal(peak, 2);
  assert.ok([0, 1, 2, 3, 4].every((i) => stateOf(store, i).state === "succeeded"));
});

Deno.test("Worker.run() picks up tasks through the watch and relists after 410 Gone", async () => {
  const { store, worker, addTask, calls, clock } = await setup({ pollInterval: "10s" }, true);
  const w = worker();
  const ctl = new AbortController();
  await addTask(0);
  store.failNext("watch", "gone");
  const done = w.run(ctl.signal);
  await settle();
  await clock.advance(0);
  await addTask(1); // arrives through the watch
  await clock.advance(0);
  await addTask(2);
  await clock.advance(10_000); // resync
  ctl.abort();
  await done;
  assert.deepEqual(calls.sort(), ["pod-a:0", "pod-a:1", "pod-a:2"]);
});

/** An executor that takes `ms` of the fake clock, or fails as `runInput` does when aborted. */
function slowExec(clock: FakeClock, ms: number) {
  return async (spec: InputSpec, signal?: AbortSignal): Promise<Result> => {
    try {
      await clock.sleep(ms, signal);
      return okResult(spec, `done ${spec.index}`);
    } catch {
      return { ...okResult(spec, "", "-1"), exitCode: null, error: "aborted" };
    }
  };
}

Deno.test("Worker.run() on shutdown stops claiming and lets running tasks finish within drainMs", async () => {
  const { store, worker, addTask, calls, clock, setExec } = await setup({}, true);
  setExec(slowExec(clock, 8_000));
  const w = worker("pod-a", { more: { drainMs: 25_000 } });
  const ctl = new AbortController();
  await addTask(0);
  const done = w.run(ctl.signal);
  await settle();
  await clock.advance(1_000);
  assert.equal(stateOf(store, 0).state, "running");
  ctl.abort(); // SIGTERM
  await addTask(1); // arrives after SIGTERM: left for the leader
  await clock.advance(7_000);
  await done;
  assert.deepEqual(calls, ["pod-a:0"], "nothing claimed after SIGTERM");
  const t = stateOf(store, 0);
  assert.deepEqual([t.state, t.cm.data?.output, t.attempt], ["succeeded", "done 0", 1]);
  assert.equal(stateOf(store, 1).state, "pending");
});

Deno.test("Worker.run() hands back what is still running when drainMs is over, never recording the abort", async () => {
  const { store, worker, addTask, clock, setExec } = await setup({}, true);
  setExec(slowExec(clock, 60_000));
  const w = worker("pod-a", { more: { drainMs: 5_000 } });
  const ctl = new AbortController();
  await addTask(0);
  const done = w.run(ctl.signal);
  await settle();
  await clock.advance(1_000);
  ctl.abort();
  await clock.advance(4_999);
  assert.equal(stateOf(store, 0).state, "running", "still within the drain");
  await clock.advance(1);
  await done;
  const t = stateOf(store, 0);
  assert.deepEqual([t.state, t.attempt, t.assignedTo, t.processedBy], ["pending", 1, "pod-a", ""]);
  const ann = t.cm.metadata.annotations!;
  assert.equal(ann.processed, "false", "not processed");
  assert.equal(ann["claimed-at"], undefined);
  assert.match(ann.reason ?? "", /^handed back by pod-a: stopped before it finished$/);
  assert.equal(t.cm.data?.errorCode, undefined, "the aborted execution is not the task's result");
  assert.equal(t.cm.data?.error, undefined);
});

Deno.test("Worker.consider() retries at once a task its pod's previous container left running", async () => {
  const { store, worker, addTask, calls } = await setup({ maxAttempts: 3 });
  const cm = await addTask(0);
  // The previous container claimed attempt 1 and died (restartPolicy OnFailure: same pod name).
  store.put(
    patched(cm, { labels: { state: "running" }, annotations: { "processed-by": "pod-a" } }),
  );
  const w = worker("pod-a");
  w.consider(store.peek(cm.metadata.name)!);
  await w.idle();
  const retried = stateOf(store, 0);
  assert.deepEqual([retried.state, retried.attempt, retried.processedBy], ["pending", 2, ""]);
  assert.match(retried.cm.metadata.annotations?.reason ?? "", /pod-a restarted while running/);
  w.consider(store.peek(cm.metadata.name)!); // the watch delivers the pending version
  await w.idle();
  assert.deepEqual(calls, ["pod-a:0"]);
  assert.deepEqual([stateOf(store, 0).state, stateOf(store, 0).attempt], ["succeeded", 2]);
  // Another pod's running task, or one this process runs itself, is never touched.
  const other = await addTask(1, { assignedTo: "pod-a" });
  store.put(
    patched(other, { labels: { state: "running" }, annotations: { "processed-by": "pod-b" } }),
  );
  w.consider(store.peek(other.metadata.name)!);
  await w.idle();
  assert.equal(stateOf(store, 1).state, "running");
});

Deno.test("Worker.consider() marks dead a task left running at its last attempt", async () => {
  const { store, worker, addTask, calls } = await setup({ maxAttempts: 2 });
  const cm = await addTask(0);
  store.put(patched(cm, {
    labels: { state: "running" },
    annotations: { "processed-by": "pod-a", attempt: "2" },
  }));
  const w = worker("pod-a");
  w.consider(store.peek(cm.metadata.name)!);
  await w.idle();
  const t = stateOf(store, 0);
  assert.equal(t.state, "dead");
  assert.equal(t.cm.metadata.annotations?.processed, "true");
  assert.match(t.cm.metadata.annotations?.reason ?? "", /^dead after 2 attempts: pod-a restarted/);
  assert.deepEqual(calls, []);
});

Deno.test("roundExitStatus() maps summaries to exit statuses", () => {
  assert.equal(roundExitStatus({ phase: "complete", succeeded: "3" }), ROUND_EXIT.ok);
  assert.equal(roundExitStatus({ phase: "complete", failed: "2" }), ROUND_EXIT.ok);
  assert.equal(roundExitStatus({ phase: "complete", rejected: "1" }), ROUND_EXIT.infrastructure);
  assert.equal(roundExitStatus({ phase: "deadline-exceeded" }), ROUND_EXIT.deadline);
});

Deno.test("Worker.waitForRound() returns the exit status of a one-shot round", async () => {
  const cases: [Record<string, string>, RoundExit][] = [
    [{ phase: "complete", succeeded: "2", failed: "0", dead: "0", rejected: "0" }, "ok"],
    [{ phase: "complete", succeeded: "1", failed: "1", dead: "0", rejected: "0" }, "ok"],
    [
      { phase: "complete", succeeded: "1", failed: "0", dead: "1", rejected: "0" },
      "infrastructure",
    ],
    [{ phase: "deadline-exceeded" }, "deadline"],
  ];
  for (const [data, expected] of cases) {
    const { store, worker, clock } = await setup({ round: "job-1" });
    const w = worker();
    const start = clock.wallNow();
    const fresh = { app: "dz-mcall", round: "job-1", total: 2, epoch: 1, leader: "lead", start };
    const summary = store.put(newRoundSummary(fresh));
    // Another round's summary ending changes nothing.
    const other = store.put(newRoundSummary({ ...fresh, round: "job-0" }));
    let status: RoundExit | undefined;
    const waiting = w.waitForRound("job-1", new AbortController().signal).then((s) => status = s);
    await clock.advance(5000);
    store.put({ ...other, data: { phase: "complete" } });
    await clock.advance(0);
    assert.equal(status, undefined);
    // The summary's watch event ends the wait at once (no poll to wait for).
    store.put({ ...summary, data });
    await clock.advance(0);
    await waiting;
    assert.equal(status, expected);
  }
});

Deno.test("Worker.waitForRound() gives up at roundDeadline on its own clock", async () => {
  const { worker, clock } = await setup({ round: "job-1", roundDeadline: "30s" });
  let status: RoundExit | undefined;
  const waiting = worker().waitForRound("job-1", new AbortController().signal).then((s) =>
    status = s
  );
  await clock.advance(28_000);
  assert.equal(status, undefined);
  await clock.advance(4_000);
  await waiting;
  assert.equal(status, ROUND_EXIT.deadline);
});

Deno.test("Planner and Worker need at most 4 writes per task in a normal round", async () => {
  const { store, worker, clock, signer } = await setup({ pollInterval: "5s" }, true);
  for (const name of ["lead", "pod-a", "pod-b"]) store.setPod({ name });
  const planner = leadingPlanner(store, clock, { historyLimit: 1, failedHistoryLimit: 1 }, {
    signer,
    reconcileIntervalMs: 1000,
  });
  const ctl = new AbortController();
  const workers = [worker("pod-a"), worker("pod-b")].map((w) => w.run(ctl.signal));
  const n = 10;
  const leading = planner.runLeader(specs(n), ctl.signal);
  for (let i = 0; i < 10; i++) await clock.advance(1000);
  const summary = store.peek(roundName("dz-mcall", planner.currentRound()))!;
  assert.equal(summary.data?.phase, "complete");
  assert.equal(summary.data?.succeeded, String(n));
  // The next round replaces the first; its tasks are collected.
  await clock.advance(300_000);
  for (let i = 0; i < 10; i++) await clock.advance(1000);
  ctl.abort();
  await Promise.all([...workers, leading]);
  const tasksLeft = store.all().filter((c) => c.metadata.labels?.task === "true").length;
  assert.equal(tasksLeft, n, "only the last round's tasks remain");
  assert.ok(store.writeCount <= 4 * 2 * n, `${store.writeCount} writes for ${2 * n} tasks`);
  assert.equal(store.writes.create, 2 * n + 2);
});
