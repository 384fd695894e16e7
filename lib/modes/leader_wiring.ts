/**
 * Leader mode's parts, wired together: the elector, the worker, the planner of each term with the
 * observer and the metrics, and the probes. The API server comes in as ports
 * ({@linkcode LeaderCluster}) and time as a clock, so tests wire the same parts against in-memory
 * fakes; `leader.ts` connects them to Kubernetes and runs them.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import { Elector } from "../election/elector.ts";
import { runInput } from "../engine/exec.ts";
import { type LeaseClient, LeaseObjectLock } from "../election/lease_object_lock.ts";
import { LeaderObserver } from "../observe/leader_observer.ts";
import { logger } from "../log/log.ts";
import { createMetrics } from "../observe/metrics.ts";
import { configuredInputs } from "./once.ts";
import { cadenceOf, effectiveCadences } from "../config/cadence_rules.ts";
import { gapsMs } from "../time/cadence.ts";
import { Planner } from "../planner/planner.ts";
import { workerSelector } from "../planner/assign.ts";
import { pushRound } from "../observe/pushgateway.ts";
import type { EventSink } from "../observe/task_events.ts";
import type { Probes } from "./probes.ts";
import type { TaskSigner } from "../tasks/signing.ts";
import { createTaskMetrics } from "../tasks/metrics.ts";
import type { OwnerReference } from "../apimachinery/objects.ts";
import type { PodLister, TaskStore } from "../tasks/store.ts";
import { Worker } from "../worker/worker.ts";

/** What a pod keeps of its grace period after draining: for hand backs, the lease, exiting. */
export const DRAIN_MARGIN_MS = 5_000;

/**
 * How long running tasks may still finish after SIGTERM: the grace period minus
 * {@linkcode DRAIN_MARGIN_MS}, or half of a grace period shorter than twice that margin.
 *
 * @example Usage
 * ```ts
 * import { drainBudgetMs } from "./leader_wiring.ts";
 * import assert from "node:assert/strict";
 * assert.equal(drainBudgetMs(30_000), 25_000);
 * assert.equal(drainBudgetMs(4_000), 2_000);
 * ```
 */
export function drainBudgetMs(graceMs: number): number {
  return Math.max(0, graceMs - Math.min(DRAIN_MARGIN_MS, graceMs / 2));
}

/** The API server as leader mode sees it: ports that `lib/kube/` implements (fakes in tests). */
export interface LeaderCluster {
  /** Task ConfigMaps and round summaries. */
  readonly store: TaskStore;
  /** The release's pods (who may be assigned tasks). */
  readonly pods: PodLister;
  /** The Lease endpoints. */
  readonly leases: LeaseClient;
  /** Where Kubernetes Events go. */
  readonly events: EventSink;
}

/** What {@linkcode wireLeader} builds leader mode from. */
export interface LeaderDeps {
  readonly config: Config;
  readonly namespace: string;
  readonly identity: string;
  /** `undefined` runs unsigned tasks (`tasks.insecureUnsignedTasks`). */
  readonly signer: TaskSigner | undefined;
  readonly owner: OwnerReference | undefined;
  readonly cluster: LeaderCluster;
  readonly clock: Clock;
}

/** Leader mode's parts, wired together by {@linkcode wireLeader}. */
export interface LeaderParts {
  /** Campaigns for the Lease; while it leads, a planner plans rounds. */
  readonly elector: Elector;
  /** Claims and runs the tasks assigned to this pod. */
  readonly worker: Worker;
  /** What `/healthz`, `/readyz` and `/metrics` answer. */
  readonly probes: Probes;
  /** `config.tasks` with the default worker selector filled in. */
  readonly tasks: Config["tasks"];
}

/**
 * Builds the elector, the worker, the planner of each term (with the observer and the metrics) and
 * the probes from configuration, the cluster's ports and a clock. Does no I/O itself.
 *
 * @param shutdown Aborts when the pod stops (readiness then answers "stopping").
 */
export function wireLeader(deps: LeaderDeps, shutdown: AbortSignal): LeaderParts {
  const { config, identity, signer, owner, cluster, clock } = deps;
  const log = logger("leader");
  const inputs = configuredInputs(config);
  if (inputs.length === 0) log.warn("No inputs configured: rounds will be empty");
  const cadences = (config.request.inputs ?? []).map((i) => cadenceOf(i, config.tasks.timeZone));
  // The checks as observed: each with its effective interval (mcall_check_interval_seconds).
  const periods = effectiveCadences(config).map((c) => gapsMs(c).longest / 1000);
  const checks = inputs.map((s) => ({
    index: s.index,
    name: s.name,
    intervalSeconds: periods[s.index],
  }));

  const metrics = createMetrics();
  const taskMetrics = createTaskMetrics(metrics.registry);
  const observer = new LeaderObserver({
    inputs: checks,
    app: config.tasks.app,
    registry: metrics.registry,
    events: cluster.events,
  });
  const tasks = { ...config.tasks, workerSelector: workerSelector(config.tasks) };
  const wallMs = () => clock.wallNow().getTime();

  let termEndedAt: number | undefined;
  // One-shot: once the round is over this pod never takes the Lease again (its leader released
  // it at the end of the round; a pod still finishing must not start a term for nothing).
  let roundOver = false;
  const mayAcquire = async () => !(roundOver ||= await worker.roundIsOver(tasks.round));
  const elector: Elector = new Elector({
    lock: new LeaseObjectLock({
      name: config.election.leaseName,
      namespace: deps.namespace,
      identity,
      client: cluster.leases,
      ...(owner ? { ownerReferences: [owner] } : {}),
    }),
    leaseDurationMs: config.election.leaseDurationMs,
    renewDeadlineMs: config.election.renewDeadlineMs,
    retryPeriodMs: config.election.retryPeriodMs,
    releaseOnCancel: config.election.releaseOnCancel,
    ...(tasks.round ? { mayAcquire } : {}),
    // Leadership intervals are logged with wall-clock milliseconds so tests and operators can
    // check that terms never overlap. A term ends when its signal aborts (the planner stops
    // writing then); onStoppedLeading runs later, after the work settled and the lease was
    // released, when a successor may already lead, so `at` of stopped-leading is the abort time.
    onStartedLeading: async (signal, epoch) => {
      termEndedAt = undefined;
      signal.addEventListener("abort", () => termEndedAt = wallMs(), { once: true });
      log.info("Started leading with epoch {epoch}", {
        event: "started-leading",
        epoch,
        identity,
        at: wallMs(),
      });
      observer.leaderElected(config.election.leaseName, identity, epoch);
      const planner = new Planner({
        store: cluster.store,
        pods: cluster.pods,
        clock,
        // Only the holder of epoch N may create or re-stamp tasks stamped N: every planner write
        // asks this first, and it turns false as soon as the local clock says the lease may
        // have expired.
        isLeader: () => elector.isLeader() && !signal.aborted,
        epoch: () => epoch,
        identity,
        tasks,
        cadences,
        signer,
        metrics: taskMetrics,
        observe: (views, summaries) => observer.observe(views, summaries),
        log: logger("planner"),
        ...(owner ? { owner } : {}),
      });
      if (await planner.runLeader(inputs, signal) !== undefined) roundOver = true;
      // The round's end can also cut the term that wrote it (every pod, this one too, shuts down
      // once the summary says so, possibly before the planner read the write's answer): the
      // summary itself says whether this term's round is over.
      else if (tasks.round !== "") roundOver ||= await worker.roundIsOver(tasks.round);
      await observer.settle();
      if (roundOver) {
        await pushRound({
          config,
          store: cluster.store,
          inputs: checks,
          namespace: deps.namespace,
          log,
        });
      }
    },
    onStoppedLeading: (reason) => {
      observer.endTerm();
      log.info("Stopped leading ({reason})", {
        event: "stopped-leading",
        reason,
        identity,
        at: termEndedAt ?? wallMs(),
      });
    },
    onNewLeader: (holder) => {
      log.info("Leader is now {holder}", { event: "new-leader", holder, identity, at: wallMs() });
    },
    events: {
      leader: (v) => metrics.leader.set(v),
      transition: () => metrics.transitions.inc(),
      renewFailure: () => metrics.renewFailures.inc(),
    },
    logger: logger("election"),
  });

  const worker = new Worker({
    store: cluster.store,
    clock,
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
    drainMs: drainBudgetMs(config.worker.terminationGracePeriodMs),
    resultFormat: { format: config.response.format, encoding: config.response.encoding.type },
    observedEpoch: () => elector.observedRecord()?.leaseTransitions ?? 0,
    metrics: taskMetrics,
    log: logger("worker"),
  });

  const probes: Probes = {
    healthz: () => {
      const verdict = elector.checkHealthz();
      return verdict.ok ? { ok: true, reason: "ok" } : verdict;
    },
    readyz: () => ({
      ok: !shutdown.aborted,
      reason: shutdown.aborted ? "stopping" : "ready",
    }),
    metrics: async () => ({
      body: await metrics.registry.metrics(),
      contentType: metrics.registry.contentType,
    }),
  };
  return { elector, worker, probes, tasks };
}
