/**
 * Every check on its own schedule (issue 21), on the real node through helm and kubectl only.
 * Two releases run at the same time, in two namespaces, against one counting server:
 *
 * - Deployment mode: checks every `10s`, every `30s` and on cron `*\/1 * * * *` for 3 minutes →
 *   18±1 / 6±1 / 3±1 runs; `kubectl delete pod <leader>` half way; each check's rounds (its task
 *   ConfigMaps, all kept with `historyLimit: 100`) are exactly its due times, none twice. Then
 *   `helm upgrade` changes the 30-s check to `20s`: over the next 2 minutes 12±1 / 6±1 / 2±1, and
 *   the rounds of the changed check are 20 s apart while the others keep theirs.
 * - CronJob mode: a round created every ~30 s with `kubectl create job --from=cronjob` for 4
 *   minutes; the task with `schedule: "*\/2 * * * *"` runs 2±1 times, exactly in the rounds that
 *   started first after each of its due times (and in the first round), the others in every round.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { type CountingServer, startCountingServer } from "./counting_server.ts";
import { waitFor } from "./harness.ts";
import { kubectlAt, ok } from "./release_pods.ts";
import { buildImage, type RealNode, realNodeTest } from "./real_node.ts";

const CHART = decodeURIComponent(new URL("../../chart", import.meta.url).pathname);
const RELEASE = "dz-mcall";
const APP = "dz-mcall";
const LEASE = "dz-mcall-leader";

/** Seconds since the epoch of a slot round id `YYYYMMDD-HHMMSS`. */
function slotSeconds(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/.exec(id);
  assert(m, `round id ${id} is a slot id`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000;
}

/** Counts per path since `counts()` was called. */
function since(server: CountingServer, paths: readonly string[]) {
  const base = paths.map((p) => server.count(p));
  return () => paths.map((p, i) => server.count(p) - base[i]!);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asserts `n` is within `want ± 1`. */
function about(n: number, want: number, what: string): void {
  assert(Math.abs(n - want) <= 1, `${what}: ${n} runs, expected ${want}±1`);
}

interface Tools {
  node: RealNode;
  ns: string;
  core: k8s.CoreV1Api;
  kubectl: (...args: string[]) => Promise<string>;
  helm: (...args: string[]) => Promise<string>;
  log: (line: string) => void;
}

async function tools(node: RealNode, prefix: string, out: string[]): Promise<Tools> {
  const ns = `${prefix}-${Date.now().toString(36)}`;
  const kubectl = async (...args: string[]) =>
    ok(`kubectl ${args.join(" ")}`, await kubectlAt(node.kubeconfigPath, ns, args));
  ok(
    "kubectl create namespace",
    await kubectlAt(node.kubeconfigPath, "default", ["create", "namespace", ns]),
  );
  return {
    node,
    ns,
    core: node.kc.makeApiClient(k8s.CoreV1Api),
    kubectl,
    helm: async (...args: string[]) =>
      ok(`helm ${args.slice(0, 2).join(" ")}`, await node.helm([...args, "-n", ns])),
    log: (line) => {
      out.push(`${prefix}: ${line}`);
      console.error(`real node (${prefix}): ${line}`);
    },
  };
}

/** Each check's kept task rounds, by input index (task names end in the index). */
async function roundsByCheck(x: Tools): Promise<Map<number, string[]>> {
  const cms = (await x.core.listNamespacedConfigMap({
    namespace: x.ns,
    labelSelector: `app=${APP},task=true`,
  })).items;
  const out = new Map<number, string[]>();
  for (const c of cms) {
    const index = Number(/-(\d{3})$/.exec(c.metadata?.name ?? "")?.[1]);
    const list = out.get(index) ?? [];
    list.push(c.metadata?.labels?.["round-id"] ?? "");
    out.set(index, list.sort());
  }
  return out;
}

/**
 * The slot rounds since `from` as `HHMMSS+lag[checks]`: how long after its slot each round was
 * planned (its summary's `start`), to tell a slow node from a planning fault.
 */
async function roundLags(x: Tools, from: number): Promise<string> {
  const cms = (await x.core.listNamespacedConfigMap({
    namespace: x.ns,
    labelSelector: `app=${APP},round=true`,
  })).items;
  return cms.map((c) => ({
    round: c.metadata?.labels?.["round-id"] ?? "",
    start: Date.parse(c.data?.start ?? "") / 1000,
    checks: c.data?.checks ?? "?",
  })).filter((r) => /^\d{8}-\d{6}$/.test(r.round) && slotSeconds(r.round) >= from - 10)
    .sort((a, b) => a.round.localeCompare(b.round))
    .map((r) => `${r.round.slice(9)}+${Math.round(r.start - slotSeconds(r.round))}[${r.checks}]`)
    .join(" ");
}

/** Gaps in seconds between a check's consecutive slot rounds within [from, to] (seconds). */
function gaps(rounds: readonly string[], from: number, to: number): number[] {
  const t = rounds.map(slotSeconds).filter((s) => s >= from && s <= to);
  return t.slice(1).map((s, i) => s - t[i]!);
}

async function deploymentMode(x: Tools, server: CountingServer, image: string[]): Promise<void> {
  const paths = ["/sched/10", "/sched/30", "/sched/cron"];
  const task = (name: string, path: string, cadence: Record<string, string>) => ({
    name,
    type: "get",
    input: `${server.url}${path}`,
    expect: "ok",
    ...cadence,
  });
  const tasks = [
    task("every-10s", paths[0]!, { interval: "10s" }),
    task("every-30s", paths[1]!, { interval: "30s" }),
    task("cron-1m", paths[2]!, { schedule: "*/1 * * * *" }),
  ];
  const valuesFile = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    valuesFile,
    stringify({
      image: { repository: image[0], tag: image[1], pullPolicy: "Never" },
      mode: "deployment",
      replicas: 2,
      interval: "5m",
      historyLimit: 100,
      tasks,
    }),
  );
  await x.helm("install", RELEASE, CHART, "-f", valuesFile);
  await waitFor(() => paths.every((p) => server.count(p) > 0), {
    timeoutMs: 120_000,
    message: "the first round ran every check",
  });

  // 3 minutes; the leader is deleted half way.
  const from = Math.ceil(Date.now() / 1000);
  const counts = since(server, paths);
  await sleep(90_000);
  const leases = x.node.kc.makeApiClient(k8s.CoordinationV1Api);
  const leader = (await leases.readNamespacedLease({ name: LEASE, namespace: x.ns })).spec
    ?.holderIdentity ?? "";
  assert(leader, "a leader");
  await x.kubectl("delete", "pod", leader, "--wait=false");
  await sleep(90_000);
  const [n10, n30, nCron] = counts();
  const to = Math.floor(Date.now() / 1000);
  x.log(`3 min with a leader deleted: 10s ${n10}, 30s ${n30}, cron ${nCron} runs`);
  x.log(`rounds (slot +planning lag s [checks]): ${await roundLags(x, from)}`);
  about(n10!, 18, "10s");
  about(n30!, 6, "30s");
  about(nCron!, 3, "*/1");
  // Each check's rounds are exactly its due times, none twice, none missed (the deleted
  // leader's successor takes over within seconds, well inside 10 s).
  let rounds = await roundsByCheck(x);
  // The install's first round runs every check (no earlier round says when each ran last); each
  // check's own rhythm is measured from the round after it.
  const start = Math.min(...[...rounds.values()].flat().map(slotSeconds)) + 1;
  assert.deepEqual(
    [...new Set(gaps(rounds.get(0)!, Math.max(start, from - 10), to))],
    [10],
    "10s rounds",
  );
  assert.deepEqual(
    [...new Set(gaps(rounds.get(1)!, Math.max(start, from - 30), to))],
    [30],
    "30s rounds",
  );
  assert.deepEqual(
    [...new Set(gaps(rounds.get(2)!, Math.max(start, from - 60), to))],
    [60],
    "cron rounds",
  );
  const lastBefore = Math.max(...[...rounds.values()].flat().map(slotSeconds));

  // helm upgrade of the 30-s check to 20 s: the pods roll; the others keep their rhythm.
  tasks[1] = task("every-30s", paths[1]!, { interval: "20s" });
  await x.helm(
    "upgrade",
    RELEASE,
    CHART,
    "--reuse-values",
    "--set-json",
    `tasks=${JSON.stringify(tasks)}`,
  );
  await x.kubectl("rollout", "status", `deployment/${RELEASE}`, "--timeout=180s");
  const after = since(server, paths);
  const from2 = Math.ceil(Date.now() / 1000);
  await sleep(120_000);
  const [m10, m20, mCron] = after();
  const to2 = Math.floor(Date.now() / 1000);
  x.log(`2 min after the upgrade to 20s: 10s ${m10}, 20s ${m20}, cron ${mCron} runs`);
  x.log(`rounds (slot +planning lag s [checks]): ${await roundLags(x, from2)}`);
  about(m10!, 12, "10s after the upgrade");
  about(m20!, 6, "20s after the upgrade");
  about(mCron!, 2, "*/1 after the upgrade");
  rounds = await roundsByCheck(x);
  assert.deepEqual(
    [...new Set(gaps(rounds.get(0)!, Math.max(start, from - 10), to2))],
    [10],
    "10s kept its rhythm",
  );
  assert.deepEqual(
    [...new Set(gaps(rounds.get(2)!, Math.max(start, from - 60), to2))],
    [60],
    "cron kept its",
  );
  assert.deepEqual([...new Set(gaps(rounds.get(1)!, from2, to2))], [20], "the changed check: 20s");
  // The new pods planned the changed check at its new due times only, none at or before the
  // last round planned before the upgrade (an old pod may plan an old slot during the rollout).
  const newPods = (await x.core.listNamespacedPod({ namespace: x.ns, labelSelector: `app=${APP}` }))
    .items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? "");
  const byNew = (await x.core.listNamespacedConfigMap({
    namespace: x.ns,
    labelSelector: `app=${APP},round=true`,
  })).items.filter((c) => newPods.includes(c.data?.leader ?? ""))
    .map((c) => c.metadata?.labels?.["round-id"] ?? "");
  const changed = rounds.get(1)!.filter((r) => byNew.includes(r)).map(slotSeconds);
  assert(changed.length >= 5, `rounds of the changed check by the new pods: ${changed}`);
  assert(changed.every((s) => s % 20 === 0 && s > lastBefore), `20-s due times: ${changed}`);
}

async function cronJobMode(x: Tools, server: CountingServer, image: string[]): Promise<void> {
  const paths = ["/cj/every-round", "/cj/every-2m"];
  const tasks = [
    { name: "every-round", type: "get", input: `${server.url}${paths[0]}`, expect: "ok" },
    {
      name: "every-2m",
      type: "get",
      input: `${server.url}${paths[1]}`,
      expect: "ok",
      schedule: "*/2 * * * *",
    },
  ];
  const valuesFile = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    valuesFile,
    stringify({
      image: { repository: image[0], tag: image[1], pullPolicy: "Never" },
      mode: "cronjob",
      replicas: 1,
      // The tick the tasks are checked against; suspended: the test creates the rounds.
      schedule: "*/2 * * * *",
      suspend: true,
      historyLimit: 20,
      tasks,
    }),
  );
  await x.helm("install", RELEASE, CHART, "-f", valuesFile);
  const jobs: string[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < 240_000) {
    const started = Date.now();
    const job = `${RELEASE}-r${jobs.length + 1}-${started.toString(36)}`;
    jobs.push(job);
    await x.kubectl("create", "job", `--from=cronjob/${RELEASE}`, job);
    await x.kubectl("wait", "--for=condition=complete", `job/${job}`, "--timeout=120s");
    await sleep(Math.max(0, 30_000 - (Date.now() - started)));
  }
  const summaries = (await x.core.listNamespacedConfigMap({
    namespace: x.ns,
    labelSelector: `app=${APP},round=true`,
  })).items.map((c) => ({
    round: c.metadata?.labels?.["round-id"] ?? "",
    start: Date.parse(c.data?.start ?? ""),
    checks: c.data?.checks ?? "",
  })).sort((a, b) => a.start - b.start);
  assert.equal(summaries.length, jobs.length, "a summary per round");
  const [everyRound, every2m] = [server.count(paths[0]!), server.count(paths[1]!)];
  x.log(`${jobs.length} rounds in 4 min: every-round ${everyRound}, */2 ${every2m} runs`);
  assert.equal(everyRound, jobs.length, "a task without a schedule runs in every round");
  about(every2m, 2, "*/2 over 4 minutes");
  // Exactly the rounds that started first after a due time (and the first round) ran it.
  const expected = summaries.map((s, i) => {
    if (i === 0) return true;
    const prev = summaries[i - 1]!.start;
    const due = Math.floor(s.start / 120_000) * 120_000;
    return due > prev;
  });
  assert.deepEqual(summaries.map((s) => s.checks.split(",").includes("1")), expected);
  assert.equal(every2m, expected.filter(Boolean).length, "once per due time");
}

realNodeTest(
  "real node: every check on its own schedule (deployment and CronJob mode)",
  async (node, _t, defer) => {
    const built = await buildImage();
    await node.importImage(built.archive);
    const server = startCountingServer({ hostname: node.address });
    defer(() => server.close());
    const lines: string[] = [];
    const image = [built.repository, built.tag];
    const dep = await tools(node, "dz-sched-dep", lines);
    const cj = await tools(node, "dz-sched-cj", lines);
    for (const x of [dep, cj]) {
      defer(() =>
        kubectlAt(node.kubeconfigPath, "default", ["delete", "namespace", x.ns, "--wait=false"])
      );
      defer(() => node.helm(["uninstall", RELEASE, "-n", x.ns]));
    }
    // Both at once: the node has room, and the suite's wall time stays that of the longer one.
    const results = await Promise.allSettled([
      deploymentMode(dep, server, image),
      cronJobMode(cj, server, image),
    ]);
    console.error(lines.join("\n"));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((f) => f.reason),
        failed.map((f) => String(f.reason)).join("\n"),
      );
    }
  },
  { timeoutMs: 900_000 },
);
