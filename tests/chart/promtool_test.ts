/**
 * The chart's alert rules through promtool (built from Go modules by `scripts/prom-tools.sh`):
 * `promtool check rules` on the PrometheusRule helm renders, and `promtool test rules` proving
 * each alert fires — and does not fire too early — on the series the program exports.
 *
 * Without a Go toolchain (`scripts/prom-tools.sh` exit 3) the tests are ignored with a loud
 * message, unless `REQUIRE_E2E=1`.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { render } from "./helpers.ts";
import { promtool, ruleFile, run } from "./promtool.ts";

function promtoolTest(
  name: string,
  values: Record<string, string | number | boolean>,
  tests: (sel: string) => unknown[],
  sel: string,
): void {
  Deno.test(name, async (t) => {
    const bin = await promtool();
    if (bin === undefined) {
      console.error(`\n!!! ${name}: SKIPPED — no Go toolchain to build promtool !!!\n`);
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: "dz-promtool-" });
    try {
      const file = await ruleFile(
        await render({ set: { "prometheusRule.enabled": true, ...values } }),
        dir,
      );
      await t.step("promtool check rules", async () => {
        const r = await run(bin, ["check", "rules", file], dir);
        assert.equal(r.code, 0, r.text);
        assert.match(r.text, /SUCCESS: \d+ rules found/);
      });
      await t.step("promtool test rules", async () => {
        await Deno.writeTextFile(
          `${dir}/test.yaml`,
          stringify({ rule_files: [file], evaluation_interval: "1m", tests: tests(sel) }),
        );
        const r = await run(bin, ["test", "rules", "test.yaml"], dir);
        assert.equal(r.code, 0, r.text);
        assert.match(r.text, /SUCCESS/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

const DEP = 'namespace="default",job="dz-mcall-metrics"';
const series = (metric: string, labels: string, values: string) => ({
  series: `${metric}{${labels}}`,
  values,
});

// Deployment mode, interval 5m, failingRounds 3 (for 10m), leaseDuration 15s.
promtoolTest(
  "promtool: the chart's rules (deployment mode) pass check and fire as documented",
  { mode: "deployment", interval: "5m" },
  (sel) => [
    {
      interval: "1m",
      input_series: [
        // Fails from minute 2 on: 3 rounds of 5 m in a row at minute 12.
        series("mcall_check_success", `${sel},check="orders-db"`, "1 1 0x20"),
        series("mcall_check_success", `${sel},check="web"`, "1x22"),
        // The newest complete round ended at t=0: overdue after 2 × 300 s.
        series("mcall_round_last_completed_timestamp_seconds", sel, "0x22"),
        series("mcall_round_tasks", `${sel},state="dead"`, "0 0 0 2x20"),
        series("mcall_leader", `${sel},pod="dz-mcall-a"`, "1 1 1 1 0x20"),
        series("mcall_leader", `${sel},pod="dz-mcall-b"`, "0x22"),
      ],
      alert_rule_test: [
        { eval_time: "11m", alertname: "McallCheckFailing", exp_alerts: [] },
        {
          eval_time: "13m",
          alertname: "McallCheckFailing",
          exp_alerts: [{
            exp_labels: { namespace: "default", check: "orders-db", severity: "critical" },
            exp_annotations: {
              summary: "Check orders-db in default has failed for 3 rounds in a row",
              description:
                "dz-mcall status shows its last error; kubectl get events -n default --field-selector reason=TaskFailed",
            },
          }],
        },
        { eval_time: "9m", alertname: "McallNoRoundCompleted", exp_alerts: [] },
        {
          eval_time: "11m",
          alertname: "McallNoRoundCompleted",
          exp_alerts: [{
            exp_labels: { namespace: "default", severity: "critical" },
            exp_annotations: {
              summary: "No dz-mcall round completed in default for more than 600s",
              description: "kubectl get configmaps -l app=dz-mcall,round=true; dz-mcall status",
            },
          }],
        },
        { eval_time: "2m", alertname: "McallTasksDead", exp_alerts: [] },
        {
          eval_time: "3m",
          alertname: "McallTasksDead",
          exp_alerts: [{
            exp_labels: { namespace: "default", severity: "warning" },
            exp_annotations: {
              summary: "2 dz-mcall tasks are dead in the newest round in default",
              description: "kubectl get events -n default --field-selector reason=TaskDead",
            },
          }],
        },
        { eval_time: "3m", alertname: "McallNoLeader", exp_alerts: [] },
        {
          eval_time: "6m",
          alertname: "McallNoLeader",
          exp_alerts: [{
            exp_labels: { namespace: "default", severity: "warning" },
            exp_annotations: {
              summary: "No dz-mcall pod leads in default for more than 15s",
              description:
                "kubectl get lease dz-mcall-leader -n default; kubectl logs -l app=dz-mcall",
            },
          }],
        },
      ],
    },
    {
      // McallCheckStale: each check against twice its own interval. "db" runs every minute,
      // "stuck" (every 60 s) last ran at 0, "hourly" last ran at 0 and is due again at 60m.
      interval: "1m",
      input_series: [
        series("mcall_check_last_run_timestamp_seconds", `${sel},check="db"`, "0+60x30"),
        series("mcall_check_interval_seconds", `${sel},check="db"`, "60x30"),
        series("mcall_check_last_run_timestamp_seconds", `${sel},check="stuck"`, "0x30"),
        series("mcall_check_interval_seconds", `${sel},check="stuck"`, "60x30"),
        series("mcall_check_last_run_timestamp_seconds", `${sel},check="hourly"`, "0x30"),
        series("mcall_check_interval_seconds", `${sel},check="hourly"`, "3600x30"),
      ],
      alert_rule_test: [
        { eval_time: "2m", alertname: "McallCheckStale", exp_alerts: [] },
        {
          eval_time: "3m",
          alertname: "McallCheckStale",
          exp_alerts: [{
            exp_labels: { namespace: "default", check: "stuck", severity: "critical" },
            exp_annotations: {
              summary: "Check stuck in default has not run for more than twice its interval",
              description:
                "dz-mcall status shows its schedule, last run and next due time; kubectl get configmaps -n default -l app=dz-mcall,round=true",
            },
          }],
        },
      ],
    },
    {
      // No pod exports mcall_leader at all (every pod gone): absent() fires.
      interval: "1m",
      input_series: [series("mcall_check_success", `${sel},check="web"`, "1x10")],
      alert_rule_test: [{
        eval_time: "5m",
        alertname: "McallNoLeader",
        exp_alerts: [{
          exp_labels: { namespace: "default", job: "dz-mcall-metrics", severity: "warning" },
          exp_annotations: {
            summary: "No dz-mcall pod leads in default for more than 15s",
            description:
              "kubectl get lease dz-mcall-leader -n default; kubectl logs -l app=dz-mcall",
          },
        }],
      }],
    },
  ],
  DEP,
);

// CronJob mode: the series come from the Pushgateway with its grouping labels.
promtoolTest(
  "promtool: the chart's rules (cronjob mode, pushed series) fire on a failing check",
  {
    "metrics.pushgateway.url": "http://pushgateway:9091",
    schedule: "*/10 * * * *",
    "prometheusRule.failingRounds": 2,
  },
  (sel) => [{
    interval: "1m",
    input_series: [
      series("mcall_check_success", `${sel},check="orders-db",instance=""`, "0x30"),
      series(
        "mcall_check_success",
        `${sel},check="other-release",app="x"`.replace(
          `app="dz-mcall",`,
          "",
        ),
        "0x30",
      ),
    ],
    alert_rule_test: [
      { eval_time: "9m", alertname: "McallCheckFailing", exp_alerts: [] },
      {
        eval_time: "11m",
        alertname: "McallCheckFailing",
        exp_alerts: [{
          exp_labels: { namespace: "default", check: "orders-db", severity: "critical" },
          exp_annotations: {
            summary: "Check orders-db in default has failed for 2 rounds in a row",
            description:
              "dz-mcall status shows its last error; kubectl get events -n default --field-selector reason=TaskFailed",
          },
        }],
      },
    ],
  }],
  'namespace="default",job="dz-mcall",app="dz-mcall"',
);
