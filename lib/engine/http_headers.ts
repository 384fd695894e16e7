/**
 * The one rule for request headers of get/post inputs, shared by config validation (exit 2 at
 * load) and `runInput` (a failed result, never a throw): a name is an RFC 9110 token, a value
 * holds no CR, LF, NUL or other control character but tab, and only bytes up to 0xFF.
 *
 * @module
 */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Why a header cannot be sent (a phrase to follow the value), or undefined when it can.
 *
 * @example Usage
 * ```ts
 * import { headerProblem } from "./http_headers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(headerProblem("X-Probe", "yes"), undefined);
 * assert.match(headerProblem("X", "a\r\nB: c")!, /contains CR, LF/);
 * ```
 */
export function headerProblem(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) {
    return "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)";
  }
  if (!VALUE.test(value)) {
    return [...value].some((c) => c.charCodeAt(0) > 0xff)
      ? "has a character beyond \\xff, which HTTP/1.1 cannot send"
      : "contains CR, LF, NUL or another control character";
  }
  return undefined;
}

/** The first problem among `headers` as one line, or undefined when all can be sent. */
export function headersProblem(headers: Readonly<Record<string, string>>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    const problem = headerProblem(name, value);
    if (problem !== undefined) {
      return `header ${JSON.stringify(name)}: ${JSON.stringify(value)} ${problem}`;
    }
  }
  return undefined;
}
