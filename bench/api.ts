/**
 * API throughput benchmark (`deno task bench api`): how fast the leader plans a round on the real
 * API server (tests/testenv) against the server's own limit, measured in the same run by a small
 * client-go program (bench/gocreate, the same k8s.io/client-go version as tests/testenv) creating
 * as many ConfigMaps of the same shape, as many at once (16).
 *
 * - planner: `Planner.planRound` with 1,000 inputs through `KubeApi` (one connection pool,
 *   HTTP/2 by default, lib/kube/client.ts `HTTP2`; lib/kube/api.ts) — the leader's real code path: list, summary, signing, creates.
 * - client-go: bench/gocreate, 1,000 creates, HTTP/2 (client-go's default).
 * - client-node alone: the generated client without lib/kube/api.ts's pool — one undici Agent, so
 *   one connection, per request (client-node 2.0.1) — what the planner did before.
 *
 * Interleaved `BENCH_API_RUNS` times (default 3), each in its own namespace; medians, and the
 * planner/client-go ratio taken run by run. For each, the API server's CPU per create (utime +
 * stime of the kube-apiserver process, /proc) and its count of configmap writes per create
 * (`apiserver_request_total`).
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { fileURLToPath } from "node:url";
import { systemClock } from "../lib/time/clock.ts";
import { loadConfig } from "../lib/config/load.ts";
import type { InputSpec } from "../lib/engine/input.ts";
import { KubeApi } from "../lib/kube/api.ts";
import { HTTP2, KubeConnection } from "../lib/kube/client.ts";
import { fromClientNode } from "../lib/kube/client_node.ts";
import { logger } from "../lib/log/log.ts";
import { PLAN_CONCURRENCY, Planner } from "../lib/planner/planner.ts";
import { runPool } from "../lib/engine/pool.ts";
import { HmacSigner } from "../lib/tasks/signing.ts";
import {
  createNamespace,
  deleteNamespace,
  harness,
  startFakePod,
  stopHarness,
} from "../tests/e2e/harness.ts";
import { apiServerPid, cpuMs } from "./apiserver.ts";
import { median, round, verdictAtLeast } from "./proc.ts";
import type { Row } from "./table.ts";

const CREATES = 1000;
const GOCREATE_DIR = fileURLToPath(new URL("./gocreate/", import.meta.url));

/** Runs `argv`; stdout as text. @throws {Error} When it exits non-zero. */
export async function text(
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "inherit",
    ...opts,
  }).output();
  if (out.code !== 0) throw new Error(`${argv.join(" ")} exited with ${out.code}`);
  return new TextDecoder().decode(out.stdout);
}

/** Builds bench/gocreate (Go's build cache makes later builds instant); returns the binary. */
export async function buildGoCreate(dir: string): Promise<string> {
  const bin = `${dir}/gocreate`;
  const go = Deno.env.get("DZ_TESTENV_GO") ?? "go";
  await text([go, "build", "-o", bin, "."], {
    cwd: GOCREATE_DIR,
    env: { GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" },
  });
  return bin;
}

/** Sum of `apiserver_request_total` for configmap writes, from the server's /metrics. */
async function configMapWrites(kubectl: string, kubeconfig: string): Promise<number> {
  const metrics = await text([kubectl, "--kubeconfig", kubeconfig, "get", "--raw", "/metrics"]);
  let sum = 0;
  for (const line of metrics.split("\n")) {
    if (!line.startsWith("apiserver_request_total{") || !line.includes(`resource="configmaps"`)) {
      continue;
    }
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
    if (["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION"].includes(verb)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

interface Sample {
  perSecond: number;
  cpuMsPerCreate: number;
  writesPerCreate: number;
}

/** Runs the benchmark. */
export async function benchApi(): Promise<Row[]> {
  const runs = Math.max(1, Number(Deno.env.get("BENCH_API_RUNS") ?? "3") || 3);
  const h = await harness();
  const kc = h.kubeConfig();
  // The planner's one connection for every run, as a leader keeps one for its life.
  const conn = new KubeConnection(fromClientNode(kc));
  const dir = await Deno.makeTempDir({ prefix: "dz-bench-api-" });
  const namespaces: string[] = [];
  try {
    const gocreate = await buildGoCreate(dir);
    const pid = await apiServerPid(h.control);
    const kubectl = `${(await text(["bash", "scripts/k8s-tools.sh"])).trim()}/kubectl`;
    const writes = () => configMapWrites(kubectl, h.kubeconfigPath);
    const signer = await HmacSigner.fromKey(crypto.getRandomValues(new Uint8Array(32)));
    const tasks = loadConfig({ layers: [] }).tasks;
    const inputs: InputSpec[] = Array.from({ length: CREATES }, (_, index) => ({
      index,
      input: "true",
      type: "cmd",
      name: `t${index}`,
      timeoutMs: 10_000,
      shell: false,
      headers: {},
      retries: 0,
    }));

    const measure = async (
      run: (ns: string) => Promise<void>,
      given?: string,
    ): Promise<Sample> => {
      const ns = given ?? await createNamespace(kc, "bench-api");
      if (!given) namespaces.push(ns);
      const [cpu0, writes0] = [await cpuMs(pid), await writes()];
      const t0 = performance.now();
      await run(ns);
      const ms = performance.now() - t0;
      const [cpu1, writes1] = [await cpuMs(pid), await writes()];
      return {
        perSecond: CREATES / (ms / 1000),
        cpuMsPerCreate: (cpu1 - cpu0) / CREATES,
        writesPerCreate: (writes1 - writes0) / CREATES,
      };
    };

    const planner = (ns: string) =>
      measure(async () => {
        const api = new KubeApi(conn, ns);
        const planned = await new Planner({
          store: api.taskStore(),
          pods: api.podLister(),
          clock: systemClock,
          isLeader: () => true,
          epoch: () => 1,
          identity: "bench-leader",
          tasks,
          signer,
          log: logger("bench"),
        }).planRound("bench", inputs);
        if (!planned) throw new Error("planner: no ready worker pod");
      }, ns);
    const goClient = () =>
      measure(async (ns) => {
        await text([
          gocreate,
          "-kubeconfig",
          h.kubeconfigPath,
          "-namespace",
          ns,
          "-count",
          String(CREATES),
          "-concurrency",
          String(PLAN_CONCURRENCY),
        ]);
      });
    const clientNode = () =>
      measure(async (ns) => {
        const raw = new k8s.KubeConfig();
        raw.loadFromFile(h.kubeconfigPath);
        const core = raw.makeApiClient(k8s.CoreV1Api);
        await runPool(inputs, PLAN_CONCURRENCY, async (_s, i) => {
          await core.createNamespacedConfigMap({
            namespace: ns,
            body: { metadata: { name: `raw-${i}` }, data: { spec: "{}" } },
          });
        });
      });

    const samples: Record<"planner" | "go" | "raw", Sample[]> = { planner: [], go: [], raw: [] };
    for (let i = 0; i < runs; i++) {
      // The planner needs a ready worker pod in its namespace: make the namespace first.
      const ns = await createNamespace(kc, "bench-plan");
      namespaces.push(ns);
      await startFakePod(kc, { namespace: ns, name: "worker-0", labels: { app: "dz-mcall" } });
      samples.planner.push(await planner(ns));
      samples.go.push(await goClient());
      samples.raw.push(await clientNode());
    }
    const med = (k: keyof typeof samples, f: keyof Sample) => median(samples[k].map((s) => s[f]));
    const ratio = median(samples.planner.map((s, i) => s.perSecond / samples.go[i]!.perSecond));
    const cpu = (k: keyof typeof samples) => round(med(k, "cpuMsPerCreate"), 2);
    const perCreate = (k: keyof typeof samples) => round(med(k, "writesPerCreate"), 3);
    return [
      {
        name: `planner: planRound of ${CREATES} tasks`,
        value: Math.round(med("planner", "perSecond")),
        unit: "creates/s",
        note: `lib/kube/api.ts (one pool, ${
          HTTP2 ? "HTTP/2" : "HTTP/1.1"
        }), ${PLAN_CONCURRENCY} at once; API server CPU ${cpu("planner")} ms/create; ${
          perCreate("planner")
        } configmap writes/task`,
      },
      {
        name: `client-go: ${CREATES} creates (bench/gocreate)`,
        value: Math.round(med("go", "perSecond")),
        unit: "creates/s",
        note: `reference, same run, ${PLAN_CONCURRENCY} at once, HTTP/2; API server CPU ${
          cpu("go")
        } ms/create`,
      },
      {
        name: "  planner / client-go (paired)",
        value: round(ratio, 2),
        unit: "ratio",
        note: verdictAtLeast(ratio, 0.5, "×"),
      },
      {
        name: `client-node alone: ${CREATES} creates`,
        value: Math.round(med("raw", "perSecond")),
        unit: "creates/s",
        note: `no pool (an undici Agent per request, HTTP/2), ${PLAN_CONCURRENCY} at once; ` +
          `API server CPU ${cpu("raw")} ms/create — the planner's path before the pool`,
      },
      {
        name: "runs",
        value: runs,
        unit: "",
        note: `interleaved, medians; rates per run: planner ${
          samples.planner.map((s) => Math.round(s.perSecond)).join(", ")
        }; client-go ${samples.go.map((s) => Math.round(s.perSecond)).join(", ")}`,
      },
    ];
  } finally {
    conn.close();
    for (const ns of namespaces) await deleteNamespace(kc, ns).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await stopHarness();
  }
}

if (import.meta.main) {
  const { renderTable } = await import("./table.ts");
  console.log(renderTable("API throughput", await benchApi()));
}
