/**
 * The patches that move a task from one state to the next, each built in one place: a worker's
 * claim, the end of a task (succeeded, failed, dead, rejected), and the leader's reassignment and
 * adoption. (A worker's hand back and restart in place are in `handback.ts`.) Pure: the time and
 * the signature come in as parameters; the callers perform the writes as compare-and-swaps.
 *
 * @module
 */
import { ANNOTATION, LABEL, patched, rfc3339, type TaskState } from "./contract.ts";
import type { ConfigMapLike } from "./store.ts";

/** A state a task never leaves (`processed=true`). */
export type TerminalState = Exclude<TaskState, "pending" | "running">;

/** How a task ended, for {@linkcode ended}. */
export interface Ending {
  readonly state: TerminalState;
  /** The pod that ended it (`processed-by`). */
  readonly by: string;
  /** When (wall clock; `processed-at`). */
  readonly at: Date;
  /** The `reason` annotation (dead, rejected). */
  readonly reason?: string;
  /** The result's data keys (succeeded, failed). */
  readonly data?: Record<string, string>;
}

/**
 * The task in a terminal state: the `state` label, `processed=true`, `processed-at`,
 * `processed-by`, and the `reason` or the result's data keys.
 */
export function ended(cm: ConfigMapLike, end: Ending): ConfigMapLike {
  return patched(cm, {
    labels: { [LABEL.state]: end.state },
    annotations: {
      [ANNOTATION.processed]: "true",
      [ANNOTATION.processedAt]: rfc3339(end.at),
      [ANNOTATION.processedBy]: end.by,
      ...(end.reason === undefined ? {} : { [ANNOTATION.reason]: end.reason }),
    },
    ...(end.data === undefined ? {} : { data: end.data }),
  });
}

/** The task claimed by `identity` at `at`: `running`, with `claimed-at` and `processed-by`. */
export function claimedBy(cm: ConfigMapLike, identity: string, at: Date): ConfigMapLike {
  return patched(cm, {
    labels: { [LABEL.state]: "running" },
    annotations: {
      [ANNOTATION.claimedAt]: rfc3339(at),
      [ANNOTATION.processedBy]: identity,
    },
  });
}

/** The stamp of the term that (re-)signs a task: its epoch and signature ("" when unsigned). */
export interface Stamp {
  readonly epoch: number;
  readonly signature: string;
}

/** A pending task of an earlier term, re-stamped with this term's epoch and signature. */
export function adopted(cm: ConfigMapLike, stamp: Stamp): ConfigMapLike {
  return patched(cm, {
    annotations: {
      [ANNOTATION.leaderEpoch]: String(stamp.epoch),
      [ANNOTATION.signature]: stamp.signature || null,
    },
  });
}

/** What {@linkcode reassigned} needs besides the stamp. */
export interface Move {
  /** The pod it moves from (named in the `reason`). */
  readonly from: string;
  readonly to: string;
  readonly attempt: number;
  /** Why it moves. */
  readonly reason: string;
}

/** The task moved to another pod: `pending` again, the claim cleared, re-stamped. */
export function reassigned(cm: ConfigMapLike, move: Move, stamp: Stamp): ConfigMapLike {
  return patched(cm, {
    labels: { [LABEL.assignedTo]: move.to, [LABEL.state]: "pending" },
    annotations: {
      [ANNOTATION.attempt]: String(move.attempt),
      [ANNOTATION.leaderEpoch]: String(stamp.epoch),
      [ANNOTATION.signature]: stamp.signature || null,
      [ANNOTATION.reason]: `reassigned from ${move.from}: ${move.reason}`,
      [ANNOTATION.claimedAt]: null,
      [ANNOTATION.processedBy]: null,
    },
  });
}
