/**
 * Prometheus metrics of leader mode. One registry per process; `lib/tasks/metrics.ts` adds the
 * task metrics to the same registry.
 *
 * @module
 */
import client from "prom-client";

/** Election metrics, fed by the elector's hooks. */
export interface ElectionMetrics {
  readonly registry: client.Registry;
  /** 1 while this pod leads, else 0. */
  readonly leader: client.Gauge;
  /** Leadership terms this pod has started. */
  readonly transitions: client.Counter;
  /** Failed lease renewal attempts. */
  readonly renewFailures: client.Counter;
}

/**
 * Creates the registry and the election metrics (`mcall_leader`,
 * `mcall_leader_transitions_total`, `mcall_lease_renew_failures_total`). No process or runtime
 * metrics are registered.
 */
export function createMetrics(): ElectionMetrics {
  const registry = new client.Registry();
  return {
    registry,
    leader: new client.Gauge({
      name: "mcall_leader",
      help: "1 while this pod holds the leader lease, else 0",
      registers: [registry],
    }),
    transitions: new client.Counter({
      name: "mcall_leader_transitions_total",
      help: "Leadership terms this pod has started",
      registers: [registry],
    }),
    renewFailures: new client.Counter({
      name: "mcall_lease_renew_failures_total",
      help: "Failed lease renewal attempts by this pod",
      registers: [registry],
    }),
  };
}
