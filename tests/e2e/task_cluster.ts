/**
 * A release of program processes for the task e2e tests: each a real program in leader mode and
 * a Ready fake pod labelled `app=dz-mcall`, bound to the Role the chart renders, with one signing
 * key; plus helpers to wait for tasks and count executions.
 *
 * @module
 */
import type * as k8s from "@kubernetes/client-node";
import { chartRoleRules } from "../chart/helpers.ts";
import { type E2E, type FakePod, waitFor } from "./harness.ts";
import { McallProcess } from "./mcall_proc.ts";
import { type CountingServer, startCountingServer } from "./counting_server.ts";

export const APP = "dz-mcall";
export const LEASE = "dz-mcall-leader";

/** Seconds since the epoch of a round id `YYYYMMDD-HHMMSS`. */
export function roundSeconds(id: string): number {
  return Date.UTC(
    +id.slice(0, 4),
    +id.slice(4, 6) - 1,
    +id.slice(6, 8),
    +id.slice(9, 11),
    +id.slice(11, 13),
    +id.slice(13, 15),
  ) / 1000;
}

/** One input of `request.inputs`. */
export interface InputConfig {
  input: string;
  type?: "cmd" | "get" | "post";
  name?: string;
  timeout?: string;
  shell?: boolean;
  expect?: string;
}

export interface ClusterOptions {
  names?: string[];
  inputs: InputConfig[];
  /** Extra environment (MCALL_TASKS_ROUND, intervals...). */
  env?: Record<string, string>;
  /** Extra environment of single members, by name (wins over `env`). */
  envOf?: Record<string, Record<string, string>>;
  /** Start the first name alone and wait until it leads before starting the others. */
  leaderFirst?: boolean;
  /**
   * Members whose Pod stays when their process exits (a container that restarts in place,
   * `restartPolicy: OnFailure`); {@linkcode Cluster.restart} starts the next container.
   */
  keepPods?: string[];
}

export interface Member {
  readonly name: string;
  readonly proc: McallProcess;
  readonly pod: FakePod;
}

export interface Cluster {
  readonly members: Member[];
  readonly keyFile: string;
  member(name: string): Member;
  /** The member whose process logged `started-leading` last (and still runs, if any). */
  leader(): Promise<Member>;
  /** Every task ConfigMap of the namespace. */
  tasks(): Promise<k8s.V1ConfigMap[]>;
  summaries(): Promise<k8s.V1ConfigMap[]>;
  stopAll(): Promise<void>;
  /** Starts a new process for a member (same name, same Pod), replacing it in `members`. */
  restart(name: string): Member;
}

/**
 * Starts one program process per name, each a Ready fake pod labelled `app=dz-mcall` (the Pod is
 * created before its process, so the leader sees every worker when it plans, and deleted when
 * the process exits), all with the chart's Role and one signing key.
 */
export async function startCluster(env: E2E, opts: ClusterOptions): Promise<Cluster> {
  const names = opts.names ?? ["mcall-a", "mcall-b", "mcall-c"];
  const dir = await env.tempDir();
  const keyFile = `${dir}/signing.key`;
  const key = Array.from(crypto.getRandomValues(new Uint8Array(32)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(keyFile, key + "\n", { mode: 0o600 });
  const configFile = `${dir}/mcall.yaml`;
  // JSON is YAML.
  await Deno.writeTextFile(configFile, JSON.stringify({ request: { inputs: opts.inputs } }));
  const sa = await env.withServiceAccount("dz-mcall", await chartRoleRules(LEASE));

  const pods = new Map<string, FakePod>();
  for (const name of names) {
    pods.set(name, await env.startFakePod({ name, labels: { app: APP } }));
  }
  const members: Member[] = [];
  const spawn = (name: string) => {
    const proc = new McallProcess(name, ["-c", configFile], {
      KUBECONFIG: sa.kubeconfigPath,
      NAMESPACE: env.ns,
      HOSTNAME: name,
      LEADER_ELECTION: "true",
      MCALL_TASKS_SIGNING_KEY_FILE: keyFile,
      MCALL_METRICS_PORT: "0",
      MCALL_ELECTION_LEASE_DURATION: "4s",
      MCALL_ELECTION_RENEW_DEADLINE: "3s",
      MCALL_ELECTION_RETRY_PERIOD: "1s",
      MCALL_TASKS_POLL_INTERVAL: "2s",
      MCALL_TASKS_STUCK_GRACE: "5s",
      ...opts.env,
      ...opts.envOf?.[name],
    });
    const pod = pods.get(name)!;
    // The fake kubelet: the Pod goes away when its process exits.
    if (!opts.keepPods?.includes(name)) proc.exited.then(() => pod.remove()).catch(() => {});
    const m = { name, proc, pod };
    const old = members.findIndex((x) => x.name === name);
    if (old >= 0) members[old] = m;
    else members.push(m);
    env.defer(() => proc.stop());
    return m;
  };
  const core = env.core;
  const list = async (labelSelector: string) =>
    (await core.listNamespacedConfigMap({ namespace: env.ns, labelSelector })).items;
  const cluster: Cluster = {
    members,
    keyFile,
    member: (name) => members.find((m) => m.name === name)!,
    leader: async () => {
      const holder = await waitFor(async () => {
        const lease = await env.coordination.readNamespacedLease({
          name: LEASE,
          namespace: env.ns,
        });
        const h = lease.spec?.holderIdentity;
        const m = members.find((x) => x.name === h);
        return m && m.proc.events("started-leading").length > 0 ? m : undefined;
      }, { timeoutMs: 30_000, message: "a leader" });
      return holder;
    },
    tasks: () => list(`app=${APP},task=true`),
    summaries: () => list(`app=${APP},round=true`),
    stopAll: async () => {
      await Promise.all(members.map((m) => m.proc.stop()));
    },
    restart: (name) => spawn(name),
  };
  if (opts.leaderFirst) {
    const first = spawn(names[0]!);
    await first.proc.waitFor("leadership", () => first.proc.events("started-leading")[0], 30_000);
    for (const n of names.slice(1)) spawn(n);
  } else {
    for (const n of names) spawn(n);
  }
  return cluster;
}

export const ann = (cm: k8s.V1ConfigMap, key: string) => cm.metadata?.annotations?.[key];
export const lab = (cm: k8s.V1ConfigMap, key: string) => cm.metadata?.labels?.[key];

/** Waits until every listed task is in a terminal state (processed=true). */
export async function waitForTerminal(
  cluster: Cluster,
  count: number,
  timeoutMs = 60_000,
  round?: string,
): Promise<k8s.V1ConfigMap[]> {
  let last: k8s.V1ConfigMap[] = [];
  return await waitFor(async () => {
    last = (await cluster.tasks()).filter((t) => !round || lab(t, "round-id") === round);
    return last.length === count && last.every((t) => ann(t, "processed") === "true") && last;
  }, {
    timeoutMs,
    message: `${count} terminal tasks`,
    intervalMs: 250,
  }).catch((e) => {
    const states = last.map((t) => `${t.metadata?.name}:${lab(t, "state")}`).join(" ");
    const tails = cluster.members.map((m) => `--- ${m.name}\n${m.proc.tail(10)}`).join("\n");
    throw new Error(`${(e as Error).message}\nstates: ${states}\n${tails}`);
  });
}

export async function withServer(fn: (server: CountingServer) => Promise<void>): Promise<void> {
  const server = startCountingServer();
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

export const byName = (a: k8s.V1ConfigMap, b: k8s.V1ConfigMap) =>
  (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "");
