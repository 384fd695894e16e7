/**
 * Labels and annotations of every object the chart renders (the standard Helm labels plus
 * `commonLabels`/`commonAnnotations`, as values.yaml promises), selectors that never change
 * (`app=<app>` and the name/instance pair are an API: the guide's kubectl commands and the
 * worker selector use them), and the opt-in PodDisruptionBudget of deployment mode.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { at, CHART_DIR, find, type K8sObject, render, type RenderOptions } from "./helpers.ts";

const chart = parseYaml(await Deno.readTextFile(`${CHART_DIR}/Chart.yaml`)) as {
  name: string;
  version: string;
  appVersion: string;
};

/** The labels the chart promises on every object of release `dz-mcall`. */
const STANDARD = {
  "helm.sh/chart": `${chart.name}-${chart.version}`,
  "app.kubernetes.io/instance": "dz-mcall",
  "app.kubernetes.io/version": chart.appVersion,
  "app.kubernetes.io/managed-by": "Helm",
};
const SELECTOR = { "app.kubernetes.io/name": "dz-mcall", "app.kubernetes.io/instance": "dz-mcall" };

/** Every optional object on, with common labels and annotations. */
const EVERYTHING: RenderOptions["set"] = {
  "service.enabled": true,
  "serviceMonitor.enabled": true,
  "prometheusRule.enabled": true,
  "metrics.pushgateway.url": "http://pushgateway.monitoring:9091",
  "grafanaDashboard.enabled": true,
  "podDisruptionBudget.enabled": true,
  "commonLabels.team": "payments",
  "commonAnnotations.owner": "ops",
};

/** Each object's metadata and its pod templates' metadata, named for messages. */
function metadataOf(objects: readonly K8sObject[]): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  for (const o of objects) {
    const name = `${o.kind} ${o.metadata.name}`;
    out.push([name, o.metadata as Record<string, unknown>]);
    for (
      const [what, path] of [
        ["jobTemplate", ["spec", "jobTemplate", "metadata"]],
        ["pod template", ["spec", "jobTemplate", "spec", "template", "metadata"]],
        ["pod template", ["spec", "template", "metadata"]],
      ] as const
    ) {
      const meta = at(o, ...path);
      if (meta) out.push([`${name} ${what}`, meta as Record<string, unknown>]);
    }
  }
  return out;
}

for (const mode of ["cronjob", "deployment"]) {
  Deno.test(`chart labels: every object and pod (${mode}) has the standard labels, commonLabels and commonAnnotations`, async () => {
    const objects = await render({ set: { ...EVERYTHING, mode } });
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ["ConfigMap", "Role", "Service", "ServiceMonitor", "Pod"]) {
      assert.ok(kinds.has(kind), `no ${kind} rendered`);
    }
    assert.equal(kinds.has("PodDisruptionBudget"), mode === "deployment");
    const all = metadataOf(objects);
    assert.ok(all.some(([n]) => n.endsWith("pod template")), "no pod template");
    for (const [name, meta] of all) {
      const labels = (meta.labels ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries({ ...STANDARD, team: "payments" })) {
        assert.equal(labels[k], v, `${name}: label ${k}`);
      }
      assert.ok(labels["app.kubernetes.io/name"], `${name}: no app.kubernetes.io/name`);
      if (name.endsWith("jobTemplate")) continue; // a Job's own annotations are the controller's
      assert.equal(at(meta, "annotations", "owner"), "ops", `${name}: commonAnnotations`);
    }
  });
}

Deno.test("chart labels: commonLabels and podLabels never change the selector labels or app", async () => {
  const set = {
    mode: "deployment",
    "podDisruptionBudget.enabled": true,
    "service.enabled": true,
    "commonLabels.app\\.kubernetes\\.io/name": "other",
    "commonLabels.app": "other",
    "podLabels.app\\.kubernetes\\.io/instance": "other",
    "podLabels.tier": "checks",
  };
  const objects = await render({ set });
  const dep = find(objects, "Deployment");
  assert.deepEqual(at(dep, "spec", "selector", "matchLabels"), SELECTOR);
  assert.deepEqual(
    at(find(objects, "PodDisruptionBudget"), "spec", "selector", "matchLabels"),
    SELECTOR,
  );
  assert.deepEqual(at(find(objects, "Service"), "spec", "selector"), SELECTOR);
  const pod = at(dep, "spec", "template", "metadata", "labels") as Record<string, string>;
  assert.equal(pod.app, "dz-mcall", "the guide's `kubectl logs -l app=dz-mcall`");
  assert.equal(pod["app.kubernetes.io/component"], "worker");
  assert.equal(pod.tier, "checks", "podLabels reach the pods");
  for (const [k, v] of Object.entries(SELECTOR)) assert.equal(pod[k], v, k);
  assert.equal(at(dep, "metadata", "labels", "app.kubernetes.io/name"), "dz-mcall");
});

Deno.test("chart PodDisruptionBudget: off by default, maxUnavailable 1 when enabled, minAvailable wins", async () => {
  const off = await render({ set: { mode: "deployment" } });
  assert.equal(off.some((o) => o.kind === "PodDisruptionBudget"), false);

  const on = find(
    await render({ set: { mode: "deployment", "podDisruptionBudget.enabled": true } }),
    "PodDisruptionBudget",
  );
  assert.equal(on.apiVersion, "policy/v1");
  assert.deepEqual(on.spec, { maxUnavailable: 1, selector: { matchLabels: SELECTOR } });

  const min = find(
    await render({
      set: { mode: "deployment", "podDisruptionBudget.enabled": true },
      setJson: { "podDisruptionBudget.minAvailable": "50%" },
    }),
    "PodDisruptionBudget",
  );
  assert.deepEqual(min.spec, { minAvailable: "50%", selector: { matchLabels: SELECTOR } });

  const cron = await render({ set: { "podDisruptionBudget.enabled": true } });
  assert.equal(cron.some((o) => o.kind === "PodDisruptionBudget"), false, "cronjob mode");
});
