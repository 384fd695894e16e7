/**
 * One one-shot round of the tasks benchmark (`bench/tasks.ts`): 1 + {@linkcode WORKERS} program
 * processes, each a fake pod on the real API server, and what the round cost (wall time, pickup
 * latency, peak memory and objects, CPU by process group).
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { type FakePod, startFakePod, waitFor } from "../tests/e2e/harness.ts";
import { McallProcess } from "../tests/e2e/mcall_proc.ts";
import { cpuMs, memoryMiB } from "./apiserver.ts";

/** Tasks per round: `BENCH_TASKS` (default 1,000; the scale check runs 10,000). */
export const TASKS = Math.max(10, Number(Deno.env.get("BENCH_TASKS") ?? "1000") || 1000);
export const WORKERS = 5;
/**
 * `BENCH_TASKS_PROF=1`: every process runs with V8's sampling profiler (`--prof`), which writes
 * `isolate-*-v8.log` into the working directory; `node --prof-process` reads them. It slows the
 * processes down: not for the measured run.
 */
const PROF = Boolean(Deno.env.get("BENCH_TASKS_PROF"));
/** `BENCH_TASKS_TRACE=1`: every process's log lines and RSS samples on stderr. */
const TRACE = Boolean(Deno.env.get("BENCH_TASKS_TRACE"));
export const WORKER_NUMBER = 10;
export const LEASE = "dz-mcall-leader";

export interface RoundResult {
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
export interface CpuPids {
  apiserver: number | undefined;
  /** The testenv supervisor: embedded etcd and the control server. */
  etcd: number | undefined;
}

/** Runs one one-shot round with 1 + WORKERS processes; resolves when all exited. */
export async function runRound(
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
