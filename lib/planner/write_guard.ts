/**
 * The planner's write guard: only the holder of epoch N may create or re-stamp tasks stamped N,
 * so every planner write first asks whether this pod still leads ({@linkcode NotLeaderError}
 * otherwise). Every write is a compare-and-swap or a create; the guard swallows the API errors
 * that mean "someone else already did it" (conflict, not found, already exists), which the next
 * reconcile re-evaluates.
 *
 * @module
 */
import type { OwnerReference } from "../apimachinery/objects.ts";
import { isKubeError, type KubeErrorKind } from "../apimachinery/errors.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** Thrown (and caught by the planner's run loop) when a write is attempted without leadership. */
export class NotLeaderError extends Error {
  constructor() {
    super("Stopped writing tasks: this pod is no longer the leader");
    this.name = "NotLeaderError";
  }
}

/** Guards the planner's writes with its leadership. */
export class WriteGuard {
  readonly #isLeader: () => boolean;
  readonly #owner: OwnerReference | undefined;

  /**
   * @param isLeader Whether this pod still holds the lease.
   * @param owner Stamped by {@linkcode owned} on every object the planner creates.
   */
  constructor(isLeader: () => boolean, owner: OwnerReference | undefined) {
    this.#isLeader = isLeader;
    this.#owner = owner;
  }

  /** @throws {NotLeaderError} When this pod no longer leads. */
  assertLeader(): void {
    if (!this.#isLeader()) throw new NotLeaderError();
  }

  /** `cm` with the configured owner, if any. */
  owned(cm: ConfigMapLike): ConfigMapLike {
    const owner = this.#owner;
    return owner ? { ...cm, metadata: { ...cm.metadata, ownerReferences: [owner] } } : cm;
  }

  /**
   * Asserts leadership, then runs `write`, swallowing API errors of the given kinds.
   *
   * @returns Whether the write happened.
   * @throws {NotLeaderError} When this pod no longer leads (nothing is written).
   */
  async write(kinds: readonly KubeErrorKind[], write: () => Promise<unknown>): Promise<boolean> {
    this.assertLeader();
    try {
      await write();
      return true;
    } catch (err) {
      if (kinds.length > 0 && isKubeError(err, ...kinds)) return false;
      throw err;
    }
  }
}
