/**
 * Run-once mode: every input through the bounded pool, results in input order.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import { runInput } from "../engine/exec.ts";
import { type InputSpec, resolveInputs, type Result } from "../engine/input.ts";
import { runPool, type Semaphore } from "../engine/pool.ts";
import { FAILED, OK, type Outcome } from "./outcome.ts";

/**
 * Runs inputs concurrently (at most `worker.number` at once).
 *
 * @param inputs Resolved inputs.
 * @param config Supplies concurrency, output cap and subject.
 * @param signal Aborts the run: running inputs are killed and the rest are not started; every
 *   input still gets a result (error "aborted"), so the run never rejects because of it.
 * @param slots Shared slots each input must also hold while it runs (serve mode bounds all
 *   requests together with it).
 * @param describeAbort Words the error of the inputs `signal` stopped from its reason (default
 *   "aborted"; see `RunInputOptions`).
 * @returns One result per input, in input order.
 */
export function runAll(
  inputs: readonly InputSpec[],
  config: Config,
  signal?: AbortSignal,
  slots?: Semaphore,
  describeAbort?: (reason: unknown) => string | undefined,
): Promise<Result[]> {
  const options = {
    maxOutputBytes: config.request.maxOutputBytes,
    keepBytes: config.response.encoding.type !== "",
    ...(config.request.subject ? { subject: config.request.subject } : {}),
    ...(signal ? { signal } : {}),
    ...(describeAbort ? { describeAbort } : {}),
  };
  return runPool(
    inputs,
    config.worker.number,
    async (spec) => {
      let release: (() => void) | undefined;
      try {
        release = await slots?.acquire(signal);
      } catch {
        // Aborted while waiting for a slot: runInput reports it without running anything.
      }
      try {
        return await runInput(spec, options);
      } finally {
        release?.();
      }
    },
  );
}

/** The configured inputs, resolved, ready for {@linkcode runAll}. */
export function configuredInputs(config: Config): InputSpec[] {
  return resolveInputs(config.request.inputs ?? [], config.request);
}

/** The outcome of a run: `ok` when every input succeeded, else `failed`. */
export function outcomeOf(results: readonly Result[]): Outcome {
  return results.every((r) => r.errorCode === "0") ? OK : FAILED;
}
