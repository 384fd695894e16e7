/**
 * The elector's calls out to its user (`lib/election/elector.ts`): the leader work
 * (`onStartedLeading`, awaited at most until the lease could pass on), `onStoppedLeading`,
 * `onNewLeader`, the `mayAcquire` hook and the metrics events. None of them can break the
 * election: a throw or rejection is logged and the election goes on.
 *
 * @module
 */
import { settleWithin } from "./deadline.ts";
import { describeError, type ElectionLogger } from "./logger.ts";
import type { ElectionEvents } from "./events.ts";
import { LeadershipLostError, type StopReason } from "./leadership_lost.ts";
import type { ResolvedElectorOptions } from "./options.ts";

/**
 * The user's callbacks, each called so that it cannot throw into the election.
 *
 * @example Usage
 * ```ts
 * import { Callbacks } from "./callbacks.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * const holders: string[] = [];
 * const callbacks = new Callbacks({
 *   onStartedLeading: () => {},
 *   onStoppedLeading: undefined,
 *   onNewLeader: (holder) => holders.push(holder),
 *   mayAcquire: () => { throw new Error("boom"); },
 *   events: {},
 *   logger: { debug() {}, info() {}, warn() {} },
 *   clock: systemClock,
 * }, () => "default/dz-mcall-leader");
 * callbacks.newLeader("pod-a");
 * callbacks.newLeader("pod-a");
 * assert.deepEqual(holders, ["pod-a"]);
 * assert.equal(await callbacks.mayAcquire(), true);
 * ```
 */
export class Callbacks {
  readonly #o: CallbackOptions;
  readonly #describe: () => string;
  readonly #log: ElectionLogger;
  /** The holder last reported through `onNewLeader`. */
  #reportedLeader = "";

  /**
   * @param options The callbacks, the metrics sink, the logger and the clock.
   * @param describe Names the lease, for logs.
   */
  constructor(options: CallbackOptions, describe: () => string) {
    this.#o = options;
    this.#describe = describe;
    this.#log = options.logger;
  }

  /** @returns The metrics sink, whose calls go through {@linkcode Callbacks.safely}. */
  get events(): ElectionEvents {
    return this.#o.events;
  }

  /** Runs a callback, logging instead of throwing when it throws. */
  safely(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.warn(`Callback ${name} threw`, describeError(err));
    }
  }

  /** `mayAcquire`, with a throw counted as `true` (the hook must never block an election). */
  async mayAcquire(): Promise<boolean> {
    try {
      if (await this.#o.mayAcquire()) return true;
    } catch (err) {
      this.#log.warn("Callback mayAcquire threw", describeError(err));
      return true;
    }
    this.#log.debug("Not taking the lease: mayAcquire said no", { lease: this.#describe() });
    return false;
  }

  /** Reports a changed holder through `onNewLeader`. */
  newLeader(holder: string): void {
    if (holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    this.#log.info("New leader observed", { lease: this.#describe(), holder });
    this.safely("onNewLeader", () => this.#o.onNewLeader?.(holder));
  }

  /**
   * Starts the leader work of term `epoch`.
   *
   * @returns The work's promise, which never rejects (failures other than
   *   {@linkcode LeadershipLostError} are logged).
   */
  startWork(signal: AbortSignal, epoch: number): Promise<void> {
    let result: void | Promise<void>;
    try {
      result = this.#o.onStartedLeading(signal, epoch);
    } catch (err) {
      this.#log.warn("Leader work failed", { epoch, ...describeError(err) });
      return Promise.resolve();
    }
    return Promise.resolve(result).catch((err) => {
      if (!(err instanceof LeadershipLostError)) {
        this.#log.warn("Leader work failed", { epoch, ...describeError(err) });
      }
    });
  }

  /** Waits for the leader work to settle, but not past `untilAt` (monotonic). */
  async settleWork(work: Promise<void>, untilAt: number): Promise<void> {
    if (!await settleWithin(this.#o.clock, work, untilAt)) {
      this.#log.warn("Leader work did not stop before the lease could pass to another candidate", {
        lease: this.#describe(),
      });
    }
  }

  /** Calls `onStoppedLeading`. */
  stoppedLeading(reason: StopReason): void {
    this.safely("onStoppedLeading", () => this.#o.onStoppedLeading?.(reason));
  }
}

/** What {@linkcode Callbacks} needs of the resolved elector options. */
export type CallbackOptions = Pick<
  ResolvedElectorOptions,
  | "onStartedLeading"
  | "onStoppedLeading"
  | "onNewLeader"
  | "mayAcquire"
  | "events"
  | "logger"
  | "clock"
>;
