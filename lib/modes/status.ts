/**
 * `dz-mcall status`: the release's story from its ConfigMaps and Lease — who leads, the kept rounds
 * (round, phase, tasks by state, duration), every check's schedule, last run, last result and next
 * due time, and the failing checks with their last error and since when — as a table or as JSON
 * (`-o json`). The chart's `helm test` runs it.
 *
 * Outcome `failed` (exit 1) when the newest finished round had a failed, dead or rejected task or
 * passed its deadline, or when nothing shows the release ever ran (no Lease holder, no round
 * summary); else `ok` (exit 0).
 *
 * @module
 */
import {
  checkLabels,
  type CheckState,
  type RoundState,
  snapshot,
} from "../observe/check_snapshot.ts";
import { effectiveCadences } from "../config/cadence_rules.ts";
import { slotMs } from "../planner/task_schedule.ts";
import { type Cadence, describeCadence, nextDueMs } from "../time/cadence.ts";
import type { Config } from "../config/schema.ts";
import { KubeApi } from "../kube/api.ts";
import { KubeConnection, resolveNamespace } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { configuredInputs } from "./once.ts";
import { roundsSelector, tasksSelector, viewTask } from "../tasks/contract.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import { FAILED, OK, type Outcome } from "./outcome.ts";

/** `-o`: how the report is printed. */
export type StatusOutput = "table" | "json";

/** The verdict of the report's first line. */
export type Verdict = "ok" | "failing" | "unhealthy";

/** What `status` reports (the `-o json` document). */
export interface StatusReport {
  readonly verdict: Verdict;
  readonly namespace: string;
  readonly lease: string;
  /** The Lease's holder ("" when released or missing). */
  readonly holder: string;
  /** Kept rounds, newest first. */
  readonly rounds: readonly {
    round: string;
    phase: string;
    ok: number;
    failed: number;
    dead: number;
    rejected: number;
    open: number;
    total: number;
    start: string | null;
    end: string | null;
    /** End − start, or now − start while running. */
    durationSeconds: number | null;
  }[];
  /** Every configured check: its schedule, last run and result, and next due time. */
  readonly checks: readonly {
    check: string;
    schedule: string;
    lastRun: string | null;
    result: string | null;
    nextDue: string | null;
    /** The next due time has passed (the check is late, or no leader plans). */
    overdue: boolean;
  }[];
  /** Checks whose newest task did not succeed. */
  readonly failing: readonly {
    check: string;
    state: string;
    error: string;
    round: string;
    task: string;
    lastRun: string;
    since: string | null;
    lastSuccess: string | null;
  }[];
}

const iso = (s: number | undefined) =>
  s === undefined ? null : new Date(s * 1000).toISOString().replace(/\.000Z$/, "Z");

/** Whether a finished round counts as failing. */
function roundFails(r: RoundState): boolean {
  return r.phase === "deadline-exceeded" || r.counts.failed + r.counts.dead + r.counts.rejected > 0;
}

/** A configured check with the cadence it runs at (`effectiveCadences`). */
export interface ScheduledCheck {
  readonly check: string;
  readonly cadence: Cadence;
}

/**
 * The checks table: each check's next due time is its cadence's first after its last run's slot
 * (the round id's time; a CronJob round's: the run's end), or after `now` when it never ran.
 */
function checkRows(
  schedules: readonly ScheduledCheck[],
  checks: readonly CheckState[],
  now: number,
) {
  return schedules.map(({ check, cadence }) => {
    const last = checks.find((c) => c.check === check);
    const base = last === undefined ? now * 1000 : slotMs(last.round) ?? last.lastRun * 1000;
    const next = nextDueMs(cadence, base);
    return {
      check,
      schedule: describeCadence(cadence),
      lastRun: iso(last?.lastRun),
      result: last?.state ?? null,
      nextDue: iso(next === undefined ? undefined : next / 1000),
      overdue: next !== undefined && next / 1000 < now,
    };
  });
}

/**
 * Builds the report (pure).
 *
 * @param now Wall-clock seconds (for a running round's duration).
 * @param schedules The configured checks with their cadences (the checks table); default none.
 */
export function statusReport(
  where: { namespace: string; lease: string; holder: string | undefined },
  snap: {
    rounds: readonly RoundState[];
    lastFinished: RoundState | undefined;
    checks: readonly CheckState[];
  },
  now: number,
  schedules: readonly ScheduledCheck[] = [],
): StatusReport {
  const holder = where.holder ?? "";
  const verdict: Verdict = snap.lastFinished && roundFails(snap.lastFinished)
    ? "failing"
    : holder || snap.rounds.length > 0
    ? "ok"
    : "unhealthy";
  return {
    verdict,
    namespace: where.namespace,
    lease: where.lease,
    holder,
    rounds: snap.rounds.map((r) => ({
      round: r.round,
      phase: r.phase,
      ok: r.counts.succeeded,
      failed: r.counts.failed,
      dead: r.counts.dead,
      rejected: r.counts.rejected,
      open: r.counts.pending + r.counts.running,
      total: r.total,
      start: iso(r.start),
      end: iso(r.end),
      durationSeconds: r.start === undefined
        ? null
        : Math.max(0, Math.round((r.end ?? now) - r.start)),
    })),
    checks: checkRows(schedules, snap.checks, now),
    failing: snap.checks.filter((c) => c.success === 0).map((c) => ({
      check: c.check,
      state: c.state,
      error: c.error,
      round: c.round,
      task: c.task,
      lastRun: iso(c.lastRun)!,
      since: iso(c.failingSince),
      lastSuccess: iso(c.lastSuccess),
    })),
  };
}

/** `90` → `1m30s`, `3725` → `1h02m05s`. */
export function formatSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = Math.floor(total % 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h${pad(m)}m${pad(s)}s`;
  if (m > 0) return `${m}m${pad(s)}s`;
  return `${s}s`;
}

/** Lays out rows as left-aligned columns (numbers right-aligned). */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r.map((cell, i) =>
      i === r.length - 1
        ? cell
        : /^\d+$/.test(cell) || (rows[0]![i] ?? "").match(/^(OK|FAILED|DEAD|REJECTED|OPEN)$/)
        ? cell.padStart(widths[i]!)
        : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd()
  ).join("\n") + "\n";
}

/** One line of at most `max` characters. */
function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The report as text: the verdict line, the rounds table, the failing checks. */
export function formatStatus(r: StatusReport): string {
  const rounds = r.rounds.length === 0 ? "No round summaries.\n" : table([
    ["ROUND", "PHASE", "OK", "FAILED", "DEAD", "REJECTED", "OPEN", "DURATION"],
    ...r.rounds.map((x) => [
      x.round,
      x.phase,
      String(x.ok),
      String(x.failed),
      String(x.dead),
      String(x.rejected),
      String(x.open),
      x.durationSeconds === null
        ? "-"
        : `${formatSeconds(x.durationSeconds)}${x.phase === "running" ? "+" : ""}`,
    ]),
  ]);
  const checks = r.checks.length === 0 ? "" : table([
    ["CHECK", "SCHEDULE", "LAST RUN", "RESULT", "NEXT DUE"],
    ...r.checks.map((c) => [
      c.check,
      c.schedule,
      c.lastRun ?? "-",
      c.result ?? "-",
      `${c.nextDue ?? "-"}${c.overdue ? " (overdue)" : ""}`,
    ]),
  ]) + "\n";
  const failing = r.failing.length === 0 ? "No failing checks.\n" : table([
    ["CHECK", "STATE", "SINCE", "ROUND", "LAST ERROR"],
    ...r.failing.map((f) => [f.check, f.state, f.since ?? f.lastRun, f.round, oneLine(f.error)]),
  ]);
  return `${r.verdict}: lease ${r.namespace}/${r.lease} holder ${JSON.stringify(r.holder)}, ` +
    `${r.rounds.length} round summaries\n\n${rounds}\n${checks}${failing}`;
}

/** The outcome of a report: `ok` only for the verdict `ok`, else `failed`. */
export function statusOutcome(r: StatusReport): Outcome {
  return r.verdict === "ok" ? OK : FAILED;
}

/**
 * `dz-mcall status`: reads the Lease, the round summaries and the task ConfigMaps of
 * `tasks.app`, prints the report and returns its outcome.
 *
 * @param env The environment `main.ts` read (KUBECONFIG, the in-cluster variables).
 * @param clock Gives the wall-clock time a running round's duration is counted to.
 * @throws {ConfigError} When the namespace is unknown.
 */
export async function runStatus(
  config: Config,
  env: Readonly<Record<string, string>>,
  write: (text: string) => void,
  output: StatusOutput = "table",
  clock: Clock = systemClock,
): Promise<Outcome> {
  const namespace = await resolveNamespace(config);
  const conn = new KubeConnection(await loadKubeConfig(env));
  const api = new KubeApi(conn, namespace);
  const lease = config.election.leaseName;
  const app = config.tasks.app;
  let holder, summaries, tasks;
  try {
    [holder, summaries, tasks] = await Promise.all([
      api.leaseHolder(lease),
      api.taskStore().list(roundsSelector(app)),
      api.taskStore().list(tasksSelector(app)),
    ]);
  } catch (err) {
    // The API server unreachable or refusing: one line, exit 1 (not a stack trace).
    write(`unhealthy: ${String((err as Error)?.message ?? err).split("\n")[0]}\n`);
    return FAILED;
  } finally {
    // Three reads are all it does: the connection goes as soon as they are answered.
    conn.close();
  }
  const inputs = configuredInputs(config);
  const snap = snapshot(inputs, app, tasks.items.map(viewTask), summaries.items);
  const labels = checkLabels(inputs);
  const cadences = effectiveCadences(config);
  const schedules = inputs.map((s) => ({
    check: labels.get(s.index)!,
    cadence: cadences[s.index]!,
  }));
  const report = statusReport(
    { namespace, lease, holder },
    snap,
    clock.wallNow().getTime() / 1000,
    schedules,
  );
  write(output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return statusOutcome(report);
}
