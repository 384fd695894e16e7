/**
 * The planner's recovery pass: for each open task, {@linkcode decideRecovery} (pure, in
 * `recovery_rules.ts`) says what to do, and this file does it — after checking the task's signature,
 * since re-stamping a forged task would launder it — through the planner's {@linkcode WriteGuard}.
 *
 * Recovery is judged only by this process's monotonic clock, from when it first observed a task's
 * current resourceVersion; remote timestamps are never compared.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import { isOpen, type TaskView } from "../tasks/contract.ts";
import { countOpen, withTask } from "./assign.ts";
import { decideRecovery, type Observation, observe, type Recovery } from "./recovery_rules.ts";
import { signatureFor, signatureProblem, type TaskSigner } from "../tasks/signing.ts";
import { adopted, ended, reassigned } from "../tasks/transitions.ts";
import type { TaskMetrics } from "../tasks/metrics.ts";
import type { WriteGuard } from "./write_guard.ts";
import type { ConfigMapLike, PodInfo, TaskStore } from "../tasks/store.ts";

/** Options of {@linkcode Recoverer}: the planner's. */
export interface RecovererOptions {
  readonly store: TaskStore;
  readonly clock: Clock;
  readonly epoch: () => number;
  readonly identity: string;
  readonly tasks: Config["tasks"];
  readonly signer: TaskSigner | undefined;
  readonly metrics?: TaskMetrics;
  readonly log: Logger;
  readonly guard: WriteGuard;
}

/** Write errors that mean someone else moved the task: re-evaluated on the next pass. */
const MOVED = ["conflict", "notFound"] as const;

/** Recovers open tasks (reassign, adopt, dead, reject forged), remembering what it observed. */
export class Recoverer {
  readonly #o: RecovererOptions;
  readonly #observed = new Map<string, Observation>();

  constructor(options: RecovererOptions) {
    this.#o = options;
  }

  /**
   * One pass over the open tasks of `views`.
   *
   * @param pods The pods the worker selector matches.
   * @param workers The pods that may take tasks.
   * @throws {NotLeaderError} When leadership is lost.
   */
  async pass(
    views: readonly TaskView[],
    pods: readonly PodInfo[],
    workers: readonly string[],
    signal?: AbortSignal,
  ): Promise<void> {
    const byName = new Map(pods.map((p) => [p.name, p]));
    let openCounts = countOpen(views);
    const now = this.#o.clock.now();
    const seen = new Set<string>();
    for (const task of views) {
      seen.add(task.name);
      if (!isOpen(task.state)) continue;
      const pod = byName.get(task.assignedTo);
      const observed = observe(this.#observed.get(task.name), task, pod, now);
      this.#observed.set(task.name, observed);
      const epoch = this.#o.epoch();
      const input = { task, pod, observed, now, epoch, workers, openCounts };
      const decision = decideRecovery(input, this.#o.tasks);
      if (decision.action === "leave") continue;
      // Never launder a task: re-signing one whose own signature does not verify would make a
      // hand-made ConfigMap (anyone who can write ConfigMaps) executable. Reject it instead.
      const forged = await this.#forgery(task);
      if (forged !== undefined) {
        await this.#rejectForged(task, forged, signal);
        continue;
      }
      if (decision.action === "reassign") openCounts = withTask(openCounts, decision.target);
      await this.#apply(task, decision, epoch, signal);
    }
    for (const name of this.#observed.keys()) if (!seen.has(name)) this.#observed.delete(name);
  }

  async #apply(task: TaskView, d: Recovery, epoch: number, signal?: AbortSignal): Promise<void> {
    const { store, guard, metrics, log } = this.#o;
    const update = (cm: ConfigMapLike) => guard.write(MOVED, () => store.update(cm, signal));
    const stamp = async () => ({
      epoch,
      signature: await signatureFor(this.#o.signer, {
        name: task.name,
        round: task.round,
        epoch,
        spec: task.specText,
      }),
    });
    if (d.action === "adopt") {
      // Re-stamp a pending task of an earlier term so workers that saw epoch N run it.
      await update(adopted(task.cm, await stamp()));
    } else if (d.action === "dead") {
      const reason = `dead after ${task.attempt} attempts: ${d.reason}`;
      const at = this.#o.clock.wallNow();
      if (await update(ended(task.cm, { state: "dead", by: this.#o.identity, at, reason }))) {
        metrics?.completed.inc({ state: "dead" });
        log.warn("Task {name} is dead: {reason}", { name: task.name, reason: d.reason });
      }
    } else if (d.action === "reassign") {
      const move = { from: task.assignedTo, to: d.target, attempt: d.attempt, reason: d.reason };
      // Only the holder of epoch N may re-stamp tasks stamped N (the guard asks).
      if (await update(reassigned(task.cm, move, await stamp()))) {
        metrics?.reassigned.inc();
        log.info("Reassigned {name} to {target} (attempt {attempt}): {reason}", {
          name: task.name,
          target: d.target,
          attempt: d.attempt,
          reason: d.reason,
        });
      }
    }
  }

  /** Why `task` is not authentically signed (with the key of any epoch), or `undefined`. */
  async #forgery(task: TaskView): Promise<string | undefined> {
    const signer = this.#o.signer;
    return signer === undefined ? undefined : await signatureProblem(signer, task);
  }

  async #rejectForged(task: TaskView, problem: string, signal?: AbortSignal): Promise<void> {
    const { store, guard, metrics, log } = this.#o;
    const rejected = ended(task.cm, {
      state: "rejected",
      by: this.#o.identity,
      at: this.#o.clock.wallNow(),
      reason: `${problem} (not re-signed by the leader)`,
    });
    if (await guard.write(MOVED, () => store.update(rejected, signal))) {
      metrics?.rejected.inc();
      metrics?.completed.inc({ state: "rejected" });
      log.warn("Rejecting task {name}: {reason}", { name: task.name, reason: problem });
    }
  }
}
