/**
 * A round waiting for workers: logged once when it starts waiting and once when it stops, and
 * noticed as soon as workers turn ready — while a round waits, the leader keeps one watch on the
 * worker pods ({@linkcode WorkerArrival}) and wakes its planning loop once an eligible pod was
 * reported ready and no other for {@linkcode ARRIVAL_QUIET_MS} (so pods starting together share
 * the round), instead of at its next reconcile.
 *
 * Invariant kept here: this only shortens a wait. The reconcile still lists the pods at every tick
 * while a round waits, so a watch that fails, is forbidden or misses an event costs at most one
 * reconcile interval, as before the watch existed.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { PodInfo, PodLister } from "../tasks/store.ts";
import { eligibleWorkers } from "./assign.ts";
import { MIN_WATCH_MS } from "../tasks/list_watch.ts";
import { Backoff } from "../time/backoff.ts";

/** Options of {@linkcode WorkerArrival}. */
export interface WorkerArrivalOptions {
  readonly pods: PodLister;
  readonly clock: Clock;
  readonly log: Logger;
  /** The worker pods' label selector. */
  readonly selector: string;
  /** This pod's name. */
  readonly identity: string;
  /** `tasks.leaderRunsTasks`: whether this pod, once ready, counts as a worker. */
  readonly tasks: { readonly leaderRunsTasks: boolean };
}

/** How long no further worker must turn ready before a waiting round is planned. */
export const ARRIVAL_QUIET_MS = 500;

/** One pod watch, open while a round waits for workers (see the module doc). */
export class WorkerArrival {
  readonly #o: WorkerArrivalOptions;
  #watching: AbortController | undefined;
  #arrived = false;
  /** When the last eligible pod turned ready (this process's monotonic clock). */
  #lastArrivalAt: number | undefined;
  readonly #wakers = new Set<() => void>();
  #failLogged = false;
  /** The round that waits for workers, if one does (logged once per round, not at every tick). */
  #waitingRound: string | undefined;

  constructor(options: WorkerArrivalOptions) {
    this.#o = options;
  }

  /** Whether a round waits for workers (the last {@linkcode noteWorkers} found none). */
  get waiting(): boolean {
    return this.#waitingRound !== undefined;
  }

  /** Notes how many workers could take `round`'s tasks; logs when the round starts or stops waiting. */
  noteWorkers(round: string, workers: number): void {
    const { log, selector } = this.#o;
    if (workers === 0 && this.#waitingRound !== round) {
      this.#waitingRound = round;
      log.warn("No ready worker pod matches {selector}; round {round} waits", { selector, round });
    } else if (workers > 0 && this.#waitingRound !== undefined) {
      this.#waitingRound = undefined;
      log.info("Ready worker pods: {workers}; planning round {round}", { workers, round });
    }
  }

  /** Opens the watch unless it is open; it stops with {@linkcode stop} or `signal`. */
  start(signal: AbortSignal): void {
    if (this.#watching !== undefined || signal.aborted) return;
    const watching = this.#watching = new AbortController();
    const stop = () => watching.abort();
    signal.addEventListener("abort", stop, { once: true });
    this.#loop(watching.signal).finally(() => signal.removeEventListener("abort", stop));
  }

  /** Closes the watch (a round no longer waits). */
  stop(): void {
    this.#watching?.abort();
    this.#watching = undefined;
  }

  /**
   * Whether a waiting round is inside the quiet period of an arrival: an eligible pod turned ready
   * less than {@linkcode ARRIVAL_QUIET_MS} ago. A reconcile tick that falls there must not plan
   * (it would assign every task to the pods ready so far); {@linkcode arrival} ends at the
   * period's end.
   */
  settling(): boolean {
    return this.waiting && this.#lastArrivalAt !== undefined &&
      this.#o.clock.now() - this.#lastArrivalAt < ARRIVAL_QUIET_MS;
  }

  /**
   * Forgets earlier arrivals: called when a tick is about to read the pods, which then sees every
   * pod that arrived so far.
   */
  reset(): void {
    this.#arrived = false;
  }

  /**
   * Resolves {@linkcode ARRIVAL_QUIET_MS} after the last eligible pod turned ready (since the last
   * {@linkcode reset}), or when `signal` aborts. The quiet period lets a burst of pods turning
   * ready (a Job's replicas starting together) be planned once, over all of them: the round's
   * tasks are assigned when it is planned, so a round planned at the first ready pod would put
   * every task on it (seen: 10,000 tasks on 2 of 5 workers).
   */
  async arrival(signal: AbortSignal): Promise<void> {
    if (!this.#arrived && !this.settling()) await this.#next(signal);
    while (!signal.aborted) {
      // No arrival yet (the signal ended the wait): nothing to be quiet after.
      const quietFor = (this.#lastArrivalAt ?? -Infinity) + ARRIVAL_QUIET_MS - this.#o.clock.now();
      if (quietFor <= 0) return;
      await this.#o.clock.sleep(quietFor, signal).catch(() => {});
    }
  }

  /** Resolves at the next eligible arrival, or when `signal` aborts. */
  #next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#wakers.delete(wake);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      this.#wakers.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }

  /**
   * Watches until `signal` aborts. A watch the server ended (its `timeoutSeconds`, 5–10 min; a
   * quiet one lives that long: the API server's bookmarks keep it up) is followed by the next at
   * once; a failed one, or one that ended at once, after client-go's backoff (800 ms doubling to
   * 30 s, reset after 2 quiet minutes).
   */
  async #loop(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#o.clock);
    while (!signal.aborted) {
      const startedAt = this.#o.clock.now();
      try {
        await this.#o.pods.watchPods(this.#o.selector, (pod) => this.#seen(pod), signal);
        // A watch the server ends at once must not turn into a tight loop (as in list_watch.ts).
        if (!signal.aborted && this.#o.clock.now() - startedAt < MIN_WATCH_MS) {
          await backoff.sleep(signal);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (!this.#failLogged) {
          this.#failLogged = true;
          this.#o.log.warn(
            "Worker pod watch failed, noticing ready workers at each reconcile instead: {error}",
            { error: String(err) },
          );
        }
        await backoff.sleep(signal);
      }
    }
  }

  #seen(pod: PodInfo): void {
    const { identity, tasks } = this.#o;
    if (eligibleWorkers([pod], identity, tasks.leaderRunsTasks).length === 0) return;
    this.#arrived = true;
    this.#lastArrivalAt = this.#o.clock.now();
    for (const wake of [...this.#wakers]) wake();
  }
}
