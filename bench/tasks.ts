/**
 * Tasks benchmark (`scripts/deno task bench tasks`): 1,000 trivial tasks (`true`) as one one-shot
 * round on the real API server (tests/testenv), 5 worker processes plus the leader (which runs no
 * task while others are ready), each a fake pod with the chart's Role and signed tasks.
 *
 * Measures the round's wall time against the pure execution time of the same inputs through the
 * engine in this process (`runAll`), the pickup latency (task created → claimed, both seen by one
 * watch in this process, so one clock and millisecond precision), the API writes per task (the
 * API server's own `apiserver_request_total` for configmaps, before and after), and the objects
 * left once a second round with `historyLimit: 1` garbage-collected the first; and what a task
 * costs our processes against its floors (`floor.ts`: the engine, and the same three writes from
 * client-go, bare Deno, our connection alone and our client; flat out, and again at the round's
 * own pace, the engine at one worker's). The round itself: `task_round.ts`.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import type { Row } from "./table.ts";
import {
  createNamespace,
  deleteNamespace,
  harness,
  stopHarness,
  withServiceAccount,
} from "../tests/e2e/harness.ts";
import { chartRoleRules } from "../tests/chart/helpers.ts";
import { configuredInputs, runAll } from "../lib/modes/once.ts";
import { runInput } from "../lib/engine/exec.ts";
import type { InputSpec } from "../lib/engine/input.ts";
import { loadConfig, readConfigFile } from "../lib/config/load.ts";
import { apiServerPid, cpuMs, supervisorPid } from "./apiserver.ts";
import { round, verdict } from "./proc.ts";
import { helperSetsid } from "./engine.ts";
import { floorRows, taskWriteFloors } from "./floor.ts";
import { startTurn } from "./pace.ts";
import { type CpuPids, LEASE, runRound, TASKS, WORKER_NUMBER, WORKERS } from "./task_round.ts";

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * The engine's CPU per task (ms, this process) when the inputs come at `rate` a second, each run
 * as it comes (as a worker runs the tasks of a round: `runInput` each, not `runAll` of a queue).
 */
async function pacedEngineCpu(
  specs: readonly InputSpec[],
  rate: number,
  maxOutputBytes: number,
): Promise<number> {
  const c = await cpuMs(Deno.pid);
  const t0 = performance.now();
  const runs: Promise<unknown>[] = [];
  for (const [i, spec] of specs.entries()) {
    await startTurn(t0, i, rate);
    runs.push(runInput(spec, { maxOutputBytes }));
  }
  await Promise.all(runs);
  return (await cpuMs(Deno.pid) - c) / specs.length;
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

    // The floors, in a namespace of their own (round 2's GC would delete task-shaped objects in
    // this one), watched by the bench as the round was.
    const floorNs = await createNamespace(kc, "bench-floor");
    const observe = async () => {
      const w = await new k8s.Watch(kc).watch(
        `/api/v1/namespaces/${floorNs}/configmaps`,
        { labelSelector: "app=dz-mcall" },
        () => {},
        () => {},
      );
      return () => w.abort();
    };
    // The round's pace: its tasks over its planning (the creates set it; claims follow them).
    const pace = TASKS / (r1.planMs / 1000);
    const floors = await taskWriteFloors(h.kubeconfigPath, floorNs, TASKS, pace, pids, observe)
      .finally(() => deleteNamespace(kc, floorNs).catch(() => {}));
    // The engine at one worker's pace, over one worker's share of the inputs.
    const enginePaced = await pacedEngineCpu(
      specs.slice(0, Math.ceil(TASKS / WORKERS)),
      pace / WORKERS,
      config.request.maxOutputBytes,
    );

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
      ...floorRows(floors, {
        enginePerTask: engineCpuMs / TASKS,
        enginePacedPerTask: enginePaced,
        workers: WORKERS,
        oursPerTask: (r1.cpu.leader + r1.cpu.workers) / TASKS,
        apiserverMs: r1.cpu.apiserver,
        wallMs: r1.durationMs,
        apiIdlePerMs,
        tasks: TASKS,
      }),
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
