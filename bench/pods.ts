/**
 * Where the benchmarks run the real program as pods on the real API server (tests/testenv): a
 * fresh namespace, a ServiceAccount bound to the chart's Role, and the {@linkcode PodsEnv} that
 * `tests/e2e/cluster.ts` starts pods in; afterwards every pod, process and temp dir is removed,
 * the namespace deleted and the harness stopped.
 *
 * @module
 */
import type * as k8s from "@kubernetes/client-node";
import { chartRoleRules } from "../tests/chart/helpers.ts";
import type { PodsEnv } from "../tests/e2e/cluster.ts";
import {
  createNamespace,
  deleteNamespace,
  type FakePodOptions,
  harness,
  type ServiceAccountIdentity,
  startFakePod,
  stopHarness,
  withServiceAccount,
} from "../tests/e2e/harness.ts";

/** What {@linkcode withBenchPods} hands its benchmark. */
export interface BenchPods {
  /** The harness's admin kubeconfig. */
  readonly kc: k8s.KubeConfig;
  /** The benchmark's namespace. */
  readonly ns: string;
  /** Where pods start; its `defer` and `tempDir` are cleaned up at the end. */
  readonly env: PodsEnv;
  /** A ServiceAccount with the chart's Role, for the pods' kubeconfig. */
  readonly sa: ServiceAccountIdentity;
}

/**
 * Runs `fn` with pods of the real program on the real API server, then cleans up (best effort).
 *
 * @param name Names the namespace (`bench-<name>`) and the temp dirs (`dz-bench-<name>-`).
 * @param fn The benchmark.
 * @returns What `fn` returned.
 */
export async function withBenchPods<T>(
  name: string,
  fn: (pods: BenchPods) => Promise<T>,
): Promise<T> {
  const h = await harness();
  const kc = h.kubeConfig();
  const ns = await createNamespace(kc, `bench-${name}`);
  const cleanups: Array<() => unknown> = [];
  const env: PodsEnv = {
    ns,
    kubeconfigPath: h.kubeconfigPath,
    defer: (f) => void cleanups.push(f),
    tempDir: async () => {
      const d = await Deno.makeTempDir({ prefix: `dz-bench-${name}-` });
      cleanups.push(() => Deno.remove(d, { recursive: true }));
      return d;
    },
    startFakePod: async (o: Omit<FakePodOptions, "namespace">) => {
      const pod = await startFakePod(kc, { ...o, namespace: ns });
      cleanups.push(() => pod.remove());
      return pod;
    },
  };
  try {
    const sa = await withServiceAccount(kc, ns, "dz-mcall", await chartRoleRules(), {
      dir: await env.tempDir(),
    });
    return await fn({ kc, ns, env, sa });
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch { /* best effort */ }
    }
    await deleteNamespace(kc, ns).catch(() => {});
    await stopHarness();
  }
}
