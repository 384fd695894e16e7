/**
 * The pod log's line for a finished task: what `kubectl logs` shows of each result. The result
 * is rendered in the configured `response.format` (and `response.encoding`), as the one-shot CLI
 * prints it, with its text capped so one task never floods the log. Pure; the worker logs it.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { capUtf8 } from "../engine/capture.ts";
import type { Result } from "../engine/input.ts";
import { formatResults, PLAIN_SEPARATOR } from "../engine/output.ts";

/** Cap on the result text in a log line (the task ConfigMap keeps up to 64 KiB). */
export const LOG_RESULT_CAP_BYTES = 2048;

/** How results are rendered: `response.format` and `response.encoding.type`. */
export interface ResultLogFormat {
  readonly format: "json" | "plain";
  readonly encoding: "" | "std" | "url";
}

/**
 * The result as the log line shows it: for `json` the result's JSON object (one line, fields in
 * the documented order), for `plain` its text and, for a failure, an `error: …` line. The result
 * text is cut at {@linkcode LOG_RESULT_CAP_BYTES} first (then `truncated` is true).
 *
 * @example Usage
 * ```ts
 * import { resultForLog } from "./finished_log.ts";
 * import assert from "node:assert/strict";
 * const r = {
 *   errorCode: "0", input: "echo hi", name: "hi", result: "hi\n", ts: "2025-01-01T00:00:00.000",
 *   type: "cmd", exitCode: 0, status: null, durationMs: 3, truncated: false,
 * } as const;
 * assert.equal(resultForLog(r, { format: "plain", encoding: "" }), "hi");
 * assert.match(resultForLog(r, { format: "json", encoding: "" }), /^\{"errorCode":"0",/);
 * ```
 */
export function resultForLog(result: Result, fmt: ResultLogFormat): string {
  const cut = capUtf8(result.result, LOG_RESULT_CAP_BYTES);
  const capped: Result = { ...result, result: cut.text, truncated: result.truncated || cut.cut };
  const text = formatResults([capped], fmt);
  if (fmt.format === "json") return JSON.stringify((JSON.parse(text) as unknown[])[0]);
  return text.slice(0, text.length - PLAIN_SEPARATOR.length - 1).trimEnd();
}

/** What {@linkcode logFinished} reports. */
export interface FinishedTask {
  /** The task ConfigMap's name. */
  readonly name: string;
  readonly attempt: number;
  readonly state: "succeeded" | "failed";
  readonly result: Result;
  /** Default json, not encoded. */
  readonly format?: ResultLogFormat | undefined;
}

/**
 * Logs one line for a finished task (`event: task-finished`; info when it succeeded, warning
 * when its check failed), so `kubectl logs` shows every result.
 */
export function logFinished(log: Logger, task: FinishedTask): void {
  const { name, attempt, state, result } = task;
  const props = {
    event: "task-finished",
    name,
    task: result.name,
    attempt,
    state,
    durationMs: Math.round(result.durationMs),
    exitCode: result.exitCode,
    status: result.status,
    result: resultForLog(result, task.format ?? { format: "json", encoding: "" }),
  };
  const message = "Task {name} {state} in {durationMs} ms: {result}";
  if (state === "succeeded") log.info(message, props);
  else log.warn(message, props);
}
