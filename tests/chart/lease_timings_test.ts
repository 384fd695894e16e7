/**
 * The lease timing rules have one home, `lib/election/timings.ts`; the chart restates them in
 * `chart/templates/_helpers.tpl` (`dz-mcall.validateValues`) so `helm install` rejects what the
 * program would. One table of election timings runs through the program's configuration
 * validation (`loadConfig`, which calls the rules and the schema's minimums), the elector's own
 * check (`validateTimings`) and `helm template`; all must accept and reject the same cases.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { ConfigSchema } from "../../lib/config/schema.ts";
import { validateTimings } from "../../lib/election/options.ts";
import { templateRaw } from "./helpers.ts";

type Duration = string | number;

/** One case: the three timings as a values file / mcall.yaml writes them. */
interface Case {
  readonly lease: Duration;
  readonly renew: Duration;
  readonly retry: Duration;
  /** Whether the program accepts them (pinned, so both sides cannot drift together). */
  readonly ok: boolean;
}

/** The shared table. */
const LEASE_TIMING_CASES: readonly Case[] = [
  // accepted
  { lease: "15s", renew: "10s", retry: "2s", ok: true },
  { lease: 15, renew: 10, retry: 2, ok: true },
  { lease: "15", renew: "10", retry: "2", ok: true },
  { lease: "1m", renew: "50s", retry: "5s", ok: true },
  { lease: "1h", renew: "59m", retry: "1m", ok: true },
  { lease: "2s", renew: "1s", retry: "500ms", ok: true },
  { lease: "1s", renew: "600ms", retry: "400ms", ok: true },
  { lease: "15.0s", renew: "10s", retry: "2s", ok: true },
  { lease: "14s1000ms", renew: "10s", retry: "2s", ok: true },
  { lease: "0.5m", renew: "29.5s", retry: "1.5s", ok: true },
  { lease: "2s", renew: "1201ms", retry: "1s", ok: true },
  { lease: "2s", renew: "1.3s", retry: "1s", ok: true },
  // the lease in whole seconds
  { lease: "15.5s", renew: "10s", retry: "2s", ok: false },
  { lease: "15500ms", renew: "10s", retry: "2s", ok: false },
  { lease: 15.5, renew: 10, retry: 2, ok: false },
  { lease: "1m30.5s", renew: "10s", retry: "2s", ok: false },
  { lease: "2.5s", renew: "2s", retry: "1s", ok: false },
  { lease: "1001ms", renew: "600ms", retry: "400ms", ok: false },
  // renewDeadline < leaseDuration
  { lease: "5s", renew: "5s", retry: "1s", ok: false },
  { lease: "10s", renew: "20s", retry: "2s", ok: false },
  { lease: "1m", renew: "1m1s", retry: "2s", ok: false },
  // renewDeadline > 1.2 × retryPeriod
  { lease: "2s", renew: "1200ms", retry: "1s", ok: false },
  { lease: "15s", renew: "10s", retry: "9s", ok: false },
  { lease: "15s", renew: "2s", retry: "2s", ok: false },
  { lease: "15s", renew: "12s", retry: "10s", ok: false },
  // the schema's minimums
  { lease: "500ms", renew: "400ms", retry: "100ms", ok: false },
  { lease: "15s", renew: "400ms", retry: "100ms", ok: false },
  { lease: "15s", renew: "10s", retry: "50ms", ok: false },
  { lease: "15s", renew: "10s", retry: "0s", ok: false },
  { lease: 0, renew: "10s", retry: "2s", ok: false },
];

const election = (c: Case) => ({
  leaseDuration: c.lease,
  renewDeadline: c.renew,
  retryPeriod: c.retry,
});

const show = (c: Case) => `lease ${c.lease}, renew ${c.renew}, retry ${c.retry}`;

/** The program's verdict: `undefined` when accepted, else the ConfigError's message. */
function programRejects(c: Case): string | undefined {
  try {
    loadConfig({ layers: [{ values: { election: election(c) }, sources: new Map() }] });
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `${show(c)}: ${err}`);
    return err.message;
  }
}

Deno.test("lease timings: the table pins what the program accepts", () => {
  for (const c of LEASE_TIMING_CASES) {
    assert.equal(programRejects(c) === undefined, c.ok, `${show(c)}: ${programRejects(c)}`);
  }
});

Deno.test("lease timings: the elector's check and configuration validation share the rules", () => {
  let compared = 0;
  for (const c of LEASE_TIMING_CASES) {
    // Only cases within the schema's per-field bounds reach the cross-field rules.
    const parsed = ConfigSchema.safeParse({ election: election(c) });
    if (!parsed.success) continue;
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = parsed.data.election;
    let elector: string | undefined;
    try {
      validateTimings(leaseDurationMs, renewDeadlineMs, retryPeriodMs);
    } catch (err) {
      assert.ok(err instanceof RangeError);
      elector = err.message;
    }
    const program = programRejects(c);
    assert.equal(elector === undefined, program === undefined, `${show(c)}: ${elector}`);
    compared++;
  }
  assert.ok(compared >= 20, `only ${compared} cases reached the rules`);
});

Deno.test("lease timings: helm template accepts and rejects exactly what the program does", async () => {
  const results = await Promise.all(LEASE_TIMING_CASES.map(async (c) => {
    const res = await templateRaw({
      setJson: {
        "election.leaseDuration": c.lease,
        "election.renewDeadline": c.renew,
        "election.retryPeriod": c.retry,
      },
    });
    return { c, res };
  }));
  for (const { c, res } of results) {
    const program = programRejects(c);
    assert.equal(res.code === 0, program === undefined, `${show(c)}: ${program ?? res.stderr}`);
    if (program === undefined) continue;
    // The chart's message names the value the program's names, as the values file wrote it.
    const field = /^(election\.\w+)/.exec(program)![1]!;
    const given = { "election.leaseDuration": c.lease, "election.renewDeadline": c.renew }[field] ??
      c.retry;
    assert.ok(
      res.stderr.includes(`${field} (${given})`),
      `${show(c)}: the program says "${program}", the chart does not name ${field}: ${res.stderr}`,
    );
  }
});
