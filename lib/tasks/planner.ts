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
 *   task's current resourceVersion; remote timestamps are never compared.
 * - Every write is a compare-and-swap on resourceVersion; a conflict means someone else moved the
 *   task and is simply re-evaluated on the next reconcile.
 *
 * @module
 */
import { runPool } from "../engine/pool.ts";
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import type { InputSpec } from "../engine/input.ts";
import { logger } from "../log/log.ts";
import { RoundSchedule } from "./round_schedule.ts";
import { newRoundSummary, nextSummary } from "./round_summary.ts";
import type { TaskSigner } from "./signing.ts";
import { countOpen, eligibleWorkers, pickWorker } from "./assign.ts";
import { planGarbage } from "./gc.ts";
import type { TaskMetrics } from "./metrics.ts";
import { backoffMs, stallReason } from "./recovery.ts";
import {
  ANNOTATION,
  isOpen,
  LABEL,
  newTaskConfigMap,
  patched,
  rfc3339,
  roundName,
  type RoundPhase,
  roundsSelector,
  taskName,
  tasksSelector,
  type TaskView,
  viewTask,
} from "./contract.ts";
import { isKubeError } from "../kube/errors.ts";
import type { OwnerReference } from "../kube/objects.ts";
import type { ConfigMapLike, PodInfo, PodLister, TaskStore } from "./store.ts";

/** Thrown (and caught by {@linkcode Planner.runLeader}) when a write is attempted without leadership. */
export class NotLeaderError extends Error {
  constructor() {
    super("Stopped writing tasks: this pod is no longer the leader");
    this.name = "NotLeaderError";
  }
}

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

interface Observation {
  readonly resourceVersion: string;
  /** Local monotonic time when this resourceVersion was first seen. */
  readonly observedAt: number;
  /** The assigned pod's container restarts then (a rise means the claiming container died). */
  readonly restarts: number | undefined;
}

/** Plans rounds and reconciles tasks while this pod leads. */
export class Planner {
  readonly #o: PlannerOptions;
  readonly #log: Logger;
  readonly #app: string;
  readonly #selector: string;
  readonly #observed = new Map<string, Observation>();
  readonly #planned = new Set<string>();
  readonly #roundSeenAt = new Map<string, number>();
  readonly #schedule = new RoundSchedule();
  /**
   * The waiting or failing state last logged (`undefined`: none). A state that does not change is
   * logged once, not at every retry; a new state (another round, another error) is logged again.
   */
  #waitLogged: string | undefined;
  #failLogged: string | undefined;

  /**
   * @throws {TypeError} When `identity` is empty, or there is no signer and unsigned tasks are
   *   not allowed.
   */
  constructor(options: PlannerOptions) {
    if (options.identity === "") {
      throw new TypeError("Cannot create planner as 'identity' must not be empty");
    }
    if (options.signer === undefined && !options.tasks.insecureUnsignedTasks) {
      throw new TypeError(
        "Cannot lead without a signing key: set tasks.signingKeyFile or tasks.insecureUnsignedTasks",
      );
    }
    this.#o = options;
    this.#log = options.log ?? logger("planner");
    this.#app = options.tasks.app;
    this.#selector = options.tasks.workerSelector || `${LABEL.app}=${this.#app}`;
  }

  /**
   * The round the leader should be planning now: `tasks.round` in one-shot mode, else the
   * interval slot containing now — but never a slot at or before the newest round already
   * planned (read from the summaries at the start of a term), which stays current instead.
   * So a changed `interval` takes effect from its first slot after the last planned round, and
   * round ids never go backwards.
   */
  currentRound(): string {
    const { round, interval } = this.#o.tasks;
    return round !== "" ? round : this.#schedule.current(this.#o.clock.wallNow(), interval);
  }

  #assertLeader(): void {
    if (!this.#o.isLeader()) throw new NotLeaderError();
  }

  async #sign(name: string, round: string, epoch: number, spec: string): Promise<string> {
    return this.#o.signer ? await this.#o.signer.sign({ name, round, epoch, spec }) : "";
  }

  /**
   * Creates the round's summary and whichever of its tasks do not exist yet.
   *
   * @returns `true` when the round is fully planned; `false` when no pod could take tasks.
   * @throws {NotLeaderError} When leadership is lost.
   */
  async planRound(round: string, inputs: readonly InputSpec[], signal?: AbortSignal) {
    const { store, pods, identity } = this.#o;
    this.#assertLeader();
    const summaryName = roundName(this.#app, round);
    const summary = await store.get(summaryName, signal);
    if (summary && (summary.data?.phase ?? "running") !== "running") return true;
    const all = (await store.list(tasksSelector(this.#app), signal)).items.map(viewTask);
    const existing = new Set(all.filter((t) => t.round === round).map((t) => t.name));
    const missing = inputs.filter((s) => !existing.has(taskName(this.#app, round, s.index)));
    if (missing.length === 0 && summary) return true;
    const workers = eligibleWorkers(
      await pods.listPods(this.#selector, signal),
      identity,
      this.#o.tasks.leaderRunsTasks,
    );
    if (workers.length === 0) {
      if (this.#waitLogged !== round) {
        this.#waitLogged = round;
        this.#log.warn("No ready worker pod matches {selector}; round {round} waits", {
          selector: this.#selector,
          round,
        });
      }
      return false;
    }
    if (this.#waitLogged !== undefined) {
      this.#waitLogged = undefined;
      this.#log.info("Ready worker pods: {workers}; planning round {round}", {
        workers: workers.length,
        round,
      });
    }
    const epoch = this.#o.epoch();
    if (!summary) {
      this.#assertLeader();
      await this.#ignore(
        ["alreadyExists"],
        store.create(
          this.#owned(newRoundSummary({
            app: this.#app,
            round,
            total: inputs.length,
            epoch,
            leader: this.#o.identity,
            start: this.#o.clock.wallNow(),
          })),
          signal,
        ),
      );
    }
    const openCounts = countOpen(all);
    // Assign sequentially (balanced, deterministic), then sign and create concurrently: one
    // create per task is the round's dominant cost, and the API server handles them in parallel.
    const planned = missing.map((spec) => ({ spec, assignedTo: pickWorker(workers, openCounts)! }));
    const outcomes = await runPool(planned, PLAN_CONCURRENCY, async ({ spec, assignedTo }) => {
      const cm = this.#owned(newTaskConfigMap({
        app: this.#app,
        round,
        spec,
        assignedTo,
        epoch,
        signature: "",
      }));
      const signature = await this.#sign(cm.metadata.name, round, epoch, cm.data!.spec!);
      if (signature) cm.metadata.annotations![ANNOTATION.signature] = signature;
      // Only the holder of epoch N may create tasks stamped N.
      this.#assertLeader();
      const wrote = await this.#ignore(["alreadyExists"], store.create(cm, signal));
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

  /** `cm` with the configured owner, if any. */
  #owned(cm: ConfigMapLike): ConfigMapLike {
    const owner = this.#o.owner;
    return owner ? { ...cm, metadata: { ...cm.metadata, ownerReferences: [owner] } } : cm;
  }

  /** Runs `write`, swallowing errors of the given kinds. @returns Whether the write happened. */
  async #ignore(kinds: Parameters<typeof isKubeError>[1][], write: Promise<unknown>) {
    try {
      await write;
      return true;
    } catch (err) {
      if (isKubeError(err, ...kinds)) return false;
      throw err;
    }
  }

  /**
   * One pass of recovery (reassign, adopt, dead), round summaries and garbage collection.
   *
   * @param current The round being planned now; its summary completes only once all of its tasks
   *   exist.
   * @returns The phase of `current`'s summary, or `undefined` when there is none.
   * @throws {NotLeaderError} When leadership is lost.
   */
  async reconcile(current: string, signal?: AbortSignal): Promise<RoundPhase | undefined> {
    const { store, pods, identity, tasks } = this.#o;
    this.#assertLeader();
    const views = (await store.list(tasksSelector(this.#app), signal)).items.map(viewTask);
    const podList = await pods.listPods(this.#selector, signal);
    const byName = new Map(podList.map((p) => [p.name, p]));
    const workers = eligibleWorkers(podList, identity, tasks.leaderRunsTasks);
    const openCounts = countOpen(views);
    const now = this.#o.clock.now();
    const seen = new Set<string>();
    for (const task of views) {
      seen.add(task.name);
      if (!isOpen(task.state)) continue;
      let obs = this.#observed.get(task.name);
      if (obs?.resourceVersion !== task.resourceVersion) {
        const restarts = byName.get(task.assignedTo)?.restarts;
        obs = { resourceVersion: task.resourceVersion, observedAt: now, restarts };
        this.#observed.set(task.name, obs);
      }
      await this.#recover(task, obs, now - obs.observedAt, byName, workers, openCounts, signal);
    }
    for (const name of this.#observed.keys()) if (!seen.has(name)) this.#observed.delete(name);
    this.#o.metrics?.open.set(views.filter((t) => isOpen(t.state)).length);

    const summaries = (await store.list(roundsSelector(this.#app), signal)).items;
    let phase: RoundPhase | undefined;
    for (const summary of summaries) {
      const p = await this.#updateSummary(summary, views, current, signal);
      if (summary.metadata.labels?.[LABEL.roundId] === current) phase = p;
    }
    this.#o.observe?.(views, summaries);
    const garbage = planGarbage(this.#app, views, summaries, tasks);
    for (const selector of garbage.selectors) {
      this.#assertLeader();
      await store.deleteCollection(selector, signal);
    }
    for (const name of garbage.summaries) {
      this.#assertLeader();
      await this.#ignore(["notFound"], store.delete(name, signal));
    }
    return phase;
  }

  async #recover(
    task: TaskView,
    obs: Observation,
    ageMs: number,
    pods: Map<string, PodInfo>,
    workers: string[],
    openCounts: Map<string, number>,
    signal?: AbortSignal,
  ): Promise<void> {
    const { tasks } = this.#o;
    const stall = stallReason(task, pods.get(task.assignedTo), ageMs, tasks, obs.restarts);
    const reason = stall?.reason;
    const epoch = this.#o.epoch();
    const restamp = reason !== undefined ||
      (task.state === "pending" && (task.epoch ?? -1) < epoch);
    if (restamp) {
      // Never launder a task: re-signing one whose own signature does not verify would make a
      // hand-made ConfigMap (anyone who can write ConfigMaps) executable. Reject it instead.
      const forged = await this.#forgery(task);
      if (forged !== undefined) return await this.#rejectForged(task, forged, signal);
    }
    if (reason === undefined) {
      if (task.state === "pending" && (task.epoch ?? -1) < epoch) {
        // Adopt: re-stamp a pending task of an earlier term so workers that saw epoch N run it.
        const signature = await this.#sign(task.name, task.round, epoch, task.specText);
        this.#assertLeader();
        await this.#ignore(
          ["conflict", "notFound"],
          this.#o.store.update(
            patched(task.cm, {
              annotations: {
                [ANNOTATION.leaderEpoch]: String(epoch),
                [ANNOTATION.signature]: signature || null,
              },
            }),
            signal,
          ),
        );
      }
      return;
    }
    // A handoff (pending, nothing ran) moves at once and keeps its attempt.
    const handoff = stall!.handoff;
    if (!handoff && ageMs < backoffMs(task.attempt)) return;
    if (!handoff && task.attempt >= tasks.maxAttempts) {
      this.#assertLeader();
      const dead = patched(task.cm, {
        labels: { [LABEL.state]: "dead" },
        annotations: {
          [ANNOTATION.processed]: "true",
          [ANNOTATION.processedAt]: rfc3339(this.#o.clock.wallNow()),
          [ANNOTATION.processedBy]: this.#o.identity,
          [ANNOTATION.reason]: `dead after ${task.attempt} attempts: ${reason}`,
        },
      });
      if (await this.#ignore(["conflict", "notFound"], this.#o.store.update(dead, signal))) {
        this.#o.metrics?.completed.inc({ state: "dead" });
        this.#log.warn("Task {name} is dead: {reason}", { name: task.name, reason });
      }
      return;
    }
    const others = workers.filter((w) => w !== task.assignedTo);
    const target = pickWorker(others.length > 0 ? others : workers, openCounts);
    if (target === undefined) return;
    const signature = await this.#sign(task.name, task.round, epoch, task.specText);
    const attempt = handoff ? task.attempt : task.attempt + 1;
    const moved = patched(task.cm, {
      labels: { [LABEL.assignedTo]: target, [LABEL.state]: "pending" },
      annotations: {
        [ANNOTATION.attempt]: String(attempt),
        [ANNOTATION.leaderEpoch]: String(epoch),
        [ANNOTATION.signature]: signature || null,
        [ANNOTATION.reason]: `reassigned from ${task.assignedTo}: ${reason}`,
        [ANNOTATION.claimedAt]: null,
        [ANNOTATION.processedBy]: null,
      },
    });
    // Only the holder of epoch N may re-stamp tasks stamped N.
    this.#assertLeader();
    if (await this.#ignore(["conflict", "notFound"], this.#o.store.update(moved, signal))) {
      this.#o.metrics?.reassigned.inc();
      this.#log.info("Reassigned {name} to {target} (attempt {attempt}): {reason}", {
        name: task.name,
        target,
        attempt,
        reason,
      });
    }
  }

  /** Why `task` is not authentically signed (with the key of any epoch), or `undefined`. */
  async #forgery(task: TaskView): Promise<string | undefined> {
    const signer = this.#o.signer;
    if (signer === undefined) return undefined;
    if (task.signature === "") return "unsigned task";
    if (task.epoch === undefined) return "missing or invalid leader-epoch annotation";
    const fields = { name: task.name, round: task.round, epoch: task.epoch, spec: task.specText };
    return await signer.verify(fields, task.signature) ? undefined : "bad signature";
  }

  async #rejectForged(task: TaskView, problem: string, signal?: AbortSignal): Promise<void> {
    this.#assertLeader();
    const rejected = patched(task.cm, {
      labels: { [LABEL.state]: "rejected" },
      annotations: {
        [ANNOTATION.processed]: "true",
        [ANNOTATION.processedAt]: rfc3339(this.#o.clock.wallNow()),
        [ANNOTATION.processedBy]: this.#o.identity,
        [ANNOTATION.reason]: `${problem} (not re-signed by the leader)`,
      },
    });
    if (await this.#ignore(["conflict", "notFound"], this.#o.store.update(rejected, signal))) {
      this.#o.metrics?.rejected.inc();
      this.#o.metrics?.completed.inc({ state: "rejected" });
      this.#log.warn("Rejecting task {name}: {reason}", { name: task.name, reason: problem });
    }
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
        now - this.#roundSeenAt.get(round)! > this.#o.tasks.roundDeadline,
      end: () => this.#o.clock.wallNow(),
    });
    if (Object.entries(updated).every(([k, v]) => data[k] === v)) return phase;
    this.#assertLeader();
    const ok = await this.#ignore(
      ["conflict", "notFound"],
      this.#o.store.update({ ...summary, data: updated }, signal),
    );
    return ok ? next : phase;
  }

  /**
   * Plans and reconciles until the signal aborts, leadership is lost, or — in one-shot mode — the
   * round is over. Transient API errors are logged and retried on the next tick.
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
    while (!signal.aborted && this.#o.isLeader()) {
      try {
        if (this.#o.tasks.round === "") {
          await this.#schedule.learn(this.#o.store, this.#app, signal);
        }
        const round = this.currentRound();
        if (!this.#planned.has(round) && await this.planRound(round, inputs, signal)) {
          this.#planned.add(round);
          this.#schedule.note(round);
        }
        const phase = await this.reconcile(round, signal);
        if (this.#failLogged !== undefined) {
          this.#failLogged = undefined;
          this.#log.info("Reconcile works again");
        }
        if (this.#o.tasks.round !== "" && phase !== undefined && phase !== "running") return phase;
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
      try {
        await this.#o.clock.sleep(interval, signal);
      } catch {
        break;
      }
    }
    return undefined;
  }
}
