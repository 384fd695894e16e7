import assert from "node:assert/strict";
import { planGarbage } from "../../lib/planner/retention.ts";
import { patched, taskName, viewTask } from "../../lib/tasks/contract.ts";
import { FakeClock } from "../fakes/clock.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { leadingPlanner } from "../fakes/planner.ts";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

Deno.test("history per check: after 20 rounds of a 30-s check, an hourly check's last result and the 30-s check's last failure are kept", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore({ wallNow: () => clock.wallNow() });
  for (const name of ["lead", "pod-a"]) store.setPod({ name });
  const stop = new AbortController();
  const planner = leadingPlanner(store, clock, { historyLimit: 3, failedHistoryLimit: 1 }, {
    cadences: [{ kind: "interval", intervalMs: 30_000 }, {
      kind: "cron",
      schedule: "@hourly",
      timeZone: "",
    }],
  });
  const running = planner.runLeader(specs(2), stop.signal);
  const failing = taskName("dz-mcall", "20250101-000300", 0); // the 7th round's 30-s task fails
  for (let s = 0; s < 20 * 30 - 1; s++) { // to 00:09:59: 20 rounds planned
    await clock.advance(1000);
    for (const cm of store.all()) {
      if (cm.metadata.labels?.state !== "pending") continue;
      const state = cm.metadata.name === failing ? "failed" : "succeeded";
      store.put(patched(cm, { labels: { state } }));
    }
  }
  stop.abort();
  await clock.advance(0);
  await running;
  const kept = store.all().filter((c) => c.metadata.labels?.task === "true").map(viewTask)
    .map((t) => `${t.name.slice(-3)}:${t.round}:${t.state}`).sort();
  assert.deepEqual(kept, [
    "000:20250101-000300:failed",
    "000:20250101-000830:succeeded",
    "000:20250101-000900:succeeded",
    "000:20250101-000930:succeeded",
    "001:20250101-000000:succeeded",
  ]);
  const summaries = store.all().filter((c) => c.metadata.labels?.round === "true")
    .map((c) => c.metadata.labels?.["round-id"]).sort();
  assert.deepEqual(summaries, [
    "20250101-000000",
    "20250101-000300",
    "20250101-000830",
    "20250101-000900",
    "20250101-000930",
  ], "summaries follow their tasks");
});

Deno.test("planGarbage() deletes single tasks where a round keeps another check's task in the same state", () => {
  const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, i));
  const summaries = [1, 2, 3].map((i) => ({
    metadata: { name: `s${i}`, labels: { "round-id": `r${i}` }, creationTimestamp: at(i) },
    data: { phase: "complete" },
  }));
  // Check 0 runs every round, check 1 only in r1: its one result stays.
  const views = [
    ...[1, 2, 3].map((i) => `r${i}:0`),
    "r1:1",
  ].map((s) => {
    const [round, check] = s.split(":") as [string, string];
    const name = taskName("dz-mcall", round, Number(check));
    return viewTask({ metadata: { name, labels: { "round-id": round, state: "succeeded" } } });
  });
  const g = planGarbage("dz-mcall", views, summaries, { historyLimit: 2, failedHistoryLimit: 1 });
  assert.deepEqual(g, {
    selectors: [],
    tasks: [taskName("dz-mcall", "r1", 0)],
    summaries: [],
  });
});
