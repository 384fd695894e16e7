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
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "./clock.ts";
import type { Config } from "./config_schema.ts";
import type { InputSpec, Result } from "./input.ts";
import { logger } from "./log.ts";
import { ROUND_EXIT, roundExitStatus } from "./round_exit.ts";
import type { TaskSigner } from "./signing.ts";
import { resultForLog, type ResultLogFormat } from "./task_log.ts";
import type { TaskMetrics } from "./task_metrics.ts";
import {
  ANNOTATION,
  decodeSpec,
  LABEL,
  patched,
  resultData,
  rfc3339,
  roundName,
  tasksSelector,
  type TaskView,
  viewTask,
} from "./task_schema.ts";
import { type ConfigMapLike, isKubeError, type TaskStore } from "./task_store.ts";

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
}

/** How many times a transient failure to record a result is retried. */
const RECORD_TRIES = 4;
/** Shortest list-and-watch cycle. */
const MIN_WATCH_MS = 1000;
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

  /**
   * @throws {TypeError} When `identity` is empty, or there is no signer and unsigned tasks are
   *   not allowed.
   */
  constructor(options: WorkerOptions) {
    if (options.identity === "") {
      throw new TypeError("Cannot create worker as 'identity' must not be empty");
    }
    if (options.signer === undefined && !options.tasks.insecureUnsignedTasks) {
      throw new TypeError(
        "Cannot run tasks without a signing key: set tasks.signingKeyFile or " +
          "tasks.insecureUnsignedTasks",
      );
    }
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
   * Lists, then watches this pod's tasks until the signal aborts; relists on 410 Gone, on any
   * watch end, and every `tasks.pollInterval` as a safety net. Waits for running tasks (whose
   * executors see the signal) before it resolves.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    const { store, clock, tasks } = this.#o;
    while (!signal.aborted) {
      const session = new AbortController();
      const stop = () => session.abort();
      signal.addEventListener("abort", stop, { once: true });
      const startedAt = clock.now();
      try {
        const { items, resourceVersion } = await store.list(this.#selector, signal);
        for (const cm of items) this.consider(cm);
        clock.sleep(tasks.pollInterval, session.signal).then(stop, () => {});
        await store.watch(this.#selector, resourceVersion, (event) => {
          if (event.type !== "DELETED") this.consider(event.object);
        }, session.signal);
        // A watch the server ends at once must not turn into a tight list loop.
        if (!session.signal.aborted && clock.now() - startedAt < MIN_WATCH_MS) {
          await clock.sleep(MIN_WATCH_MS, signal).catch(() => {});
        }
      } catch (err) {
        if (signal.aborted) break;
        if (!isKubeError(err, "gone")) {
          this.#log.warn("Task watch failed, relisting: {error}", { error: String(err) });
          await clock.sleep(Math.min(tasks.pollInterval, 1000), signal).catch(() => {});
        }
      } finally {
        session.abort();
        signal.removeEventListener("abort", stop);
      }
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
    if (task.assignedTo !== this.#o.identity || task.name === "") return;
    const unlabelled = task.state === undefined &&
      cm.metadata?.annotations?.[ANNOTATION.processed] !== "true";
    if (task.state !== "pending" && !unlabelled) return;
    if (this.#executed.has(`${task.name}#${task.attempt}`)) return;
    this.#waiting.set(task.name, task);
    this.#pump();
  }

  #pump(): void {
    for (const [name, task] of this.#waiting) {
      if (this.#active.size >= this.#concurrency) return;
      if (this.#active.has(name)) continue;
      this.#waiting.delete(name);
      this.#active.add(name);
      const done = this.#handle(task).catch((err) => {
        this.#log.error("Task {name} failed unexpectedly: {error}", { name, error: String(err) });
      }).finally(() => {
        this.#active.delete(name);
        this.#running.delete(done);
        this.#pump();
      });
      this.#running.add(done);
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
    this.#highestEpoch = Math.max(this.#highestEpoch, task.epoch!);

    const key = `${task.name}#${task.attempt}`;
    const claimedAtWall = this.#o.clock.wallNow();
    let claimed: ConfigMapLike;
    try {
      claimed = await this.#o.store.update(
        patched(task.cm, {
          labels: { [LABEL.state]: "running" },
          annotations: {
            [ANNOTATION.claimedAt]: rfc3339(claimedAtWall),
            [ANNOTATION.processedBy]: this.#o.identity,
          },
        }),
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
    const result = await this.#o.executor(problem.spec, signal);
    this.#o.metrics?.duration.observe(result.durationMs / 1000);
    const state = result.errorCode === "0" ? "succeeded" : "failed";
    await this.#record(claimed, task.attempt, state, result);
  }

  /** @returns The decoded spec, or why the task must be rejected. */
  async #validate(task: TaskView): Promise<{ spec: InputSpec } | string> {
    if (task.state === undefined) return "missing or unknown state label";
    if (task.round === "") return "missing round-id label";
    if (task.epoch === undefined) return "missing or invalid leader-epoch annotation";
    if (task.specText === "") return "missing spec data key";
    const signer = this.#o.signer;
    if (signer) {
      if (task.signature === "") return "unsigned task";
      const fields = { name: task.name, round: task.round, epoch: task.epoch, spec: task.specText };
      if (!await signer.verify(fields, task.signature)) return "bad signature";
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
      await this.#o.store.update(
        patched(task.cm, {
          labels: { [LABEL.state]: "rejected" },
          annotations: {
            [ANNOTATION.processed]: "true",
            [ANNOTATION.processedAt]: rfc3339(this.#o.clock.wallNow()),
            [ANNOTATION.processedBy]: this.#o.identity,
            [ANNOTATION.reason]: reason,
          },
        }),
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

  /** Records the result while the task is still this worker's claim; retries transient errors. */
  async #record(
    claimed: ConfigMapLike,
    attempt: number,
    state: "succeeded" | "failed",
    result: Result,
  ): Promise<void> {
    const { store, clock, identity } = this.#o;
    const name = claimed.metadata.name;
    let current: ConfigMapLike | undefined = claimed;
    for (let tryNo = 1; tryNo <= RECORD_TRIES; tryNo++) {
      const now = viewTask(current);
      const superseded = now.assignedTo !== identity ? `reassigned to ${now.assignedTo}` : now
          .attempt !== attempt
        ? `attempt is now ${now.attempt}`
        : now.state !== "running"
        ? `state is now ${now.state}`
        : now.processedBy !== identity
        ? `claimed by ${now.processedBy}`
        : undefined;
      if (superseded) {
        this.#log.warn("Discarding result of {name} attempt {attempt}: {why}", {
          name,
          attempt,
          why: superseded,
        });
        return;
      }
      try {
        await store.update(
          patched(current, {
            labels: { [LABEL.state]: state },
            annotations: {
              [ANNOTATION.processed]: "true",
              [ANNOTATION.processedAt]: rfc3339(clock.wallNow()),
              [ANNOTATION.processedBy]: identity,
            },
            data: resultData(result),
          }),
        );
        this.#o.metrics?.completed.inc({ state });
        if (state === "failed") this.#o.metrics?.failed.inc();
        this.#logFinished(name, attempt, state, result);
        return;
      } catch (err) {
        if (isKubeError(err, "notFound")) {
          this.#log.warn("Discarding result of {name}: the task was deleted", { name });
          return;
        }
        if (!isKubeError(err, "conflict")) {
          await clock.sleep(500 * 2 ** tryNo).catch(() => {});
        }
        current = await store.get(name).catch(() => current);
        if (current === undefined) return;
      }
    }
    this.#log.error("Could not record the result of {name} after {tries} tries", {
      name,
      tries: RECORD_TRIES,
    });
  }

  /** One line per finished task, so `kubectl logs` shows every result. */
  #logFinished(name: string, attempt: number, state: string, result: Result): void {
    const text = resultForLog(result, this.#o.resultFormat ?? { format: "json", encoding: "" });
    const props = {
      event: "task-finished",
      name,
      task: result.name,
      attempt,
      state,
      durationMs: Math.round(result.durationMs),
      exitCode: result.exitCode,
      status: result.status,
      result: text,
    };
    const message = "Task {name} {state} in {durationMs} ms: {result}";
    if (state === "succeeded") this.#log.info(message, props);
    else this.#log.warn(message, props);
  }

  /**
   * Whether a one-shot round is over: its summary's phase is `complete` or `deadline-exceeded`.
   * A failed read counts as not over (the caller then acts as if the round still runs).
   */
  async roundIsOver(round: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const summary = await this.#o.store.get(roundName(this.#o.tasks.app, round), signal);
      const phase = summary?.data?.phase;
      return phase === "complete" || phase === "deadline-exceeded";
    } catch {
      return false;
    }
  }

  /**
   * Waits for a one-shot round to end: polls the round summary until its phase is `complete` or
   * `deadline-exceeded`, or `tasks.roundDeadline` passes on this pod's clock.
   *
   * @returns {@linkcode ROUND_EXIT}: 0 when every task ran (checks may have failed), 1 when a
   *   task was dead or rejected, 2 when the deadline passed.
   * @throws {unknown} `signal.reason` when aborted.
   */
  async waitForRound(round: string, signal: AbortSignal): Promise<number> {
    const { store, clock, tasks } = this.#o;
    const start = clock.now();
    const name = roundName(tasks.app, round);
    for (;;) {
      signal.throwIfAborted();
      try {
        const summary = await store.get(name, signal);
        const data = summary?.data ?? {};
        if (data.phase === "complete" || data.phase === "deadline-exceeded") {
          return roundExitStatus(data);
        }
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        this.#log.warn("Reading round {name} failed: {error}", { name, error: String(err) });
      }
      if (clock.now() - start >= tasks.roundDeadline) return ROUND_EXIT.deadline;
      await clock.sleep(Math.min(tasks.pollInterval, 2000), signal);
    }
  }
}
