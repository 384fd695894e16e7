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
import type { Row } from "./table.ts";
import { round, verdict } from "./proc.ts";

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
 * at once, with client-go; the CPU per task of the client, the API server and etcd. `rate` > 0
 * starts at most that many tasks per second (`-rate`), as a round paces them; 0 writes flat out.
 */
export async function goTaskWrites(
  kubeconfig: string,
  ns: string,
  count: number,
  pids: { apiserver: number | undefined; etcd: number | undefined },
  rate = 0,
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
        rate > 0 ? "gopaced" : "gofloor",
        "-rate",
        String(rate),
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
 * `fetch`, or our `lib/kube` client) at the same concurrency and `rate`: the runtime's share of
 * the floor beside client-go's, and our client's beside the bare runtime's.
 */
export async function denoTaskWrites(
  kubeconfig: string,
  ns: string,
  count: number,
  client: DenoClient,
  rate = 0,
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
      `deno${client}${rate > 0 ? "paced" : ""}`,
      "--client",
      client,
      "--rate",
      String(rate),
    ]),
  ) as { cpuMs: number; ms: number };
  return { client: out.cpuMs / count, wallMs: out.ms };
}

/** Each client's three writes per task, measured one after the other in one namespace. */
export interface Floors {
  /** client-go (bench/gocreate), with the API server's and etcd's CPU. */
  go: GoFloor;
  /** Bare Deno: fetch over `Deno.createHttpClient`. */
  bare: { client: number; wallMs: number };
  /** Our connection (pool and pinned TLS relay) with bare JSON. */
  relay: { client: number; wallMs: number };
  /** Our client (`lib/kube`). */
  ours: { client: number; wallMs: number };
  /** The same writes at the round's pace (`rate` tasks/s), by client-go, bare Deno and ours. */
  paced: {
    rate: number;
    go: GoFloor;
    bare: { client: number; wallMs: number };
    ours: { client: number; wallMs: number };
  };
}

/**
 * Measures {@linkcode Floors} in `ns` (`count` tasks each): flat out, then at `pace` tasks/s (the
 * round's own: a client that wakes for a few requests at a time pays each wake's cost on fewer of
 * them, client-go as much as Deno). `observe` opens the bench's own watch of the namespace's
 * objects, as the round had one open (`task_round.ts`), so the API server serves the same
 * observer for the reference as for the round; it returns the watch's stop.
 */
export async function taskWriteFloors(
  kubeconfig: string,
  ns: string,
  count: number,
  pace: number,
  pids: { apiserver: number | undefined; etcd: number | undefined },
  observe: () => Promise<() => void>,
): Promise<Floors> {
  const stop = await observe();
  try {
    const go = await goTaskWrites(kubeconfig, ns, count, pids);
    const bare = await denoTaskWrites(kubeconfig, ns, count, "fetch");
    const relay = await denoTaskWrites(kubeconfig, ns, count, "conn");
    const ours = await denoTaskWrites(kubeconfig, ns, count, "ours");
    const paced = {
      rate: pace,
      go: await goTaskWrites(kubeconfig, ns, count, pids, pace),
      bare: await denoTaskWrites(kubeconfig, ns, count, "fetch", pace),
      ours: await denoTaskWrites(kubeconfig, ns, count, "ours", pace),
    };
    return { go, bare, relay, ours, paced };
  } finally {
    stop();
  }
}

/** What a round cost per task (ms), to set against the floors. */
export interface RoundCost {
  /** The engine's CPU per task (runAll in the bench's process). */
  enginePerTask: number;
  /** The same, each input run as it comes at one worker's pace (the round's / `workers`). */
  enginePacedPerTask: number;
  workers: number;
  /** Our processes' (leader + workers). */
  oursPerTask: number;
  /** The API server's CPU over the whole round (ms), and the round's wall time (ms). */
  apiserverMs: number;
  wallMs: number;
  /** The API server's idle CPU (ms per ms). */
  apiIdlePerMs: number;
  tasks: number;
}

/** The rows of a task's cost against its floors (issue 22 item 3). */
export function floorRows(f: Floors, c: RoundCost): Row[] {
  const { go, bare, relay, ours: ourClient, paced } = f;
  const { enginePerTask, oursPerTask, apiIdlePerMs } = c;
  const floor = enginePerTask + go.client;
  const apiPerTask = c.apiserverMs / c.tasks;
  // The API server's CPU per task net of what it spends idle over a run's wall time: a run that
  // takes longer pays more of it.
  const net = (perTask: number, wallMs: number) => perTask - apiIdlePerMs * wallMs / c.tasks;
  const apiNet = net(apiPerTask, c.wallMs);
  const goApiNet = net(go.apiserver, go.wallMs);
  return [
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
        } s; API server ${round(go.apiserver, 2)} ms, etcd ${
          round(go.etcd, 2)
        } ms per task (the bench watching, as in the round)`,
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
      name: "our connection (pinned TLS relay) CPU per task, the same 3 writes",
      value: round(relay.client, 2),
      unit: "ms",
      note: `bench/denocreate.ts --client conn (KubeConnection.send, bare JSON), ${
        round(relay.wallMs / 1000, 2)
      } s; ${round(relay.client / bare.client, 2)}× bare Deno's`,
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
    ...pacedRows(paced, go, {
      engine: c.enginePacedPerTask,
      engineFlat: enginePerTask,
      workers: c.workers,
      ours: oursPerTask,
      apiserver: apiPerTask,
    }),
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
  ];
}

/**
 * The rows of the floor at the round's pace: the same writes started at the round's tasks/s, by
 * client-go, bare Deno and our client; the engine at one worker's pace (each worker runs its
 * share as it comes); ours against the floor so measured. The writes are one client's at the
 * whole round's pace, where each of our workers makes its share at a fifth of it: if anything,
 * this floor is low.
 */
function pacedRows(
  p: Floors["paced"],
  go: GoFloor,
  round1: { engine: number; engineFlat: number; workers: number; ours: number; apiserver: number },
): Row[] {
  const { engine, engineFlat, workers, ours, apiserver } = round1;
  const floor = engine + p.go.client;
  const pace = `at the round's pace (${round(p.rate)} tasks/s)`;
  return [
    {
      name: `engine CPU per task at one worker's pace (${round(p.rate / workers, 1)} tasks/s)`,
      value: round(engine, 2),
      unit: "ms",
      note: `runInput of a worker's share of the inputs, each as it comes; ${
        round(engine / engineFlat, 2)
      }× the engine's flat-out figure`,
    },
    {
      name: `client-go CPU per task, the same 3 writes ${pace}`,
      value: round(p.go.client, 2),
      unit: "ms",
      note: `bench/gocreate -rate ${round(p.rate, 1)}, ${round(p.go.wallMs / 1000, 2)} s; ${
        round(p.go.client / go.client, 2)
      }× its flat-out figure; API server ${round(p.go.apiserver, 2)} ms per task`,
    },
    {
      name: `bare Deno CPU per task, the same 3 writes ${pace}`,
      value: round(p.bare.client, 2),
      unit: "ms",
      note: `bench/denocreate.ts --client fetch --rate; ${
        round(p.bare.client / p.go.client, 2)
      }× client-go's at this pace`,
    },
    {
      name: `our client CPU per task, the same 3 writes ${pace}`,
      value: round(p.ours.client, 2),
      unit: "ms",
      note: `bench/denocreate.ts --client ours --rate; ${
        round(p.ours.client / p.bare.client, 2)
      }× bare Deno's at this pace`,
    },
    {
      name: "our CPU per task / floor at the round's pace",
      value: round(ours / floor, 2),
      unit: "ratio",
      note: `${round(ours, 2)} ms against ${
        round(floor, 2)
      } ms (engine at a worker's pace + client-go ${pace}); ${verdict(ours / floor, 2, "×")}`,
    },
    {
      name: "API server CPU per task: ours / client-go's same writes at the round's pace",
      value: round(apiserver / p.go.apiserver, 2),
      unit: "ratio",
      note: `${round(apiserver, 2)} against ${round(p.go.apiserver, 2)} ms; ${
        verdict(apiserver / p.go.apiserver, 1, "×")
      }`,
    },
  ];
}
