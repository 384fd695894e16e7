/**
 * Pod memory benchmark (`deno task bench podmem`, under `flock /tmp/dz-realnode.lock`): the
 * working set of our pods as the kubelet reports it (its stats summary through the API server's
 * node proxy: what the kubelet compares with `resources.limits.memory` and evicts by), on the real
 * node (`chart_node.ts`), in Deployment mode with 3 pods:
 *
 * 1. idle: after three rounds of 6 instant checks (interval 10 s), sampled every second for 10 s;
 * 2. a 1,000-task round: `helm upgrade` to 1,000 `true` tasks (the pods roll), sampled every
 *    second from the new pods' start until the round's summary is complete;
 * 3. idle after it, 10 s more.
 *
 * Each figure is the highest working set of any pod (the leader included) in that phase, beside the
 * limit the chart's defaults are sized for (64 MiB idle, 96 MiB in the round): a pod above it marks
 * the row FAIL (a bench verdict, not a test). `chart/values.yaml`'s `resources` state the headroom
 * over these figures.
 *
 * @module
 */
import type { Row } from "./table.ts";
import { round } from "./proc.ts";
import { type ChartNode, chartNode, loadAverage } from "./chart_node.ts";
import { waitFor } from "../tests/e2e/harness.ts";

const IDLE_LIMIT_MIB = 64;
const ROUND_LIMIT_MIB = 96;
const BIG = Math.max(10, Number(Deno.env.get("BENCH_PODMEM_TASKS") ?? "1000") || 1000);

interface Summary {
  round: string;
  phase: string;
  total: number;
}

async function summaries(cn: ChartNode): Promise<Summary[]> {
  const list = JSON.parse(
    await cn.kubectl("get", "configmaps", "-l", "round=true", "-o", "json"),
  ) as {
    items: { metadata: { labels?: Record<string, string> }; data?: Record<string, string> }[];
  };
  return list.items.map((cm) => ({
    round: cm.metadata.labels?.["round-id"] ?? "",
    phase: cm.data?.phase ?? "running",
    total: Number(cm.data?.total ?? "0"),
  }));
}

/** Samples every pod's working set each second until `until` resolves; the peak per pod. */
async function sample(cn: ChartNode, until: Promise<unknown>): Promise<Map<string, number>> {
  const peaks = new Map<string, number>();
  let done = false;
  until.finally(() => done = true).catch(() => {});
  while (!done) {
    const t = performance.now();
    for (const [pod, mib] of await cn.workingSets().catch(() => new Map<string, number>())) {
      peaks.set(pod, Math.max(peaks.get(pod) ?? 0, mib));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - t))));
  }
  await until;
  return peaks;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function row(name: string, peaks: Map<string, number>, limit: number, note: string): Row {
  const max = Math.max(0, ...peaks.values());
  const each = [...peaks].sort().map(([p, m]) => `${p.replace(/^.*-/, "")} ${round(m)}`);
  return {
    name,
    value: round(max),
    unit: "MiB",
    note: `${max <= limit ? "PASS" : "FAIL"} (limit ${limit} MiB); ${note}; per pod: ${
      each.join(", ")
    }`,
  };
}

/** The benchmark (see the module doc). */
export async function benchPodMem(): Promise<Row[]> {
  const small = Array.from({ length: 6 }, (_, i) => ({ name: `check-${i}`, input: "true" }));
  const cn = await chartNode("bench-mem", {
    mode: "deployment",
    replicas: 3,
    interval: "10s",
    tasks: small,
  });
  try {
    const load0 = await loadAverage();
    await waitFor(
      async () => (await summaries(cn)).filter((s) => s.phase === "complete").length >= 3,
      { timeoutMs: 180_000, intervalMs: 1000, message: "three complete rounds" },
    );
    const idle = await sample(cn, sleep(10_000));

    const inputs = Array.from({ length: BIG }, (_, i) => ({ name: `t${i}`, input: "true" }));
    const before = new Set((await summaries(cn)).map((s) => s.round));
    // A long interval after the upgrade: one big round, then idle.
    await cn.upgrade({ tasks: inputs, interval: "10m" });
    const t0 = performance.now();
    const bigDone = waitFor(async () => {
      const big = (await summaries(cn)).find((s) => !before.has(s.round) && s.total === BIG);
      return big?.phase === "complete" && big;
    }, { timeoutMs: 600_000, intervalMs: 1000, message: `a complete ${BIG}-task round` });
    const inRound = await sample(cn, bigDone);
    const roundS = (performance.now() - t0) / 1000;
    const after = await sample(cn, sleep(10_000));
    const load1 = await loadAverage();
    return [
      row("working set, idle (after 3 rounds of 6 checks)", idle, IDLE_LIMIT_MIB, "peak of 10 s"),
      row(
        `working set, ${BIG}-task round`,
        inRound,
        ROUND_LIMIT_MIB,
        `peak from helm upgrade to the summary complete (${round(roundS)} s, pods rolled)`,
      ),
      row(`working set, idle after the ${BIG}-task round`, after, IDLE_LIMIT_MIB, "peak of 10 s"),
      {
        name: "setup",
        value: 3,
        unit: "pods",
        note: `Deployment mode, kubelet /stats/summary every 1 s; load average ${load0} → ${load1}`,
      },
    ];
  } finally {
    await cn.close();
  }
}
