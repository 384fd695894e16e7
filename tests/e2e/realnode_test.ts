/**
 * The product as users run it, on a real Kubernetes node: our image in real containers (started
 * by a real kubelet through containerd and runc), our chart installed by `helm install`, rounds
 * run by the real CronJob and Deployment controllers. The program is never started by this test:
 * everything goes through helm and kubectl, as an operator would.
 *
 * What it proves (issue 9 and the lifecycle fixes of issue 14):
 * - CronJob mode in a `restricted` Pod Security namespace: 5 rounds triggered with `kubectl create
 *   job --from=cronjob/…`; every Job Complete, every pod exit 0, every task executed exactly once
 *   per round (counted by an HTTP server the pods reach), its result recorded on its ConfigMap and
 *   logged; history within the limits; no `forbidden` in any log; one lease transition per round.
 * - The guide's kubectl commands, verbatim, against a default install.
 * - `helm test` passes after a round; `helm uninstall` leaves no object of ours behind.
 * - Deployment mode: `helm upgrade --set interval=…` rolls the pods, no past slot is planned and the
 *   next rounds follow the new interval; `kubectl delete pod <leader>` → a new leader within 2 s;
 *   `kubectl delete pod <worker> --grace-period=0 --force` mid-task → the task is reassigned and
 *   recorded once.
 * - The audit log: every verb the chart's ServiceAccount used is one its Role grants, and every
 *   verb the Role grants was used (but those documented as optional).
 *
 * @module
 */
import { sigBlk, SIGUSR1_BIT } from "../native/sigmask.ts";
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { startCountingServer } from "./counting_server.ts";
import { waitFor } from "./harness.ts";
import { kubectlAt, ok, podLogsAt } from "./release_pods.ts";
import { buildImage, type RealNode, realNodeTest } from "./real_node.ts";
import { auditedVerbs, grantedVerbs, OPTIONAL_GRANTS } from "./audit.ts";
import { failingCheck } from "./realnode_observe.ts";
import { chartRoleRules } from "../chart/helpers.ts";

const CHART = decodeURIComponent(new URL("../../chart", import.meta.url).pathname);
/** The guide's release name: fullname, app label and Lease name are all `dz-mcall…`. */
const RELEASE = "dz-mcall";
const APP = "dz-mcall";
const LEASE = "dz-mcall-leader";
const ROUNDS = 5;
const HISTORY_LIMIT = 2;
/** The CronJob round in which the `flaky` check fails. */
const FAILING_ROUND = 2;

type Step = (name: string, fn: () => Promise<void>) => Promise<boolean>;

realNodeTest("real node: the chart and image through helm and kubectl", async (node, t, defer) => {
  const timings: Record<string, number> = {};
  const time = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[what] = Date.now() - t0;
    }
  };
  const step: Step = (name, fn) =>
    t.step({ name, fn, sanitizeOps: false, sanitizeResources: false, sanitizeExit: false });
  const kubectl = async (ns: string, ...args: string[]) =>
    ok(`kubectl ${args.join(" ")}`, await kubectlAt(node.kubeconfigPath, ns, args));
  const helm = async (ns: string, ...args: string[]) =>
    ok(`helm ${args.slice(0, 2).join(" ")}`, await node.helm([...args, "-n", ns]));

  const image = await time("image build", () => buildImage());
  await time("image import", () => node.importImage(image.archive));

  // An HTTP server on the node's address: pods reach it, and it counts every task's execution.
  const server = startCountingServer({ hostname: node.address });
  defer(() => server.close());
  const core = node.kc.makeApiClient(k8s.CoreV1Api);
  const leases = node.kc.makeApiClient(k8s.CoordinationV1Api);

  const ns = `dz-real-${Date.now().toString(36)}`;
  await kubectl("default", "create", "namespace", ns);
  await kubectl(
    "default",
    "label",
    "namespace",
    ns,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
  );

  const tasks = [
    { name: "cmd-wget", type: "cmd", input: `wget -q -O- ${server.url}/cmd/wget`, expect: "ok" },
    {
      name: "sh-echo",
      type: "cmd",
      shell: true,
      input: `echo shell-ok && wget -q -O /dev/null ${server.url}/cmd/sh`,
      expect: "shell-ok",
    },
    { name: "probe-get", type: "get", input: `${server.url}/get/probe`, expect: "ok" },
    // Fails in round FAILING_ROUND only (the server answers "bad" then): a failed round to keep.
    { name: "flaky", type: "get", input: `${server.url}/get/flaky`, expect: "ok" },
    // In flight long enough to kill its container mid-task.
    { name: "slow", type: "get", input: `${server.url}/slow/cron?ms=3000`, timeout: "20s" },
    {
      name: "probe-post",
      type: "post",
      input: `${server.url}/post/probe`,
      body: '{"check":"post"}',
      headers: { "Content-Type": "application/json" },
      expect: "ok",
    },
  ];
  const paths = ["/cmd/wget", "/cmd/sh", "/get/probe", "/get/flaky", "/slow/cron", "/post/probe"];
  const values = {
    image: { repository: image.repository, tag: image.tag, pullPolicy: "Never" },
    replicas: 2,
    // Far from now: the CronJob controller never starts a round of its own; the test triggers.
    schedule: "0 0 1 1 *",
    historyLimit: HISTORY_LIMIT,
    failedHistoryLimit: 1,
    tasks,
  };
  const valuesFile = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(valuesFile, stringify(values));

  await step("helm install into a restricted namespace: admitted", async () => {
    await time("helm install", () => helm(ns, "install", RELEASE, CHART, "-f", valuesFile));
  });

  const roundJobs: string[] = [];
  const transitionsBefore = async () =>
    (await leases.readNamespacedLease({ name: LEASE, namespace: ns }).catch(() => undefined))
      ?.spec?.leaseTransitions ?? 0;
  let transitions0 = 0;

  await step(`CronJob mode: ${ROUNDS} rounds, every task exactly once each`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      if (round === 2) transitions0 = await transitionsBefore();
      const job = `${RELEASE}-r${round}-${Date.now().toString(36)}`;
      roundJobs.push(job);
      server.setBody("/get/flaky", round === FAILING_ROUND ? "bad" : undefined);
      await time(`round ${round}`, async () => {
        await kubectl(ns, "create", "job", `--from=cronjob/${RELEASE}`, job);
        await kubectl(ns, "wait", "--for=condition=complete", `job/${job}`, "--timeout=120s")
          .catch(async (e) => {
            throw new Error(
              `${(e as Error).message}\n${await podLogsAt(
                node.kubeconfigPath,
                ns,
                `batch.kubernetes.io/job-name=${job}`,
              )}`,
            );
          });
      });
      const pods = (await core.listNamespacedPod({
        namespace: ns,
        labelSelector: `batch.kubernetes.io/job-name=${job}`,
      })).items;
      assert.equal(pods.length, values.replicas, `pods of ${job}`);
      for (const p of pods) {
        const state = p.status?.containerStatuses?.[0];
        assert.equal(state?.state?.terminated?.exitCode, 0, `${p.metadata?.name} exit code`);
        assert.equal(state?.restartCount, 0, `${p.metadata?.name} restarts`);
      }
      for (const path of paths) {
        assert.equal(server.count(path), round, `${path} executed once per round (round ${round})`);
      }
      const cms = (await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: `app=${APP},task=true,round-id=${job}`,
      })).items;
      assert.equal(cms.length, tasks.length, `task ConfigMaps of ${job}`);
      const logs = await podLogsAt(node.kubeconfigPath, ns, `batch.kubernetes.io/job-name=${job}`);
      for (const cm of cms) {
        const name = cm.metadata?.name ?? "";
        const fails = round === FAILING_ROUND && JSON.parse(cm.data?.spec ?? "{}").name === "flaky";
        assert(!name.startsWith(`${RELEASE}-${RELEASE}-`), `no doubled prefix: ${name}`);
        assert.equal(cm.metadata?.annotations?.processed, "true", name);
        assert.equal(cm.metadata?.labels?.state, fails ? "failed" : "succeeded", name);
        // `kubectl logs` shows each task's result, on the line of the pod that ran it.
        const pod = cm.metadata?.labels?.["assigned-to"] ?? "";
        const line = logs.split("\n").find((l) =>
          l.includes(`[pod/${pod}/`) && l.includes('"task-finished"') && l.includes(name)
        );
        assert(line, `${name}: a task-finished line in ${pod}'s log\n${logs}`);
        assert.match(line, new RegExp(`"state":"${fails ? "failed" : "succeeded"}"`), line);
      }
      assert.doesNotMatch(logs, /forbidden/i, `round ${round}: no forbidden request\n${logs}`);
    }
  });

  await step(
    "history within the limits, the failed round kept; one lease transition per round",
    async () => {
      const taskCms = (await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: `app=${APP},task=true`,
      })).items;
      const rounds = (state: string) =>
        [
          ...new Set(
            taskCms.filter((c) => c.metadata?.labels?.state === state)
              .map((c) => c.metadata?.labels?.["round-id"]),
          ),
        ].sort();
      // The newest historyLimit rounds' results, plus the failure of the one failed round
      // (failedHistoryLimit 1), which is older than them: the failure an operator must read stays.
      assert.deepEqual(rounds("succeeded"), roundJobs.slice(-HISTORY_LIMIT).sort());
      assert.deepEqual(rounds("failed"), [roundJobs[FAILING_ROUND - 1]]);
      assert.equal(
        taskCms.length,
        HISTORY_LIMIT * tasks.length + 1,
        taskCms.map((c) => c.metadata?.name).join(" "),
      );
      const summaries = (await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: `app=${APP},round=true`,
      })).items;
      // Summaries of the kept rounds: the newest historyLimit ones and the failed one.
      assert.deepEqual(
        summaries.map((c) => c.metadata?.labels?.["round-id"]).sort(),
        [...roundJobs.slice(-HISTORY_LIMIT), roundJobs[FAILING_ROUND - 1]].sort(),
      );
      const transitions = (await transitionsBefore()) - transitions0;
      assert(
        transitions <= ROUNDS - 1,
        `lease transitions over rounds 2..${ROUNDS}: ${transitions} (a finished pod took the lease)`,
      );
    },
  );

  await step("a container killed in place takes its own task up again within seconds", async () => {
    const job = `${RELEASE}-kill-${Date.now().toString(36)}`;
    await kubectl(ns, "create", "job", `--from=cronjob/${RELEASE}`, job);
    const slowOf = (cms: k8s.V1ConfigMap[]) =>
      cms.find((c) => JSON.parse(c.data?.spec ?? "{}").name === "slow");
    const running = await waitFor(async () => {
      const cms = (await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: `app=${APP},task=true,round-id=${job},state=running`,
      })).items;
      return slowOf(cms);
    }, { timeoutMs: 60_000, intervalMs: 100, message: "the slow task running" });
    const name = running.metadata?.name ?? "";
    const podName = running.metadata?.labels?.["assigned-to"] ?? "";
    const pod = await core.readNamespacedPod({ name: podName, namespace: ns });
    const container = (pod.status?.containerStatuses?.[0]?.containerID ?? "").replace(
      /^containerd:\/\//,
      "",
    );
    assert(container, `${podName} has a container id`);
    const [ctr = "ctr", ...ctrArgs] = node.harness.node.ctr.split(" ");
    const t0 = Date.now();
    const kill = await new Deno.Command(ctr, {
      args: [...ctrArgs, "tasks", "kill", "--signal", "SIGKILL", container],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(kill.code, 0, new TextDecoder().decode(kill.stderr));
    const done = await waitFor(async () => {
      const cm = await core.readNamespacedConfigMap({ name, namespace: ns });
      return cm.metadata?.labels?.state === "succeeded" && cm;
    }, { timeoutMs: 60_000, message: `${name} succeeded after its container was killed` });
    const ms = Date.now() - t0;
    console.error(`real node: killed container → its task recorded after ${ms} ms`);
    // The stuck rule would take timeout (20 s) + stuckGrace (30 s): this must be far sooner.
    assert(ms < 15_000, `${name} recorded ${ms} ms after the kill`);
    assert.equal(done.metadata?.annotations?.processed, "true");
    await kubectl(ns, "wait", "--for=condition=complete", `job/${job}`, "--timeout=120s");
    const after = await core.readNamespacedPod({ name: podName, namespace: ns });
    const st = after.status?.containerStatuses?.[0];
    assert.equal(st?.restartCount, 1, `${podName} was restarted in place once`);
    assert.equal(st?.state?.terminated?.exitCode, 0, `${podName} ends the round with exit 0`);
    roundJobs.push(job);
  });

  await step("the guide's kubectl commands, verbatim, while a round runs", async () => {
    const job = `${RELEASE}-guide-${Date.now().toString(36)}`;
    await kubectl(ns, "create", "job", `--from=cronjob/${RELEASE}`, job);
    const holder = await waitFor(async () => {
      const h = await kubectl(
        ns,
        "get",
        "lease",
        "dz-mcall-leader",
        "-o",
        "jsonpath={.spec.holderIdentity}",
      );
      return h.startsWith(job) && h;
    }, { timeoutMs: 60_000, message: "a pod of the round holds the lease" });
    const rows = await kubectl(
      ns,
      "get",
      "configmaps",
      "-l",
      "app=dz-mcall,task=true",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.metadata.annotations.processed}{"\\t"}{.metadata.annotations.processed-at}{"\\n"}{end}',
    );
    assert(rows.trim().split("\n").length >= tasks.length, rows);
    await kubectl(ns, "wait", "--for=condition=complete", `job/${job}`, "--timeout=120s");
    const assigned = await kubectl(
      ns,
      "get",
      "configmaps",
      "-l",
      `app=dz-mcall,task=true,assigned-to=${holder}`,
      "-o",
      "name",
    );
    const mine = (await core.listNamespacedConfigMap({
      namespace: ns,
      labelSelector: `app=${APP},task=true,assigned-to=${holder}`,
    })).items.map((c) => `configmap/${c.metadata?.name}`);
    assert.deepEqual(assigned.trim().split("\n").filter(Boolean).sort(), mine.sort());
    const logs = await kubectl(ns, "logs", "-l", "app=dz-mcall", "--tail=-1", "--prefix");
    assert.match(logs, /Round .* is over/, "kubectl logs -l app=dz-mcall shows the rounds");
  });

  await failingCheck(node, ns, step, tasks, valuesFile);

  await step("helm test passes after a round", async () => {
    const out = await time("helm test", () => helm(ns, "test", RELEASE, "--timeout", "90s"));
    assert.match(out, /Phase:\s+Succeeded/, out);
  });

  await step("helm uninstall leaves none of our objects", async () => {
    await time(
      "helm uninstall",
      () => helm(ns, "uninstall", RELEASE, "--wait", "--timeout", "120s"),
    );
    await waitFor(async () => {
      const cms =
        (await core.listNamespacedConfigMap({ namespace: ns, labelSelector: `app=${APP}` }))
          .items.map((c) => c.metadata?.name);
      const lease = await leases.readNamespacedLease({ name: LEASE, namespace: ns }).then(
        () => true,
        () => false,
      );
      const pods = (await core.listNamespacedPod({ namespace: ns })).items.length;
      return cms.length === 0 && !lease && pods === 0;
    }, { timeoutMs: 90_000, message: "no ConfigMap, Lease or pod of the release left" });
  });

  await deploymentMode(node, ns, step, server, time);

  await step(
    "audit: the ServiceAccount used exactly the verbs the chart's Role grants",
    async () => {
      const granted = grantedVerbs(await chartRoleRules(LEASE));
      const used = await auditedVerbs(node.auditLog, `system:serviceaccount:${ns}:${RELEASE}`);
      console.error(`real node: verbs the ServiceAccount used: ${[...used].sort().join(" ")}`);
      const missing = [...used].filter((v) => !granted.has(v));
      assert.deepEqual(missing, [], "verbs used that the Role lacks");
      const unused = [...granted].filter((v) => !used.has(v) && !OPTIONAL_GRANTS.has(v));
      assert.deepEqual(unused, [], "verbs granted that nothing used");
    },
  );

  console.error(`real-node timings (ms): ${JSON.stringify(timings)}`);
});

/**
 * Prints each running pod's container memory as the kubelet reports it (its stats summary, through
 * the API server's node proxy): working set and RSS.
 */
async function reportMemory(node: RealNode, ns: string): Promise<void> {
  const r = await kubectlAt(node.kubeconfigPath, ns, [
    "get",
    "--raw",
    `/api/v1/nodes/${node.harness.node.name}/proxy/stats/summary`,
  ]);
  if (r.code !== 0) {
    console.error(`real node: no stats summary: ${r.stderr.trim()}`);
    return;
  }
  type Stats = {
    podRef: { name: string; namespace: string };
    containers?: { name: string; memory?: { workingSetBytes?: number; rssBytes?: number } }[];
  };
  const mib = (n: number | undefined) => n === undefined ? "?" : (n / 2 ** 20).toFixed(1);
  for (const p of (JSON.parse(r.stdout) as { pods?: Stats[] }).pods ?? []) {
    if (p.podRef.namespace !== ns) continue;
    for (const c of p.containers ?? []) {
      console.error(
        `real node: ${p.podRef.name}/${c.name} memory: working set ${
          mib(c.memory?.workingSetBytes)
        } MiB, rss ${mib(c.memory?.rssBytes)} MiB`,
      );
    }
  }
}

/** Seconds since the epoch of a round id `YYYYMMDD-HHMMSS` (Deployment mode's slot ids). */
function slotSeconds(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/.exec(id);
  assert(m, `round id ${id} is a slot id`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000;
}

interface Summary {
  round: string;
  phase: string;
  total: number;
  succeeded: number;
  leader: string;
  /** When the round was planned (RFC 3339). */
  start: string;
}

/** The round summaries of Deployment mode (slot ids; a CronJob round is named after its Job). */
async function summaries(core: k8s.CoreV1Api, ns: string): Promise<Summary[]> {
  return (await core.listNamespacedConfigMap({
    namespace: ns,
    labelSelector: `app=${APP},round=true`,
  }))
    .items.map((c) => ({
      round: c.metadata?.labels?.["round-id"] ?? "",
      phase: c.data?.phase ?? "",
      total: Number(c.data?.total ?? "0"),
      succeeded: Number(c.data?.succeeded ?? "0"),
      leader: c.data?.leader ?? "",
      start: c.data?.start ?? "",
    })).filter((s) => /^\d{8}-\d{6}$/.test(s.round))
    .sort((a, b) => a.round.localeCompare(b.round));
}

async function leaseHolder(leases: k8s.CoordinationV1Api, ns: string): Promise<string> {
  const l = await leases.readNamespacedLease({ name: LEASE, namespace: ns }).catch(() => undefined);
  return l?.spec?.holderIdentity ?? "";
}

/** Deployment mode: reinstall, interval change by helm upgrade, leader and worker deletes. */
async function deploymentMode(
  node: RealNode,
  ns: string,
  step: Step,
  server: ReturnType<typeof startCountingServer>,
  time: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const core = node.kc.makeApiClient(k8s.CoreV1Api);
  const leases = node.kc.makeApiClient(k8s.CoordinationV1Api);
  const helm = async (...args: string[]) =>
    ok(`helm ${args.slice(0, 2).join(" ")}`, await node.helm([...args, "-n", ns]));
  const kubectl = async (...args: string[]) =>
    ok(`kubectl ${args.join(" ")}`, await kubectlAt(node.kubeconfigPath, ns, args));
  const image = await buildImage();
  const tasks = [
    { name: "quick", type: "get", input: `${server.url}/dep/quick`, expect: "ok" },
    { name: "echo", type: "cmd", input: "echo deployment-ok", expect: "deployment-ok" },
    // Slow enough to be in flight when a pod goes away; well below interval and timeout.
    { name: "slow", type: "get", input: `${server.url}/slow/dep?ms=6000`, timeout: "20s" },
  ];
  const valuesFile = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    valuesFile,
    stringify({
      image: { repository: image.repository, tag: image.tag, pullPolicy: "Never" },
      mode: "deployment",
      replicas: 3,
      interval: "15s",
      stuckGrace: "30s",
      tasks,
    }),
  );

  await step("deployment mode: a reinstall gets a leader at once", async () => {
    const installedAt = Date.now();
    await time(
      "helm install (deployment)",
      () => helm("install", RELEASE, CHART, "-f", valuesFile),
    );
    // A pod of this Deployment leads (not a holder left over from before).
    const { holder, pod } = await waitFor(async () => {
      const holder = await leaseHolder(leases, ns);
      const pod = holder
        ? await core.readNamespacedPod({ name: holder, namespace: ns }).catch(() => undefined)
        : undefined;
      return pod?.status?.containerStatuses?.[0]?.state?.running && { holder, pod };
    }, { timeoutMs: 60_000, message: "a running pod of the Deployment leads" });
    const lease = await leases.readNamespacedLease({ name: LEASE, namespace: ns });
    const started = Date.parse(
      String(pod.status?.containerStatuses?.[0]?.state?.running?.startedAt),
    );
    const acquired = Date.parse(String(lease.spec?.acquireTime));
    // One retry period (2 s) plus the program's start-up: no stale lease to wait out.
    console.error(
      `real node: reinstall → ${holder} leads ${acquired - started} ms after its start`,
    );
    // No stale lease to wait out: the uninstall deleted the old one, so the first candidate
    // created a new Lease and took it without a transition.
    const created = Date.parse(String(lease.metadata?.creationTimestamp));
    assert(
      created >= installedAt - 1_000,
      `the Lease is new (created ${lease.metadata?.creationTimestamp})`,
    );
    assert.equal(lease.spec?.leaseTransitions ?? 0, 0, "taken without a transition");
    // Container start (whole seconds in the pod status) → the program's first log line.
    const first = (await kubectl("logs", holder, "--timestamps")).split(" ")[0] ?? "";
    console.error(
      `real node: ${holder} started ${
        pod.status?.containerStatuses?.[0]?.state?.running?.startedAt
      }, ` +
        `first log line ${first} (+${Date.parse(first) - started} ms)`,
    );
  });

  const completeRounds = async (n: number, after = "") =>
    await waitFor(async () => {
      const done = (await summaries(core, ns)).filter((s) =>
        s.round > after && s.phase === "complete"
      );
      return done.length >= n && done;
    }, {
      timeoutMs: 30_000 * (n + 1),
      message: `${n} complete rounds after ${after || "install"}`,
    });

  let lastBefore = "";
  await step("rounds every 15 s, every task once", async () => {
    const done = await completeRounds(2);
    for (const s of done) assert.equal(s.succeeded, tasks.length, JSON.stringify(s));
    const [a, b] = done.slice(-2).map((s) => slotSeconds(s.round));
    assert.equal(b! - a!, 15, "consecutive slots 15 s apart");
    lastBefore = done.at(-1)!.round;
  });

  await step(
    "helm upgrade --set interval=30s: rolls the pods; no past slot; new spacing",
    async () => {
      const podsBefore =
        (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${APP}` }))
          .items.map((p) => p.metadata?.name);
      const upgradedAt = Date.now();
      await time(
        "helm upgrade",
        () => helm("upgrade", RELEASE, CHART, "--reuse-values", "--set", "interval=30s"),
      );
      await kubectl("rollout", "status", `deployment/${RELEASE}`, "--timeout=180s");
      const podsAfter =
        (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${APP}` }))
          .items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name);
      assert(podsAfter.every((p) => !podsBefore.includes(p)), "every pod replaced");
      // Two complete rounds planned by a leader of the new pods (the old leader may still plan
      // one slot of the old interval during the rollout).
      const all = await waitFor(async () => {
        const all = await summaries(core, ns);
        const byNew = all.filter((s) => podsAfter.includes(s.leader) && s.phase === "complete");
        return byNew.length >= 2 && all;
      }, { timeoutMs: 150_000, message: "2 complete rounds planned by the new pods" });
      // Round ids never go backwards: in planning order the ids only grow, and every round
      // planned after the upgrade comes after the last one planned before it.
      const planned = [...all].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
      const ids = planned.map((s) => s.round);
      assert.deepEqual(ids, [...ids].sort(), "round ids in planning order");
      for (const s of planned.filter((s) => Date.parse(s.start) > upgradedAt)) {
        assert(s.round > lastBefore, `${s.round} planned after the upgrade, after ${lastBefore}`);
      }
      const mine = planned.filter((s) => podsAfter.includes(s.leader)).map((s) =>
        slotSeconds(s.round)
      );
      const gaps = mine.slice(1).map((x, i) => x - mine[i]!);
      assert(gaps.length > 0 && gaps.every((g) => g === 30), `new interval: gaps ${gaps}`);
      for (const s of (await summaries(core, ns)).filter((s) => s.phase === "complete")) {
        assert.equal(s.succeeded, tasks.length, `every task of ${s.round} succeeded`);
      }
    },
  );

  await step("SIGUSR1 to the leader's program opens no inspector; it keeps leading", async () => {
    // The image's entrypoint blocks SIGUSR1 (native/nosigusr1.c); unblocked, Deno would open an
    // unauthenticated V8 inspector on 127.0.0.1:9229 in the pod (tests/e2e/image_test.ts shows
    // the control). PID 1 is the program: the launcher and the image's sh launcher exec in place.
    const leader = await leaseHolder(leases, ns);
    assert(leader, "a leader");
    const restarts = async () =>
      (await core.readNamespacedPod({ name: leader, namespace: ns })).status
        ?.containerStatuses?.[0]?.restartCount;
    const before = await restarts();
    const out = await kubectl(
      "exec",
      leader,
      "--",
      "sh",
      "-c",
      "grep SigBlk /proc/1/status; kill -USR1 1; sleep 1; " +
        "if wget -q -T 2 -O /dev/null http://127.0.0.1:9229/json/version; " +
        "then echo inspector open; else echo inspector closed; fi",
    );
    const [mask, verdict] = out.trim().split("\n");
    assert.equal(sigBlk(mask ?? "") & SIGUSR1_BIT, SIGUSR1_BIT, `PID 1's ${mask}`);
    assert.equal(verdict, "inspector closed");
    assert.equal(await leaseHolder(leases, ns), leader, "still the leader");
    assert.equal(await restarts(), before, "not restarted");
  });

  await step("kubectl delete pod <leader>: a new leader within 2 s", async () => {
    const old = await leaseHolder(leases, ns);
    assert(old, "a leader");
    const t0 = Date.now();
    const del = kubectl("delete", "pod", old, "--wait=false");
    const next = await waitFor(async () => {
      const h = await leaseHolder(leases, ns);
      return h && h !== old && h;
    }, { timeoutMs: 20_000, intervalMs: 50, message: "a new leader" });
    const ms = Date.now() - t0;
    await del;
    assert(ms <= 2_000, `new leader ${next} after ${ms} ms`);
  });

  /** Waits for the slow task (index 2) of a round to run on a pod that does not lead. */
  const slowTaskOnWorker = async () => {
    const leader = await leaseHolder(leases, ns);
    const running = await waitFor(async () => {
      const cms = (await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: `app=${APP},task=true,state=running`,
      })).items.filter((c) =>
        c.metadata?.name?.endsWith("-002") && c.metadata.labels?.["assigned-to"] !== leader
      );
      return cms[0];
    }, { timeoutMs: 90_000, intervalMs: 100, message: "the slow task running on a worker" });
    return { name: running.metadata!.name!, worker: running.metadata!.labels!["assigned-to"]! };
  };

  await step(
    "kubectl delete pod <worker> mid-task: it finishes the task, recorded once",
    async () => {
      // A graceful delete, as in every rolling update: the pod stops claiming, finishes what it
      // runs within its grace period (30 s; the task takes 6 s) and records it, attempt 1.
      const { name, worker } = await slowTaskOnWorker();
      await kubectl("delete", "pod", worker, "--wait=false");
      const done = await waitFor(async () => {
        const cm = await core.readNamespacedConfigMap({ name, namespace: ns });
        const state = cm.metadata?.labels?.state;
        return (state === "succeeded" || state === "failed") && cm;
      }, { timeoutMs: 60_000, message: `${name} finished after its pod was deleted` });
      assert.equal(done.metadata?.labels?.state, "succeeded", "an aborted run is never the result");
      assert.equal(done.metadata?.labels?.["assigned-to"], worker, "finished by the deleted pod");
      assert.equal(done.metadata?.annotations?.attempt, "1", "no second attempt");
      assert.equal(done.metadata?.annotations?.processed, "true");
    },
  );

  await step(
    "kubectl delete pod <worker> --force mid-task: reassigned, recorded once",
    async () => {
      const { name, worker } = await slowTaskOnWorker();
      const t0 = Date.now();
      await kubectl("delete", "pod", worker, "--grace-period=0", "--force");
      const done = await waitFor(async () => {
        const cm = await core.readNamespacedConfigMap({ name, namespace: ns });
        return cm.metadata?.labels?.state === "succeeded" && cm;
      }, { timeoutMs: 60_000, message: `${name} succeeded after its pod was deleted` });
      const ms = Date.now() - t0;
      assert.notEqual(done.metadata?.labels?.["assigned-to"], worker, "reassigned");
      assert.equal(done.metadata?.annotations?.processed, "true");
      // Within seconds: well before the stuck rule (timeout 20 s + stuckGrace 30 s).
      assert(ms < 20_000, `recorded ${ms} ms after the force delete`);
    },
  );

  await step("helm uninstall (deployment): nothing of ours left", async () => {
    await reportMemory(node, ns); // after several rounds, before the pods go
    await helm("uninstall", RELEASE, "--wait", "--timeout", "120s");
    await waitFor(async () => {
      const cms =
        (await core.listNamespacedConfigMap({ namespace: ns, labelSelector: `app=${APP}` }))
          .items.length;
      const lease = await leases.readNamespacedLease({ name: LEASE, namespace: ns }).then(
        () => true,
        () => false,
      );
      return cms === 0 && !lease;
    }, { timeoutMs: 90_000, message: "no ConfigMap or Lease of the release left" });
  });
}
