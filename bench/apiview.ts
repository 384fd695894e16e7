/**
 * The API server's view of an idle release (`deno task bench apiview`, issue 20): a deployment-
 * mode release of three pods of the real program (one leads, two work) on the real API server
 * (tests/testenv), idle, with 1,000 and 10,000 retained task ConfigMaps — beside a client-go
 * informer (bench/goinformer: one informer per selector the leader's caches watch) on the same
 * objects in the same run. Every client talks through its own counting proxy
 * (`view_proxy.ts`), so each figure is per pod: LIST, WATCH and other requests, and the bytes the
 * API server sent, per hour of the idle window (`BENCH_APIVIEW_S`, default 600 s, after a
 * warm-up in which every cache listed once).
 *
 * Goals: 0 LISTs in the idle window (no 410, no restart), and WATCH requests per open watch
 * stream per hour within 1.5× client-go's.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { runPool } from "../lib/engine/pool.ts";
import { KubeApi } from "../lib/kube/api.ts";
import { KubeConnection } from "../lib/kube/client.ts";
import { loadKubeConfig } from "../lib/kube/kubeconfig.ts";
import { LABEL } from "../lib/tasks/contract.ts";
import { round, verdict } from "./proc.ts";
import { withBenchPods } from "./pods.ts";
import type { Row } from "./table.ts";
import { startViewProxy, type ViewCounts, type ViewProxy } from "./view_proxy.ts";
import { leadsPerLogs, startPods, waitForLeader } from "../tests/e2e/cluster.ts";
import type { McallProcess } from "../tests/e2e/mcall_proc.ts";

const GOINFORMER_DIR = fileURLToPath(new URL("./goinformer/", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WARMUP_MS = 20_000;

/** Builds bench/goinformer from the Go module cache; returns the binary. */
async function buildGoInformer(dir: string): Promise<string> {
  const bin = `${dir}/goinformer`;
  const out = await new Deno.Command(Deno.env.get("DZ_TESTENV_GO") ?? "go", {
    args: ["build", "-o", bin, "."],
    cwd: GOINFORMER_DIR,
    env: { GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`go build bench/goinformer exited with ${out.code}`);
  return bin;
}

/** A kubeconfig naming `server` (a proxy, plain HTTP) with a bearer token. */
async function proxyKubeconfig(dir: string, name: string, server: string, token: string) {
  const path = `${dir}/${name}.kubeconfig`;
  await Deno.writeTextFile(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: c, cluster: {server: " + JSON.stringify(server) + "}}]",
      "users: [{name: u, user: {token: " + JSON.stringify(token) + "}}]",
      "contexts: [{name: c, context: {cluster: c, user: u}}]",
      "current-context: c",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return path;
}

const minus = (a: ViewCounts, b: ViewCounts): ViewCounts => ({
  list: a.list - b.list,
  watch: a.watch - b.watch,
  other: a.other - b.other,
  bytes: a.bytes - b.bytes,
});

/** Runs the benchmark. */
export async function benchApiView(): Promise<Row[]> {
  const seconds = Math.max(10, Number(Deno.env.get("BENCH_APIVIEW_S") ?? "600") || 600);
  const sizes = (Deno.env.get("BENCH_APIVIEW_TASKS") ?? "1000,10000").split(",").map(Number);
  return await withBenchPods("apiview", async ({ kc, ns, env, sa }) => {
    const dir = await env.tempDir();
    const goinformer = await buildGoInformer(dir);
    const cluster = kc.getCurrentCluster()!;
    const ca = cluster.caData
      ? new TextDecoder().decode(Uint8Array.from(atob(cluster.caData), (c) => c.charCodeAt(0)))
      : await Deno.readTextFile(cluster.caFile!);
    using conn = new KubeConnection(await loadKubeConfig({ KUBECONFIG: env.kubeconfigPath }));
    const admin = new KubeApi(conn, ns);
    const rows: Row[] = [];
    for (const size of sizes) {
      const app = `view${size}`;
      // The retained tasks: finished, of one old round, spread over the two workers.
      const store = admin.taskStore();
      await runPool(Array.from({ length: size }, (_, i) => i), 16, async (i) => {
        await store.create({
          metadata: {
            name: `${app}-old-${i}`,
            labels: {
              [LABEL.app]: app,
              [LABEL.task]: "true",
              [LABEL.state]: "succeeded",
              [LABEL.roundId]: "20000101-000000",
              [LABEL.assignedTo]: `${app}-${1 + (i % 2)}`,
            },
          },
          data: { result: "x".repeat(200) },
        });
      });
      const proxies: ViewProxy[] = [];
      const procs: McallProcess[] = [];
      const config = {
        tasks: { app, interval: "1h" },
        request: { inputs: [{ name: "noop", input: "true" }] },
      };
      for (let i = 0; i < 3; i++) {
        const proxy = startViewProxy(cluster.server, ca);
        env.defer(() => proxy.close());
        proxies.push(proxy);
        const [proc] = await startPods(env, {
          names: [`${app}-${i}`],
          config,
          labels: { app },
          extraEnv: { KUBECONFIG: await proxyKubeconfig(dir, `${app}-${i}`, proxy.url, sa.token) },
        });
        procs.push(proc!);
      }
      const goProxy = startViewProxy(cluster.server, ca);
      env.defer(() => goProxy.close());
      const go = new Deno.Command(goinformer, {
        args: [
          "-kubeconfig",
          await proxyKubeconfig(dir, `${app}-go`, goProxy.url, sa.token),
          "-namespace",
          ns,
          "-selector",
          `app=${app},task=true;app=${app},round=true`,
          "-token",
          sa.token,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      env.defer(async () => {
        try {
          go.kill("SIGTERM");
        } catch { /* gone */ }
        await go.status;
      });
      const leader = await waitForLeader(kc, ns, procs, { timeoutMs: 60_000 });
      await sleep(WARMUP_MS);
      const all = [...proxies, goProxy];
      const start = all.map((p) => p.counts());
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const hours = (performance.now() - t0) / 3_600_000;
      const window = all.map((p, i) => minus(p.counts(), start[i]!));
      const streams = all.map((p) => p.openWatches());
      const perHour = (n: number) => round(n / hours, 1);
      // A new term's caches list once (a restart of the leader's side): counted apart.
      const terms = procs.flatMap((p) => p.events("started-leading")).length;
      const leadsNow = procs.filter((p) => leadsPerLogs(p));
      const names = [
        ...procs.map((p) =>
          `${p.name} (${p === leader.proc ? "leader at start" : "worker at start"}${
            leadsNow.includes(p) && p !== leader.proc ? ", leader at end" : ""
          })`
        ),
        "client-go informer ×2",
      ];
      names.forEach((name, i) => {
        const w = window[i]!;
        const s = start[i]!;
        rows.push({
          name: `${size} tasks, ${name}: LIST / WATCH / other per hour`,
          value: `${perHour(w.list)} / ${perHour(w.watch)} / ${perHour(w.other)}`,
          unit: "req/h",
          note: `${streams[i]} watch streams open; at start ${s.list} LIST, ${s.watch} WATCH`,
        });
        rows.push({
          name: `${size} tasks, ${name}: bytes sent by the API server`,
          value: round(w.bytes / hours / 1e6, 2),
          unit: "MB/h",
          note: `start: ${round(s.bytes / 1e6, 2)} MB`,
        });
      });
      const ours = window.slice(0, 3);
      const lists = ours.reduce((a, w) => a + w.list, 0);
      rows.push({
        name: `${size} tasks: LISTs of the release in ${seconds} s idle`,
        value: lists,
        unit: "LIST",
        note: terms > 1
          ? `${terms - 1} leadership change(s) in the run: a new term lists its caches once`
          : verdict(lists, 0),
      });
      const oursPerStream = ours.reduce((a, w) => a + w.watch, 0) /
        Math.max(1, streams.slice(0, 3).reduce((a, b) => a + b, 0)) / hours;
      const goPerStream = window[3]!.watch / Math.max(1, streams[3]!) / hours;
      const ratio = goPerStream === 0 ? NaN : oursPerStream / goPerStream;
      rows.push({
        name: `${size} tasks: WATCH per stream per hour, ours ÷ client-go`,
        value: Number.isNaN(ratio) ? "n/a" : round(ratio, 2),
        unit: "×",
        note: `${round(oursPerStream, 1)} vs ${round(goPerStream, 1)}; ${
          Number.isNaN(ratio) ? "window too short for a client-go re-watch" : verdict(ratio, 1.5)
        }`,
      });
      for (const p of procs) await p.stop();
      go.kill("SIGTERM");
      await go.status;
      await store.deleteCollection(`${LABEL.app}=${app}`);
    }
    return rows;
  });
}
