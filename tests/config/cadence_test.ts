import assert from "node:assert/strict";
import { ConfigError, type Layer } from "../../lib/config/layer.ts";
import { loadConfig, loadYaml, parseConfigText } from "../../lib/config/load.ts";
import { cadenceOf } from "../../lib/config/cadence_rules.ts";
import { gapsMs } from "../../lib/time/cadence.ts";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

await loadYaml();
const fileLayer = (text: string): Layer => ({ values: parseConfigText(text), sources: new Map() });
const load = (text: string) => loadConfig({ layers: [fileLayer(text)] });

function configError(text: string): string {
  try {
    load(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.ok(!err.message.includes("\n"), `message is one line: ${err.message}`);
    return err.message;
  }
  assert.fail("expected a ConfigError");
}

const inputs = (...items: string[]) =>
  `request:\n  inputs:\n${items.map((i) => `    - ${i}\n`).join("")}`;

Deno.test("a task's interval or schedule is read into its cadence", () => {
  const config = load(
    inputs(
      `{input: "true", name: db, interval: 30s}`,
      `{input: "true", name: cert, schedule: "@hourly"}`,
      `{input: "true", name: report, schedule: "0 6 * * *"}`,
      `{input: "true"}`,
    ) + "tasks:\n  timeZone: Europe/Berlin\n",
  );
  const cadences = config.request.inputs!.map((i) => cadenceOf(i, config.tasks.timeZone));
  assert.deepEqual(cadences, [
    { kind: "interval", intervalMs: 30_000 },
    { kind: "cron", schedule: "@hourly", timeZone: "Europe/Berlin" },
    { kind: "cron", schedule: "0 6 * * *", timeZone: "Europe/Berlin" },
    undefined,
  ]);
});

Deno.test("bad cadences are one line naming the task", () => {
  const cases: [string, RegExp][] = [
    [
      inputs(`{input: "true", schedule: "61 * * * *"}`),
      /^request\.inputs\[0\]\.schedule: "61 \* \* \* \*" is not a cron schedule \(Invalid value for minute: 61\)$/,
    ],
    [inputs(`{input: "true", schedule: "* * * * * *"}`), /schedule.*must have 5 fields/],
    [inputs(`{input: "true", schedule: "@every"}`), /schedule.*is not one of the macros/],
    [
      inputs(`{input: x, name: db, interval: 10s, schedule: "@hourly"}`),
      /^request\.inputs\[0\]: task "db" sets interval and schedule: use one$/,
    ],
    [
      inputs(`{input: "true"}`, `{input: y, interval: 1500ms}`),
      /^request\.inputs\[1\]\.interval: 1s500ms \(task "y"\) is not a whole number of seconds$/,
    ],
    [inputs(`{input: x, interval: 500ms}`), /interval.*must be between 1000ms/],
    [`tasks:\n  timeZone: Mars/Olympus\n`, /tasks\.timeZone.*not an IANA time zone/],
    [`tasks:\n  schedule: "every 5 minutes"\n`, /tasks\.schedule.*5 fields/],
  ];
  for (const [text, message] of cases) assert.match(configError(text), message, text);
});

Deno.test("CronJob mode: a task due more often than the rounds' schedule is refused, naming it", () => {
  const tick = (schedule: string) => `tasks:\n  schedule: "${schedule}"\n`;
  assert.equal(
    configError(
      inputs(`{input: "true"}`, `{input: "true", name: db, schedule: "*/2 * * * *"}`) +
        tick("*/5 * * * *"),
    ),
    'request.inputs[1]: task "db" has schedule "*/2 * * * *", finer than the rounds\' schedule ' +
      '"*/5 * * * *": it could not run at each of its due times',
  );
  assert.match(
    configError(inputs(`{input: x, interval: 30s}`) + tick("*/1 * * * *")),
    /interval 30s, finer/,
  );
  // As often as the tick, or coarser, is fine.
  for (const own of ["*/5 * * * *", "*/10 * * * *", "@hourly", "0 6 * * 1"]) {
    load(inputs(`{input: x, schedule: "${own}"}`) + tick("*/5 * * * *"));
  }
  load(inputs(`{input: x, interval: 5m}`) + tick("*/5 * * * *"));
  // Deployment mode (no tick): any cadence.
  load(inputs(`{input: x, interval: 1s}`));
});

Deno.test("gapsMs() samples a schedule's shortest and longest gap", () => {
  assert.deepEqual(gapsMs({ kind: "cron", schedule: "*/5 * * * *", timeZone: "" }), {
    shortest: 300_000,
    longest: 300_000,
  });
  const workHours = gapsMs({ kind: "cron", schedule: "0 9-17 * * 1-5", timeZone: "" });
  assert.equal(workHours.shortest, 3_600_000);
  assert.equal(workHours.longest, 64 * 3_600_000, "Friday 17:00 → Monday 09:00");
});

Deno.test("the rounds' schedule may be @every <duration>, as a CronJob's", () => {
  const tick = `tasks:\n  schedule: "@every 2m"\n`;
  load(inputs(`{input: x, schedule: "*/2 * * * *"}`) + tick);
  assert.match(configError(inputs(`{input: x, interval: 1m}`) + tick), /interval 1m, finer/);
  assert.match(configError(`tasks:\n  schedule: "@every soon"\n`), /tasks\.schedule.*@every/);
  assert.match(configError(inputs(`{input: x, schedule: "@every 1m"}`)), /schedule.*macros/);
});
