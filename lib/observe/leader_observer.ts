/**
 * What the leader does with each reconcile's view of the tasks besides reconciling them: the
 * per-check series (`lib/observe/check_metrics.ts`) and the Kubernetes Events of failed, dead and
 * rejected tasks and of new terms (`lib/observe/task_events.ts`). Wired into the planner's `observe`
 * hook and the elector's callbacks by `lib/modes/leader.ts`.
 *
 * Event writes never hold up or fail a reconcile: they run in the background, a failure is
 * logged (a warning the first time, then at debug level) and the event is not retried; the
 * in-flight writes are awaited by {@linkcode LeaderObserver.settle} at the end of a term, so a
 * one-shot pod does not exit with its last events unwritten.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Registry } from "prom-client";
import { type CheckMetrics, createCheckMetrics } from "./check_metrics.ts";
import { type CheckInput, checkLabels, snapshot, taskIndex } from "./check_snapshot.ts";
import { logger } from "../log/log.ts";
import { systemClock } from "../time/clock.ts";
import {
  eventKey,
  type EventSink,
  leaderElectedEvent,
  type PlannedEvent,
  taskEvents,
} from "./task_events.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { TaskView } from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** Options of {@linkcode LeaderObserver}. */
export interface LeaderObserverOptions {
  /** The configured inputs: the only source of `check` labels. */
  readonly inputs: readonly CheckInput[];
  /** `tasks.app`. */
  readonly app: string;
  /** Where the per-check series are registered. */
  readonly registry: Registry;
  /** Where events go; none are recorded without. */
  readonly events?: EventSink;
  /** Wall-clock milliseconds. Default `systemClock`'s wall clock. */
  readonly wallNow?: () => number;
  readonly log?: Logger;
}

/** Turns the leader's reconciles into per-check series and events. */
export class LeaderObserver {
  readonly #o: LeaderObserverOptions;
  readonly #metrics: CheckMetrics;
  readonly #labels: Map<number, string>;
  readonly #log: Logger;
  /** Outcomes this process recorded an event for (pruned to the tasks still listed). */
  readonly #recorded = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  #warned = false;

  constructor(options: LeaderObserverOptions) {
    this.#o = options;
    this.#metrics = createCheckMetrics(options.registry);
    this.#labels = checkLabels(options.inputs);
    this.#log = options.log ?? logger("events");
  }

  /** One reconcile's tasks and summaries. */
  observe(views: readonly TaskView[], summaries: readonly ConfigMapLike[]): void {
    this.#metrics.update(snapshot(this.#o.inputs, this.#o.app, views, summaries));
    if (!this.#o.events) return;
    const listed = new Set(views.map(eventKey));
    for (const key of this.#recorded) if (!listed.has(key)) this.#recorded.delete(key);
    const now = (this.#o.wallNow?.() ?? systemClock.wallNow().getTime()) / 1000;
    const checkOf = (view: TaskView) => {
      const index = taskIndex(this.#o.app, view);
      return index === undefined ? undefined : this.#labels.get(index);
    };
    for (const { key, event } of taskEvents(views, this.#recorded, now, checkOf)) {
      this.#recorded.add(key);
      this.#record(event);
    }
  }

  /** A new term of `identity` on `lease`. */
  leaderElected(lease: string, identity: string, epoch: number): void {
    if (this.#o.events) this.#record(leaderElectedEvent(lease, identity, epoch));
  }

  #record(event: PlannedEvent): void {
    const write = this.#o.events!.record(event).catch((err) => {
      if (isKubeError(err, "alreadyExists")) return;
      const props = { name: event.name, reason: event.reason, error: String(err) };
      if (this.#warned) this.#log.debug("Could not record event {name}: {error}", props);
      else this.#log.warn("Could not record event {name} ({reason}): {error}", props);
      this.#warned = true;
    }).finally(() => this.#inFlight.delete(write));
    this.#inFlight.add(write);
  }

  /** Waits for the events being written (end of a term). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** The term ended: this pod no longer exports per-check series. */
  endTerm(): void {
    this.#metrics.clear();
  }
}
