/**
 * The floor of a task's cost (issue 22 item 3), for `bench/tasks.ts`: what client-go spends on
 * the same three writes a task costs (bench/gocreate `-updates 2`: the create, the claim and the
 * result, each a compare-and-swap), and what the API server and etcd spend serving them, measured
 * on the same harness in the same run as the round.
 *
 * @module
 */
import { buildGoCreate, text } from "./api.ts";
import { cpuMs } from "./apiserver.ts";
import { PLAN_CONCURRENCY } from "../lib/planner/planner.ts";

/** CPU per task (ms) of the three writes done by client-go. */
export interface GoFloor {
  /** bench/gocreate's own CPU (getrusage). */
  client: number;
  apiserver: number;
  etcd: number;
  /** Wall time of the whole run, ms. */
  wallMs: number;
}

/**
 * Creates `count` task-shaped ConfigMaps in `ns` and updates each twice, `PLAN_CONCURRENCY` tasks
 * at once, with client-go; the CPU per task of the client, the API server and etcd.
 */
export async function goTaskWrites(
  kubeconfig: string,
  ns: string,
  count: number,
  pids: { apiserver: number | undefined; etcd: number | undefined },
): Promise<GoFloor> {
  const dir = await Deno.makeTempDir({ prefix: "dz-bench-floor-" });
  try {
    const bin = await buildGoCreate(dir);
    const [a0, e0] = [await cpuMs(pids.apiserver), await cpuMs(pids.etcd)];
    const out = JSON.parse(
      await text([
        bin,
        "-kubeconfig",
        kubeconfig,
        "-namespace",
        ns,
        "-count",
        String(count),
        "-updates",
        "2",
        "-concurrency",
        String(PLAN_CONCURRENCY),
        "-prefix",
        "gofloor",
      ]),
    ) as { cpuMs: number; ms: number };
    const [a1, e1] = [await cpuMs(pids.apiserver), await cpuMs(pids.etcd)];
    return {
      client: out.cpuMs / count,
      apiserver: (a1 - a0) / count,
      etcd: (e1 - e0) / count,
      wallMs: out.ms,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Which Deno client makes the writes (bench/denocreate.ts). */
export type DenoClient = "fetch" | "conn" | "ours";

/**
 * The same three writes per task as {@linkcode goTaskWrites}, made from Deno by `client` (bare
 * `fetch`, or our `lib/kube` client) at the same concurrency: the runtime's share of the floor
 * beside client-go's, and our client's beside the bare runtime's.
 */
export async function denoTaskWrites(
  kubeconfig: string,
  ns: string,
  count: number,
  client: DenoClient,
): Promise<{ client: number; wallMs: number }> {
  const script = new URL("./denocreate.ts", import.meta.url).pathname;
  const out = JSON.parse(
    await text([
      Deno.execPath(),
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      script,
      "--kubeconfig",
      kubeconfig,
      "--namespace",
      ns,
      "--count",
      String(count),
      "--concurrency",
      String(PLAN_CONCURRENCY),
      "--prefix",
      `deno${client}`,
      "--client",
      client,
    ]),
  ) as { cpuMs: number; ms: number };
  return { client: out.cpuMs / count, wallMs: out.ms };
}
