/**
 * The leader's side of distributed tasks: plan each round as one ConfigMap per input, hand them to
 * the ready worker pods, recover tasks whose worker vanished or stalled, keep a summary per round
 * and garbage-collect old rounds.
 *
 * Guarantees, and what keeps them:
 * - Planning is idempotent: names are deterministic (`<app>-<round>-<index>`), so a leader that
 *   takes over mid-round creates only what is missing, and AlreadyExists means "already planned".
 * - Fencing: only the holder of epoch N may create or re-stamp tasks stamped N. The planner asks
 *   `isLeader()` before every write and stamps `epoch()`; on takeover it adopts pending tasks of
 *   earlier epochs by re-stamping them (workers refuse tasks below the highest epoch they saw).
 * - Recovery is judged only by this process's monotonic clock, from when it first observed a
 *   task's current resourceVersion; remote timestamps are never compared (`recovery_pass.ts`, deciding
 *   with the pure `recovery_rules.ts`).
 * - Every write is a compare-and-swap on resourceVersion; a conflict means someone else moved the
 *   task and is simply re-evaluated on the next reconcile (`write_guard.ts`).
 *
 * @module
 */
import { runPool } from "../engine/pool.ts";
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import type { Cadence } from "../time/cadence.ts";
import type { InputSpec } from "../engine/input.ts";
import { logger } from "../log/log.ts";
import { RoundPicker } from "./round_schedule.ts";
import { newRoundSummary, nextSummary } from "./round_summary.ts";
import { requireSigningKey, signatureFor, type TaskSigner } from "../tasks/signing.ts";
import { assignTasks, countOpen, eligibleWorkers, workerSelector } from "./assign.ts";
import { planGarbage } from "./retention.ts";
import { GarbageCollector } from "./collector.ts";
import type { TaskMetrics } from "../tasks/metrics.ts";
import { Recoverer } from "./recovery_pass.ts";
import { NotLeaderError, WriteGuard } from "./write_guard.ts";
import {
  ANNOTATION,
  isOpen,
  LABEL,
  newTaskConfigMap,
  roundName,
  type RoundPhase,
  roundsSelector,
  taskName,
  tasksSelector,
  type TaskView,
  viewTask,
} from "../tasks/contract.ts";
import type { OwnerReference } from "../apimachinery/objects.ts";
import type { ConfigMapLike, PodInfo, PodLister, TaskStore } from "../tasks/store.ts";
import { PlannerCaches } from "./informer.ts";
import { WorkerArrival } from "./worker_arrival.ts";

/** Options of {@linkcode Planner}. */
export interface PlannerOptions {
  readonly store: TaskStore;
  readonly pods: PodLister;
  readonly clock: Clock;
  /** Whether this pod still holds the lease; asked before every write. */
  readonly isLeader: () => boolean;
  /** The fencing epoch of the current term (the Lease's `leaseTransitions`). */
  readonly epoch: () => number;
  /** This pod's name. */
  readonly identity: string;
  /** The `tasks` section of the configuration. */
  readonly tasks: Config["tasks"];
  /** Each check's own cadence by input index (`undefined`: every round). Default none. */
  readonly cadences?: readonly (Cadence | undefined)[];
  /** Signs tasks; `undefined` only with `tasks.insecureUnsignedTasks`. */
  readonly signer: TaskSigner | undefined;
  readonly metrics?: TaskMetrics;
  readonly log?: Logger;
  /** Time between reconciles in {@linkcode Planner.runLeader}. Default 2000 ms. */
  readonly reconcileIntervalMs?: number;
  /**
   * The owner stamped on every task and summary created (the chart's config ConfigMap), so the
   * garbage collector deletes them with it on `helm uninstall`. Default none.
   */
  readonly owner?: OwnerReference;
  /** Sees every reconcile's task views and round summaries (per-check metrics, events). */
  readonly observe?: (views: readonly TaskView[], summaries: readonly ConfigMapLike[]) => void;
}

/** Task creates in flight while planning a round. */
export const PLAN_CONCURRENCY = 16;

/** What one tick reads: tasks and summaries, and the pods, listed at most once and on demand. */
interface Reads {
  readonly views: readonly TaskView[];
  readonly summaries: readonly ConfigMapLike[];
  readonly pods: () => Promise<PodInfo[]>;
  /** When the round was chosen: its summary's `start` (the next CronJob round compares with it). */
  readonly at?: Date;
}

/** Plans rounds and reconciles tasks while this pod leads. */
export class Planner {
  readonly #o: PlannerOptions;
  readonly #log: Logger;
  readonly #app: string;
  readonly #selector: string;
  readonly #guard: WriteGuard;
  readonly #recoverer: Recoverer;
  readonly #collector: GarbageCollector;
  readonly #planned = new Set<string>();
  readonly #roundSeenAt = new Map<string, number>();
  readonly #picker: RoundPicker;
  #inputCount = 0;
  /** Waits for workers (and logs the wait once). */
  readonly #arrival: WorkerArrival;
  /** The error last logged: an error that does not change is logged once, not at every retry. */
  #failLogged: string | undefined;

  /**
   * @throws {TypeError} When `identity` is empty, or there is no signer and unsigned tasks are
   *   not allowed.
   */
  constructor(options: PlannerOptions) {
    if (options.identity === "") {
      throw new TypeError("Cannot create planner as 'identity' must not be empty");
    }
    requireSigningKey(options.signer !== undefined, options.tasks);
    this.#o = options;
    this.#picker = new RoundPicker(options);
    this.#log = options.log ?? logger("planner");
    this.#app = options.tasks.app;
    this.#selector = workerSelector(options.tasks);
    this.#guard = new WriteGuard(options.isLeader, options.owner);
    this.#recoverer = new Recoverer({ ...options, log: this.#log, guard: this.#guard });
    this.#collector = new GarbageCollector(options.store, this.#guard, this.#log);
    this.#arrival = new WorkerArrival({ ...options, log: this.#log, selector: this.#selector });
  }

  /** The round the leader plans now (`RoundPicker.current`; `""` before any is due or known). */
  currentRound(): string {
    return this.#picker.current(this.#o.clock.wallNow(), this.#inputCount);
  }

  /**
   * Creates the round's summary and whichever of its tasks do not exist yet, reading the summary,
   * the tasks and (only when some are missing) the pods fresh from the API server.
   *
   * @returns `true` when the round is fully planned; `false` when no pod could take tasks.
   * @throws {NotLeaderError} When leadership is lost.
   */
  async planRound(round: string, inputs: readonly InputSpec[], signal?: AbortSignal) {
    const { store } = this.#o;
    this.#guard.assertLeader();
    const summary = await store.get(roundName(this.#app, round), signal);
    const done = summary && (summary.data?.phase ?? "running") !== "running";
    const views = done ? [] : (await store.list(tasksSelector(this.#app), signal)).items;
    const read = { views: views.map(viewTask), summaries: summary ? [summary] : [] };
    return await this.#plan(round, inputs, { ...read, pods: this.#podsOnce(signal) }, signal);
  }

  /**
   * Plans `round` from one tick's reads: returns `true` when its summary is finished or every
   * task and the summary exist (no pod list), else lists the pods and creates what is missing.
   *
   * Invariants kept here: no task is ever created twice, whatever the reads missed — names are
   * deterministic and a create of an existing name fails (AlreadyExists: "already planned"), so a
   * cache that lags behind the creates only costs failed creates. Only the holder of epoch N
   * creates tasks stamped N: every create goes through the write guard.
   */
  async #plan(round: string, inputs: readonly InputSpec[], read: Reads, signal?: AbortSignal) {
    const { store } = this.#o;
    this.#guard.assertLeader();
    const summary = read.summaries.find((s) => s.metadata.name === roundName(this.#app, round));
    if (summary && (summary.data?.phase ?? "running") !== "running") return true;
    const all = read.views;
    const existing = new Set(all.filter((t) => t.round === round).map((t) => t.name));
    const missing = inputs.filter((s) => !existing.has(taskName(this.#app, round, s.index)));
    if (missing.length === 0 && summary) return true;
    const workers = await this.#workers(read);
    // Invariant: a burst of pods turning ready is planned once, over all of them — a tick that
    // falls inside the quiet period after an arrival leaves the round waiting until it ends.
    if (workers.length > 0 && this.#arrival.settling()) return false;
    this.#arrival.noteWorkers(round, workers.length);
    if (workers.length === 0) return false;
    const epoch = this.#o.epoch();
    if (!summary) {
      const created = this.#guard.owned(newRoundSummary({
        app: this.#app,
        round,
        total: inputs.length,
        epoch,
        leader: this.#o.identity,
        start: read.at ?? this.#o.clock.wallNow(),
        checks: inputs.map((s) => s.index),
      }));
      await this.#guard.write(["alreadyExists"], () => store.create(created, signal));
    }
    // Assign sequentially (balanced, deterministic), then sign and create concurrently: one
    // create per task is the round's dominant cost, and the API server handles them in parallel.
    const assigned = assignTasks(missing.length, workers, countOpen(all));
    const planned = missing.map((spec, i) => ({ spec, assignedTo: assigned[i]! }));
    const outcomes = await runPool(planned, PLAN_CONCURRENCY, async ({ spec, assignedTo }) => {
      const cm = this.#guard.owned(newTaskConfigMap({
        app: this.#app,
        round,
        spec,
        assignedTo,
        epoch,
        signature: "",
      }));
      const fields = { name: cm.metadata.name, round, epoch, spec: cm.data!.spec! };
      const signature = await signatureFor(this.#o.signer, fields);
      if (signature) cm.metadata.annotations![ANNOTATION.signature] = signature;
      // Only the holder of epoch N may create tasks stamped N (the guard asks).
      const wrote = await this.#guard.write(["alreadyExists"], () => store.create(cm, signal));
      if (wrote) this.#o.metrics?.planned.inc();
      return wrote;
    }, signal ? { signal } : {});
    const created = outcomes.filter(Boolean).length;
    this.#log.info("Planned round {round}: {created} created, {existing} already there", {
      round,
      created,
      existing: existing.size,
    });
    return true;
  }

  /**
   * One pass of recovery (reassign, adopt, dead), round summaries and garbage collection (awaited),
   * reading the tasks, the summaries and (only when a task is open) the pods fresh from the API
   * server.
   *
   * @param current The round being planned now; its summary completes only once all of its tasks
   *   exist.
   * @returns The phase of `current`'s summary, or `undefined` when there is none.
   * @throws {NotLeaderError} When leadership is lost.
   */
  async reconcile(current: string, signal?: AbortSignal): Promise<RoundPhase | undefined> {
    const { store } = this.#o;
    this.#guard.assertLeader();
    const views = (await store.list(tasksSelector(this.#app), signal)).items.map(viewTask);
    const pods = this.#podsOnce(signal);
    if (views.some((t) => isOpen(t.state))) await pods();
    const summaries = (await store.list(roundsSelector(this.#app), signal)).items;
    const phase = await this.#reconcile(current, { views, summaries, pods }, signal);
    await this.#collector.settle(); // this one-pass API returns with its deletes done
    return phase;
  }

  /**
   * Reconciles from one tick's reads. The pods are listed only when a task is open (recovery is
   * about open tasks only): a dead pod's task is open, so it is never skipped.
   *
   * Invariants kept with cached reads (`runLeader`): a cache lags, it never leads. A task it
   * shows terminal is terminal (terminal states are final), so no open task hides behind a
   * terminal entry; a task it has not seen yet is seen by its watch or, at the latest, its next
   * relist. A stale entry only makes a write fail: every write is a compare-and-swap on the
   * resourceVersion read, so a task is never moved or ended from an old version. A summary
   * completes only when all `total` tasks are present and terminal, which a lagging cache can
   * only delay.
   */
  async #reconcile(current: string, read: Reads, signal?: AbortSignal) {
    const { tasks } = this.#o;
    this.#guard.assertLeader();
    const { views, summaries } = read;
    const open = views.filter((t) => isOpen(t.state)).length;
    // With no open task the pass only forgets what it observed: no pod is looked at.
    const pods = open > 0 ? await read.pods() : [];
    await this.#recoverer.pass(views, pods, open > 0 ? await this.#workers(read) : [], signal);
    this.#o.metrics?.open.set(open);

    // Old rounds are deleted in the background (`collector.ts`), decided from the same reads —
    // but before the write that ends a one-shot round, which lets every pod, this one too, exit.
    const garbage = planGarbage(this.#app, views, summaries, tasks);
    if (tasks.round !== "" && !views.some((t) => t.round === current && isOpen(t.state))) {
      await this.#collector.collectNow(garbage, signal);
    } else this.#collector.collect(garbage, signal);
    let phase: RoundPhase | undefined;
    try {
      for (const summary of summaries) {
        const p = await this.#updateSummary(summary, views, current, signal);
        if (summary.metadata.labels?.[LABEL.roundId] === current) phase = p;
      }
    } finally {
      // Observed even when a summary write is cut: the write that ends a one-shot round lets
      // every pod exit, so this term's signal may abort while its answer is on the way — the
      // ended tasks' events and series must not be lost with it.
      this.#o.observe?.(views, summaries);
    }
    return phase;
  }

  /** A lister of the worker pods that lists once, on the first call. */
  #podsOnce(signal?: AbortSignal): () => Promise<PodInfo[]> {
    let listed: Promise<PodInfo[]> | undefined;
    return () => listed ??= this.#o.pods.listPods(this.#selector, signal);
  }

  async #workers(read: Reads): Promise<string[]> {
    return eligibleWorkers(await read.pods(), this.#o.identity, this.#o.tasks.leaderRunsTasks);
  }

  async #updateSummary(
    summary: ConfigMapLike,
    views: readonly TaskView[],
    current: string,
    signal?: AbortSignal,
  ): Promise<RoundPhase> {
    const data = summary.data ?? {};
    const phase = (data.phase ?? "running") as RoundPhase;
    if (phase !== "running") return phase;
    const round = summary.metadata.labels?.[LABEL.roundId] ?? "";
    const now = this.#o.clock.now();
    if (!this.#roundSeenAt.has(round)) this.#roundSeenAt.set(round, now);
    const { next, updated } = nextSummary(data, views.filter((t) => t.round === round), {
      current: round === current,
      overdue: () =>
        round === this.#o.tasks.round &&
        now - this.#roundSeenAt.get(round)! > this.#o.tasks.roundDeadlineMs,
      end: () => this.#o.clock.wallNow(),
    });
    if (Object.entries(updated).every(([k, v]) => data[k] === v)) return phase;
    const ok = await this.#guard.write(
      ["conflict", "notFound"],
      () => this.#o.store.update({ ...summary, data: updated }, signal),
    );
    return ok ? next : phase;
  }

  /**
   * Plans and reconciles until the signal aborts, leadership is lost, or — in one-shot mode — the
   * round is over. Transient API errors are logged and retried on the next tick.
   *
   * Each tick reads the tasks and the round summaries from two caches, each listed once and kept
   * by watches that resume from the last resourceVersion (`informer.ts`), and lists the pods only when it needs
   * them (a round to plan, an open task to check): a tick where nothing is to be done costs no
   * request at all. A tick waits until both caches are live; while one cannot list, the tick fails
   * and is retried.
   *
   * @param inputs The round's inputs.
   * @param signal Aborts the loop (e.g. when leadership is lost).
   * @returns The one-shot round's final phase, or `undefined` when the loop stopped otherwise.
   */
  async runLeader(
    inputs: readonly InputSpec[],
    signal: AbortSignal,
  ): Promise<RoundPhase | undefined> {
    const interval = this.#o.reconcileIntervalMs ?? 2000;
    const caches = new PlannerCaches({
      store: this.#o.store,
      clock: this.#o.clock,
      app: this.#app,
    }, signal);
    const arrival = this.#arrival;
    this.#inputCount = inputs.length;
    try {
      while (!signal.aborted && this.#o.isLeader()) {
        arrival.reset();
        try {
          const at = this.#o.clock.wallNow();
          const read = { ...await caches.read(), pods: this.#podsOnce(signal), at };
          // The round due now and its checks (the ones its summary names, once it has one).
          const due = this.#picker.pick(at, inputs, read.summaries);
          const round = due?.round ?? "";
          if (
            due && !this.#planned.has(round) && await this.#plan(round, due.inputs, read, signal)
          ) {
            this.#planned.add(round);
            this.#picker.schedule.note(round);
          }
          const phase = await this.#reconcile(round, read, signal);
          if (this.#failLogged !== undefined) {
            this.#failLogged = undefined;
            this.#log.info("Reconcile works again");
          }
          if (this.#o.tasks.round !== "" && phase !== undefined && phase !== "running") {
            return phase;
          }
        } catch (err) {
          if (err instanceof NotLeaderError || signal.aborted) break;
          const error = String(err);
          if (this.#failLogged !== error) {
            this.#failLogged = error;
            this.#log.warn("Reconcile failed, retrying every {interval} ms: {error}", {
              error,
              interval,
            });
          }
        }
        // The next tick comes after the interval, or at once when no task is open any more (the
        // round's end is recorded at once) or, while a round waits, when a worker turns ready.
        if (arrival.waiting) arrival.start(signal);
        else arrival.stop();
        await caches.nap(interval, signal, (s) => arrival.arrival(s));
      }
      return undefined;
    } finally {
      arrival.stop();
      // The term's work ends only once no delete is in flight (the signal aborts it, if aborted).
      await this.#collector.settle();
      await caches.stop();
    }
  }
}
