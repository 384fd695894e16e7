/**
 * The one home of the lease timing rules (and their defaults): `leaseDuration > renewDeadline > 1.2 × retryPeriod`,
 * all positive, the lease duration in whole seconds (a Lease stores `leaseDurationSeconds`).
 *
 * A pure file (no imports, no I/O), so configuration validation (`lib/config/load.ts`) calls the
 * same rules the elector does (`lib/election/options.ts`); each caller words its own message. The
 * Helm chart restates them in `chart/templates/_helpers.tpl` (`dz-mcall.validateValues`), and
 * `tests/chart/lease_timings_test.ts` runs one table of cases through both.
 *
 * @module
 */

/** Acquisition waits `retryPeriod × (1 + rand × JITTER_FACTOR)`; also bounds `renewDeadline`. */
export const LEASE_JITTER_FACTOR = 1.2;

/** The three timings, in milliseconds. */
export interface LeaseTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** client-go's default timings: 15 s, 10 s, 2 s (the elector's and the config schema's). */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/**
 * The first rule a set of timings breaks, checked in this order: every timing a positive finite
 * number (`positive`, naming it), the lease in whole seconds (`wholeSeconds`),
 * `renewDeadline < leaseDuration` (`renewBelowLease`), `renewDeadline > 1.2 × retryPeriod`
 * (`renewAboveRetry`).
 */
export type TimingViolation =
  | { readonly rule: "positive"; readonly option: keyof LeaseTimings; readonly value: unknown }
  | { readonly rule: "wholeSeconds" | "renewBelowLease" | "renewAboveRetry" };

/**
 * Checks the lease timing rules.
 *
 * @param timings The lease duration, renew deadline and retry period in milliseconds.
 * @returns The first rule broken, or `undefined` when the timings are valid.
 *
 * @example Usage
 * ```ts
 * import { leaseTimingViolation } from "./timings.ts";
 * import assert from "node:assert/strict";
 * const ok = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
 * assert.equal(leaseTimingViolation(ok), undefined);
 * assert.deepEqual(leaseTimingViolation({ ...ok, leaseDurationMs: 15_500 }), {
 *   rule: "wholeSeconds",
 * });
 * ```
 */
export function leaseTimingViolation(timings: LeaseTimings): TimingViolation | undefined {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = timings;
  const ordered = { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
  for (const [option, value] of Object.entries(ordered)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      return { rule: "positive", option: option as keyof LeaseTimings, value };
    }
  }
  if (leaseDurationMs % 1000 !== 0) return { rule: "wholeSeconds" };
  if (renewDeadlineMs >= leaseDurationMs) return { rule: "renewBelowLease" };
  if (renewDeadlineMs <= LEASE_JITTER_FACTOR * retryPeriodMs) return { rule: "renewAboveRetry" };
  return undefined;
}
