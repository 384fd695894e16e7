/**
 * Leader mode (`LEADER_ELECTION=true` / `--elect`): every pod campaigns for the Lease and works
 * the tasks assigned to it; the leader also plans rounds and reconciles tasks. Losing leadership
 * never ends the process: the pod keeps working and campaigns again.
 *
 * In one-shot mode (`tasks.round`, the CronJob's Job name) every pod exits once the round's
 * summary says it is over; otherwise the pod runs until SIGTERM/SIGINT, then stops leader work,
 * releases the Lease (so another pod takes over within about one retry period), stops claiming,
 * lets running tasks finish within `worker.terminationGracePeriod` minus a margin, hands back
 * the rest, and exits 0.
 *
 * @module
 */
import { systemClock } from "../time/clock.ts";
import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { Elector } from "../election/elector.ts";
import { runInput } from "../engine/exec.ts";
import { KubeApi } from "../kube/api.ts";
import { loadKubeConfig, resolveNamespace } from "../kube/client.ts";
import { isKubeError } from "../kube/errors.ts";
import { KubeEventRecorder } from "../kube/events.ts";
import { LeaseObjectLock } from "../election/lease_object_lock.ts";
import { LeaderObserver } from "../observe/leader_observer.ts";
import { logger } from "../log/log.ts";
import { createMetrics } from "../observe/metrics.ts";
import { configuredInputs } from "./once.ts";
import { Planner } from "../tasks/planner.ts";
import { pushRound } from "../observe/pushgateway.ts";
import { ROUND_EXIT } from "../tasks/round_exit.ts";
import { serveProbes } from "./serve.ts";
import { signerFromConfig } from "../tasks/signing.ts";
import { createTaskMetrics } from "../tasks/metrics.ts";
import type { OwnerReference } from "../kube/objects.ts";
import type { TaskStore } from "../tasks/store.ts";
import { Worker } from "../tasks/worker.ts";

/** Exit code of a one-shot round whose deadline passed (2 is taken by configuration errors). */
export const EXIT_ROUND_DEADLINE = 3;

/** What a pod keeps of its grace period after draining: for hand backs, the lease, exiting. */
export const DRAIN_MARGIN_MS = 5_000;

/**
 * How long running tasks may still finish after SIGTERM: the grace period minus
 * {@linkcode DRAIN_MARGIN_MS}, or half of a grace period shorter than twice that margin.
 *
 * @example Usage
 * ```ts
 * import { drainBudgetMs } from "./leader.ts";
 * import assert from "node:assert/strict";
 * assert.equal(drainBudgetMs(30_000), 25_000);
 * assert.equal(drainBudgetMs(4_000), 2_000);
 * ```
 */
export function drainBudgetMs(graceMs: number): number {
  return Math.max(0, graceMs - Math.min(DRAIN_MARGIN_MS, graceMs / 2));
}

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
      await systemClock.sleep(1000 * tryNo, signal).catch(() => {});
    }
  }
}

/**
 * Where the probe server binds: `metrics.host` when set (the chart sets 0.0.0.0), else 0.0.0.0 in
 * a pod (`KUBERNETES_SERVICE_HOST` set) so the kubelet reaches it, else 127.0.0.1.
 */
export function probeHost(
  config: Config,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): string {
  return config.metrics.host || (env.KUBERNETES_SERVICE_HOST ? "0.0.0.0" : "127.0.0.1");
}

/** What {@linkcode runLeaderMode} needs besides configuration. */
export interface LeaderModeContext {
  readonly signal: AbortSignal;
  /** Called with the probe server's address once it listens (tests). */
  readonly onProbesListening?: (addr: Deno.NetAddr) => void;
}

/**
 * Runs leader mode until the signal aborts or, in one-shot mode, the round is over.
 *
 * @returns 0 after a clean shutdown or a round in which every task ran; 1 when a task was dead or
 *   rejected; 2 is never returned (configuration errors throw); 3 when the round deadline passed.
 * @throws {ConfigError} For a missing namespace, identity, kubeconfig or signing key.
 */
export async function runLeaderMode(config: Config, ctx: LeaderModeContext): Promise<number> {
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
  const api = new KubeApi(loadKubeConfig(), namespace);
  const owner = await resolveOwner(api.taskStore(), config.tasks.owner, namespace, ctx.signal);
  const inputs = configuredInputs(config);
  if (inputs.length === 0) log.warn("No inputs configured: rounds will be empty");

  const metrics = createMetrics();
  const taskMetrics = createTaskMetrics(metrics.registry);
  const observer = new LeaderObserver({
    inputs,
    app: config.tasks.app,
    registry: metrics.registry,
    events: new KubeEventRecorder(loadKubeConfig(), namespace, identity),
  });
  const tasks = {
    ...config.tasks,
    workerSelector: config.tasks.workerSelector || `app=${config.tasks.app}`,
  };
  const shutdown = new AbortController();
  const onAbort = () => shutdown.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });

  let termEndedAt: number | undefined;
  // One-shot: once the round is over this pod never takes the Lease again (its leader released
  // it at the end of the round; a pod still finishing must not start a term for nothing).
  let roundOver = false;
  const mayAcquire = async () => !(roundOver ||= await worker.roundIsOver(tasks.round));
  const elector: Elector = new Elector({
    lock: new LeaseObjectLock({
      name: config.election.leaseName,
      namespace,
      identity,
      client: api.leaseClient(),
      ...(owner ? { ownerReferences: [owner] } : {}),
    }),
    leaseDurationMs: config.election.leaseDuration,
    renewDeadlineMs: config.election.renewDeadline,
    retryPeriodMs: config.election.retryPeriod,
    releaseOnCancel: config.election.releaseOnCancel,
    ...(tasks.round ? { mayAcquire } : {}),
    // Leadership intervals are logged with wall-clock milliseconds so tests and operators can
    // check that terms never overlap. A term ends when its signal aborts (the planner stops
    // writing then); onStoppedLeading runs later, after the work settled and the lease was
    // released, when a successor may already lead, so `at` of stopped-leading is the abort time.
    onStartedLeading: async (signal, epoch) => {
      termEndedAt = undefined;
      signal.addEventListener("abort", () => termEndedAt = Date.now(), { once: true });
      log.info("Started leading with epoch {epoch}", {
        event: "started-leading",
        epoch,
        identity,
        at: Date.now(),
      });
      observer.leaderElected(config.election.leaseName, identity, epoch);
      const planner = new Planner({
        store: api.taskStore(),
        pods: api.podLister(),
        clock: systemClock,
        // Only the holder of epoch N may create or re-stamp tasks stamped N: every planner write
        // asks this first, and it turns false as soon as the local clock says the lease may
        // have expired.
        isLeader: () => elector.isLeader() && !signal.aborted,
        epoch: () => epoch,
        identity,
        tasks,
        signer,
        metrics: taskMetrics,
        observe: (views, summaries) => observer.observe(views, summaries),
        log: logger("planner"),
        ...(owner ? { owner } : {}),
      });
      if (await planner.runLeader(inputs, signal) !== undefined) roundOver = true;
      await observer.settle();
      if (roundOver) await pushRound({ config, store: api.taskStore(), inputs, namespace, log });
    },
    onStoppedLeading: (reason) => {
      observer.endTerm();
      log.info("Stopped leading ({reason})", {
        event: "stopped-leading",
        reason,
        identity,
        at: termEndedAt ?? Date.now(),
      });
    },
    onNewLeader: (holder) => {
      log.info("Leader is now {holder}", { event: "new-leader", holder, identity, at: Date.now() });
    },
    events: {
      leader: (v) => metrics.leader.set(v),
      transition: () => metrics.transitions.inc(),
      renewFailure: () => metrics.renewFailures.inc(),
    },
    logger: logger("election"),
  });

  const worker = new Worker({
    store: api.taskStore(),
    clock: systemClock,
    identity,
    tasks,
    signer,
    executor: (spec, signal) =>
      runInput(spec, {
        maxOutputBytes: config.request.maxOutputBytes,
        ...(config.request.subject ? { subject: config.request.subject } : {}),
        signal,
      }),
    concurrency: config.worker.number,
    drainMs: drainBudgetMs(config.worker.terminationGracePeriod),
    resultFormat: { format: config.response.format, encoding: config.response.encoding.type },
    observedEpoch: () => elector.observedRecord()?.leaseTransitions ?? 0,
    metrics: taskMetrics,
    log: logger("worker"),
  });

  const probeServer = config.metrics.enable === false ? undefined : serveProbes(
    probeHost(config),
    config.metrics.port,
    {
      healthz: () => {
        const verdict = elector.checkHealthz();
        return verdict.ok ? { ok: true, reason: "ok" } : verdict;
      },
      readyz: () => ({
        ok: !shutdown.signal.aborted,
        reason: shutdown.signal.aborted ? "stopping" : "ready",
      }),
      metrics: async () => ({
        body: await metrics.registry.metrics(),
        contentType: metrics.registry.contentType,
      }),
    },
    shutdown.signal,
    ctx.onProbesListening,
  );

  log.info("Leader mode: {identity} in {namespace}, lease {lease}", {
    identity,
    namespace,
    lease: config.election.leaseName,
    round: tasks.round || undefined,
  });
  const electing = elector.run(shutdown.signal);
  const working = worker.run(shutdown.signal);
  let code = 0;
  if (tasks.round) {
    try {
      const status = await worker.waitForRound(tasks.round, shutdown.signal);
      code = status === ROUND_EXIT.deadline ? EXIT_ROUND_DEADLINE : status;
      log.info("Round {round} is over: exit {code}", { round: tasks.round, code });
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
  return code;
}
