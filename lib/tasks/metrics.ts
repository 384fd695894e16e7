/**
 * Prometheus metrics of distributed tasks, registered in a registry the caller owns.
 *
 * `mcall_task_pickup_latency_seconds` compares the object's `creationTimestamp` (the API server's
 * clock) with the worker's wall clock, so it includes clock skew between the two; it is only a
 * metric and nothing decides on it.
 *
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The task metrics. */
export interface TaskMetrics {
  readonly planned: Counter;
  readonly completed: Counter<"state">;
  readonly failed: Counter;
  readonly reassigned: Counter;
  readonly rejected: Counter;
  readonly duration: Histogram;
  readonly pickupLatency: Histogram;
  readonly open: Gauge;
}

/**
 * Creates the task metrics in `registry`.
 *
 * @example Usage
 * ```ts
 * import { Registry } from "prom-client";
 * import { createTaskMetrics } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const registry = new Registry();
 * createTaskMetrics(registry).planned.inc();
 * assert.match(await registry.metrics(), /mcall_tasks_planned_total 1/);
 * ```
 */
export function createTaskMetrics(registry: Registry): TaskMetrics {
  const registers = [registry];
  const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
  return {
    planned: new Counter({
      name: "mcall_tasks_planned_total",
      help: "Task ConfigMaps created by the leader",
      registers,
    }),
    completed: new Counter({
      name: "mcall_tasks_completed_total",
      help: "Tasks that reached a terminal state, by state",
      labelNames: ["state"],
      registers,
    }),
    failed: new Counter({
      name: "mcall_tasks_failed_total",
      help: "Tasks whose check failed (state failed)",
      registers,
    }),
    reassigned: new Counter({
      name: "mcall_tasks_reassigned_total",
      help: "Tasks the leader moved to another pod",
      registers,
    }),
    rejected: new Counter({
      name: "mcall_tasks_rejected_total",
      help: "Tasks a worker refused for a missing or bad signature or a garbled spec",
      registers,
    }),
    duration: new Histogram({
      name: "mcall_task_duration_seconds",
      help: "Run time of executed tasks",
      buckets,
      registers,
    }),
    pickupLatency: new Histogram({
      name: "mcall_task_pickup_latency_seconds",
      help: "Task creation (API server clock) to claim (worker clock); includes clock skew",
      buckets,
      registers,
    }),
    open: new Gauge({
      name: "mcall_open_tasks",
      help: "Pending and running tasks the leader saw at its last reconcile",
      registers,
    }),
  };
}
