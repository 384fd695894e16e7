/**
 * How a one-shot pod learns that its round is over: from the round summary the leader keeps.
 * The store and clock come in as parameters.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../time/clock.ts";
import type { Config } from "../config/schema.ts";
import { ROUND_EXIT, type RoundExit, roundExitStatus } from "./round_exit.ts";
import { roundName } from "./contract.ts";
import type { TaskStore } from "./store.ts";

const over = (phase: string | undefined) => phase === "complete" || phase === "deadline-exceeded";

/**
 * Whether a one-shot round is over: its summary's phase is `complete` or `deadline-exceeded`.
 * A failed read counts as not over (the caller then acts as if the round still runs).
 */
export async function roundIsOver(
  store: TaskStore,
  app: string,
  round: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    return over((await store.get(roundName(app, round), signal))?.data?.phase);
  } catch {
    return false;
  }
}

/**
 * Waits for a one-shot round to end: polls the round summary until its phase is `complete` or
 * `deadline-exceeded`, or `tasks.roundDeadline` passes on this pod's clock.
 *
 * @returns {@linkcode ROUND_EXIT}: `ok` when every task ran (checks may have failed),
 *   `infrastructure` when a task was dead or rejected, `deadline` when the deadline passed.
 * @throws {unknown} `signal.reason` when aborted.
 */
export async function waitForRound(
  { store, clock, tasks }: { store: TaskStore; clock: Clock; tasks: Config["tasks"] },
  round: string,
  signal: AbortSignal,
  log: Logger,
): Promise<RoundExit> {
  const start = clock.now();
  const name = roundName(tasks.app, round);
  for (;;) {
    signal.throwIfAborted();
    try {
      const data = (await store.get(name, signal))?.data ?? {};
      if (over(data.phase)) return roundExitStatus(data);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      log.warn("Reading round {name} failed: {error}", { name, error: String(err) });
    }
    if (clock.now() - start >= tasks.roundDeadline) return ROUND_EXIT.deadline;
    await clock.sleep(Math.min(tasks.pollInterval, 2000), signal);
  }
}
