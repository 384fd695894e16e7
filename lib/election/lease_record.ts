/**
 * The election record as stored in a `coordination.k8s.io/v1` Lease: the
 * {@linkcode LeaderElectionRecord} type, pure conversions between it and a {@linkcode LeaseSpec},
 * and the MicroTime text format (`2006-01-02T15:04:05.000000Z`) the API server expects for
 * `acquireTime` and `renewTime`.
 *
 * @module
 */

/**
 * The election state stored in a Lease, as client-go's `LeaderElectionRecord`.
 *
 * Times are MicroTime text (see {@linkcode formatMicroTime}) and are only written and displayed,
 * never compared with the local clock.
 */
export interface LeaderElectionRecord {
  /** Who holds the lease; empty when it was released or never held. */
  readonly holderIdentity: string;
  /** How long, in seconds, others wait after seeing the record change before taking over. */
  readonly leaseDurationSeconds: number;
  /** When the current holder acquired the lease, or `null` if never set. */
  readonly acquireTime: string | null;
  /** When the holder last renewed, or `null` if never set. */
  readonly renewTime: string | null;
  /** How many times the lease changed hands; the fencing epoch of the current term. */
  readonly leaseTransitions: number;
}

/**
 * The fields of a `coordination.k8s.io/v1` LeaseSpec the election uses. Times are accepted as
 * `Date` or MicroTime text (the API returns text; a client may type them as `Date`).
 */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date | string;
  renewTime?: Date | string;
  leaseTransitions?: number;
  /** Other spec fields (preferredHolder, strategy) are carried through untouched. */
  [field: string]: unknown;
}

/**
 * Formats a date as Kubernetes MicroTime: RFC 3339 in UTC with six fractional digits.
 *
 * @param date The time to format.
 * @returns Text such as `2006-01-02T15:04:05.000000Z`.
 *
 * @example Usage
 * ```ts
 * import { formatMicroTime } from "./lease_record.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatMicroTime(new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 120))),
 *   "2006-01-02T15:04:05.120000Z");
 * ```
 */
export function formatMicroTime(date: Date): string {
  return `${date.toISOString().slice(0, -1)}000Z`;
}

/**
 * Parses MicroTime (or any RFC 3339) text, for display.
 *
 * @param text Such as `2006-01-02T15:04:05.000000Z`.
 * @returns The date (to the millisecond), or `undefined` when the text is not a time.
 *
 * @example Usage
 * ```ts
 * import { parseMicroTime } from "./lease_record.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseMicroTime("2006-01-02T15:04:05.123456Z")?.getTime(),
 *   Date.UTC(2006, 0, 2, 15, 4, 5, 123));
 * assert.equal(parseMicroTime("yesterday"), undefined);
 * ```
 */
export function parseMicroTime(text: string): Date | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  if (!m) return undefined;
  const millis = (m[2] ?? "").padEnd(3, "0").slice(0, 3);
  const date = new Date(`${m[1]}.${millis}${m[3]}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function timeText(value: Date | string | undefined): string | null {
  if (value === undefined) return null;
  return typeof value === "string" ? value : formatMicroTime(value);
}

/**
 * Reads the election record out of a Lease spec (client-go's `LeaseSpecToLeaderElectionRecord`).
 *
 * @param spec The Lease's spec; missing fields read as empty, zero or `null`.
 * @returns The record.
 *
 * @example Usage
 * ```ts
 * import { leaseSpecToRecord } from "./lease_record.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(leaseSpecToRecord({ holderIdentity: "pod-a", leaseDurationSeconds: 15 }), {
 *   holderIdentity: "pod-a",
 *   leaseDurationSeconds: 15,
 *   acquireTime: null,
 *   renewTime: null,
 *   leaseTransitions: 0,
 * });
 * ```
 */
export function leaseSpecToRecord(spec: LeaseSpec | undefined): LeaderElectionRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? "",
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: timeText(spec?.acquireTime),
    renewTime: timeText(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

/**
 * Writes an election record as Lease spec fields (client-go's `LeaderElectionRecordToLeaseSpec`).
 * Times are MicroTime text, sent unchanged.
 *
 * @param record The record.
 * @returns The spec fields; `null` times are left out.
 *
 * @example Usage
 * ```ts
 * import { recordToLeaseSpec } from "./lease_record.ts";
 * import assert from "node:assert/strict";
 * const spec = recordToLeaseSpec({
 *   holderIdentity: "pod-a",
 *   leaseDurationSeconds: 15,
 *   acquireTime: "2006-01-02T15:04:05.000000Z",
 *   renewTime: null,
 *   leaseTransitions: 3,
 * });
 * assert.equal(spec.acquireTime, "2006-01-02T15:04:05.000000Z");
 * assert.equal("renewTime" in spec, false);
 * ```
 */
export function recordToLeaseSpec(record: LeaderElectionRecord): LeaseSpec {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    ...(record.acquireTime === null ? {} : { acquireTime: record.acquireTime }),
    ...(record.renewTime === null ? {} : { renewTime: record.renewTime }),
    leaseTransitions: record.leaseTransitions,
  };
}

/** Whether two records are equal field by field (`a` may be `null`: never read). */
export function sameRecord(a: LeaderElectionRecord | null, b: LeaderElectionRecord): boolean {
  return a !== null && a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds && a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime && a.leaseTransitions === b.leaseTransitions;
}
