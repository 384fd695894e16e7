/**
 * The worker's side of distributed tasks: watch the ConfigMaps assigned to this pod, claim each
 * pending task with a compare-and-swap, run it, and record the result with another.
 *
 * Guarantees, and what keeps them:
 * - A worker never executes a task stamped below the highest epoch it has seen (from verified
 *   tasks and from the elector's observed `leaseTransitions`). Such a task is left untouched —
 *   not run, not marked terminal — for the current leader to adopt.
 * - A worker never executes an unsigned or badly signed task (unless `insecureUnsignedTasks`), nor
 *   one whose fields are missing or garbled: it marks it `rejected` with a `reason`.
 * - Execution starts only after the claim (state=running) succeeded, so two pods never both run
 *   one attempt, and one worker never runs the same name+attempt twice.
 * - A result is recorded only while the task is still this worker's claim (same assignee,
 *   attempt and state running); a superseded result is discarded and logged.
 * - Shutdown (the signal of `run`) stops claiming at once; tasks already running get `drainMs` to
 *   finish and record their results. What is still running then is aborted and handed back
 *   (pending, same attempt): an aborted execution is never recorded as the task's result.
 * - A task this pod's previous container claimed and never finished (restart in place) is
 *   retried here at once with the next attempt, or marked dead after `maxAttempts`.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import type { InputSpec, Result } from "../engine/input.ts";
import { logger } from "../log/log.ts";
import { roundIsOver, waitForRound } from "./round_wait.ts";
import type { RoundExit } from "./round_exit.ts";
import { requireSigningKey, signatureProblem, type TaskSigner } from "../tasks/signing.ts";
import { handedBack, restarted, writeWhileClaimed } from "./handback.ts";
import { logFinished, type ResultLogFormat } from "./finished_log.ts";
import type { TaskMetrics } from "../tasks/metrics.ts";
import { claimedBy, ended } from "../tasks/transitions.ts";
import {
  ANNOTATION,
  decodeSpec,
  LABEL,
  resultData,
  tasksSelector,
  type TaskView,
  viewTask,
} from "../tasks/contract.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import { listWatch } from "../tasks/list_watch.ts";
import type { ConfigMapLike, TaskStore } from "../tasks/store.ts";

/** Runs one input; must not throw (as `runInput`). */
export type Executor = (spec: InputSpec, signal: AbortSignal) => Promise<Result>;

/** Options of {@linkcode Worker}. */
export interface WorkerOptions {
  readonly store: TaskStore;
  readonly clock: Clock;
  /** This pod's name (the `assigned-to` label it watches). */
  readonly identity: string;
  readonly tasks: Config["tasks"];
  /** Verifies tasks; `undefined` only with `tasks.insecureUnsignedTasks`. */
  readonly signer: TaskSigner | undefined;
  readonly executor: Executor;
  /** Tasks run at once (`worker.number`). Default 10. */
  readonly concurrency?: number;
  /** The highest `leaseTransitions` the elector has observed. Default `() => 0`. */
  readonly observedEpoch?: () => number;
  readonly metrics?: TaskMetrics;
  readonly log?: Logger;
  /** How each finished task's result is rendered in its log line. Default json, not encoded. */
  readonly resultFormat?: ResultLogFormat;
  /**
   * After `run`'s signal aborts, how long running tasks may still finish (the pod's
   * `terminationGracePeriodSeconds` minus a margin) before they are aborted and handed back.
   * Default 0: at once.
   */
  readonly drainMs?: number;
}

/** Cap of the executed-attempts memory. */
const EXECUTED_MEMORY = 10_000;

/** Claims and runs the tasks assigned to this pod. */
export class Worker {
  readonly #o: WorkerOptions;
  readonly #log: Logger;
  readonly #selector: string;
  readonly #concurrency: number;
  /** Newest pending version of each task waiting for a slot. */
  readonly #waiting = new Map<string, TaskView>();
  readonly #active = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  /** `name#attempt` of every attempt this worker claimed (never run twice). */
  readonly #executed = new Set<string>();
  #highestEpoch = 0;
  #warnedUnsigned = false;
  #signal: AbortSignal = new AbortController().signal;
  /** Set when `run`'s signal aborted: nothing new is claimed. */
  #stopping = false;
  /** Aborts running executions once the drain is over; their tasks are handed back. */
  readonly #abortRuns = new AbortController();

  /**
   * @throws {TypeError} When `identity` is empty, or there is no signer and unsigned tasks are
   *   not allowed.
   */
  constructor(options: WorkerOptions) {
    if (options.identity === "") {
      throw new TypeError("Cannot create worker as 'identity' must not be empty");
    }
    requireSigningKey(options.signer !== undefined, options.tasks);
    const concurrency = options.concurrency ?? 10;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `Cannot create worker as 'concurrency' must be a positive integer: current value is ${concurrency}`,
      );
    }
    this.#o = options;
    this.#concurrency = concurrency;
    this.#log = options.log ?? logger("worker");
    this.#selector = tasksSelector(options.tasks.app, `${LABEL.assignedTo}=${options.identity}`);
  }

  /** The highest epoch seen so far (tasks and elector). */
  get highestEpoch(): number {
    return Math.max(this.#highestEpoch, this.#o.observedEpoch?.() ?? 0);
  }

  /**
   * Lists, then watches this pod's tasks until the signal aborts (`list_watch.ts`: each watch
   * resumes from the last resourceVersion; relists only on 410 Gone). Then stops claiming, gives running
   * tasks `drainMs` to finish, aborts and hands back the rest, and resolves once none is left.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    const { store, clock } = this.#o;
    await listWatch({
      store,
      clock,
      selector: this.#selector,
      onList: (items) => items.forEach((cm) => this.consider(cm)),
      onEvent: (event) => {
        if (event.type !== "DELETED") this.consider(event.object);
      },
      onError: (err, during) =>
        this.#log.warn("Task {during} failed, retrying: {error}", { during, error: String(err) }),
    }, signal);
    await this.#drain();
  }

  /** Stops claiming; waits up to `drainMs` for running tasks, then aborts them (handed back). */
  async #drain(): Promise<void> {
    this.#stopping = true;
    this.#waiting.clear();
    if (this.#running.size === 0) return;
    const drainMs = this.#o.drainMs ?? 0;
    this.#log.info("Stopping: {count} running tasks get {drainMs} ms to finish", {
      count: this.#active.size,
      drainMs,
    });
    const timer = new AbortController();
    await Promise.race([this.idle(), this.#o.clock.sleep(drainMs, timer.signal).catch(() => {})]);
    timer.abort();
    if (this.#running.size > 0) {
      this.#log.warn("Aborting {count} unfinished tasks and handing them back", {
        count: this.#active.size,
      });
      this.#abortRuns.abort(new Error("worker stopped before the task finished"));
    }
    await this.idle();
  }

  /** Resolves once no task is being handled. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Queues a task ConfigMap seen in a list or watch event, if it is pending and assigned here.
   * Never throws, whatever the object holds.
   */
  consider(cm: ConfigMapLike): void {
    const task = viewTask(cm);
    if (task.assignedTo !== this.#o.identity || task.name === "" || this.#stopping) return;
    if (
      task.state === "running" && task.processedBy === this.#o.identity &&
      !this.#active.has(task.name) && !this.#executed.has(`${task.name}#${task.attempt}`)
    ) {
      // Claimed by this pod's previous container, which died with it: retry it now.
      this.#track(task.name, this.#restart(task));
      return;
    }
    const unlabelled = task.state === undefined &&
      cm.metadata?.annotations?.[ANNOTATION.processed] !== "true";
    if (task.state !== "pending" && !unlabelled) return;
    if (this.#executed.has(`${task.name}#${task.attempt}`)) return;
    this.#waiting.set(task.name, task);
    this.#pump();
  }

  #pump(): void {
    for (const [name, task] of this.#waiting) {
      if (this.#active.size >= this.#concurrency || this.#stopping) return;
      if (this.#active.has(name)) continue;
      this.#waiting.delete(name);
      this.#track(name, this.#handle(task));
    }
  }

  /** Counts `work` on task `name` as active until it settles. */
  #track(name: string, work: Promise<void>): void {
    this.#active.add(name);
    const done = work.catch((err) => {
      this.#log.error("Task {name} failed unexpectedly: {error}", { name, error: String(err) });
    }).finally(() => {
      this.#active.delete(name);
      this.#running.delete(done);
      this.#pump();
    });
    this.#running.add(done);
  }

  /** Retries (or declares dead) a task this pod's previous container left running. */
  async #restart(task: TaskView): Promise<void> {
    const { store, identity, tasks, clock } = this.#o;
    const next = restarted(task, identity, tasks.maxAttempts, clock.wallNow());
    try {
      await store.update(next, this.#signal);
      this.#log.warn("Task {name} was left running by this pod's previous container: {reason}", {
        name: task.name,
        reason: next.metadata.annotations?.[ANNOTATION.reason],
      });
    } catch (err) {
      this.#log.info("Not retrying {name}: {error}", {
        name: task.name,
        error: isKubeError(err) ? err.kind : String(err),
      });
    }
  }

  async #handle(task: TaskView): Promise<void> {
    const signal = this.#signal;
    // A worker never executes a task stamped below the highest epoch it has seen.
    if (task.epoch !== undefined && task.epoch < this.highestEpoch) {
      this.#log.info("Leaving {name} (epoch {epoch}) for the current leader (epoch {highest})", {
        name: task.name,
        epoch: task.epoch,
        highest: this.highestEpoch,
      });
      return;
    }
    const problem = await this.#validate(task);
    if (typeof problem === "string") return await this.#reject(task, problem);
    if (this.#stopping) return;
    this.#highestEpoch = Math.max(this.#highestEpoch, task.epoch!);

    const key = `${task.name}#${task.attempt}`;
    const claimedAtWall = this.#o.clock.wallNow();
    let claimed: ConfigMapLike;
    try {
      claimed = await this.#o.store.update(
        claimedBy(task.cm, this.#o.identity, claimedAtWall),
        signal,
      );
    } catch (err) {
      this.#log.info("Not running {name}: claim failed ({error})", {
        name: task.name,
        error: isKubeError(err) ? err.kind : String(err),
      });
      return;
    }
    this.#remember(key);
    if (task.creationTimestamp) {
      const latency = (claimedAtWall.getTime() - task.creationTimestamp.getTime()) / 1000;
      this.#o.metrics?.pickupLatency.observe(Math.max(0, latency));
    }
    const result = await this.#o.executor(problem.spec, this.#abortRuns.signal);
    // An execution cut short by shutdown is no result: the task goes back to the leader.
    if (this.#abortRuns.signal.aborted && result.errorCode !== "0") {
      const back = (cm: ConfigMapLike) => handedBack(cm, this.#o.identity);
      if (await writeWhileClaimed(this.#o, this.#log, claimed, task.attempt, "handed back", back)) {
        this.#log.info("Handed {name} back (attempt {attempt} not counted)", {
          name: task.name,
          attempt: task.attempt,
        });
      }
      return;
    }
    this.#o.metrics?.duration.observe(result.durationMs / 1000);
    const state = result.errorCode === "0" ? "succeeded" : "failed";
    if (
      await writeWhileClaimed(
        this.#o,
        this.#log,
        claimed,
        task.attempt,
        "result",
        (cm) => this.#resultPatch(cm, state, result),
      )
    ) {
      this.#o.metrics?.completed.inc({ state });
      if (state === "failed") this.#o.metrics?.failed.inc();
      logFinished(this.#log, {
        name: claimed.metadata.name,
        attempt: task.attempt,
        state,
        result,
        format: this.#o.resultFormat,
      });
    }
  }

  /** @returns The decoded spec, or why the task must be rejected. */
  async #validate(task: TaskView): Promise<{ spec: InputSpec } | string> {
    if (task.state === undefined) return "missing or unknown state label";
    if (task.round === "") return "missing round-id label";
    if (task.epoch === undefined) return "missing or invalid leader-epoch annotation";
    if (task.specText === "") return "missing spec data key";
    const signer = this.#o.signer;
    if (signer) {
      const problem = await signatureProblem(signer, task);
      if (problem !== undefined) return problem;
    } else if (!this.#warnedUnsigned) {
      this.#warnedUnsigned = true;
      this.#log.warn("Accepting unsigned tasks (tasks.insecureUnsignedTasks)");
    }
    const decoded = decodeSpec(task.specText);
    return "spec" in decoded ? decoded : decoded.error;
  }

  #remember(key: string): void {
    if (this.#executed.size >= EXECUTED_MEMORY) {
      this.#executed.delete(this.#executed.values().next().value!);
    }
    this.#executed.add(key);
  }

  async #reject(task: TaskView, reason: string): Promise<void> {
    this.#log.warn("Rejecting task {name}: {reason}", { name: task.name, reason });
    try {
      const at = this.#o.clock.wallNow();
      await this.#o.store.update(
        ended(task.cm, { state: "rejected", by: this.#o.identity, at, reason }),
        this.#signal,
      );
      this.#o.metrics?.rejected.inc();
      this.#o.metrics?.completed.inc({ state: "rejected" });
    } catch (err) {
      this.#log.info("Could not mark {name} rejected: {error}", {
        name: task.name,
        error: String(err),
      });
    }
  }

  /** The task with `result` recorded in terminal `state`. */
  #resultPatch(cm: ConfigMapLike, state: "succeeded" | "failed", result: Result): ConfigMapLike {
    const at = this.#o.clock.wallNow();
    return ended(cm, { state, by: this.#o.identity, at, data: resultData(result) });
  }

  /** {@linkcode roundIsOver} over this worker's store. */
  roundIsOver(round: string, signal?: AbortSignal): Promise<boolean> {
    return roundIsOver(this.#o.store, this.#o.tasks.app, round, signal);
  }

  /** {@linkcode waitForRound} over this worker's store and clock. */
  waitForRound(round: string, signal: AbortSignal): Promise<RoundExit> {
    return waitForRound(this.#o, round, signal, this.#log);
  }
}
