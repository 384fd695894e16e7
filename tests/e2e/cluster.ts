/**
 * Runs several instances of the real program in leader mode as "pods" of one release: each is a
 * {@linkcode McallProcess} plus a fake-kubelet Pod ({@linkcode E2E.startFakePod}) labelled like
 * the chart's pods, so the leader's worker selection sees them, and the Pod disappears when the
 * process exits.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type E2E, type ServiceAccountIdentity, waitFor } from "./harness.ts";
import { type LogLine, McallProcess } from "./mcall_proc.ts";

/** The Lease name the chart and the program use by default. */
export const DEFAULT_LEASE_NAME = "dz-mcall-leader";

/** Writes 32 random bytes, base64, to a file in `dir` and returns its path (a task-signing key). */
export async function writeSigningKey(dir: string): Promise<string> {
  const path = `${dir}/signing.key`;
  await Deno.writeTextFile(
    path,
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))) + "\n",
    {
      mode: 0o600,
    },
  );
  return path;
}

/** Options of {@linkcode startPods}. */
export interface StartPodsOptions {
  /** How many pods (ignored when `names` is given). Default 1. */
  count?: number;
  /** Pod names / identities; default `${namePrefix}-0`, `-1`, ... */
  names?: string[];
  /** Default `mcall`. */
  namePrefix?: string;
  /** The configuration file's content (written as YAML and passed with `-c`). Default `{}`. */
  config?: Record<string, unknown>;
  /** More environment variables for every process (win over the defaults below). */
  extraEnv?: Record<string, string>;
  /** The identity the processes run as (its kubeconfig). Default: the admin kubeconfig. */
  sa?: ServiceAccountIdentity;
  /** Pod labels. Default `{ app: "dz-mcall" }` (the default `tasks.app`, so the default worker
   * selector matches). */
  labels?: Record<string, string>;
  /** Extra command-line arguments. */
  args?: string[];
  /** Signing key file; default: one written once per test into a temp dir. */
  signingKeyFile?: string;
}

/**
 * What {@linkcode startPods} needs from a test: an {@linkcode E2E}, or the same few members
 * built by hand outside `Deno.test` (a benchmark).
 */
export type PodsEnv = Pick<E2E, "ns" | "kubeconfigPath" | "defer" | "startFakePod" | "tempDir">;

const keyFiles = new WeakMap<PodsEnv, Promise<string>>();

/**
 * Starts `count` processes of the program in leader mode (`LEADER_ELECTION=true`), each with
 * `HOSTNAME` = its pod name, `NAMESPACE` = the test namespace, metrics on a free loopback port,
 * and a signing key; each also gets a fake Pod (Running, Ready) deleted when it exits. All are
 * SIGKILLed after the test if still running.
 *
 * @returns The processes, in name order.
 */
export async function startPods(
  env: PodsEnv,
  opts: StartPodsOptions = {},
): Promise<McallProcess[]> {
  const prefix = opts.namePrefix ?? "mcall";
  const names = opts.names ??
    Array.from({ length: opts.count ?? 1 }, (_, i) => `${prefix}-${i}`);
  const dir = await env.tempDir();
  const configPath = `${dir}/mcall.yaml`;
  await Deno.writeTextFile(configPath, stringify(opts.config ?? {}));
  let keyFile = opts.signingKeyFile;
  if (keyFile === undefined) {
    let p = keyFiles.get(env);
    if (!p) {
      p = env.tempDir().then(writeSigningKey);
      keyFiles.set(env, p);
    }
    keyFile = await p;
  }
  const procs: McallProcess[] = [];
  for (const name of names) {
    const proc = new McallProcess(name, ["-c", configPath, ...(opts.args ?? [])], {
      KUBECONFIG: opts.sa?.kubeconfigPath ?? env.kubeconfigPath,
      NAMESPACE: env.ns,
      HOSTNAME: name,
      LEADER_ELECTION: "true",
      MCALL_TASKS_SIGNING_KEY_FILE: keyFile,
      MCALL_METRICS_HOST: "127.0.0.1",
      MCALL_METRICS_PORT: "0",
      ...opts.extraEnv,
    });
    env.defer(() => proc.stop());
    procs.push(proc);
    await env.startFakePod({
      name,
      labels: opts.labels ?? { app: "dz-mcall" },
      child: proc.child,
    });
  }
  return procs;
}

/**
 * The port of a process's probe server (from its "Probes on" log line), waiting for it.
 */
export function probePort(proc: McallProcess, timeoutMs = 30_000): Promise<number> {
  return proc.waitFor("the probe server", () => {
    const line = proc.lines.find((l) =>
      typeof l.properties?.port === "number" &&
      l.message.startsWith("Probes on")
    );
    return line?.properties.port as number | undefined;
  }, timeoutMs);
}

/** Whether a process says it leads now: its last started-leading is not followed by a stop. */
export function leadsPerLogs(proc: McallProcess): boolean {
  const events = proc.lines.filter((l) =>
    l.properties?.event === "started-leading" || l.properties?.event === "stopped-leading"
  );
  return events.at(-1)?.properties.event === "started-leading";
}

/** A leader found by {@linkcode waitForLeader}. */
export interface Leader {
  proc: McallProcess;
  /** Its latest started-leading event (`properties.epoch`, `properties.at`). */
  started: LogLine;
  /** The Lease as read. */
  lease: k8s.V1Lease;
}

/**
 * Waits until the Lease names one of `procs` (other than `opts.not`) that logged started-leading
 * for the Lease's current term (epoch = `leaseTransitions`) and has not stopped since.
 */
export async function waitForLeader(
  kc: k8s.KubeConfig,
  namespace: string,
  procs: readonly McallProcess[],
  opts: { timeoutMs?: number; not?: string; leaseName?: string } = {},
): Promise<Leader> {
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const name = opts.leaseName ?? DEFAULT_LEASE_NAME;
  return await waitFor(async () => {
    const lease = await coordination.readNamespacedLease({ name, namespace });
    const holder = lease.spec?.holderIdentity ?? "";
    if (!holder || holder === opts.not) return undefined;
    const proc = procs.find((p) => p.name === holder);
    if (!proc || !leadsPerLogs(proc)) return undefined;
    const started = proc.events("started-leading").at(-1)!;
    if (started.properties.epoch !== lease.spec?.leaseTransitions) return undefined;
    return { proc, started, lease };
  }, {
    timeoutMs: opts.timeoutMs ?? 30_000,
    intervalMs: 50,
    message: `a leader${opts.not ? ` other than ${opts.not}` : ""}\n` +
      procs.map((p) => `${p.name}:\n${p.tail(6)}`).join("\n"),
  });
}
