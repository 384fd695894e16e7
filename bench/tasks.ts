/**
 * Tasks benchmark (`scripts/deno task bench tasks`): 1,000 trivial tasks (`true`) as one one-shot
 * round on the real API server (tests/testenv), 5 worker processes plus the leader (which runs no
 * task while others are ready), each a fake pod with the chart's Role and signed tasks.
 *
 * Measures the round's wall time against the pure execution time of the same inputs through the
 * engine in this process (`runAll`), the pickup latency (task created → claimed, both seen by one
 * watch in this process, so one clock and millisecond precision), the API writes per task (the
 * API server's own `apiserver_request_total` for configmaps, before and after), and the objects
 * left once a second round with `historyLimit: 1` garbage-collected the first.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import type { Row } from "./table.ts";
import {
  createNamespace,
  deleteNamespace,
  type FakePod,
  harness,
  startFakePod,
  stopHarness,
  waitFor,
  withServiceAccount,
} from "../tests/e2e/harness.ts";
import { McallProcess } from "../tests/e2e/mcall_proc.ts";
import { chartRoleRules } from "../tests/chart/helpers.ts";
import { configuredInputs, runAll } from "../lib/modes/once.ts";
import { loadConfig, readConfigFile } from "../lib/config/load.ts";
import { apiServerPid, cpuMs, memoryMiB, supervisorPid } from "./apiserver.ts";
import { round, verdict } from "./proc.ts";
import { helperSetsid } from "./engine.ts";
import { denoTaskWrites, goTaskWrites } from "./floor.ts";
import { PLAN_CONCURRENCY } from "../lib/planner/planner.ts";

/** Tasks per round: `BENCH_TASKS` (default 1,000; the scale check runs 10,000). */
const TASKS = Math.max(10, Number(Deno.env.get("BENCH_TASKS") ?? "1000") || 1000);
const WORKERS = 5;
/**
 * `BENCH_TASKS_PROF=1`: every process runs with V8's sampling profiler (`--prof`), which writes
 * `isolate-*-v8.log` into the working directory; `node --prof-process` reads them. It slows the
 * processes down: not for the measured run.
 */
const PROF = Boolean(Deno.env.get("BENCH_TASKS_PROF"));
/** `BENCH_TASKS_TRACE=1`: every process's log lines and RSS samples on stderr. */
const TRACE = Boolean(Deno.env.get("BENCH_TASKS_TRACE"));
const WORKER_NUMBER = 10;
const LEASE = "dz-mcall-leader";

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Sum of `apiserver_request_total` for configmaps by write verb, from the server's /metrics. */
async function configMapWrites(kubeconfig: string): Promise<Record<string, number>> {
  const tools = new TextDecoder().decode(
    (await new Deno.Command("bash", { args: ["scripts/k8s-tools.sh"], stderr: "inherit" })
      .output()).stdout,
  ).trim();
  const out = await new Deno.Command(`${tools}/kubectl`, {
    args: ["--kubeconfig", kubeconfig, "get", "--raw", "/metrics"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error("kubectl get --raw /metrics failed");
  const sums: Record<string, number> = {};
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    if (!line.includes(`resource="configmaps"`)) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
    if (!["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION"].includes(verb)) continue;
    sums[verb] = (sums[verb] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sums;
}

const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

interface RoundResult {
  durationMs: number;
  planMs: number;
  pickups: number[];
  perPod: Map<string, number>;
  codes: number[];
  /** Peak RSS (MiB) of the leader and of the busiest worker, sampled every second. */
  leaderPeakMiB: number;
  workerPeakMiB: number;
  /** Most dz-mcall ConfigMaps (tasks and summaries, any round) present at once during the round. */
  peakObjects: number;
  /** CPU time (ms) used from workers ready to the round's end, by process group. */
  cpu: Record<CpuPart, number>;
}

type CpuPart = "leader" | "workers" | "apiserver" | "etcd" | "bench";

/** Pids of the processes whose CPU the round accounts for (see `RoundResult.cpu`). */
interface CpuPids {
  apiserver: number | undefined;
  /** The testenv supervisor: embedded etcd and the control server. */
  etcd: number | undefined;
}

/** Runs one one-shot round with 1 + WORKERS processes; resolves when all exited. */
async function runRound(
  kc: k8s.KubeConfig,
  ns: string,
  kubeconfig: string,
  configFile: string,
  keyFile: string,
  round: string,
  extraEnv: Record<string, string>,
  pids: CpuPids,
): Promise<RoundResult> {
  const names = Array.from({ length: WORKERS + 1 }, (_, i) => `${round}-pod-${i}`);
  // Pods start not ready: nothing is planned until every worker process is up and watching.
  const pods = new Map<string, FakePod>();
  for (const name of names) {
    pods.set(
      name,
      await startFakePod(kc, { namespace: ns, name, labels: { app: "dz-mcall" }, ready: false }),
    );
  }
  const procs = names.map((name) => {
    const p = new McallProcess(name, ["-c", configFile], {
      KUBECONFIG: kubeconfig,
      NAMESPACE: ns,
      HOSTNAME: name,
      LEADER_ELECTION: "true",
      MCALL_TASKS_SIGNING_KEY_FILE: keyFile,
      MCALL_TASKS_ROUND: round,
      MCALL_TASKS_ROUND_DEADLINE: "20m",
      MCALL_TASKS_LEADER_RUNS_TASKS: "false",
      MCALL_METRICS_PORT: "0",
      MCALL_WORKER_NUMBER: String(WORKER_NUMBER),
      ...extraEnv,
    }, PROF ? ["--prof"] : []);
    p.exited.then(() => pods.get(name)!.remove()).catch(() => {});
    return p;
  });

  // Resident memory of every process, sampled every second until it exits.
  const peaks = new Map<string, number>();
  const sampling = setInterval(() => {
    for (const p of procs) {
      memoryMiB(p.child.pid).then((m) => {
        peaks.set(p.name, Math.max(peaks.get(p.name) ?? 0, m.rss));
        if (TRACE) console.error(`rss ${p.name} ${Math.round(m.rss)} MiB`);
      }, () => {});
    }
  }, 1000);

  // One watch of every dz-mcall object in the namespace (tasks and summaries of any round; one
  // watch, so the bench adds as little as it can to the API server's fan-out): the peak count,
  // and for this round's tasks ADDED (created) → first version with state running (claimed).
  const created = new Map<string, number>();
  const claimed = new Map<string, number>();
  const assigned = new Map<string, string>();
  const live = new Set<string>();
  let peakObjects = 0;
  const watch = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${ns}/configmaps`,
    { labelSelector: "app=dz-mcall" },
    (type, obj: k8s.V1ConfigMap) => {
      const name = obj.metadata?.name ?? "";
      const now = performance.now();
      if (type === "DELETED") live.delete(name);
      else live.add(name);
      peakObjects = Math.max(peakObjects, live.size);
      const labels = obj.metadata?.labels ?? {};
      if (labels.task !== "true" || labels["round-id"] !== round) return;
      if (type === "ADDED" && !created.has(name)) created.set(name, now);
      if (labels.state === "running" && !claimed.has(name)) claimed.set(name, now);
      if (labels.state === "succeeded") assigned.set(name, labels["assigned-to"] ?? "");
    },
    () => {},
  );
  try {
    // Every process up (its election loop observed the lease) before the workers turn ready.
    await waitFor(
      () => procs.every((p) => p.lines.some((l) => l.message.startsWith("Leader mode"))),
      {
        timeoutMs: 60_000,
        message: "processes up",
      },
    );
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    const leader = await waitFor(async () => {
      const l = await coord.readNamespacedLease({ name: LEASE, namespace: ns });
      return names.includes(l.spec?.holderIdentity ?? "") && l.spec!.holderIdentity!;
    }, { timeoutMs: 60_000, message: "a leader" });
    await new Promise((r) => setTimeout(r, 2000)); // workers' first list + watch
    const cpuOf = async (): Promise<Record<CpuPart, number>> => {
      const each = await Promise.all(procs.map((p) => cpuMs(p.child.pid).catch(() => 0)));
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      return {
        leader: sum(each.filter((_, i) => names[i] === leader)),
        workers: sum(each.filter((_, i) => names[i] !== leader)),
        apiserver: await cpuMs(pids.apiserver),
        etcd: await cpuMs(pids.etcd),
        bench: await cpuMs(Deno.pid),
      };
    };
    // The processes' CPU is read just before each exits (a reaped pid has no /proc entry).
    const cpuStart = await cpuOf();
    const lastCpu = new Map<string, number>();
    const cpuSampling = setInterval(() => {
      for (const p of procs) {
        cpuMs(p.child.pid).then((ms) => lastCpu.set(p.name, ms), () => {});
      }
    }, 200);
    const t0 = performance.now();
    await Promise.all(names.filter((n) => n !== leader).map((n) => pods.get(n)!.setReady(true)));
    // Planned when a leader logs it (after its last create). Not from the watch below: a watch
    // the server ends is not resumed here, so it may miss events of a long round.
    const plannedAt = await waitFor(
      () =>
        procs.some((p) => p.lines.some((l) => l.message.startsWith(`Planned round "${round}"`))) &&
        performance.now(),
      {
        // 10,000 tasks at ~100 creates/s on a busy 2-core machine take minutes.
        timeoutMs: Math.max(300_000, TASKS * 60),
        intervalMs: 50,
        message: "the round planned",
      },
    );
    const planMs = plannedAt - t0;
    const codes = (await Promise.all(procs.map((p) => p.exited))).map((s) => s.code);
    clearInterval(cpuSampling);
    if (TRACE) {
      const wall = Date.now() - (performance.now() - t0);
      for (const p of procs) {
        for (const l of p.lines) {
          console.error(p.name, Math.round(l.receivedAt - wall), l.level, l.message.slice(0, 160));
        }
      }
    }
    const cpuEnd = await cpuOf();
    cpuEnd.leader = lastCpu.get(leader) ?? NaN;
    cpuEnd.workers = names.filter((n) => n !== leader)
      .reduce((a, n) => a + (lastCpu.get(n) ?? NaN), 0);
    const cpu = Object.fromEntries(
      Object.keys(cpuEnd).map((k) => [k, cpuEnd[k as CpuPart] - cpuStart[k as CpuPart]]),
    ) as Record<CpuPart, number>;
    // The round ended when the summary said so; the processes notice within a poll.
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const summary = await core.readNamespacedConfigMap({
      name: `dz-mcall-round-${round}`,
      namespace: ns,
    });
    if (summary.data?.phase !== "complete") {
      throw new Error(`round ${round}: ${JSON.stringify(summary.data)}`);
    }
    const durationMs = performance.now() - t0;
    const pickups = [...claimed].map(([n, t]) => t - (created.get(n) ?? t)).sort((a, b) => a - b);
    const perPod = new Map<string, number>();
    for (const a of assigned.values()) perPod.set(a, (perPod.get(a) ?? 0) + 1);
    const workerPeakMiB = Math.max(
      0,
      ...names.filter((n) => n !== leader).map((n) => peaks.get(n) ?? 0),
    );
    const leaderPeakMiB = peaks.get(leader) ?? NaN;
    return {
      durationMs,
      planMs,
      pickups,
      perPod,
      codes,
      leaderPeakMiB,
      workerPeakMiB,
      peakObjects,
      cpu,
    };
  } finally {
    clearInterval(sampling);
    watch.abort();
    await Promise.all(procs.map((p) => p.stop()));
  }
}

/** The benchmark (see the module doc). */
export async function benchTasks(): Promise<Row[]> {
  // Every process here (the pure-execution rows in this one, the workers) spawns through the
  // session launcher the images put first on PATH.
  const launcher = await helperSetsid();
  if (launcher.dir) Deno.env.set("PATH", `${launcher.dir}:${Deno.env.get("PATH") ?? ""}`);
  const h = await harness();
  const kc = h.kubeConfig();
  const ns = await createNamespace(kc, "bench-tasks");
  const dir = await Deno.makeTempDir({ prefix: "dz-bench-tasks-" });
  try {
    const sa = await withServiceAccount(kc, ns, "dz-mcall", await chartRoleRules(LEASE), { dir });
    const keyFile = `${dir}/signing.key`;
    await Deno.writeTextFile(keyFile, crypto.randomUUID() + crypto.randomUUID());
    const configFile = `${dir}/mcall.yaml`;
    const inputs = Array.from({ length: TASKS }, (_, i) => ({ input: "true", name: `t${i}` }));
    await Deno.writeTextFile(configFile, JSON.stringify({ request: { inputs } }));

    // Pure execution: the same inputs through the engine in this process.
    const config = loadConfig({ layers: [await readConfigFile(configFile)] });
    const specs = configuredInputs(config);
    // This process's own CPU over each run: the engine's cost of a task, parent side (the
    // children's CPU is theirs, as it is for the workers measured below).
    let engineCpuMs = Infinity;
    const local = async (n: number) => {
      const t = performance.now();
      const c = await cpuMs(Deno.pid);
      await runAll(specs, { ...config, worker: { ...config.worker, number: n } });
      engineCpuMs = Math.min(engineCpuMs, await cpuMs(Deno.pid) - c);
      return performance.now() - t;
    };
    const local10 = await local(WORKER_NUMBER);
    const local50 = await local(WORKER_NUMBER * WORKERS);

    const pid = await apiServerPid(h.control);
    const pids: CpuPids = { apiserver: pid, etcd: await supervisorPid(h.control) };
    // The API server's own background CPU (no client busy), per ms: a round that takes longer
    // than client-go's writes also pays more of it.
    const idle0 = await cpuMs(pid);
    await new Promise((r) => setTimeout(r, 5000));
    const apiIdlePerMs = (await cpuMs(pid) - idle0) / 5000;
    const before = await configMapWrites(h.kubeconfigPath);
    const cpuBefore = await cpuMs(pid);
    const r1 = await runRound(kc, ns, sa.kubeconfigPath, configFile, keyFile, "bench-1", {}, pids);
    const cpuAfter = await cpuMs(pid);
    const after = await configMapWrites(h.kubeconfigPath);
    const writes = total(after) - total(before);
    const verbs = Object.keys(after).map((v) => `${v} ${after[v]! - (before[v] ?? 0)}`).join(
      ", ",
    );

    // A second round with historyLimit 1: its leader deletes round 1's succeeded tasks.
    const r2 = await runRound(kc, ns, sa.kubeconfigPath, configFile, keyFile, "bench-2", {
      MCALL_TASKS_HISTORY_LIMIT: "1",
      MCALL_TASKS_FAILED_HISTORY_LIMIT: "1",
    }, pids);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const left = async (sel: string) =>
      (await core.listNamespacedConfigMap({ namespace: ns, labelSelector: sel })).items.length;
    const round1Left = await left("app=dz-mcall,task=true,round-id=bench-1");
    const tasksLeft = await left("app=dz-mcall,task=true");
    const summariesLeft = await left("app=dz-mcall,round=true");

    // The floor: client-go's three writes per task, in a namespace of their own (round 2's GC
    // would delete task-shaped objects in this one).
    const floorNs = await createNamespace(kc, "bench-floor");
    // Then the same writes from Deno: bare fetch (the runtime's share), and our client.
    const [go, bare, ourClient] = await (async () => {
      const g = await goTaskWrites(h.kubeconfigPath, floorNs, TASKS, pids);
      const b = await denoTaskWrites(h.kubeconfigPath, floorNs, TASKS, "fetch");
      const o = await denoTaskWrites(h.kubeconfigPath, floorNs, TASKS, "ours");
      return [g, b, o] as const;
    })().finally(() => deleteNamespace(kc, floorNs).catch(() => {}));
    const enginePerTask = engineCpuMs / TASKS;
    const floor = enginePerTask + go.client;
    const oursPerTask = (r1.cpu.leader + r1.cpu.workers) / TASKS;
    const apiPerTask = r1.cpu.apiserver / TASKS;
    const apiNet = (r1.cpu.apiserver - apiIdlePerMs * r1.durationMs) / TASKS;
    const goApiNet = go.apiserver - apiIdlePerMs * go.wallMs / TASKS;

    const spread = [...r1.perPod.values()].sort((a, b) => a - b);
    const pure = Math.min(local10, local50);
    const ratio = round(r1.durationMs / pure, 2);
    return [
      {
        name: `round duration (${TASKS} tasks, 5 workers × 10)`,
        value: r1.durationMs / 1000,
        unit: "s",
        note: `workers ready → every task terminal; exit codes ${r1.codes.join(",")}`,
      },
      {
        name: `  of which planning (${TASKS} creates)`,
        value: r1.planMs / 1000,
        unit: "s",
        note: `workers ready → the leader logs the round planned; ${
          Math.round(TASKS / (r1.planMs / 1000))
        } tasks/s`,
      },
      {
        name: "  round / pure execution",
        value: ratio,
        unit: "ratio",
        note: `${verdict(ratio, 3, "×")}; pure = the faster of the two engine rows below`,
      },
      {
        name: "second round duration",
        value: r2.durationMs / 1000,
        unit: "s",
        note: "historyLimit 1: also deletes round 1",
      },
      {
        name: "pure execution, engine, 10 at once",
        value: local10 / 1000,
        unit: "s",
        note: `runAll in one process; launcher: ${
          launcher.dir ? "dz-mcall-setsid" : `setsid on PATH (${launcher.why})`
        }`,
      },
      {
        name: "pure execution, engine, 50 at once",
        value: local50 / 1000,
        unit: "s",
        note: "same concurrency as 5 workers × 10",
      },
      {
        name: "pickup latency p50",
        value: quantile(r1.pickups, 0.5),
        unit: "ms",
        note:
          `created → claimed, one watch; goal < 1 s (original polls every 30 s); n=${r1.pickups.length} seen`,
      },
      { name: "pickup latency p95", value: quantile(r1.pickups, 0.95), unit: "ms" },
      { name: "pickup latency max", value: quantile(r1.pickups, 1), unit: "ms" },
      {
        name: "API writes per task",
        value: writes / TASKS,
        unit: "writes",
        note: `goal 3; configmaps ${verbs} (apiserver_request_total)`,
      },
      {
        name: "API server CPU per task",
        value: round((cpuAfter - cpuBefore) / TASKS, 2),
        unit: "ms",
        note: "kube-apiserver utime + stime over round 1 (/proc), divided by the tasks",
      },
      {
        name: "CPU per task: leader / workers / API server / etcd / bench",
        value: (["leader", "workers", "apiserver", "etcd", "bench"] as const)
          .map((k) => round(r1.cpu[k] / TASKS, 2)).join(" / "),
        unit: "ms",
        note: `round 1, workers ready → every process exited; ${
          round(Object.values(r1.cpu).reduce((a, b) => a + b, 0) / r1.durationMs, 2)
        } of the 2 cores busy on average (etcd: the testenv supervisor that embeds it)`,
      },
      {
        name: "engine CPU per task",
        value: round(enginePerTask, 2),
        unit: "ms",
        note: "runAll of the same inputs in this process (utime + stime, the faster run)",
      },
      {
        name: "client-go CPU per task, the same 3 writes",
        value: round(go.client, 2),
        unit: "ms",
        note:
          `bench/gocreate -updates 2 (create, claim, result; ${PLAN_CONCURRENCY} tasks at once), ${
            round(go.wallMs / 1000, 2)
          } s; API server ${round(go.apiserver, 2)} ms, etcd ${round(go.etcd, 2)} ms per task`,
      },
      {
        name: "bare Deno CPU per task, the same 3 writes",
        value: round(bare.client, 2),
        unit: "ms",
        note: `bench/denocreate.ts --client fetch (Deno.createHttpClient, HTTP/2), ${
          round(bare.wallMs / 1000, 2)
        } s; ${round(bare.client / go.client, 2)}× client-go's`,
      },
      {
        name: "our client CPU per task, the same 3 writes",
        value: round(ourClient.client, 2),
        unit: "ms",
        note: `bench/denocreate.ts --client ours (lib/kube), ${
          round(ourClient.wallMs / 1000, 2)
        } s; ${round(ourClient.client / bare.client, 2)}× bare Deno's, ${
          round(ourClient.client / go.client, 2)
        }× client-go's`,
      },
      {
        name: "our CPU per task / the runtime's floor",
        value: round(oursPerTask / (enginePerTask + bare.client), 2),
        unit: "ratio",
        note: `${round(oursPerTask, 2)} ms against ${
          round(enginePerTask + bare.client, 2)
        } ms (engine + bare Deno's 3 writes); the runtime's floor is ${
          round((enginePerTask + bare.client) / floor, 2)
        }× the issue's (engine + client-go)`,
      },
      {
        name: "our CPU per task (leader + workers) / floor",
        value: round(oursPerTask / floor, 2),
        unit: "ratio",
        note: `${round(oursPerTask, 2)} ms against the floor ${
          round(floor, 2)
        } ms (engine + client-go); ${verdict(oursPerTask / floor, 2, "×")}`,
      },
      {
        name: "API server CPU per task: ours / client-go's same writes",
        value: round(apiPerTask / go.apiserver, 2),
        unit: "ratio",
        note: `${round(apiPerTask, 2)} against ${round(go.apiserver, 2)} ms; ${
          verdict(apiPerTask / go.apiserver, 1, "×")
        }`,
      },
      {
        name: "  the same, net of the API server's idle CPU",
        value: round(apiNet / goApiNet, 2),
        unit: "ratio",
        note: `${round(apiNet, 2)} against ${round(goApiNet, 2)} ms; idle ${
          round(apiIdlePerMs * 1000)
        } ms/s (5 s before round 1) × each run's wall time; ${verdict(apiNet / goApiNet, 1, "×")}`,
      },
      {
        name: "peak RSS: leader / busiest worker",
        value: `${round(r1.leaderPeakMiB)} / ${round(r1.workerPeakMiB)}`,
        unit: "MiB",
        note: "sampled every second during round 1",
      },
      {
        name: "tasks per worker",
        value: `${spread[0]}–${spread[spread.length - 1]}`,
        unit: "tasks",
        note: `${r1.perPod.size} workers, leader runs none`,
      },
      {
        name: "peak objects: round 1 / round 2",
        value: `${r1.peakObjects} / ${r2.peakObjects}`,
        unit: "objects",
        note: "dz-mcall ConfigMaps present at once (round 2 also holds round 1 until its GC)",
      },
      {
        name: "objects left after GC",
        value: tasksLeft + summariesLeft,
        unit: "objects",
        note: `${round1Left} of round 1's tasks, ${tasksLeft} tasks, ${summariesLeft} summaries`,
      },
    ];
  } finally {
    await deleteNamespace(kc, ns).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await stopHarness();
  }
}

if (import.meta.main) {
  const { renderTable } = await import("./table.ts");
  console.log(renderTable("Tasks", await benchTasks()));
}
