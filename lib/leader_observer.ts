/**
 * What the leader does with each reconcile's view of the tasks besides reconciling them: the
 * per-check series (`lib/check_metrics.ts`). Wired into the planner's `observe` hook by
 * `lib/leader_mode.ts`.
 *
 * @module
 */
import type { Registry } from "prom-client";
import { type CheckMetrics, createCheckMetrics } from "./check_metrics.ts";
import { snapshot } from "./check_snapshot.ts";
import type { InputSpec } from "./input.ts";
import type { ConfigMapLike, TaskView } from "./task_schema.ts";

/** Options of {@linkcode LeaderObserver}. */
export interface LeaderObserverOptions {
  /** The configured inputs: the only source of `check` labels. */
  readonly inputs: readonly Pick<InputSpec, "index" | "name">[];
  /** `tasks.app`. */
  readonly app: string;
  /** Where the per-check series are registered. */
  readonly registry: Registry;
}

/** Turns the leader's reconciles into per-check series. */
export class LeaderObserver {
  readonly #o: LeaderObserverOptions;
  readonly #metrics: CheckMetrics;

  constructor(options: LeaderObserverOptions) {
    this.#o = options;
    this.#metrics = createCheckMetrics(options.registry);
  }

  /** One reconcile's tasks and summaries. */
  observe(views: readonly TaskView[], summaries: readonly ConfigMapLike[]): void {
    this.#metrics.update(snapshot(this.#o.inputs, this.#o.app, views, summaries));
  }

  /** The term ended: this pod no longer exports per-check series. */
  endTerm(): void {
    this.#metrics.clear();
  }
}
