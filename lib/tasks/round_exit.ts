/**
 * The exit status of a one-shot round ({@linkcode ROUND_EXIT}), read from its finished summary.
 *
 * @module
 */

/** Exit statuses of a one-shot round (see {@linkcode roundExitStatus}). */
export const ROUND_EXIT = {
  /** Every task ran; checks may have failed (a failing check is a result). */
  ok: 0,
  /** Some task could not run: dead (no pod could finish it) or rejected (bad signature/spec). */
  infrastructure: 1,
  /** The round did not finish within `tasks.roundDeadline`. */
  deadline: 2,
} as const;

/**
 * The exit status for a finished round summary's data.
 *
 * @example Usage
 * ```ts
 * import { roundExitStatus } from "./round_exit.ts";
 * import assert from "node:assert/strict";
 * assert.equal(roundExitStatus({ phase: "complete", failed: "2", dead: "0", rejected: "0" }), 0);
 * assert.equal(roundExitStatus({ phase: "complete", dead: "1" }), 1);
 * ```
 */
export function roundExitStatus(data: Readonly<Record<string, string>>): number {
  if (data.phase === "deadline-exceeded") return ROUND_EXIT.deadline;
  const n = (k: string) => Number(data[k] ?? "0") || 0;
  return n("dead") + n("rejected") > 0 ? ROUND_EXIT.infrastructure : ROUND_EXIT.ok;
}
