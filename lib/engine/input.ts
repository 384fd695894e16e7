/**
 * Inputs as the engine runs them: every default resolved, so `lib/engine/exec.ts` never looks at the
 * configuration again. Also the original's JSON `request.input` and `-i` list parsing.
 *
 * @module
 */
import type { Config, InputConfig, InputType } from "../config/schema.ts";
import { trimBlanks } from "./shellwords.ts";

/** One input, ready to run. */
export interface InputSpec {
  /** Position in the configured list (results keep this order). */
  readonly index: number;
  /** The command line or URL. */
  readonly input: string;
  readonly type: InputType;
  /** The result's name: the input's own, else `request.name`, else the input text. */
  readonly name: string;
  readonly expect?: string;
  readonly timeoutMs: number;
  /** cmd only: run through `/bin/sh -c`. */
  readonly shell: boolean;
  readonly body?: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Extra tries of a failing check inside one run. */
  readonly retries: number;
}

/** The result of one input: the original's fields first, then ours. */
export interface Result {
  /** "0" when the input succeeded (and its expect held), "-1" otherwise. */
  errorCode: "0" | "-1";
  input: string;
  name: string;
  /** stdout+stderr of a cmd or the HTTP body (possibly base64-encoded by `-e`). */
  result: string;
  /**
   * The raw bytes behind `result`, kept only when asked (`-e std|url` encodes these, so binary
   * output survives). Never printed itself.
   */
  bytes?: Uint8Array;
  /** `request.subject`, present only when set. */
  subject?: string;
  /** Finish time, UTC, `YYYY-MM-DDTHH:mm:ss.SSS` as the original printed it. */
  ts: string;
  type: InputType;
  /** Process exit code (cmd), or null when it did not exit normally or for get/post. */
  exitCode: number | null;
  /** HTTP status (get/post), or null. */
  status: number | null;
  durationMs: number;
  /** True when `result` was cut at the output cap. */
  truncated: boolean;
  /** Why the input failed, in one line; absent on success. */
  error?: string;
}

/** Formats a time as the original's `ts`: UTC with millisecond precision and no zone suffix. */
export function formatTs(date: Date): string {
  return date.toISOString().slice(0, 23);
}

/**
 * Resolves configured inputs against the `request` defaults.
 *
 * @param inputs The inputs as configured.
 * @param request The `request` section supplying defaults.
 * @returns One `InputSpec` per input, in order.
 */
export function resolveInputs(
  inputs: readonly InputConfig[],
  request: Config["request"],
): InputSpec[] {
  return inputs.map((item, index) => ({
    index,
    input: item.input,
    type: item.type ?? request.type,
    name: item.name ?? (request.name || item.input),
    ...(item.expect !== undefined ? { expect: item.expect } : {}),
    timeoutMs: item.timeoutMs ?? request.timeoutMs,
    shell: item.shell ?? request.shell,
    ...(item.body !== undefined ? { body: item.body } : {}),
    headers: item.headers ?? {},
    retries: item.retries ?? 0,
  }));
}

/**
 * Splits the `-i` flag on commas that are not inside single or double quotes (a backslash
 * escapes the next character), as in `-i "echo 'a,b',date"` → `echo 'a,b'` and `date`.
 *
 * @param text The flag's value.
 * @returns The parts that hold more than blanks, with the spaces, tabs and newlines around them
 *   removed (not other whitespace, which `sh` reads as word characters, and not a blank escaped
 *   by a backslash: `echo a\ ` keeps its `a `).
 */
export function splitInputList(text: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\" && quote !== "'" && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (quote) {
      if (ch === quote) quote = null;
      current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      current += ch;
    } else if (ch === ",") {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map(trimBlanks).filter((p) => p.length > 0);
}
