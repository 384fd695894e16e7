/** The input specs engine tests run, as `resolveInputs` makes them. */
import type { InputSpec } from "../../lib/engine/input.ts";

/** A cmd input without a shell: 5 s timeout, no retries unless `more` says otherwise. */
export function cmdSpec(input: string, more: Partial<InputSpec> = {}): InputSpec {
  return {
    index: 0,
    input,
    type: "cmd",
    name: input,
    timeoutMs: 5000,
    shell: false,
    headers: {},
    retries: 0,
    ...more,
  };
}
