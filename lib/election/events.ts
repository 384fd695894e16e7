/**
 * The elector's metrics hooks: `lib/observe/` implements them, so the election needs no metrics
 * library.
 *
 * @module
 */

/** Counters and gauges for `lib/observe/metrics.ts`, so this module needs no metrics library. */
export interface ElectionEvents {
  /** This candidate started (1) or stopped (0) leading: `mcall_leader`. */
  leader?(value: 0 | 1): void;
  /** This candidate acquired the lease, starting term `epoch`: `mcall_leader_transitions_total`. */
  transition?(epoch: number): void;
  /** A renewal attempt by the leader failed: `mcall_lease_renew_failures_total`. */
  renewFailure?(): void;
}
