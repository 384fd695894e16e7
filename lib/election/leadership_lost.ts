/**
 * Why a leadership term ended, and the error the leader work's signal aborts with then.
 *
 * @module
 */

/**
 * Why a leadership term ended: the run's signal aborted (`cancelled`), no renewal succeeded
 * within `renewDeadline` (`renewFailed`), or another holder appeared in the lease (`lost`).
 */
export type StopReason = "cancelled" | "renewFailed" | "lost";

/**
 * The reason of the signal handed to the leader work when its term ends, so leader code can tell
 * "leadership ended" from other aborts.
 *
 * @example Usage
 * ```ts
 * import { LeadershipLostError } from "./leadership_lost.ts";
 * import assert from "node:assert/strict";
 * const err = new LeadershipLostError("renewFailed", "default/dz-mcall-leader");
 * assert.equal(err.name, "LeadershipLostError");
 * assert.equal(err.reason, "renewFailed");
 * ```
 */
export class LeadershipLostError extends Error {
  /** Why the term ended. */
  readonly reason: StopReason;

  /**
   * @param reason Why the term ended.
   * @param lease The lock's description, for the message.
   * @param options The underlying cause (the run signal's reason on cancel).
   */
  constructor(reason: StopReason, lease: string, options?: { cause?: unknown }) {
    const why = reason === "cancelled"
      ? "the election was cancelled"
      : reason === "renewFailed"
      ? "it could not be renewed in time"
      : "another candidate holds it";
    super(`Leadership of lease ${lease} ended as ${why}`, options);
    this.name = "LeadershipLostError";
    this.reason = reason;
  }
}
