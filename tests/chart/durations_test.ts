/**
 * Duration parsing has one home, `lib/time/duration.ts` (`parseDurationMs`; the config schema's
 * duration fields call it). The chart restates it in `chart/templates/_helpers.tpl`
 * (`dz-mcall.durationMs`), and its `values.schema.json` checks duration values with a pattern
 * before the templates run. One table of duration texts runs through `parseDurationMs` and through
 * `helm template`, twice:
 *
 * - as `prometheusRule.roundInterval` (no pattern): the chart's parser alone, which fails on a
 *   non-duration and renders the parsed value (whole seconds) into the alerts;
 * - as `timeout` (the pattern, the parser and the program's minimum of 1ms), against what the
 *   program's configuration validation says of `request.timeout`.
 *
 * The chart also restates the schema's minimum durations; the last test reads them from the
 * schema and checks the chart at each minimum and one millisecond below.
 */
import assert from "node:assert/strict";
import { z } from "zod/mini";
import { fields } from "../../lib/config/fields.ts";
import { setPath } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { ConfigSchema } from "../../lib/config/schema.ts";
import { parseDurationMs } from "../../lib/time/duration.ts";
import { templateRaw } from "./helpers.ts";

/** The shared table: duration texts (and numbers of seconds) with what `parseDurationMs` reads. */
const DURATION_CASES: readonly (readonly [string | number, number | undefined])[] = [
  ["10s", 10_000],
  ["5m", 300_000],
  ["1h30m", 5_400_000],
  ["250ms", 250],
  ["1m30s", 90_000],
  ["1h1m1s1ms", 3_661_001],
  ["10s10s", 20_000],
  ["2h", 7_200_000],
  ["1.5s", 1_500],
  ["0.5m", 30_000],
  ["1.5ms", 2],
  ["2.5ms", 3],
  ["1.25ms", 1],
  ["0s", 0],
  ["90", 90_000],
  ["0", 0],
  ["0.5", 500],
  ["0.0005", 1],
  ["007s", 7_000],
  [" 10s ", 10_000],
  ["\t5m\n", 300_000],
  [90, 90_000],
  [1.5, 1_500],
  [0, 0],
  ["", undefined],
  ["soon", undefined],
  ["s", undefined],
  ["ms", undefined],
  ["10", 10_000],
  ["10 s", undefined],
  ["1m 30s", undefined],
  ["10S", undefined],
  ["1d", undefined],
  ["-5s", undefined],
  ["-5", undefined],
  ["1e3", undefined],
  ["1.s", undefined],
  [".5s", undefined],
  ["5m1", undefined],
  ["1,5s", undefined],
  ["10sec", undefined],
  ["10s.", undefined],
  ["\u0661\u0660s", undefined],
];

const show = (v: string | number) => JSON.stringify(v);

Deno.test("durations: the table pins what parseDurationMs reads", () => {
  for (const [text, ms] of DURATION_CASES) assert.equal(parseDurationMs(text), ms, show(text));
});

Deno.test("durations: the chart's parser reads the table as parseDurationMs does", async () => {
  // An empty roundInterval means "derive it", so the empty text has no verdict here.
  const cases = DURATION_CASES.filter(([text]) => text !== "");
  const results = await Promise.all(cases.map(async ([text]) => ({
    text,
    res: await templateRaw({
      set: { mode: "deployment", "prometheusRule.enabled": true },
      setJson: { "prometheusRule.roundInterval": text },
    }),
  })));
  for (const { text, res } of results) {
    const ms = parseDurationMs(text);
    if (ms === undefined) {
      assert.notEqual(res.code, 0, `the chart accepts ${show(text)}`);
      assert.match(res.stderr, /prometheusRule\.roundInterval \(.*\) is not a duration/s);
      continue;
    }
    assert.equal(res.code, 0, `${show(text)}: ${res.stderr}`);
    // The chart renders the interval in whole seconds: "no round for two intervals".
    const stalled = /mcall_round_last_completed_timestamp_seconds\{[^\n]*\) > (\d+)\n/
      .exec(res.stdout);
    assert.ok(stalled, `no McallNoRoundCompleted rule for ${show(text)}`);
    const seconds = Number(stalled[1]) / 2;
    assert.equal(seconds, Math.trunc(ms / 1000), `${show(text)} (${ms}ms)`);
  }
});

Deno.test("durations: the chart accepts a duration value exactly when the program does", async () => {
  const results = await Promise.all(DURATION_CASES.map(async ([text]) => ({
    text,
    res: await templateRaw({ setJson: { timeout: text } }),
  })));
  let padded = 0;
  for (const { text, res } of results) {
    let program: string | undefined;
    try {
      loadConfig({ layers: [{ values: { request: { timeout: text } }, sources: new Map() }] });
    } catch (err) {
      program = (err as Error).message;
    }
    // The chart's values.schema.json pattern does not allow the surrounding blanks the program
    // trims: the one way the chart is stricter. It never accepts what the program rejects.
    if (typeof text === "string" && text.trim() !== text && text.trim() !== "") {
      assert.equal(program, undefined, show(text));
      assert.notEqual(res.code, 0, `${show(text)} is now accepted by the chart`);
      padded++;
      continue;
    }
    assert.equal(res.code === 0, program === undefined, `${show(text)}: ${program ?? res.stderr}`);
  }
  assert.equal(padded, 2);
});

/** Chart values whose minimum the chart restates from the schema, and the config path of each. */
const MINIMUMS: Readonly<Record<string, string>> = {
  interval: "tasks.interval",
  pollInterval: "tasks.pollInterval",
  roundDeadline: "tasks.roundDeadline",
  timeout: "request.timeout",
};

Deno.test("durations: the chart's minimums are the schema's", async () => {
  const bounds = new Map(fields(ConfigSchema).map((f) => [f.path, f.layers]));
  for (const [value, path] of Object.entries(MINIMUMS)) {
    const min = bounds.get(path)!
      .map((l) => z.globalRegistry.get(l)?.durationMs as { min: number } | undefined)
      .find((m) => m)!.min;
    assert.ok(min > 0, path);
    for (const ms of [min - 1, min]) {
      const res = await templateRaw({
        set: { mode: "deployment" },
        setJson: { [value]: `${ms}ms` },
      });
      const values = {};
      setPath(values, path, `${ms}ms`);
      let program = true;
      try {
        loadConfig({ layers: [{ values, sources: new Map() }] });
      } catch {
        program = false;
      }
      assert.equal(program, ms >= min, `${path} = ${ms}ms`);
      assert.equal(res.code === 0, program, `${value} = ${ms}ms: ${res.stderr}`);
    }
  }
});
