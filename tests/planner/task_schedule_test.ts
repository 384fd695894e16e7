import assert from "node:assert/strict";
import {
  cronJobChecks,
  dueRound,
  parseChecks,
  previousStart,
  slotMs,
} from "../../lib/planner/task_schedule.ts";
import { RoundPicker } from "../../lib/planner/round_schedule.ts";
import type { Cadence } from "../../lib/time/cadence.ts";
import { millis } from "../../lib/time/duration.ts";
import { patched, roundName } from "../../lib/tasks/contract.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

const every = (s: number): Cadence => ({ kind: "interval", intervalMs: s * 1000 });
const cron = (schedule: string, timeZone = ""): Cadence => ({ kind: "cron", schedule, timeZone });
const T0 = Date.UTC(2025, 0, 1);
/** The slot round id `s` seconds after 2025-01-01T00:00:00Z. */
const id = (s: number) => {
  const iso = new Date(T0 + s * 1000).toISOString();
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
};
const multiples = (step: number, from: number, to: number) => {
  const out: number[] = [];
  for (let s = Math.ceil(from / step) * step; s <= to; s += step) out.push(s);
  return out;
};

/** A pool of leaders over one store; each leader runs until `stop()`. */
function pool() {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", "other", "pod-a"]) store.setPod({ name });
  let epoch = 0;
  const start = (identity: string, cadences: Cadence[]) => {
    const stop = new AbortController();
    const term = ++epoch;
    const planner = leadingPlanner(store, clock, { interval: "5m" }, {
      isLeader: () => !stop.signal.aborted,
      epoch: () => term,
      identity,
      cadences,
    });
    const running = planner.runLeader(specs(cadences.length), stop.signal);
    return async () => {
      stop.abort();
      await clock.advance(0);
      await running;
    };
  };
  /** Advances second by second; the workers finish every task at once. */
  const runTo = async (s: number) => {
    while (clock.now() < s * 1000) {
      await clock.advance(1000);
      for (const cm of store.all()) {
        if (cm.metadata.labels?.state === "pending") {
          store.put(patched(cm, { labels: { state: "succeeded" } }));
        }
      }
    }
  };
  /** Every task created, as [check index, round id]; and whether a name was created twice. */
  const created = () => {
    const names = store.writeLog.filter((w) => w.startsWith("create dz-mcall-2"))
      .map((w) => w.slice("create ".length)).filter((n) => !n.includes("-round-"));
    assert.equal(new Set(names).size, names.length, `a task planned twice: ${names.join(" ")}`);
    return names.map((n) => [Number(n.slice(-3)), n.slice("dz-mcall-".length, -4)] as const);
  };
  return { clock, store, start, runTo, created };
}

Deno.test("checks at 10 s, 25 s and */1 each run at their own due times for 10 minutes, through a leader change, a restart and an upgrade", async () => {
  const p = pool();
  const cadences = [every(10), every(25), cron("*/1 * * * *")];
  let stop = p.start("lead", cadences);
  await p.runTo(185); // 00:03:05: the leader goes, another takes over 4 s later
  await stop();
  await p.runTo(189);
  stop = p.start("other", cadences);
  await p.runTo(361); // 00:06:01: the pod restarts (a new process, nothing remembered)
  await stop();
  await p.runTo(368);
  stop = p.start("other", cadences);
  await p.runTo(481); // 00:08:01: helm upgrade changes the 25 s check to 20 s
  await stop();
  await p.runTo(483);
  stop = p.start("lead", [every(10), every(20), cron("*/1 * * * *")]);
  await p.runTo(601);
  await stop();

  const rounds = (check: number) =>
    p.created().filter(([i]) => i === check).map(([, r]) => r).sort();
  assert.deepEqual(rounds(0), multiples(10, 0, 600).map(id), "10 s");
  assert.deepEqual(
    rounds(1),
    [...multiples(25, 0, 480), ...multiples(20, 481, 600)].map(id),
    "25 s, then 20 s from its first due time after the last planned round (00:08:00)",
  );
  assert.deepEqual(rounds(2), multiples(60, 0, 600).map(id), "every minute");
  // Each round's summary names exactly its checks.
  const summary = p.store.peek(roundName("dz-mcall", id(600)))!;
  assert.deepEqual(parseChecks(summary), [0, 1, 2]);
});

Deno.test("a check whose due times passed while no leader ran runs once at the next round", async () => {
  const p = pool();
  let stop = p.start("lead", [every(10), every(60)]);
  await p.runTo(31); // 00:00:30 planned
  await stop();
  await p.runTo(75); // no leader for 44 s: the 10 s check missed 00:00:40 … 00:01:10
  stop = p.start("other", [every(10), every(60)]);
  await p.runTo(81);
  await stop();
  const rounds = (check: number) =>
    p.created().filter(([i]) => i === check).map(([, r]) => r).sort();
  assert.deepEqual(rounds(0), [0, 10, 20, 30, 70, 80].map(id), "once for 00:00:40-00:01:10");
  assert.deepEqual(rounds(1), [0, 70].map(id), "00:01:00 missed: it runs in the round of 01:10");
  assert.deepEqual(parseChecks(p.store.peek(roundName("dz-mcall", id(70)))), [0, 1]);
});

Deno.test("dueRound() plans the newest due slot after the last round, with the checks due since", () => {
  const c = [every(10), every(25), cron("*/1 * * * *")];
  assert.deepEqual(dueRound(c, T0 + 65_500, undefined), { round: id(60), checks: [0, 1, 2] });
  assert.deepEqual(dueRound(c, T0 + 65_500, id(50)), { round: id(60), checks: [0, 2] });
  assert.equal(dueRound(c, T0 + 69_999, id(60)), undefined, "nothing due after 00:01:00");
  assert.deepEqual(dueRound(c, T0 + 75_000, id(60)), { round: id(75), checks: [0, 1] });
  assert.equal(slotMs(id(75)), T0 + 75_000);
  assert.equal(slotMs("dz-mcall-29929283"), undefined);
});

Deno.test("cron schedules are read in the release's time zone", () => {
  // 06:00 in Berlin is 05:00 UTC in winter.
  const due = dueRound([cron("0 6 * * *", "Europe/Berlin")], T0 + 5 * 3_600_000 + 1, id(0));
  assert.deepEqual(due, { round: id(5 * 3600), checks: [0] });
  assert.deepEqual(dueRound([cron("@hourly")], T0 + 3_600_000, id(0)), {
    round: id(3600),
    checks: [0],
  });
});

Deno.test("cronJobChecks(): the first round at or after each due time runs a check, once", () => {
  const c = [undefined, cron("*/2 * * * *"), every(120)];
  // Rounds every 30 s: each */2 due time falls in exactly one (previous start, start].
  const starts = multiples(30, 0, 480).map((s) => T0 + 5_000 + s * 1000);
  const ran = starts.map((start, i) =>
    cronJobChecks(c, start, i === 0 ? undefined : starts[i - 1])
  );
  assert.deepEqual(ran[0], [0, 1, 2], "no earlier round: unknown next due time, runs");
  assert.ok(ran.every((checks) => checks.includes(0)), "a check without a cadence runs always");
  const runs = (check: number) => ran.filter((checks) => checks.includes(check)).length;
  assert.equal(runs(1), 1 + 4, "the first round, then 00:02, 00:04, 00:06, 00:08");
  assert.equal(runs(2), 1 + 4);
  // However many ticks passed (a suspended CronJob), one run.
  assert.deepEqual(cronJobChecks(c, T0 + 3_600_000, T0), [0, 1, 2]);
  assert.deepEqual(cronJobChecks(c, T0 + 119_000, T0 + 1000), [0]);
});

Deno.test("previousStart() is the newest other round's start before now", () => {
  const summary = (round: string, start: string) => ({
    metadata: { name: `s-${round}`, labels: { "round-id": round } },
    data: { start },
  });
  const summaries = [
    summary("job-1", "2025-01-01T00:00:05Z"),
    summary("job-2", "2025-01-01T00:00:35Z"),
    summary("job-3", "2025-01-01T00:01:05Z"),
    summary("job-x", "garbled"),
  ];
  assert.equal(previousStart(summaries, "job-3", T0 + 65_000), T0 + 35_000);
  assert.equal(previousStart(summaries, "job-9", T0 + 65_000), T0 + 65_000);
  assert.equal(previousStart([], "job-1", T0), undefined);
});

Deno.test("RoundPicker in one-shot mode runs the checks due since the previous round, once decided", () => {
  const inputs = specs(3);
  const picker = new RoundPicker({
    tasks: { round: "job-2", intervalMs: millis(300_000) },
    cadences: [undefined, cron("*/2 * * * *"), undefined],
  });
  const prev = {
    metadata: { name: "r1", labels: { "round-id": "job-1" } },
    data: { start: "2025-01-01T00:00:05Z" },
  };
  const at = (s: number) => new Date(T0 + s * 1000);
  const indices = (r: ReturnType<RoundPicker["pick"]>) => r!.inputs.map((s) => s.index);
  assert.deepEqual(indices(picker.pick(at(35), inputs, [prev])), [0, 2], "not due yet");
  assert.deepEqual(indices(picker.pick(at(125), inputs, [prev])), [0, 1, 2], "00:02 passed");
  assert.deepEqual(indices(picker.pick(at(35), inputs, [])), [0, 1, 2], "no earlier round");
  const mine = { metadata: { name: "r2", labels: { "round-id": "job-2" } }, data: { checks: "1" } };
  assert.deepEqual(indices(picker.pick(at(35), inputs, [prev, mine])), [1], "its summary says");
});

Deno.test("deployment mode plans a round every tasks.interval even when no check is due: empty, complete", async () => {
  const p = pool(); // tasks.interval 5m
  const stop = p.start("lead", [cron("@hourly")]);
  await p.runTo(305);
  await stop();
  const empty = p.store.peek(roundName("dz-mcall", id(300)))!;
  assert.deepEqual(parseChecks(empty), []);
  assert.equal(empty.data?.phase, "complete");
  assert.deepEqual(p.created().map(([, r]) => r), [id(0)], "the hourly check ran only at first");
});

Deno.test("a CronJob round's summary starts when its checks were decided, so rounds' windows tile", async () => {
  // 00:01:58: the round decides (*/2 not due yet), then listing the pods takes 5 s. Its summary
  // must start at 00:01:58, or the next round would skip the due time 00:02:00.
  const clock = new FakeClock({ wallStart: new Date(T0 + 118_000) });
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", "pod-a"]) store.setPod({ name });
  store.put({
    metadata: {
      name: "dz-mcall-round-job-1",
      labels: { app: "dz-mcall", round: "true", "round-id": "job-1" },
    },
    data: { phase: "complete", start: "2025-01-01T00:00:30Z", checks: "0,1" },
  });
  const slowPods = {
    listPods: async (selector: string) => {
      await clock.sleep(5_000);
      return await store.listPods(selector);
    },
    watchPods: store.watchPods.bind(store),
  };
  const stop = new AbortController();
  const planner = leadingPlanner(store, clock, { round: "job-2" }, {
    pods: slowPods,
    isLeader: () => !stop.signal.aborted,
    cadences: [undefined, cron("*/2 * * * *")],
  });
  const running = planner.runLeader(specs(2), stop.signal);
  for (let i = 0; i < 8; i++) await clock.advance(1000);
  const summary = p2(store.peek(roundName("dz-mcall", "job-2")));
  assert.equal(summary.data?.start, "2025-01-01T00:01:58Z");
  assert.deepEqual(parseChecks(summary), [0]);
  stop.abort();
  for (let i = 0; i < 10; i++) await clock.advance(1000);
  await running;
});

const p2 = <T>(v: T | undefined): T => {
  assert.ok(v !== undefined);
  return v;
};
