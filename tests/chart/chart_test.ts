/**
 * Tests of the Helm chart in `chart/`: lint, field-by-field checks of the rendered objects in both
 * modes, the rendered mcall.yaml against the program's own config schema, install-time rejection
 * of bad values, and what an upgrade with changed values changes.
 *
 * helm comes from `scripts/k8s-tools.sh`; nothing here needs a cluster.
 */
import assert from "node:assert/strict";
import { ConfigSchema } from "../../lib/config/schema.ts";
import {
  at,
  CHART_DIR,
  container,
  envMap,
  find,
  helm,
  type K8sObject,
  mcallYaml,
  notes,
  podTemplate,
  render,
  templateRaw,
} from "./helpers.ts";
import { parse as parseYaml } from "yaml";
import { loadCron } from "../../lib/time/cadence.ts";

await loadCron(); // the cron schedules below are read by croner, loaded on demand

const SCENARIOS = [
  "ci/cronjob-values.yaml",
  "ci/deployment-values.yaml",
  "ci/http-probes-values.yaml",
];
const SELECTOR = "app.kubernetes.io/name=dz-mcall,app.kubernetes.io/instance=dz-mcall";
const cronjob = () => render();
const deployment = () => render({ set: { mode: "deployment" } });

// ---------------------------------------------------------------------------------------------
// lint

Deno.test("helm lint passes with the default values", async () => {
  const res = await helm(["lint", CHART_DIR, "--strict"]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
});

for (const file of [...SCENARIOS, "examples/values-example.yaml"]) {
  Deno.test(`helm lint passes with ${file}`, async () => {
    const res = await helm(["lint", CHART_DIR, "--strict", "-f", `${CHART_DIR}/${file}`]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
  });
}

// ---------------------------------------------------------------------------------------------
// kinds per mode

function kinds(objects: readonly K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}

Deno.test("chart renders a CronJob and no Deployment in cronjob mode (the default)", async () => {
  assert.deepEqual(kinds(await cronjob()), [
    "ConfigMap",
    "CronJob",
    "Pod",
    "Role",
    "RoleBinding",
    "Secret",
    "ServiceAccount",
  ]);
});

Deno.test("chart renders a Deployment and no CronJob in deployment mode", async () => {
  assert.deepEqual(kinds(await deployment()), [
    "ConfigMap",
    "Deployment",
    "Pod",
    "Role",
    "RoleBinding",
    "Secret",
    "ServiceAccount",
  ]);
});

Deno.test("chart never renders cluster-scoped RBAC or grants secrets access", async () => {
  for (const objects of [await cronjob(), await deployment(), await render({ files: SCENARIOS })]) {
    for (const o of objects) {
      assert.ok(!["ClusterRole", "ClusterRoleBinding"].includes(o.kind), `${o.kind} rendered`);
    }
    const rules = at(find(objects, "Role"), "rules") as { resources: string[] }[];
    assert.ok(rules.every((r) => !r.resources.includes("secrets")));
  }
});

Deno.test("chart toggles rbac.create and serviceAccount.create", async () => {
  const objects = await render({
    set: { "rbac.create": false, "serviceAccount.create": false, "serviceAccount.name": "ops" },
  });
  assert.deepEqual(kinds(objects), ["ConfigMap", "CronJob", "Pod", "Secret"]);
  assert.equal(at(podTemplate(objects), "spec", "serviceAccountName"), "ops");
});

// ---------------------------------------------------------------------------------------------
// environment

Deno.test("chart sets the leader-mode env and the one-shot round env in cronjob mode", async () => {
  const env = envMap(await cronjob());
  assert.deepEqual(env.get("LEADER_ELECTION"), { name: "LEADER_ELECTION", value: "true" });
  assert.equal(
    at(env.get("NAMESPACE"), "valueFrom", "fieldRef", "fieldPath"),
    "metadata.namespace",
  );
  assert.equal(at(env.get("HOSTNAME"), "valueFrom", "fieldRef", "fieldPath"), "metadata.name");
  assert.equal(
    at(env.get("MCALL_TASKS_ROUND"), "valueFrom", "fieldRef", "fieldPath"),
    "metadata.labels['batch.kubernetes.io/job-name']",
  );
  assert.equal(
    env.get("MCALL_TASKS_WORKER_SELECTOR")?.value,
    `${SELECTOR},batch.kubernetes.io/job-name=$(MCALL_TASKS_ROUND)`,
  );
  assert.equal(
    env.get("MCALL_TASKS_SIGNING_KEY_FILE")?.value,
    "/etc/dz-mcall/signing/signing-key",
  );
  // $(MCALL_TASKS_ROUND) is only expanded when the variable is defined earlier in the list.
  const names = [...env.keys()];
  assert.ok(names.indexOf("MCALL_TASKS_ROUND") < names.indexOf("MCALL_TASKS_WORKER_SELECTOR"));
});

Deno.test("chart sets no round env and the release selector in deployment mode", async () => {
  const env = envMap(await deployment());
  assert.equal(env.has("MCALL_TASKS_ROUND"), false);
  assert.equal(env.get("MCALL_TASKS_WORKER_SELECTOR")?.value, SELECTOR);
  assert.equal(env.get("LEADER_ELECTION")?.value, "true");
  assert.equal(at(env.get("HOSTNAME"), "valueFrom", "fieldRef", "fieldPath"), "metadata.name");
});

Deno.test("chart runs the binary with the mounted config and signing key", async () => {
  const objects = await cronjob();
  const c = container(objects);
  assert.deepEqual(c.args, ["-c", "/etc/dz-mcall/mcall.yaml"]);
  assert.equal(c.command, undefined, "the image's entrypoint /app/dz-mcall runs");
  assert.equal(c.image, "dz-mcall:0.1.0");
  const mounts = c.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
  assert.deepEqual(mounts.map((m) => [m.name, m.mountPath, m.readOnly ?? false]), [
    ["config", "/etc/dz-mcall", true],
    ["tmp", "/tmp", false],
  ]);
  const volume = (at(podTemplate(objects), "spec", "volumes") as { name: string }[])
    .find((v) => v.name === "config");
  assert.deepEqual(at(volume, "projected", "sources"), [
    { configMap: { name: "dz-mcall-config", items: [{ key: "mcall.yaml", path: "mcall.yaml" }] } },
    {
      secret: {
        name: "dz-mcall-signing-key",
        items: [{ key: "signing-key", path: "signing/signing-key", mode: 0o440 /* 288 */ }],
      },
    },
  ]);
});

// ---------------------------------------------------------------------------------------------
// RBAC

Deno.test("chart's Role grants exactly what the program needs", async () => {
  const role = find(await cronjob(), "Role");
  assert.equal(role.metadata.namespace, "default");
  assert.deepEqual(role.rules, [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      resourceNames: ["dz-mcall-leader"],
      verbs: ["get", "watch", "update"],
    },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    {
      apiGroups: [""],
      resources: ["configmaps"],
      verbs: ["get", "list", "watch", "create", "update", "delete", "deletecollection"],
    },
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] },
  ]);
});

Deno.test("chart's Role follows a custom lease name", async () => {
  const role = find(await render({ set: { "election.leaseName": "probes-leader" } }), "Role");
  assert.deepEqual(at(role, "rules", 1, "resourceNames"), ["probes-leader"]);
});

Deno.test("chart binds the Role to the release's ServiceAccount", async () => {
  const objects = await render({ namespace: "ops" });
  const binding = find(objects, "RoleBinding");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Role",
    name: "dz-mcall",
  });
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "dz-mcall",
    namespace: "ops",
  }]);
  assert.equal(find(objects, "ServiceAccount").metadata.name, "dz-mcall");
  assert.equal(at(podTemplate(objects), "spec", "serviceAccountName"), "dz-mcall");
  assert.equal(at(podTemplate(objects), "spec", "automountServiceAccountToken"), true);
  // No <SERVICE>_* variables injected: the program warns about unknown MCALL_* ones.
  assert.equal(at(podTemplate(objects), "spec", "enableServiceLinks"), false);
});

// ---------------------------------------------------------------------------------------------
// hardening

Deno.test("chart's pods meet Pod Security 'restricted'", async () => {
  for (const objects of [await cronjob(), await deployment()]) {
    const spec = at(podTemplate(objects), "spec");
    assert.deepEqual(at(spec, "securityContext"), {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const sc = container(objects).securityContext;
    assert.equal(at(sc, "runAsNonRoot"), true);
    assert.equal(at(sc, "runAsUser"), 65532);
    assert.equal(at(sc, "readOnlyRootFilesystem"), true);
    assert.equal(at(sc, "allowPrivilegeEscalation"), false);
    assert.equal(at(sc, "privileged"), false);
    assert.deepEqual(at(sc, "capabilities"), { drop: ["ALL"] });
    assert.deepEqual(at(sc, "seccompProfile"), { type: "RuntimeDefault" });
    const tmp = (at(spec, "volumes") as { name: string }[]).find((v) => v.name === "tmp");
    assert.deepEqual(at(tmp, "emptyDir"), { sizeLimit: "64Mi" });
  }
});

Deno.test("chart sets resources, probes and the metrics port", async () => {
  const c = container(await deployment());
  assert.deepEqual(c.resources, {
    requests: { cpu: "50m", memory: "96Mi" },
    limits: { cpu: "1", memory: "192Mi" },
  });
  assert.deepEqual(c.ports, [{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
  assert.deepEqual(at(c, "livenessProbe", "httpGet"), { path: "/healthz", port: "metrics" });
  assert.deepEqual(at(c, "readinessProbe", "httpGet"), { path: "/readyz", port: "metrics" });
  assert.equal(at(c, "livenessProbe", "enabled"), undefined);
});

// ---------------------------------------------------------------------------------------------
// workloads

Deno.test("chart's CronJob runs one round per Job and never piles rounds up", async () => {
  const cron = find(await cronjob(), "CronJob");
  assert.equal(cron.metadata.name, "dz-mcall");
  assert.equal(at(cron, "spec", "schedule"), "*/5 * * * *");
  assert.equal(at(cron, "spec", "concurrencyPolicy"), "Forbid");
  assert.equal(at(cron, "spec", "startingDeadlineSeconds"), 120);
  assert.equal(at(cron, "spec", "successfulJobsHistoryLimit"), 3);
  assert.equal(at(cron, "spec", "failedJobsHistoryLimit"), 1);
  const job = at(cron, "spec", "jobTemplate", "spec");
  assert.equal(at(job, "parallelism"), 3);
  assert.equal(at(job, "completions"), 3);
  assert.equal(at(job, "completionMode"), "Indexed");
  assert.equal(at(job, "backoffLimit"), 2);
  assert.equal(at(job, "activeDeadlineSeconds"), 420);
  assert.equal(at(job, "template", "spec", "restartPolicy"), "OnFailure");
});

Deno.test("chart's CronJob follows replicas, timeZone and a long release name", async () => {
  const release = "a-very-long-release-name-that-goes-on-and-on-forever";
  const objects = await render({ release, set: { replicas: 5, timeZone: "Etc/UTC" } });
  const cron = find(objects, "CronJob");
  assert.ok(cron.metadata.name.length <= 52, cron.metadata.name);
  assert.equal(at(cron, "spec", "timeZone"), "Etc/UTC");
  assert.equal(at(cron, "spec", "jobTemplate", "spec", "parallelism"), 5);
  assert.equal(at(cron, "spec", "jobTemplate", "spec", "completions"), 5);
});

Deno.test("chart's Deployment selects its pods by the release's selector labels", async () => {
  const objects = await deployment();
  const dep = find(objects, "Deployment");
  assert.equal(at(dep, "spec", "replicas"), 3);
  const selector = at(dep, "spec", "selector", "matchLabels");
  assert.deepEqual(selector, {
    "app.kubernetes.io/name": "dz-mcall",
    "app.kubernetes.io/instance": "dz-mcall",
  });
  const labels = at(podTemplate(objects), "metadata", "labels") as Record<string, string>;
  for (const [k, v] of Object.entries(selector as Record<string, string>)) {
    assert.equal(labels[k], v);
  }
  assert.equal(labels.app, "dz-mcall", "pods carry the guide's app label");
  assert.equal(at(podTemplate(objects), "spec", "restartPolicy"), undefined);
});

Deno.test("chart's helm test Pod runs status and is never selected as a worker", async () => {
  const objects = await cronjob();
  const pod = find(objects, "Pod");
  assert.equal(at(pod, "metadata", "annotations", "helm.sh/hook"), "test");
  const c = at(pod, "spec", "containers", 0);
  // The image's entrypoint (SIGUSR1 blocked by its launcher), as the workers' pods.
  assert.equal(at(c, "command"), undefined);
  assert.deepEqual(at(c, "args"), ["status", "-c", "/etc/dz-mcall/mcall.yaml"]);
  assert.equal(at(c, "image"), "dz-mcall:0.1.0");
  assert.equal(at(pod, "spec", "serviceAccountName"), "dz-mcall");
  assert.equal(at(pod, "spec", "restartPolicy"), "Never");
  const labels = pod.metadata.labels ?? {};
  const matches = SELECTOR.split(",").every((kv) => {
    const [k, v] = kv.split("=");
    return labels[k!] === v;
  });
  assert.equal(matches, false, "the test pod must not match the worker selector");
  assert.equal(at(c, "securityContext", "readOnlyRootFilesystem"), true);
});

Deno.test("chart renders a headless metrics Service and a ServiceMonitor when enabled", async () => {
  const objects = await render({ files: ["ci/deployment-values.yaml"] });
  const svc = find(objects, "Service");
  assert.equal(at(svc, "spec", "clusterIP"), "None");
  assert.deepEqual(at(svc, "spec", "ports"), [
    { name: "metrics", port: 8080, targetPort: "metrics", protocol: "TCP" },
  ]);
  const sm = find(objects, "ServiceMonitor");
  assert.equal(at(sm, "metadata", "labels", "release"), "prometheus");
  assert.deepEqual(at(sm, "spec", "endpoints", 0, "port"), "metrics");
  assert.deepEqual(at(sm, "spec", "endpoints", 0, "path"), "/metrics");
  const svcLabels = svc.metadata.labels ?? {};
  for (const [k, v] of Object.entries(at(sm, "spec", "selector", "matchLabels") as object)) {
    assert.equal(svcLabels[k], v);
  }
});

// ---------------------------------------------------------------------------------------------
// mcall.yaml

Deno.test("chart's mcall.yaml has the guide's example tasks, lease and app", async () => {
  const config = mcallYaml(await cronjob());
  assert.deepEqual(at(config, "request", "inputs"), [
    { input: "echo 'Hello from task 1'", name: "task1", type: "cmd" },
    { input: "echo 'Hello from task 2'", name: "task2", type: "cmd" },
  ]);
  assert.equal(at(config, "election", "enabled"), true);
  assert.equal(at(config, "election", "leaseName"), "dz-mcall-leader");
  assert.equal(at(config, "tasks", "app"), "dz-mcall");
  assert.equal(at(config, "tasks", "workerSelector"), SELECTOR);
  assert.equal(at(config, "tasks", "interval"), "5m");
  assert.equal(at(config, "tasks", "signingKeyFile"), "/etc/dz-mcall/signing/signing-key");
  assert.equal(at(config, "metrics", "port"), 8080);
  assert.equal(at(config, "webserver", "enable"), false);
});

Deno.test("chart's mcall.yaml names lease and app after another release", async () => {
  const objects = await render({ release: "probes" });
  const config = mcallYaml(objects);
  assert.equal(at(config, "election", "leaseName"), "probes-dz-mcall-leader");
  assert.equal(at(config, "tasks", "app"), "probes-dz-mcall");
  assert.equal(at(podTemplate(objects), "metadata", "labels", "app"), "probes-dz-mcall");
});

Deno.test("chart's mcall.yaml renders every task field", async () => {
  const config = mcallYaml(await render({ files: ["ci/http-probes-values.yaml"] }));
  assert.deepEqual(at(config, "request", "inputs"), [
    {
      input: "https://kubernetes.default.svc/healthz",
      name: "kubernetes-api",
      expect: "ok|Unauthorized|Forbidden",
    },
    {
      input: "http://echo.default.svc:8080/post",
      name: "echo-post",
      type: "post",
      timeout: "3s",
      body: '{"hello":"world"}',
      headers: { "Content-Type": "application/json" },
      retries: 2,
    },
    { input: "echo 3", name: "dns-count", type: "cmd", expect: "$count > 2" },
  ]);
  assert.equal(at(config, "request", "type"), "get");
  assert.equal(at(config, "tasks", "app"), "web-probes");
  assert.equal(at(config, "election", "leaseName"), "web-probes-leader");
});

for (const file of [undefined, ...SCENARIOS, "examples/values-example.yaml"]) {
  Deno.test(`chart's mcall.yaml passes the program's config schema (${file ?? "defaults"})`, async () => {
    const config = mcallYaml(await render(file ? { files: [file] } : {}));
    const parsed = ConfigSchema.safeParse(config);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  });
}

// ---------------------------------------------------------------------------------------------
// signing key

Deno.test("chart generates a 32-byte signing key Secret", async () => {
  const secret = find(await cronjob(), "Secret", "dz-mcall-signing-key");
  const fileText = atob(String(at(secret, "data", "signing-key")));
  assert.equal(Uint8Array.from(atob(fileText), (c) => c.charCodeAt(0)).length, 32);
});

Deno.test("chart uses signingKey.existingSecret instead of generating one", async () => {
  const objects = await render({ files: ["ci/http-probes-values.yaml"] });
  assert.equal(objects.some((o) => o.kind === "Secret"), false);
  const volume = (at(podTemplate(objects), "spec", "volumes") as { name: string }[])
    .find((v) => v.name === "config");
  assert.deepEqual(at(volume, "projected", "sources", 1, "secret"), {
    name: "web-probes-signing",
    items: [{ key: "key", path: "signing/signing-key", mode: 0o440 /* 288 */ }],
  });
});

// ---------------------------------------------------------------------------------------------
// upgrades

function checksum(objects: readonly K8sObject[]): string {
  return String(at(podTemplate(objects), "metadata", "annotations", "checksum/config"));
}

Deno.test("chart's checksum/config changes with interval and pollInterval, not with replicas", async () => {
  const base = await deployment();
  assert.match(checksum(base), /^[0-9a-f]{64}$/);
  const interval = await render({ set: { mode: "deployment", interval: "2m" } });
  const poll = await render({ set: { mode: "deployment", pollInterval: "10s" } });
  const replicas = await render({ set: { mode: "deployment", replicas: 4 } });
  assert.notEqual(checksum(interval), checksum(base));
  assert.notEqual(checksum(poll), checksum(base));
  assert.equal(checksum(replicas), checksum(base));
  assert.equal(at(mcallYaml(interval), "tasks", "interval"), "2m");
  assert.equal(at(mcallYaml(poll), "tasks", "pollInterval"), "10s");
});

Deno.test("chart upgrade with a new schedule changes only the CronJob's schedule (and mcall.yaml's tick)", async () => {
  const before = await cronjob();
  const after = await render({ set: { schedule: "0 * * * *" } });
  assert.equal(at(find(after, "CronJob"), "spec", "schedule"), "0 * * * *");
  // The program gets the tick too: the tasks' own schedules are checked against it, and it is
  // the interval of the checks without their own (mcall_check_interval_seconds, status).
  assert.equal(at(mcallYaml(after), "tasks", "schedule"), "0 * * * *");
  const strip = (objects: K8sObject[]) =>
    objects.filter((o) => o.kind !== "Secret").map((o) => {
      const copy = structuredClone(o);
      if (copy.kind === "CronJob") {
        (copy.spec as Record<string, unknown>).schedule = "";
        const meta = at(copy, "spec", "jobTemplate", "spec", "template", "metadata") as {
          annotations: Record<string, string>;
        };
        meta.annotations["checksum/config"] = "";
      }
      if (copy.kind === "ConfigMap" && copy.metadata.name.endsWith("-config")) {
        const data = copy.data as Record<string, string>;
        data["mcall.yaml"] = data["mcall.yaml"]!.replace(/\n {2}schedule: .*\n/, "\n");
      }
      return copy;
    });
  assert.deepEqual(strip(after), strip(before));
});

Deno.test("chart upgrade with new tasks changes mcall.yaml and the checksum", async () => {
  const before = await deployment();
  const after = await render({
    set: { mode: "deployment" },
    setJson: { tasks: [{ name: "date", input: "date -u" }] },
  });
  assert.deepEqual(at(mcallYaml(after), "request", "inputs"), [{ input: "date -u", name: "date" }]);
  assert.notEqual(checksum(after), checksum(before));
});

// ---------------------------------------------------------------------------------------------
// rejected values

interface Rejection {
  what: string;
  set?: Record<string, string | number | boolean>;
  setJson?: Record<string, unknown>;
  messages: (string | RegExp)[];
}

const SCHEMA_REJECTIONS: Rejection[] = [
  {
    what: "an unknown task type",
    setJson: { tasks: [{ name: "t", type: "shell", input: "ls" }] },
    messages: ["/tasks/0/type", "value must be one of 'cmd', 'get', 'post'"],
  },
  {
    what: "an empty task list",
    setJson: { tasks: [] },
    messages: ["/tasks", "minItems: got 0, want 1"],
  },
  {
    what: "a task without input",
    setJson: { tasks: [{ name: "t" }] },
    messages: ["/tasks/0", "missing property 'input'"],
  },
  {
    what: "a task with a blank input",
    setJson: { tasks: [{ name: "t", input: "  " }] },
    messages: ["/tasks/0/input", "does not match pattern"],
  },
  {
    what: "an unknown task field",
    setJson: { tasks: [{ input: "ls", command: "ls" }] },
    messages: ["/tasks/0", "additional properties 'command' not allowed"],
  },
  {
    what: "a bad schedule",
    set: { schedule: "every 5 minutes" },
    messages: ["/schedule", "'every 5 minutes' does not match pattern"],
  },
  {
    what: "a bad interval",
    set: { interval: "5 minutes" },
    messages: ["/interval", "'5 minutes' does not match pattern"],
  },
  {
    what: "a bad task timeout",
    setJson: { tasks: [{ input: "ls", timeout: "soon" }] },
    messages: ["/tasks/0/timeout", "'soon' does not match pattern"],
  },
  {
    what: "a bad lease duration",
    set: { "election.leaseDuration": "15 s" },
    messages: ["/election/leaseDuration", "does not match pattern"],
  },
  { what: "replicas=0", set: { replicas: 0 }, messages: ["/replicas", "minimum: got 0, want 1"] },
  {
    what: "an unknown mode",
    set: { mode: "job" },
    messages: ["/mode", "value must be one of 'cronjob', 'deployment'"],
  },
  {
    what: "concurrencyPolicy=Allow",
    set: { concurrencyPolicy: "Allow" },
    messages: ["/concurrencyPolicy", "value must be one of 'Forbid', 'Replace'"],
  },
  {
    what: "a misspelt top-level key",
    set: { intervall: "5m" },
    messages: ["additional properties 'intervall' not allowed"],
  },
  {
    what: "an invalid app label",
    set: { app: "bad app" },
    messages: ["/app", "does not match pattern"],
  },
];

for (const r of SCHEMA_REJECTIONS) {
  Deno.test(`chart's values.schema.json rejects ${r.what}`, async () => {
    const res = await templateRaw({
      ...(r.set ? { set: r.set } : {}),
      ...(r.setJson ? { setJson: r.setJson } : {}),
    });
    assert.notEqual(res.code, 0, "helm template should fail");
    assert.match(res.stderr, /values don't meet the specifications of the schema/);
    for (const m of r.messages) {
      if (typeof m === "string") assert.ok(res.stderr.includes(m), `"${m}" not in: ${res.stderr}`);
      else assert.match(res.stderr, m);
    }
  });
}

const RULE_REJECTIONS: Rejection[] = [
  {
    what: "renewDeadline not below leaseDuration",
    set: { "election.renewDeadline": "20s" },
    messages: ["election.renewDeadline (20s) must be less than election.leaseDuration (15s)"],
  },
  {
    what: "retryPeriod too close to renewDeadline",
    set: { "election.retryPeriod": "9s" },
    messages: ["election.renewDeadline (10s) must be more than 1.2 × election.retryPeriod (9s)"],
  },
  {
    what: "activeDeadlineSeconds not above roundDeadline",
    set: { activeDeadlineSeconds: 240 },
    messages: ["activeDeadlineSeconds (240) must exceed roundDeadline (4m)"],
  },
  {
    what: "durations below the program's minimums",
    set: { interval: "500ms", "election.retryPeriod": "50ms" },
    messages: [
      "interval (500ms) must be at least 1000ms",
      "election.retryPeriod (50ms) must be at least 100ms",
    ],
  },
  {
    what: "a get task without a URL",
    setJson: { tasks: [{ name: "probe", type: "get", input: "example.com" }] },
    messages: [
      'tasks[0] (probe): a get task needs an http:// or https:// URL as input, got "example.com"',
    ],
  },
  {
    what: "mcall.yaml's tasks.interval given to the chart (tasks is the list of checks)",
    set: { "tasks.interval": "1m" },
    messages: [
      "tasks is the list of checks each round runs, got a map {interval}; the time between rounds (mcall.yaml's tasks.interval) is the top-level interval (--set interval=1m), or schedule in cronjob mode",
    ],
  },
  {
    what: "a PodDisruptionBudget with neither maxUnavailable nor minAvailable",
    set: { mode: "deployment", "podDisruptionBudget.enabled": true },
    setJson: { "podDisruptionBudget.maxUnavailable": null },
    messages: [
      "podDisruptionBudget.enabled needs podDisruptionBudget.maxUnavailable or podDisruptionBudget.minAvailable",
    ],
  },
  {
    what: "duplicate task names, body on cmd and shell on post, all at once",
    setJson: {
      tasks: [
        { name: "a", input: "ls", body: "x" },
        { name: "a", type: "post", input: "http://x", shell: true },
      ],
    },
    messages: [
      "tasks[0] (a): body and headers apply to get and post tasks only, not to cmd",
      'tasks[1] (a): the name "a" is used twice; task names must be unique',
      "tasks[1] (a): shell applies to cmd tasks only, not to post",
    ],
  },
];

for (const r of RULE_REJECTIONS) {
  Deno.test(`chart's validateValues rejects ${r.what}`, async () => {
    const res = await templateRaw({
      ...(r.set ? { set: r.set } : {}),
      ...(r.setJson ? { setJson: r.setJson } : {}),
    });
    assert.notEqual(res.code, 0, "helm template should fail");
    assert.match(res.stderr, /dz-mcall: invalid values:/);
    for (const m of r.messages) {
      if (typeof m === "string") assert.ok(res.stderr.includes(m), `"${m}" not in: ${res.stderr}`);
      else assert.match(res.stderr, m);
    }
  });
}

Deno.test("chart passes the pods' terminationGracePeriodSeconds to the program", async () => {
  for (const seconds of [30, 90]) {
    const objects = await render({ set: { terminationGracePeriodSeconds: seconds } });
    assert.equal(at(podTemplate(objects), "spec", "terminationGracePeriodSeconds"), seconds);
    const config = ConfigSchema.parse(mcallYaml(objects));
    assert.equal(config.worker.terminationGracePeriodMs, seconds * 1000);
  }
});

Deno.test("chart makes its config ConfigMap the owner of the program's objects", async () => {
  for (const release of ["dz-mcall", "probes"]) {
    const objects = await render({ release });
    const configName = objects.find((o) =>
      o.kind === "ConfigMap" && o.metadata.name.endsWith("-config")
    )!.metadata.name;
    assert.equal(at(mcallYaml(objects), "tasks", "owner"), configName);
  }
});

Deno.test("chart accepts durations as numbers of seconds and compound text", async () => {
  const config = mcallYaml(
    await render({ set: { interval: 300, pollInterval: "1m30s", roundDeadline: "90s" } }),
  );
  assert.equal(at(config, "tasks", "interval"), 300);
  assert.equal(at(config, "tasks", "pollInterval"), "1m30s");
  assert.ok(ConfigSchema.safeParse(config).success);
});

// ---------------------------------------------------------------------------------------------
// NOTES

Deno.test("chart's NOTES print the guide's monitoring commands for this release", async () => {
  const text = await notes({
    release: "probes",
    namespace: "ops",
    set: { "image.repository": "registry.example.com/dz-mcall" },
  });
  assert.ok(
    text.includes(
      "kubectl -n ops get lease probes-dz-mcall-leader -o jsonpath='{.spec.holderIdentity}'",
    ),
  );
  assert.ok(
    text.includes("kubectl -n ops get configmaps -l app=probes-dz-mcall,task=true -o jsonpath="),
  );
  assert.ok(text.includes("{.metadata.annotations.processed}"));
  assert.ok(text.includes("{.metadata.annotations.processed-at}"));
  assert.ok(text.includes("-l app=probes-dz-mcall,task=true,assigned-to=<pod-name>"));
  assert.ok(text.includes("kubectl -n ops get cm -l app=probes-dz-mcall,round=true"));
  // --logs: the status table of the test pod is the point of `helm test`.
  assert.ok(text.includes("helm test probes -n ops --logs"), text);
  assert.ok(!text.includes("WARNING"), text);
});

Deno.test("chart's NOTES warn about insecure combinations", async () => {
  const text = await notes({
    set: {
      insecureUnsignedTasks: "true",
      "containerSecurityContext.readOnlyRootFilesystem": "false",
      "containerSecurityContext.runAsUser": 0,
    },
  });
  assert.match(text, /WARNING:/);
  assert.match(text, /insecureUnsignedTasks=true/);
  assert.match(text, /readOnlyRootFilesystem is off/);
  assert.match(text, /allows running as root/);
});

Deno.test("chart's NOTES warn while image.repository is values.yaml's default, unless preloaded", async () => {
  const values = parseYaml(await Deno.readTextFile(`${CHART_DIR}/values.yaml`)) as {
    image: { repository: string };
  };
  const warning = `image.repository is the chart's default "${values.image.repository}"`;
  const byDefault = await notes();
  assert.ok(byDefault.includes(warning), byDefault);
  assert.match(byDefault, /build the image .* push it, and set image\.repository/);
  const pushed = await notes({ set: { "image.repository": "registry.example.com/dz-mcall" } });
  assert.ok(!pushed.includes("WARNING"), pushed);
  // An image imported onto the nodes (the real-node tests) is never pulled.
  const preloaded = await notes({ set: { "image.pullPolicy": "Never" } });
  assert.ok(!preloaded.includes("WARNING"), preloaded);
});

Deno.test("chart's NOTES say a PodDisruptionBudget does nothing in cronjob mode", async () => {
  const set = { "image.repository": "r.example.com/dz-mcall", "podDisruptionBudget.enabled": true };
  assert.match(
    await notes({ set }),
    /podDisruptionBudget\.enabled has no effect with mode=cronjob/,
  );
  assert.doesNotMatch(await notes({ set: { ...set, mode: "deployment" } }), /WARNING/);
});
