/**
 * The `expect` check of an input: parsed once (so configuration validation can reject bad text
 * early) and then judged against each run's outcome. The exact semantics are in
 * `docs/commands.md`.
 *
 * Forms, recognised in this order:
 * - `status=200|301|2xx`: the HTTP status (get/post) or the exit code (cmd) is one of the
 *   alternatives; `Nxx` (N from 1 to 5) is a whole class.
 * - `$count < N` (also `>`, `<=`, `>=`, `==`, `=`, `!=`): the trimmed output read as a decimal
 *   integer compares so with N.
 * - `/regex/flags`: the regular expression matches somewhere in the output. Only when the text
 *   starts with `/` and ends with `/` plus nothing but valid flag letters (`dgimsuvy`).
 * - anything else, `a|b`: at least one alternative (trimmed) is a substring of the output.
 *
 * @module
 */
import type { InputType } from "../config/schema.ts";

/** A comparison of `$count`. */
export type CountOp = "<" | ">" | "<=" | ">=" | "==" | "!=";

/** A parsed `expect`. `text` is the original text, for messages. */
export type Expect =
  | { readonly kind: "contains"; readonly text: string; readonly alternatives: readonly string[] }
  | { readonly kind: "count"; readonly text: string; readonly op: CountOp; readonly value: number }
  | { readonly kind: "status"; readonly text: string; readonly codes: readonly string[] }
  | { readonly kind: "regex"; readonly text: string; readonly regex: RegExp };

/** What one run produced, as far as the verdict is concerned. */
export interface Outcome {
  readonly type: InputType;
  /** Captured output (possibly cut at the output cap). */
  readonly output: string;
  /** Exit code of a cmd that exited normally; null otherwise. */
  readonly exitCode: number | null;
  /** HTTP status of a get/post; null otherwise. */
  readonly status: number | null;
}

/** Whether an outcome counts as success, and if not, why (one line). */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const COUNT = /^\$count\s*(<=|>=|==|!=|<|>|=)\s*([+-]?\d+)\s*$/;
const STATUS = /^status\s*==?\s*(.*)$/s;
const REGEX = /^\/(.+)\/([dgimsuvy]*)$/s;
const INTEGER = /^[+-]?\d+$/;

/**
 * Parses an `expect` text.
 *
 * @param text The text as configured, e.g. `"status=200|301"`, `"$count < 5"`, `"/^ok$/m"`,
 * `"ready|ok"`.
 * @returns The parsed check.
 * @throws {TypeError} When the text is empty, a `status=` list or `$count` comparison is
 * malformed, a regular expression does not compile, or a `|` list has an empty alternative. The
 * one-line message starts with `expect "<text>"`.
 *
 * @example Usage
 * ```ts
 * import { parseExpect } from "./expect.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseExpect("$count < 5"), { kind: "count", text: "$count < 5", op: "<", value: 5 });
 * assert.throws(() => parseExpect("status=ok"), TypeError);
 * ```
 */
export function parseExpect(text: string): Expect {
  const bad = (why: string): never => {
    throw new TypeError(`expect ${JSON.stringify(text)} ${why}`);
  };
  const trimmed = text.trim();
  if (trimmed === "") bad("is empty");

  const status = STATUS.exec(trimmed);
  if (status) {
    const codes = status[1]!.split("|").map((c) => c.trim().toLowerCase());
    for (const code of codes) {
      if (!/^(\d{1,3}|[1-5]xx)$/.test(code)) {
        bad(
          `is not a valid status list: ${
            JSON.stringify(code)
          } is not a status code or class such as 200 or 2xx (to match the text, write /${
            trimmed.replaceAll("/", "\\/")
          }/)`,
        );
      }
    }
    return { kind: "status", text, codes: codes.map((c) => /^\d+$/.test(c) ? String(+c) : c) };
  }

  if (/^\$count(?![A-Za-z0-9_])/.test(trimmed)) {
    const count = COUNT.exec(trimmed);
    if (!count) {
      bad(
        "is not a valid count check: use $count followed by <, >, <=, >=, == or != and an integer",
      );
    }
    const op = count![1] === "=" ? "==" : count![1] as CountOp;
    return { kind: "count", text, op, value: Number(count![2]) };
  }

  const regex = REGEX.exec(trimmed);
  if (regex) {
    try {
      return { kind: "regex", text, regex: new RegExp(regex[1]!, regex[2]) };
    } catch (error) {
      bad(`is not a valid regular expression: ${(error as Error).message}`);
    }
  }

  const alternatives = trimmed.split("|").map((a) => a.trim());
  if (alternatives.some((a) => a === "")) bad("has an empty alternative between | separators");
  return { kind: "contains", text, alternatives };
}

function quote(output: string, max = 60): string {
  return JSON.stringify(output.length > max ? output.slice(0, max) + "…" : output);
}

function compare(op: CountOp, a: number, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case ">":
      return a > b;
    case "<=":
      return a <= b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    case "!=":
      return a !== b;
  }
}

/**
 * Checks the content forms (`contains`, `count`, `regex`) against output. A `status` check has no
 * content part and always holds here.
 *
 * @param expect The parsed check.
 * @param output The captured output.
 * @returns The verdict; on failure the reason says what was seen.
 *
 * @example Usage
 * ```ts
 * import { checkContent, parseExpect } from "./expect.ts";
 * import assert from "node:assert/strict";
 * assert.equal(checkContent(parseExpect("ok|ready"), "status: ready\n").ok, true);
 * assert.equal(checkContent(parseExpect("$count > 3"), " 2\n").ok, false);
 * ```
 */
export function checkContent(expect: Expect, output: string): Verdict {
  switch (expect.kind) {
    case "status":
      return { ok: true };
    case "contains":
      return expect.alternatives.some((a) => output.includes(a)) ? { ok: true } : {
        ok: false,
        reason: `output does not contain ${
          expect.alternatives.map((a) => JSON.stringify(a)).join(" or ")
        }`,
      };
    case "regex":
      expect.regex.lastIndex = 0;
      return expect.regex.test(output)
        ? { ok: true }
        : { ok: false, reason: `output does not match ${expect.regex}` };
    case "count": {
      const text = output.trim();
      if (!INTEGER.test(text)) {
        return {
          ok: false,
          reason: `output ${
            quote(text)
          } is not an integer, as "$count ${expect.op} ${expect.value}" requires`,
        };
      }
      const count = Number(text);
      return compare(expect.op, count, expect.value)
        ? { ok: true }
        : { ok: false, reason: `count ${count} is not ${expect.op} ${expect.value}` };
    }
  }
}

function statusMatches(codes: readonly string[], value: number): boolean {
  return codes.some((c) =>
    c.endsWith("xx") ? Math.floor(value / 100) === Number(c[0]) : Number(c) === value
  );
}

/**
 * Decides whether a finished run succeeded:
 * - cmd: with `status=`, the exit code must be one of the list; otherwise it must be 0 and a
 *   content check, if any, must hold.
 * - get/post: with `status=`, the HTTP status must be one of the list; otherwise it must be 2xx
 *   and a content check, if any, must hold on the body.
 *
 * A run that did not finish (timeout, signal, connection error) has no exit code or status and
 * fails.
 *
 * @param outcome What the run produced.
 * @param expect The parsed check, if the input has one.
 * @returns The verdict.
 *
 * @example Usage
 * ```ts
 * import { judge, parseExpect } from "./expect.ts";
 * import assert from "node:assert/strict";
 * const outcome = { type: "get", output: "Not Found", exitCode: null, status: 404 } as const;
 * assert.deepEqual(judge(outcome), { ok: false, reason: "HTTP status 404 is not 2xx" });
 * assert.deepEqual(judge(outcome, parseExpect("status=200|404")), { ok: true });
 * ```
 */
export function judge(outcome: Outcome, expect?: Expect): Verdict {
  const cmd = outcome.type === "cmd";
  // The number judged: a cmd's exit code, an HTTP input's status (null: the run did not finish).
  const code = cmd ? outcome.exitCode : outcome.status;
  if (code === null) {
    return { ok: false, reason: cmd ? "the command did not exit normally" : "no HTTP response" };
  }
  const what = `${cmd ? "exit code" : "HTTP status"} ${code}`;
  if (expect?.kind === "status") {
    return statusMatches(expect.codes, code)
      ? { ok: true }
      : { ok: false, reason: `${what} is not one of ${expect.codes.join("|")}` };
  }
  if (cmd ? code !== 0 : (code < 200 || code > 299)) {
    return { ok: false, reason: cmd ? what : `${what} is not 2xx` };
  }
  return expect === undefined ? { ok: true } : checkContent(expect, outcome.output);
}
