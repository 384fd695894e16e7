/**
 * Per-check and per-round Prometheus series (documented in `docs/metrics.md`), rendered from the
 * latest {@linkcode Snapshot}: what blackbox_exporter's `probe_success` gives per target.
 *
 * Who exports them: the leader. It lists every task and round summary on each reconcile, so it
 * alone sees every check's result; a pod that does not lead (or whose term ended) exports none
 * of these series, so a query never mixes a stale pod's view with the leader's. In CronJob mode
 * the round's leader pushes the same series to a Pushgateway (`lib/observe/pushgateway.ts`).
 *
 * @module
 */
import { Gauge, type Registry } from "prom-client";
import type { Snapshot } from "./check_snapshot.ts";
import { TASK_STATES } from "../tasks/contract.ts";

/** The series of {@linkcode createCheckMetrics}. */
export interface CheckMetrics {
  /** Replaces what the series show. */
  update(snapshot: Snapshot): void;
  /** Drops every series (the term ended). */
  clear(): void;
}

/** The metric names, in one place (docs/metrics.md and the chart's rules use them). */
export const CHECK_METRIC = {
  success: "mcall_check_success",
  lastRun: "mcall_check_last_run_timestamp_seconds",
  lastSuccess: "mcall_check_last_success_timestamp_seconds",
  interval: "mcall_check_interval_seconds",
  duration: "mcall_check_duration_seconds",
  attempts: "mcall_check_attempts",
  roundCompleted: "mcall_round_last_completed_timestamp_seconds",
  roundTasks: "mcall_round_tasks",
  roundDuration: "mcall_round_last_duration_seconds",
} as const;

/**
 * Registers the per-check and per-round gauges in `registry`; they show the last snapshot passed
 * to `update`, and nothing before the first or after `clear`.
 *
 * @example Usage
 * ```ts
 * import { Registry } from "prom-client";
 * import { createCheckMetrics } from "./check_metrics.ts";
 * import assert from "node:assert/strict";
 * const registry = new Registry();
 * const m = createCheckMetrics(registry);
 * m.update({ checks: [], rounds: [], lastCompleted: 1700000000, lastFinished: undefined });
 * assert.match(await registry.metrics(), /mcall_round_last_completed_timestamp_seconds 1700000000/);
 * ```
 */
export function createCheckMetrics(registry: Registry): CheckMetrics {
  let current: Snapshot | undefined;
  const registers = [registry];
  const perCheck = (
    name: string,
    help: string,
    value: (c: Snapshot["checks"][number]) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["check"],
      registers,
      collect() {
        this.reset();
        for (const c of current?.checks ?? []) {
          const v = value(c);
          if (v !== undefined) this.set({ check: c.check }, v);
        }
      },
    });
  const perCheckSeries: [string, string, (c: Snapshot["checks"][number]) => number | undefined][] =
    [
      [CHECK_METRIC.success, "1 when the check's last task succeeded, else 0", (c) => c.success],
      [
        CHECK_METRIC.lastRun,
        "When the check's last task finished (succeeded, failed, dead or rejected)",
        (c) => c.lastRun,
      ],
      [
        CHECK_METRIC.lastSuccess,
        "When the check last succeeded (absent when no kept round has a success)",
        (c) => c.lastSuccess,
      ],
      [
        CHECK_METRIC.interval,
        "Longest time between the check's due times (its interval, or its cron schedule's)",
        (c) => c.intervalSeconds,
      ],
      [
        CHECK_METRIC.duration,
        "Run time of the check's last executed task",
        (c) => c.durationSeconds,
      ],
      [CHECK_METRIC.attempts, "Attempts the check's last task took", (c) => c.attempts],
    ];
  for (const [name, help, value] of perCheckSeries) perCheck(name, help, value);
  // prom-client always renders an unlabelled gauge (as 0 when unset), so these two are in the
  // registry only while they have a value: a pod that does not lead exports no fake timestamps.
  const single = (name: string, help: string, value: (s: Snapshot) => number | undefined) => {
    const gauge = new Gauge({ name, help, registers: [] });
    return (s: Snapshot | undefined) => {
      const v = s === undefined ? undefined : value(s);
      const registered = registry.getSingleMetric(name) !== undefined;
      if (v === undefined) {
        if (registered) registry.removeSingleMetric(name);
        return;
      }
      gauge.set(v);
      if (!registered) registry.registerMetric(gauge);
    };
  };
  const singles = [
    single(
      CHECK_METRIC.roundCompleted,
      "When the newest complete round ended",
      (s) => s.lastCompleted,
    ),
    single(CHECK_METRIC.roundDuration, "Start to end of the newest finished round", (s) => {
      const r = s.lastFinished;
      return r?.start !== undefined && r.end !== undefined
        ? Math.max(0, r.end - r.start)
        : undefined;
    }),
  ];
  new Gauge({
    name: CHECK_METRIC.roundTasks,
    help: "Tasks of the newest finished round, by state",
    labelNames: ["state"],
    registers,
    collect() {
      this.reset();
      const r = current?.lastFinished;
      if (r) { for (const state of TASK_STATES) this.set({ state }, r.counts[state]); }
    },
  });
  const set = (s: Snapshot | undefined) => {
    current = s;
    for (const apply of singles) apply(s);
  };
  return { update: (s) => set(s), clear: () => set(undefined) };
}
