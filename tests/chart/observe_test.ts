/**
 * The chart's opt-in observability objects: the PrometheusRule (thresholds from the values, one
 * table of cases), the Grafana dashboard ConfigMap, and the Pushgateway settings passed to the
 * program. Every metric name the rules and the dashboard query is one the program registers.
 */
import assert from "node:assert/strict";
import { createCheckMetrics } from "../../lib/observe/check_metrics.ts";
import { ConfigSchema } from "../../lib/config/schema.ts";
import { createMetrics } from "../../lib/observe/metrics.ts";
import { createTaskMetrics } from "../../lib/tasks/metrics.ts";
import { at, find, type K8sObject, mcallYaml, render, templateRaw } from "./helpers.ts";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

const PG = { "metrics.pushgateway.url": "http://pushgateway.monitoring:9091" };

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
}

function rules(objects: readonly K8sObject[]): Map<string, Rule> {
  const rule = find(objects, "PrometheusRule");
  const groups = at(rule, "spec", "groups") as { rules: Rule[] }[];
  assert.equal(groups.length, 1);
  return new Map(groups[0]!.rules.map((r) => [r.alert, r]));
}

/** Every metric name the program can export (leader, tasks, per-check series). */
async function programMetricNames(): Promise<Set<string>> {
  const m = createMetrics();
  createTaskMetrics(m.registry);
  createCheckMetrics(m.registry).update({
    checks: [],
    rounds: [],
    lastCompleted: 1,
    lastFinished: {
      round: "r",
      phase: "complete",
      start: 0,
      end: 1,
      total: 0,
      counts: { pending: 0, running: 0, succeeded: 0, failed: 0, dead: 0, rejected: 0 },
    },
  });
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(metric.name + s);
    }
  }
  assert(names.has("mcall_check_success") && names.has("mcall_leader"));
  return names;
}

/** The `mcall_*` metric names an expression uses. */
const namesIn = (expr: string) => [...expr.matchAll(/\b(mcall_[a-z_]+)\b/g)].map((m) => m[1]!);

Deno.test("chart renders no PrometheusRule and no dashboard by default", async () => {
  const objects = await render();
  assert.equal(objects.filter((o) => o.kind === "PrometheusRule").length, 0);
  assert.equal(objects.filter((o) => o.metadata.name.endsWith("-dashboard")).length, 0);
});

// One table: values → the round interval (s) the alerts use.
const INTERVALS: { what: string; set: Record<string, string | number>; seconds: number }[] = [
  { what: "deployment interval 5m", set: { mode: "deployment", interval: "5m" }, seconds: 300 },
  { what: "deployment interval 90", set: { mode: "deployment", interval: 90 }, seconds: 90 },
  { what: "cronjob */5 (default)", set: { ...PG }, seconds: 300 },
  { what: "cronjob */15", set: { ...PG, schedule: "*/15 * * * *" }, seconds: 900 },
  { what: "cronjob @hourly", set: { ...PG, schedule: "@hourly" }, seconds: 3600 },
  {
    what: "roundInterval wins",
    set: { ...PG, schedule: "0 3 * * 1", "prometheusRule.roundInterval": "1h30m" },
    seconds: 5400,
  },
];

for (const c of INTERVALS) {
  Deno.test(`chart's PrometheusRule thresholds: ${c.what}`, async () => {
    const r = rules(
      await render({
        set: { "prometheusRule.enabled": true, "prometheusRule.failingRounds": 4, ...c.set },
      }),
    );
    assert.equal(r.get("McallCheckFailing")!.for, `${3 * c.seconds}s`);
    assert.match(r.get("McallNoRoundCompleted")!.expr, new RegExp(`> ${2 * c.seconds}$`));
    assert.equal(r.get("McallCheckFailing")!.labels.severity, "critical");
    assert.equal(r.get("McallTasksDead")!.labels.severity, "warning");
  });
}

Deno.test("chart's PrometheusRule: selectors follow where the series come from", async () => {
  const dep = await render({
    set: {
      "prometheusRule.enabled": true,
      "serviceMonitor.enabled": true,
      mode: "deployment",
      "election.leaseDuration": "20s",
    },
    namespace: "ops",
  });
  const d = rules(dep);
  assert.deepEqual([...d.keys()].sort(), [
    "McallCheckFailing",
    "McallCheckStale",
    "McallNoLeader",
    "McallNoRoundCompleted",
    "McallTasksDead",
  ]);
  // Scraped through the metrics Service: the Prometheus Operator's job label is its name.
  const service = find(dep, "Service").metadata.name;
  assert.equal(service, "dz-mcall-metrics");
  assert.match(d.get("McallCheckFailing")!.expr, new RegExp(`namespace="ops",job="${service}"`));
  assert.equal(d.get("McallNoLeader")!.for, "20s");
  assert.match(d.get("McallNoLeader")!.expr, /absent\(mcall_leader\{/);

  const cron = await render({
    set: { "prometheusRule.enabled": true, ...PG, "metrics.pushgateway.job": "probes" },
  });
  const c = rules(cron);
  assert.equal(c.has("McallNoLeader"), false, "no leader to watch between CronJob rounds");
  assert.match(
    c.get("McallCheckStale")!.expr,
    /> 2 \* max by \(namespace, check\) \(mcall_check_interval_seconds\{namespace="default",job="probes",app="dz-mcall"\}\)$/,
  );
  // Pushed: the grouping labels the program uses (lib/observe/pushgateway.ts: job, namespace, app).
  const pushgateway = (mcallYaml(cron).metrics as Record<string, Record<string, string>>)
    .pushgateway!;
  assert.equal(pushgateway.job, "probes");
  assert.match(
    c.get("McallTasksDead")!.expr,
    /\{namespace="default",job="probes",app="dz-mcall",state="dead"\}\) > 0$/,
  );
});

Deno.test("chart's PrometheusRule and dashboard query only metrics the program exports", async () => {
  const known = await programMetricNames();
  const objects = await render({
    set: { "prometheusRule.enabled": true, "grafanaDashboard.enabled": true, mode: "deployment" },
  });
  const used = [...rules(objects).values()].flatMap((r) => namesIn(r.expr));
  const cm = find(objects, "ConfigMap", "dz-mcall-dashboard");
  assert.equal(cm.metadata.labels?.grafana_dashboard, "1");
  const dash = JSON.parse(at(cm, "data", "dz-mcall.json") as string);
  const exprs = (dash.panels as { targets: { expr: string }[] }[]).flatMap((p) =>
    p.targets.map((t) => t.expr)
  );
  assert(exprs.length >= 8, "dashboard panels have queries");
  used.push(...exprs.flatMap(namesIn));
  assert(used.includes("mcall_check_success") && used.includes("mcall_leader"));
  assert.deepEqual(used.filter((n) => !known.has(n)), [], "unknown metric names");
});

Deno.test("chart passes metrics.pushgateway to mcall.yaml, which the program accepts", async () => {
  const yaml = mcallYaml(
    await render({ set: { ...PG, "metrics.pushgateway.timeout": "3s" } }),
  );
  const config = ConfigSchema.parse(yaml);
  assert.deepEqual(config.metrics.pushgateway, {
    url: "http://pushgateway.monitoring:9091",
    job: "dz-mcall",
    timeoutMs: 3000,
  });
  assert.equal(ConfigSchema.parse(mcallYaml(await render())).metrics.pushgateway.url, "");
});

Deno.test("chart refuses alerts it could not evaluate, with the value to set", async () => {
  const noPush = await templateRaw({ set: { "prometheusRule.enabled": true } });
  assert.notEqual(noPush.code, 0);
  assert.match(
    noPush.stderr,
    /prometheusRule\.enabled in cronjob mode needs metrics\.pushgateway\.url/,
  );
  const odd = await templateRaw({
    set: { "prometheusRule.enabled": true, ...PG, schedule: "0 3 * * 1" },
  });
  assert.notEqual(odd.code, 0);
  assert.match(odd.stderr, /prometheusRule\.roundInterval: set it; the schedule "0 3 \* \* 1"/);
  const badUrl = await templateRaw({ set: { "metrics.pushgateway.url": "pushgateway:9091" } });
  assert.notEqual(badUrl.code, 0);
  assert.match(badUrl.stderr, /values don't meet the specifications of the schema/);
});
