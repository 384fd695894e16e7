/**
 * A task's own cadence has one home, `lib/config/cadence_rules.ts` (`checkCadences`); the chart
 * restates it in `dz-mcall.validateValues` (with `dz-mcall.cronGapSeconds` for the schedules it
 * can read) so `helm install` rejects what the pods would refuse at start. One table runs through
 * the program's configuration validation and `helm template`: where the chart can read both
 * schedules, both must accept and reject the same cases; elsewhere the chart accepts and the
 * program alone decides (pinned, so neither side drifts).
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { mcallYaml, render, templateRaw } from "./helpers.ts";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

/** One case: the rounds' schedule (cronjob mode) and one task's own cadence. */
interface Case {
  readonly tick: string;
  readonly own: { interval?: string | number; schedule?: string };
  /** Whether the program accepts it (pinned). */
  readonly ok: boolean;
  /** The chart cannot read a schedule's gaps: it accepts, the program decides at start. */
  readonly programOnly?: true;
}

const CASES: readonly Case[] = [
  { tick: "*/5 * * * *", own: { schedule: "*/5 * * * *" }, ok: true },
  { tick: "*/5 * * * *", own: { schedule: "*/10 * * * *" }, ok: true },
  { tick: "*/5 * * * *", own: { schedule: "@hourly" }, ok: true },
  { tick: "*/5 * * * *", own: { schedule: "0 6 * * *" }, ok: true },
  { tick: "*/5 * * * *", own: { interval: "5m" }, ok: true },
  { tick: "*/5 * * * *", own: { interval: 600 }, ok: true },
  { tick: "*/5 * * * *", own: { schedule: "*/2 * * * *" }, ok: false },
  { tick: "*/5 * * * *", own: { schedule: "* * * * *" }, ok: false },
  { tick: "*/5 * * * *", own: { interval: "4m59s" }, ok: false },
  { tick: "*/5 * * * *", own: { interval: 30 }, ok: false },
  { tick: "* * * * *", own: { schedule: "*/2 * * * *" }, ok: true },
  { tick: "* * * * *", own: { interval: "30s" }, ok: false },
  { tick: "@hourly", own: { schedule: "15 * * * *" }, ok: true },
  { tick: "@hourly", own: { schedule: "*/30 * * * *" }, ok: false },
  { tick: "0 * * * *", own: { schedule: "@daily" }, ok: true },
  { tick: "@daily", own: { schedule: "@weekly" }, ok: true },
  { tick: "@daily", own: { schedule: "0 * * * *" }, ok: false },
  { tick: "@every 2m", own: { schedule: "*/2 * * * *" }, ok: true },
  { tick: "@every 2m", own: { interval: "1m" }, ok: false },
  // Not whole seconds, both set: refused whatever the tick.
  { tick: "*/5 * * * *", own: { interval: "10m500ms" }, ok: false },
  { tick: "*/5 * * * *", own: { interval: "10m", schedule: "@hourly" }, ok: false },
  // Schedules whose gaps the chart does not read: the program decides at start.
  { tick: "*/7 * * * *", own: { schedule: "*/5 * * * *" }, ok: false, programOnly: true },
  { tick: "*/5 * * * *", own: { schedule: "0 9-17 * * 1-5" }, ok: true, programOnly: true },
  { tick: "0 9-17 * * 1-5", own: { schedule: "@hourly" }, ok: false, programOnly: true },
  { tick: "*/5 * * * *", own: { schedule: "*/7 * * * *" }, ok: false, programOnly: true },
];

const show = (c: Case) => `tick ${c.tick}, task ${JSON.stringify(c.own)}`;

function programRejects(c: Case): string | undefined {
  try {
    const values = {
      request: { inputs: [{ input: "true", name: "db", ...c.own }] },
      tasks: { schedule: c.tick },
    };
    loadConfig({ layers: [{ values, sources: new Map() }] });
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `${show(c)}: ${err}`);
    return err.message;
  }
}

Deno.test("task cadence: the table pins what the program accepts", () => {
  for (const c of CASES) {
    assert.equal(programRejects(c) === undefined, c.ok, `${show(c)}: ${programRejects(c)}`);
  }
});

Deno.test("task cadence: helm template accepts and rejects what the program does", async () => {
  const results = await Promise.all(CASES.map(async (c) => ({
    c,
    res: await templateRaw({
      set: { mode: "cronjob" },
      setJson: { schedule: c.tick, tasks: [{ input: "true", name: "db", ...c.own }] },
    }),
  })));
  for (const { c, res } of results) {
    const program = programRejects(c);
    const chartOk = res.code === 0;
    if (c.programOnly) {
      assert.ok(chartOk, `${show(c)}: the chart cannot judge it, yet refused: ${res.stderr}`);
      continue;
    }
    assert.equal(chartOk, program === undefined, `${show(c)}: ${program ?? res.stderr}`);
    if (program === undefined) continue;
    // Both name the task.
    assert.match(res.stderr, /tasks\[0\] \(db\)/, `${show(c)}: ${res.stderr}`);
    assert.match(program, /task "db"/);
  }
});

Deno.test("chart: each task's interval/schedule, the rounds' schedule and the time zone reach mcall.yaml, which the program accepts", async () => {
  const tasks = [
    { name: "db", input: "true", interval: "2m" },
    { name: "cert", input: "true", schedule: "@hourly" },
    { name: "report", input: "true", schedule: "0 6 * * *" },
    { name: "web", input: "true" },
  ];
  for (const mode of ["deployment", "cronjob"] as const) {
    const config = mcallYaml(
      await render({
        set: { mode, timeZone: "Europe/Berlin", schedule: "*/1 * * * *" },
        setJson: { tasks },
      }),
    );
    const request = config.request as { inputs: Record<string, unknown>[] };
    assert.deepEqual(
      request.inputs.map((i) => [i.name, i.interval, i.schedule]),
      [
        ["db", "2m", undefined],
        ["cert", undefined, "@hourly"],
        ["report", undefined, "0 6 * * *"],
        [
          "web",
          undefined,
          undefined,
        ],
      ],
    );
    const t = config.tasks as Record<string, unknown>;
    assert.equal(t.timeZone, "Europe/Berlin");
    assert.equal(t.schedule, mode === "cronjob" ? "*/1 * * * *" : undefined, mode);
    const loaded = loadConfig({ layers: [{ values: config, sources: new Map() }] });
    assert.equal(loaded.request.inputs?.[0]?.intervalMs, 120_000);
  }
});
