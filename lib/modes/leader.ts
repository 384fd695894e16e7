/**
 * Leader mode (`LEADER_ELECTION=true` / `--elect`): every pod campaigns for the Lease and works
 * the tasks assigned to it; the leader also plans rounds and reconciles tasks. Losing leadership
 * never ends the process: the pod keeps working and campaigns again.
 *
 * In one-shot mode (`tasks.round`, the CronJob's Job name) every pod exits once the round's
 * summary says it is over; otherwise the pod runs until SIGTERM/SIGINT, then stops leader work,
 * releases the Lease (so another pod takes over within about one retry period), stops claiming,
 * lets running tasks finish within `worker.terminationGracePeriod` minus a margin, hands back
 * the rest, and ends `ok` (exit 0).
 *
 * {@linkcode runLeaderMode} resolves the namespace, identity, signing key and owner and connects
 * to the API server; `wireLeader` (`leader_wiring.ts`) builds the parts from configuration, ports
 * and a clock; {@linkcode runLeader} runs them until the signal or the round's end.
 *
 * @module
 */
import { type Clock, systemClock } from "../time/clock.ts";
import { ConfigError } from "../config/layer.ts";
import type { Config } from "../config/schema.ts";
import { KubeApi } from "../kube/api.ts";
import { KubeConnection, resolveNamespace } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import { KubeEventRecorder } from "../kube/events.ts";
import { logger } from "../log/log.ts";
import { FAILED, OK, type Outcome } from "./outcome.ts";
import type { RoundExit } from "../worker/round_exit.ts";
import { serveProbes } from "./probes.ts";
import { signerFromConfig } from "../tasks/signing.ts";
import type { OwnerReference } from "../apimachinery/objects.ts";
import type { TaskStore } from "../tasks/store.ts";
import { type LeaderCluster, type LeaderDeps, wireLeader } from "./leader_wiring.ts";

/** The outcome of a one-shot round by how it ended. */
const ROUND_OUTCOME: Readonly<Record<RoundExit, Outcome>> = {
  ok: OK,
  infrastructure: FAILED,
  deadline: { kind: "roundDeadline" },
};

/**
 * This pod's identity: `election.identity` (env `HOSTNAME`).
 *
 * @throws {ConfigError} When empty.
 */
export function resolveIdentity(config: Config): string {
  if (config.election.identity) return config.election.identity;
  throw new ConfigError(
    "election.identity: not set (set HOSTNAME to the pod name, e.g. from the downward API, or --identity)",
  );
}

/**
 * The owner of this release's Lease, tasks and summaries: the ConfigMap `tasks.owner` names, read
 * once for its uid (transient errors are retried for a few seconds).
 *
 * @returns The reference, or `undefined` when `tasks.owner` is empty.
 * @throws {ConfigError} When the ConfigMap does not exist (objects owned by a missing owner would
 *   be deleted at once) or cannot be read.
 */
export async function resolveOwner(
  store: TaskStore,
  name: string,
  namespace: string,
  signal?: AbortSignal,
  clock: Clock = systemClock,
): Promise<OwnerReference | undefined> {
  if (name === "") return undefined;
  for (let tryNo = 1;; tryNo++) {
    try {
      const cm = await store.get(name, signal);
      if (cm?.metadata.uid) {
        return { apiVersion: "v1", kind: "ConfigMap", name, uid: cm.metadata.uid };
      }
      throw new ConfigError(`tasks.owner: ConfigMap ${namespace}/${name} does not exist`);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (!isKubeError(err, "transient") || tryNo >= 5 || signal?.aborted) {
        throw new ConfigError(
          `tasks.owner: cannot read ConfigMap ${namespace}/${name}: ${(err as Error).message}`,
        );
      }
      await clock.sleep(1000 * tryNo, signal).catch(() => {});
    }
  }
}

/**
 * Where the probe server binds: `metrics.host` when set (the chart sets 0.0.0.0), else 0.0.0.0 in
 * a pod (`KUBERNETES_SERVICE_HOST` set) so the kubelet reaches it, else 127.0.0.1.
 */
export function probeHost(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return config.metrics.host || (env.KUBERNETES_SERVICE_HOST ? "0.0.0.0" : "127.0.0.1");
}

/** What {@linkcode runLeaderMode} needs besides configuration. */
export interface LeaderModeContext {
  readonly signal: AbortSignal;
  /** The process's environment, as `main.ts` read it (the probe host, the kubeconfig). */
  readonly env: Readonly<Record<string, string>>;
  /** Called with the probe server's address once it listens (tests). */
  readonly onProbesListening?: (addr: Deno.NetAddr) => void;
}

/**
 * Runs leader mode until the signal aborts or, in one-shot mode, the round is over.
 *
 * @returns `ok` after a clean shutdown or a round in which every task ran; `failed` when a task
 *   was dead or rejected; `roundDeadline` when the round deadline passed.
 * @throws {ConfigError} For a missing namespace, identity, kubeconfig or signing key.
 */
export async function runLeaderMode(config: Config, ctx: LeaderModeContext): Promise<Outcome> {
  const log = logger("leader");
  const namespace = await resolveNamespace(config);
  const identity = resolveIdentity(config);
  let signer;
  try {
    signer = await signerFromConfig(config.tasks);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (signer === undefined) {
    log.warn(
      "Running with UNSIGNED tasks (tasks.insecureUnsignedTasks): any pod or user that " +
        "can write ConfigMaps in {namespace} can make this pod run commands",
      { namespace },
    );
  }
  // The process's one connection to the API server: the leader's and the worker's adapters all
  // share its pool. Closed once leader mode is over (the elector has released the Lease and the
  // worker handed back by then), so a process that is done keeps no connection open.
  const conn = new KubeConnection(await loadKubeConfig(ctx.env));
  try {
    const api = new KubeApi(conn, namespace);
    const owner = await resolveOwner(api.taskStore(), config.tasks.owner, namespace, ctx.signal);
    const cluster: LeaderCluster = {
      store: api.taskStore(),
      pods: api.podLister(),
      leases: api.leaseClient(),
      events: new KubeEventRecorder(conn, namespace, identity),
    };
    const deps = { config, namespace, identity, signer, owner, cluster, clock: systemClock };
    return await runLeader(deps, ctx);
  } finally {
    conn.close();
  }
}

/**
 * The run loop: wires the parts (`wireLeader`), serves the probes, runs the elector and
 * the worker until `ctx.signal` aborts or, in one-shot mode, the round is over, then waits for
 * both to stop (the elector releases the Lease, the worker drains and hands back).
 */
export async function runLeader(deps: LeaderDeps, ctx: LeaderModeContext): Promise<Outcome> {
  const { config } = deps;
  const log = logger("leader");
  const shutdown = new AbortController();
  const onAbort = () => shutdown.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  const { elector, worker, probes, tasks } = wireLeader(deps, shutdown.signal);
  const probeServer = config.metrics.enable === false ? undefined : serveProbes(
    probeHost(config, ctx.env),
    config.metrics.port,
    probes,
    shutdown.signal,
    ctx.onProbesListening,
  );

  log.info("Leader mode: {identity} in {namespace}, lease {lease}", {
    identity: deps.identity,
    namespace: deps.namespace,
    lease: config.election.leaseName,
    round: tasks.round || undefined,
  });
  const electing = elector.run(shutdown.signal);
  const working = worker.run(shutdown.signal);
  let outcome = OK;
  if (tasks.round) {
    try {
      outcome = ROUND_OUTCOME[await worker.waitForRound(tasks.round, shutdown.signal)];
      // The outcome, not an exit code: main.ts alone turns outcomes into exit codes.
      log.info("Round {round} is over: {outcome}", { round: tasks.round, outcome: outcome.kind });
    } catch {
      // Shut down before the round ended.
    }
    shutdown.abort();
  } else {
    await new Promise<void>((resolve) => {
      if (shutdown.signal.aborted) resolve();
      shutdown.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  const [electionResult, workerResult] = await Promise.allSettled([electing, working]);
  for (const r of [electionResult, workerResult]) {
    if (r.status === "rejected") log.error("Shutdown error: {error}", { error: String(r.reason) });
  }
  await probeServer?.finished;
  ctx.signal.removeEventListener("abort", onAbort);
  return outcome;
}
