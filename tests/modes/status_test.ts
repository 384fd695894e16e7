import assert from "node:assert/strict";
import { snapshot } from "../../lib/observe/check_snapshot.ts";
import { parseCli } from "../../lib/cli/args.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { ConfigError } from "../../lib/config/layer.ts";
import { newRoundSummary } from "../../lib/planner/round_summary.ts";
import {
  formatSeconds,
  formatStatus,
  runStatus,
  statusOutcome,
  statusReport,
} from "../../lib/modes/status.ts";
import { newTaskConfigMap, patched, rfc3339, viewTask } from "../../lib/tasks/contract.ts";
import type { ConfigMapLike } from "../../lib/tasks/store.ts";
import { specs } from "../fakes/memory_store.ts";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

const APP = "dz-mcall";
const T0 = Date.parse("2025-01-01T00:00:00Z") / 1000;
const at = (s: number) => new Date((T0 + s) * 1000);

function summary(
  round: string,
  start: number,
  end: number | undefined,
  counts = {},
): ConfigMapLike & { data: Record<string, string> } {
  const cm = newRoundSummary({
    app: APP,
    round,
    total: 2,
    epoch: 1,
    leader: "l",
    start: at(start),
  });
  return {
    ...cm,
    data: {
      ...cm.data,
      pending: "0",
      ...counts,
      ...(end === undefined ? { pending: "2" } : { phase: "complete", end: rfc3339(at(end)) }),
    },
  };
}

function task(round: string, index: number, state: string, when: number, error = "") {
  const cm = newTaskConfigMap({
    app: APP,
    round,
    spec: specs(2)[index]!,
    assignedTo: "p",
    epoch: 1,
    signature: "",
  });
  return viewTask(patched(cm, {
    labels: { state },
    annotations: { processed: "true", "processed-at": rfc3339(at(when)) },
    data: { durationMs: "10", error },
  }));
}

const where = { namespace: "ns", lease: "dz-mcall-leader", holder: "pod-1" };

Deno.test("formatSeconds() writes h/m/s", () => {
  assert.deepEqual([0, 9, 90, 3725].map(formatSeconds), ["0s", "9s", "1m30s", "1h02m05s"]);
});

Deno.test("status: a failed check in the newest finished round → failing, exit 1, listed", () => {
  const views = [
    task("r1", 0, "succeeded", 5),
    task("r1", 1, "succeeded", 6),
    task("r2", 0, "failed", 65, "connection refused\nretrying"),
    task("r2", 1, "succeeded", 66),
  ];
  const snap = snapshot(specs(2), APP, views, [
    summary("r1", 0, 7, { succeeded: "2" }),
    summary("r2", 60, 68, { succeeded: "1", failed: "1" }),
    summary("r3", 120, undefined),
  ]);
  const report = statusReport(where, snap, T0 + 150);
  assert.equal(report.verdict, "failing");
  assert.equal(statusOutcome(report).kind, "failed");
  assert.deepEqual(
    report.rounds.map((r) => [r.round, r.phase, r.ok, r.failed, r.durationSeconds]),
    [
      ["r3", "running", 0, 0, 30],
      ["r2", "complete", 1, 1, 8],
      ["r1", "complete", 2, 0, 7],
    ],
  );
  assert.deepEqual(report.failing, [{
    check: "t0",
    state: "failed",
    error: "connection refused\nretrying",
    round: "r2",
    task: "dz-mcall-r2-000",
    lastRun: "2025-01-01T00:01:05Z",
    since: "2025-01-01T00:01:05Z",
    lastSuccess: "2025-01-01T00:00:05Z",
  }]);
  const text = formatStatus(report);
  assert.equal(
    text,
    [
      'failing: lease ns/dz-mcall-leader holder "pod-1", 3 round summaries',
      "",
      "ROUND  PHASE     OK  FAILED  DEAD  REJECTED  OPEN  DURATION",
      "r3     running    0       0     0         0     2  30s+",
      "r2     complete   1       1     0         0     0  8s",
      "r1     complete   2       0     0         0     0  7s",
      "",
      "CHECK  STATE   SINCE                 ROUND  LAST ERROR",
      "t0     failed  2025-01-01T00:01:05Z  r2     connection refused retrying",
      "",
    ].join("\n"),
  );
});

Deno.test("status: a clean newest round → ok, exit 0, even after an earlier failure", () => {
  const views = [task("r1", 0, "failed", 5, "boom"), task("r2", 0, "succeeded", 65)];
  const snap = snapshot(specs(1), APP, views, [
    summary("r1", 0, 7, { failed: "1" }),
    summary("r2", 60, 68, { succeeded: "1" }),
  ]);
  const report = statusReport({ ...where, holder: undefined }, snap, T0 + 100);
  assert.equal(report.verdict, "ok");
  assert.equal(statusOutcome(report).kind, "ok");
  assert.deepEqual(report.failing, []);
  assert.match(formatStatus(report), /^ok: lease ns\/dz-mcall-leader holder "", 2 round/);
  assert.match(formatStatus(report), /No failing checks\.\n$/);
});

Deno.test("status: dead tasks and deadline-exceeded rounds fail; nothing at all is unhealthy", () => {
  const dead = snapshot(specs(1), APP, [], [summary("r1", 0, 7, { dead: "1" })]);
  assert.equal(statusReport(where, dead, T0).verdict, "failing");
  const late = summary("r1", 0, 7, { succeeded: "1" });
  late.data.phase = "deadline-exceeded";
  assert.equal(statusReport(where, snapshot([], APP, [], [late]), T0).verdict, "failing");
  const none = statusReport({ ...where, holder: undefined }, snapshot([], APP, [], []), T0);
  assert.equal(none.verdict, "unhealthy");
  assert.equal(statusOutcome(none).kind, "failed");
  assert.match(formatStatus(none), /No round summaries\./);
  const running = snapshot([], APP, [], [summary("r1", 0, undefined)]);
  assert.equal(statusReport({ ...where, holder: "" }, running, T0).verdict, "ok");
});

Deno.test("cli: status -o json|table; bad values and -o outside status are usage errors", () => {
  assert.equal(parseCli(["status", "-o", "json"]).output, "json");
  assert.equal(parseCli(["status", "--output=table"]).output, "table");
  assert.equal(parseCli(["status"]).output, undefined);
  assert.throws(
    () => parseCli(["status", "-o", "yaml"]),
    (e: unknown) =>
      e instanceof ConfigError && /--output: "yaml" is not table or json/.test(e.message),
  );
  assert.throws(
    () => parseCli(["-o", "json", "-i", "echo"]),
    (e: unknown) => e instanceof ConfigError && /status command only/.test(e.message),
  );
});

Deno.test("status: every check's schedule, last run, result and next due time", () => {
  const inputs = specs(3);
  // t0 every 30 s ran in the slot round of 00:01:00; t1 (*/5) ran in a CronJob round; t2 never ran.
  const views = [
    task("20250101-000100", 0, "failed", 62, "boom"),
    task("job-7", 1, "succeeded", 70),
  ];
  const snap = snapshot(inputs, APP, views, [summary("20250101-000100", 60, 63, { failed: "1" })]);
  const schedules = [
    { check: "t0", cadence: { kind: "interval", intervalMs: 30_000 } },
    { check: "t1", cadence: { kind: "cron", schedule: "*/5 * * * *", timeZone: "Europe/Berlin" } },
    { check: "t2", cadence: { kind: "cron", schedule: "@hourly", timeZone: "" } },
  ] as const;
  const report = statusReport(where, snap, T0 + 100, schedules);
  assert.deepEqual(report.checks, [
    {
      check: "t0",
      schedule: "every 30s",
      lastRun: "2025-01-01T00:01:02Z",
      result: "failed",
      nextDue: "2025-01-01T00:01:30Z",
      overdue: true,
    },
    {
      check: "t1",
      schedule: "*/5 * * * * (Europe/Berlin)",
      lastRun: "2025-01-01T00:01:10Z",
      result: "succeeded",
      nextDue: "2025-01-01T00:05:00Z",
      overdue: false,
    },
    {
      check: "t2",
      schedule: "@hourly",
      lastRun: null,
      result: null,
      nextDue: "2025-01-01T01:00:00Z",
      overdue: false,
    },
  ]);
  assert.match(
    formatStatus(report),
    /CHECK {2}SCHEDULE +LAST RUN +RESULT +NEXT DUE\nt0 +every 30s +2025-01-01T00:01:02Z +failed +2025-01-01T00:01:30Z \(overdue\)\n/,
  );
});

Deno.test("status: the kubeconfig comes from the env main.ts passes, not the process's", async () => {
  const config = loadConfig({
    layers: [{ values: { election: { namespace: "ops" } }, sources: new Map() }],
  });
  // The process's own KUBECONFIG (if any) is not this path: only the passed env names it.
  const missing = "/nonexistent/dz-mcall-status/kubeconfig";
  await assert.rejects(
    runStatus(config, { KUBECONFIG: missing }, () => {}),
    (err: Error) => err instanceof ConfigError && err.message.includes(missing),
  );
});
