import assert from "node:assert/strict";
import { formatDurationMs, parseDurationMs } from "../../lib/time/duration.ts";

/**
 * One table for both styles: `compound` as configuration errors print lease timings, `single` as
 * an input's timeout is printed in its error (`timed out after 90s`, the regex time limit).
 */
const CASES: { ms: number; compound: string; single: string }[] = [
  { ms: 0, compound: "0s", single: "0s" },
  { ms: 1, compound: "1ms", single: "1ms" },
  { ms: 200, compound: "200ms", single: "200ms" },
  { ms: 999, compound: "999ms", single: "999ms" },
  { ms: 1000, compound: "1s", single: "1s" },
  { ms: 1500, compound: "1s500ms", single: "1500ms" },
  { ms: 4987, compound: "4s987ms", single: "4987ms" },
  { ms: 10_000, compound: "10s", single: "10s" },
  { ms: 15_000, compound: "15s", single: "15s" },
  { ms: 60_000, compound: "1m", single: "60s" },
  { ms: 90_000, compound: "1m30s", single: "90s" },
  { ms: 90_001, compound: "1m30s1ms", single: "90001ms" },
  { ms: 3_600_000, compound: "1h", single: "3600s" },
  { ms: 3_723_004, compound: "1h2m3s4ms", single: "3723004ms" },
  { ms: 86_400_000, compound: "24h", single: "86400s" },
];

for (const { ms, compound, single } of CASES) {
  Deno.test(`formatDurationMs(${ms}) is ${compound}, single ${single}, and parses back`, () => {
    assert.equal(formatDurationMs(ms), compound);
    assert.equal(formatDurationMs(ms, "compound"), compound);
    assert.equal(formatDurationMs(ms, "single"), single);
    assert.equal(parseDurationMs(compound), ms);
    assert.equal(parseDurationMs(single), ms);
  });
}

Deno.test("formatDurationMs() rounds a fractional compound duration to whole milliseconds", () => {
  assert.equal(formatDurationMs(1500.4), "1s500ms");
  assert.equal(formatDurationMs(1500.6), "1s501ms");
});
