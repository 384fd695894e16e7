/**
 * The end state of a one-shot round ({@linkcode ROUND_EXIT}), read from its finished summary.
 * Leader mode turns it into its outcome; `main.ts` alone decides exit codes.
 *
 * @module
 */

/** End states of a one-shot round (see {@linkcode roundExitStatus}). */
export const ROUND_EXIT = {
  /** Every task ran; checks may have failed (a failing check is a result). */
  ok: "ok",
  /** Some task could not run: dead (no pod could finish it) or rejected (bad signature/spec). */
  infrastructure: "infrastructure",
  /** The round did not finish within `tasks.roundDeadline`. */
  deadline: "deadline",
} as const;

/** One of {@linkcode ROUND_EXIT}. */
export type RoundExit = typeof ROUND_EXIT[keyof typeof ROUND_EXIT];

/**
 * The end state for a finished round summary's data.
 *
 * @example Usage
 * ```ts
 * import { roundExitStatus } from "./round_exit.ts";
 * import assert from "node:assert/strict";
 * assert.equal(roundExitStatus({ phase: "complete", failed: "2", dead: "0" }), "ok");
 * assert.equal(roundExitStatus({ phase: "complete", dead: "1" }), "infrastructure");
 * ```
 */
export function roundExitStatus(data: Readonly<Record<string, string>>): RoundExit {
  if (data.phase === "deadline-exceeded") return ROUND_EXIT.deadline;
  const n = (k: string) => Number(data[k] ?? "0") || 0;
  return n("dead") + n("rejected") > 0 ? ROUND_EXIT.infrastructure : ROUND_EXIT.ok;
}
