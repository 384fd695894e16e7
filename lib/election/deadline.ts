/**
 * Time limits for the elector's waits, on its {@linkcode Clock}: {@linkcode withDeadline} races a
 * lock call against a deadline, and {@linkcode settleWithin} waits for the leader work to settle
 * but not past the moment the lease could pass to another candidate. Used by `lib/election/elector.ts`.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { KubeError } from "../apimachinery/errors.ts";
import type { LeaseLock } from "./lease_lock.ts";

/**
 * Runs a lock call, abandoning it (and aborting its signal) at `deadlineAt`.
 *
 * @param clock The elector's clock.
 * @param lock Names the lease in the deadline error.
 * @param deadlineAt Monotonic time at which the call is abandoned.
 * @param call The lock call; receives a signal that aborts at the deadline.
 * @returns What the call returned.
 * @throws {KubeError} Kind `transient` when the deadline passed first (or had already
 *   passed); otherwise whatever the call threw.
 *
 * @example Usage
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * const lock = { describe: () => "default/dz-mcall-leader" };
 * const past = systemClock.now() - 1;
 * await assert.rejects(withDeadline(systemClock, lock, past, () => Promise.resolve(1)), {
 *   name: "KubeError",
 *   message: "Deadline exceeded for lease default/dz-mcall-leader",
 * });
 * assert.equal(await withDeadline(systemClock, lock, systemClock.now() + 1_000, () => Promise.resolve(1)), 1);
 * ```
 */
export async function withDeadline<T>(
  clock: Clock,
  lock: Pick<LeaseLock, "describe">,
  deadlineAt: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = deadlineAt - clock.now();
  if (timeoutMs <= 0) {
    throw new KubeError(
      "transient",
      "",
      "leases",
      `Deadline exceeded for lease ${lock.describe()}`,
    );
  }
  const controller = new AbortController();
  const timeout = clock.sleep(timeoutMs, controller.signal).then(() => {
    const err = new KubeError(
      "transient",
      "",
      "leases",
      `Deadline exceeded for lease ${lock.describe()}`,
    );
    controller.abort(err);
    throw err;
  });
  timeout.catch(() => {});
  try {
    return await Promise.race([call(controller.signal), timeout]);
  } finally {
    controller.abort();
  }
}

/**
 * Waits for the leader work to settle, but not past `untilAt` (monotonic).
 *
 * @param clock The elector's clock.
 * @param work The leader work's promise; must not reject.
 * @param untilAt Monotonic time after which waiting stops.
 * @returns Whether the work settled in time.
 *
 * @example Usage
 * ```ts
 * import { settleWithin } from "./deadline.ts";
 * import { systemClock } from "../time/clock.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await settleWithin(systemClock, Promise.resolve(), systemClock.now() + 1_000), true);
 * assert.equal(await settleWithin(systemClock, new Promise(() => {}), systemClock.now()), false);
 * ```
 */
export async function settleWithin(
  clock: Clock,
  work: Promise<void>,
  untilAt: number,
): Promise<boolean> {
  const stop = new AbortController();
  let settled = false;
  const finished = work.then(() => {
    settled = true;
  });
  const limit = clock.sleep(Math.max(0, untilAt - clock.now()), stop.signal)
    .catch(() => {});
  try {
    await Promise.race([finished, limit]);
  } finally {
    stop.abort();
  }
  return settled;
}
