/**
 * CronJob round benchmark (`deno task bench cronround`, under `flock /tmp/dz-realnode.lock`): our
 * chart on the real node (`chart_node.ts`) with 6 instant checks and 4 pods; each run creates a
 * round the way the CronJob controller does (`kubectl create job --from=cronjob/dz-mcall`) and,
 * as its reference in the same run, a plain one-pod Job of the node's busybox image running
 * `true`, and the node's floor for our round: the chart's own 4-pod Job (as the CronJob creates it:
 * volumes, token, security context, resources) with its program replaced by busybox `true` (order
 * rotating from run to run, so none always runs on a machine another just loaded).
 * `BENCH_CRONROUND_RUNS` runs of the three (default 5). To see where a round's time goes:
 * `BENCH_CRONROUND_DUMP=<dir>` writes each round's pod logs, pods and events there,
 * `BENCH_CRONROUND_LOGLEVEL=debug` sets the chart's `logLevel`, and `DZ_E2E_KEEP=1` keeps the
 * node's kubelet, containerd and audit logs (tests/e2e/harness.ts).
 *
 * The timeline of a round, every point on this machine's wall clock, from the Job's creation:
 * - created, started, exit, Complete: one watch each of the namespace's Jobs and Pods in this
 *   process (created = the Job's ADDED event; started = the first pod's container running;
 *   exit = the last pod's container terminated; Complete = the Job's Complete condition);
 * - up, leader, planned, round over: the pods' own log lines (`@timestamp`, milliseconds): the
 *   first "Leader mode" (a program up), "Started leading", "Planned round", the last "Round is
 *   over";
 * - first claim, last result: a watch of the task ConfigMaps (first version `running`, last
 *   version in a terminal state).
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import type { Row } from "./table.ts";
import { median, round, verdict } from "./proc.ts";
import { type ChartNode, chartNode, loadAverage, RELEASE } from "./chart_node.ts";
import { waitFor } from "../tests/e2e/harness.ts";

const RUNS = Math.max(1, Number(Deno.env.get("BENCH_CRONROUND_RUNS") ?? "5") || 5);
const REPLICAS = 4;
const TASKS = Array.from({ length: 6 }, (_, i) => ({ name: `check-${i}`, input: "true" }));
const JOB_LABEL = "batch.kubernetes.io/job-name";

/** First/last times (wall ms) seen by the watches, by Job name. */
interface Seen {
  created?: number;
  complete?: number;
  firstStarted?: number;
  lastExit?: number;
  firstClaim?: number;
  lastResult?: number;
}

/** The namespace's Jobs, Pods and task ConfigMaps, watched; each point stamped when first seen. */
function watchAll(cn: ChartNode): { seen: Map<string, Seen>; stop: () => void } {
  const seen = new Map<string, Seen>();
  const of = (job: string) => seen.get(job) ?? seen.set(job, {}).get(job)!;
  const exited = new Map<string, Set<string>>();
  const aborts: AbortController[] = [];
  let stopped = false;
  // deno-lint-ignore no-explicit-any
  const open = (path: string, onEvent: (type: string, obj: any) => void) => {
    const again = () => {
      if (stopped) return;
      new k8s.Watch(cn.kc).watch(path, {}, onEvent, () => setTimeout(again, 100))
        .then((a) => aborts.push(a), () => setTimeout(again, 500));
    };
    again();
  };
  open(`/apis/batch/v1/namespaces/${cn.ns}/jobs`, (type, job: k8s.V1Job) => {
    const now = Date.now();
    const s = of(job.metadata?.name ?? "");
    if (type === "ADDED") s.created ??= now;
    const done = (job.status?.conditions ?? []).some((c) =>
      c.type === "Complete" && c.status === "True"
    );
    if (done) s.complete ??= now;
  });
  open(`/api/v1/namespaces/${cn.ns}/pods`, (_type, pod: k8s.V1Pod) => {
    const now = Date.now();
    const job = pod.metadata?.labels?.[JOB_LABEL];
    if (!job) return;
    const s = of(job);
    const state = pod.status?.containerStatuses?.[0]?.state;
    if (state?.running || state?.terminated) s.firstStarted ??= now;
    if (state?.terminated) {
      const pods = exited.get(job) ?? exited.set(job, new Set()).get(job)!;
      if (!pods.has(pod.metadata?.name ?? "")) {
        pods.add(pod.metadata?.name ?? "");
        s.lastExit = now;
      }
    }
  });
  open(`/api/v1/namespaces/${cn.ns}/configmaps`, (_type, cm: k8s.V1ConfigMap) => {
    const now = Date.now();
    const labels = cm.metadata?.labels ?? {};
    if (labels.task !== "true" || !labels["round-id"]) return;
    const s = of(labels["round-id"]);
    if (labels.state === "running") s.firstClaim ??= now;
    if (["succeeded", "failed", "dead", "rejected"].includes(labels.state ?? "")) {
      s.lastResult = Math.max(s.lastResult ?? 0, now);
    }
  });
  return {
    seen,
    stop: () => {
      stopped = true;
      for (const a of aborts) a.abort();
    },
  };
}

/** Log points of a round from its pods' lines (`[pod/NAME/c] {json}`). */
function logPoints(
  text: string,
): { up?: number; leader?: number; planned?: number; over?: number } {
  const out: { up?: number; leader?: number; planned?: number; over?: number } = {};
  for (const line of text.split("\n")) {
    const brace = line.indexOf("{");
    if (brace < 0) continue;
    let rec: { "@timestamp"?: string; message?: string };
    try {
      rec = JSON.parse(line.slice(brace));
    } catch {
      continue;
    }
    const at = Date.parse(rec["@timestamp"] ?? "");
    const msg = rec.message ?? "";
    if (Number.isNaN(at)) continue;
    if (msg.startsWith("Leader mode")) out.up = Math.min(out.up ?? at, at);
    if (msg.startsWith("Started leading")) out.leader = Math.min(out.leader ?? at, at);
    if (msg.startsWith("Planned round")) out.planned = Math.min(out.planned ?? at, at);
    if (msg.startsWith("Round ") && msg.includes(" is over")) {
      out.over = Math.max(out.over ?? 0, at);
    }
  }
  return out;
}

/** The stages of the round's timeline, in order (seconds from created). */
const STAGES = [
  "started",
  "up",
  "leader",
  "planned",
  "first claim",
  "last result",
  "round over",
  "exit",
  "Complete",
] as const;
type Stage = typeof STAGES[number];

/** A reference Job's points (s from created). */
interface Points {
  started: number | undefined;
  exit: number | undefined;
  Complete: number;
}

interface Run {
  ours: Record<Stage, number | undefined>;
  plain: Points;
  floor: Points;
  load: string;
}

const since = (t0: number, t: number | undefined) => t === undefined ? undefined : (t - t0) / 1000;

async function ourRound(cn: ChartNode, seen: Map<string, Seen>, job: string) {
  await cn.kubectl("create", "job", `--from=cronjob/${RELEASE}`, job);
  const s = await waitFor(() => seen.get(job)?.complete !== undefined && seen.get(job)!, {
    timeoutMs: 120_000,
    intervalMs: 20,
    message: `job ${job} Complete`,
  });
  const text = await cn.logs(`${JOB_LABEL}=${job}`);
  const dump = Deno.env.get("BENCH_CRONROUND_DUMP");
  if (dump) {
    await Deno.writeTextFile(`${dump}/${job}.log`, text);
    await Deno.writeTextFile(
      `${dump}/${job}.pods.json`,
      await cn.kubectl("get", "pods", "-l", `${JOB_LABEL}=${job}`, "-o", "json"),
    );
    await Deno.writeTextFile(
      `${dump}/${job}.events.json`,
      await cn.kubectl("get", "events", "-o", "json"),
    );
  }
  const logs = logPoints(text);
  const t0 = s.created!;
  return {
    started: since(t0, s.firstStarted),
    up: since(t0, logs.up),
    leader: since(t0, logs.leader),
    planned: since(t0, logs.planned),
    "first claim": since(t0, s.firstClaim),
    "last result": since(t0, s.lastResult),
    "round over": since(t0, logs.over),
    exit: since(t0, s.lastExit),
    Complete: since(t0, s.complete)!,
  };
}

/** Creates the Job of `manifest` and waits for it to be Complete; its points from created. */
async function referenceJob(cn: ChartNode, seen: Map<string, Seen>, manifest: k8s.V1Job) {
  const job = manifest.metadata!.name!;
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify(manifest));
  try {
    await cn.kubectl("create", "-f", file);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
  const s = await waitFor(() => seen.get(job)?.complete !== undefined && seen.get(job)!, {
    timeoutMs: 120_000,
    intervalMs: 20,
    message: `job ${job} Complete`,
  });
  const t0 = s.created!;
  return {
    started: since(t0, s.firstStarted),
    exit: since(t0, s.lastExit),
    Complete: since(t0, s.complete)!,
  };
}

/** The issue's reference: one restricted busybox pod running `true`, no volumes. */
function plainManifest(cn: ChartNode, job: string): k8s.V1Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: job },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [{
            name: "c",
            image: cn.busybox,
            imagePullPolicy: "Never",
            command: ["true"],
            securityContext: {
              allowPrivilegeEscalation: false,
              capabilities: { drop: ["ALL"] },
              readOnlyRootFilesystem: true,
            },
          }],
        },
      },
    },
  };
}

/**
 * The node's floor for our round: the chart's own Job, as the CronJob would create it (its pods,
 * their volumes, service account token, security context and resources), with the container's
 * program replaced by busybox `true`. What is left between this Job and ours is our program's.
 */
function floorManifest(cn: ChartNode, cronJob: k8s.V1CronJob, job: string): k8s.V1Job {
  const spec = structuredClone(cronJob.spec!.jobTemplate.spec!);
  // Not the chart's labels: no leader of ours may take these pods for workers.
  spec.template.metadata = { labels: { bench: "node-floor" } };
  const c = spec.template.spec!.containers[0]!;
  c.image = cn.busybox;
  c.imagePullPolicy = "Never";
  c.command = ["true"];
  delete c.args;
  return { apiVersion: "batch/v1", kind: "Job", metadata: { name: job }, spec };
}

const fmt = (v: number | undefined) => v === undefined ? "–" : v.toFixed(2);

/** The benchmark (see the module doc). */
export async function benchCronRound(): Promise<Row[]> {
  const cn = await chartNode("bench-cron", {
    replicas: REPLICAS,
    // Far from now: the CronJob controller never starts a round of its own; the bench triggers.
    schedule: "0 0 1 1 *",
    tasks: TASKS,
    logLevel: Deno.env.get("BENCH_CRONROUND_LOGLEVEL") ?? "info",
  });
  const { seen, stop } = watchAll(cn);
  const cronJob = JSON.parse(
    await cn.kubectl("get", "cronjob", RELEASE, "-o", "json"),
  ) as k8s.V1CronJob;
  const runs: Run[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const load = await loadAverage();
      const id = `${Date.now().toString(36)}`;
      const jobs = {
        ours: () => ourRound(cn, seen, `${RELEASE}-r${i}-${id}`),
        plain: () => referenceJob(cn, seen, plainManifest(cn, `plain-${i}-${id}`)),
        floor: () => referenceJob(cn, seen, floorManifest(cn, cronJob, `floor-${i}-${id}`)),
      };
      // The order rotates from run to run, so none always runs on a machine another just loaded.
      const order = (["ours", "plain", "floor"] as const).map((_, k, all) => all[(i + k) % 3]!);
      const got: Partial<{ ours: Run["ours"]; plain: Points; floor: Points }> = {};
      for (const name of order) {
        if (name === "ours") got.ours = await jobs.ours();
        else got[name] = await jobs[name]();
      }
      const run: Run = { ours: got.ours!, plain: got.plain!, floor: got.floor!, load };
      runs.push(run);
      console.error(
        `cronround run ${i + 1}: ours ${fmt(run.ours.Complete)} s, plain ${
          fmt(run.plain.Complete)
        } s, node floor ${fmt(run.floor.Complete)} s (load ${load}); ${
          STAGES.map((k) => `${k} ${fmt(run.ours[k])}`).join(", ")
        }`,
      );
    }
  } finally {
    stop();
    await cn.close();
  }
  const ratios = runs.map((r) => r.ours.Complete! / r.plain.Complete);
  const med = median(ratios);
  const max = Math.max(...ratios);
  const floorRatios = runs.map((r) => r.floor.Complete / r.plain.Complete);
  const floorMed = median(floorRatios);
  const ourShare = runs.map((r) => r.ours.Complete! / r.floor.Complete);
  const each = (f: (r: Run) => number | undefined) => runs.map((r) => fmt(f(r))).join(", ");
  const medOf = (f: (r: Run) => number | undefined) =>
    round(median(runs.map(f).filter((v): v is number => v !== undefined)), 2);
  return [
    ...STAGES.map((stage): Row => ({
      name: `ours: ${stage}`,
      value: medOf((r) => r.ours[stage]),
      unit: "s",
      note: `median; runs: ${each((r) => r.ours[stage])}`,
    })),
    ...(["plain", "floor"] as const).flatMap((ref) =>
      (["started", "exit", "Complete"] as const).map((stage): Row => ({
        name: `${ref === "plain" ? "plain Job" : "node floor"}: ${stage}`,
        value: medOf((r) => r[ref][stage]),
        unit: "s",
        note: `median; runs: ${each((r) => r[ref][stage])}`,
      }))
    ),
    {
      name: "ours / plain Job, median of paired runs",
      value: round(med, 2),
      unit: "ratio",
      note: `${verdict(med, 1.5, "×")}; per run ${ratios.map((r) => r.toFixed(2)).join(", ")}`,
    },
    {
      name: "ours / plain Job, worst run",
      value: round(max, 2),
      unit: "ratio",
      note: verdict(max, 2, "×"),
    },
    {
      name: "node floor / plain Job, median",
      value: round(floorMed, 2),
      unit: "ratio",
      note: `our 4-pod Job running \`true\`; per run ${
        floorRatios.map((r) => r.toFixed(2)).join(", ")
      }; ${floorMed > 1.5 ? "above" : "within"} the 1.5× goal with no program at all`,
    },
    {
      name: "ours / node floor, median",
      value: round(median(ourShare), 2),
      unit: "ratio",
      note: `per run ${ourShare.map((r) => r.toFixed(2)).join(", ")}; ours − floor, median ${
        round(median(runs.map((r) => r.ours.Complete! - r.floor.Complete)), 2)
      } s`,
    },
    {
      name: "runs",
      value: RUNS,
      unit: "",
      note: `${REPLICAS} pods, ${TASKS.length} cmd checks (true); load average per run: ${
        runs.map((r) => r.load.split(" ")[0]).join(", ")
      }`,
    },
  ];
}
