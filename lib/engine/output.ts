/**
 * Formats results for stdout the way the original did: `json` prints one compact JSON array (as
 * Go's `json.Marshal` did), `plain` prints each result's text followed by a line of `=`, and the
 * `-e std|url` encoding base64-encodes each `result` first.
 *
 * @module
 */
import type { Result } from "./input.ts";

/** The line printed after each result in `plain` format. */
export const PLAIN_SEPARATOR = "=".repeat(80);

/** Options of {@linkcode formatResults}. */
export interface FormatOptions {
  /** `json` (default): one JSON array on one line; `plain`: texts separated by `=` lines. */
  format?: "json" | "plain";
  /**
   * Base64-encode each `result` (its raw `bytes` when kept, else its UTF-8): `""` (default)
   * leaves it as is, `std` uses the standard alphabet, `url` the URL-safe one (`-`, `_`); both
   * keep `=` padding, as Go's `base64.StdEncoding` and `base64.URLEncoding` do.
   */
  encoding?: "" | "std" | "url";
}

const CHUNK = 0x8000;

/**
 * Base64-encodes text as UTF-8 (or raw bytes as they are), with padding.
 *
 * @param text The text, or the bytes.
 * @param alphabet `std` (`+/`) or `url` (`-_`).
 * @returns The encoded text.
 *
 * @example Usage
 * ```ts
 * import { encodeBase64 } from "./output.ts";
 * import assert from "node:assert/strict";
 * assert.equal(encodeBase64("é?>", "std"), "w6k/Pg==");
 * assert.equal(encodeBase64("é?>", "url"), "w6k_Pg==");
 * ```
 */
export function encodeBase64(text: string | Uint8Array, alphabet: "std" | "url"): string {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  const std = btoa(binary);
  return alphabet === "url" ? std.replaceAll("+", "-").replaceAll("/", "_") : std;
}

/** The result's fields in the documented order, `result` encoded if asked. */
function ordered(r: Result, encoding: "" | "std" | "url"): Result {
  return {
    errorCode: r.errorCode,
    input: r.input,
    name: r.name,
    result: encoding === "" ? r.result : encodeBase64(r.bytes ?? r.result, encoding),
    ...(r.subject ? { subject: r.subject } : {}),
    ts: r.ts,
    type: r.type,
    exitCode: r.exitCode,
    status: r.status,
    durationMs: r.durationMs,
    truncated: r.truncated,
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

/**
 * Formats results for stdout.
 *
 * `json` is one line, a JSON array with one object per result, fields in the order of `Result`.
 * `plain` is, per result, its (possibly encoded) text, a newline if the text does not end in one,
 * then for a failed input a line `error: <why>`, then {@linkcode PLAIN_SEPARATOR}.
 * The returned text always ends with a newline.
 *
 * @param results The results, in input order.
 * @param opts Format and encoding.
 * @returns The text to print.
 * @throws {RangeError} When `format` or `encoding` is not one of the values above.
 *
 * @example Usage
 * ```ts
 * import { formatResults } from "./output.ts";
 * import assert from "node:assert/strict";
 * const result = {
 *   errorCode: "0", input: "echo hi", name: "echo hi", result: "hi\n", ts: "2024-01-02T03:04:05.006",
 *   type: "cmd", exitCode: 0, status: null, durationMs: 2, truncated: false,
 * } as const;
 * assert.equal(formatResults([result], { format: "plain" }), "hi\n" + "=".repeat(80) + "\n");
 * assert.match(formatResults([result], { encoding: "std" }), /^\[\{"errorCode":"0",.*"result":"aGkK"/);
 * ```
 */
export function formatResults(results: readonly Result[], opts: FormatOptions = {}): string {
  const { format = "json", encoding = "" } = opts;
  if (format !== "json" && format !== "plain") {
    throw new RangeError(
      `Cannot format results as 'format' must be json or plain: current value is ${
        JSON.stringify(format)
      }`,
    );
  }
  if (encoding !== "" && encoding !== "std" && encoding !== "url") {
    throw new RangeError(
      `Cannot format results as 'encoding' must be "", std or url: current value is ${
        JSON.stringify(encoding)
      }`,
    );
  }
  const rows = results.map((r) => ordered(r, encoding));
  if (format === "json") return JSON.stringify(rows) + "\n";
  return rows.map((r) => {
    let text = r.result;
    if (text !== "" && !text.endsWith("\n")) text += "\n";
    if (r.errorCode !== "0" && r.error !== undefined) text += `error: ${r.error}\n`;
    return text + PLAIN_SEPARATOR + "\n";
  }).join("");
}
