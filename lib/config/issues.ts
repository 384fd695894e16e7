/**
 * Validation problems as one line each: `path (from SOURCE): value problem`, e.g.
 * `request.inputs[2].type: "gte" is not one of cmd, get, post`, for `loadConfig` (`load.ts`) and the
 * HTTP API's per-request inputs.
 *
 * @module
 */
import type { z } from "zod/mini";
import { ConfigSchema } from "./schema.ts";
import type { RawLayer } from "./layer.ts";

/**
 * zod's `.int()` reports a number beyond 2^53 as above Number.MAX_SAFE_INTEGER, not above the
 * field's own maximum: validate once more with the largest safe integer in its place to learn the
 * real maximum, and report that with the original value.
 */
export function realLimit(merged: RawLayer, issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "too_big" || Number(issue.maximum) !== Number.MAX_SAFE_INTEGER) return issue;
  const copy = structuredClone(merged);
  let node: unknown = copy;
  for (const key of issue.path.slice(0, -1)) node = (node as Record<PropertyKey, unknown>)[key];
  (node as Record<PropertyKey, unknown>)[issue.path.at(-1)!] = Number.MAX_SAFE_INTEGER;
  const again = ConfigSchema.safeParse(copy, { reportInput: true });
  const real = again.success
    ? undefined
    : again.error.issues.find((i) =>
      i.code === "too_big" && formatPath(i.path) === formatPath(issue.path)
    );
  return real?.code === "too_big" ? { ...real, input: issue.input } : issue;
}

/** Formats one zod issue as `path (from SOURCE): value problem`. */
export function describeIssue(issue: z.core.$ZodIssue, sources: ReadonlyMap<string, string>) {
  let path = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  let problem: string;
  switch (issue.code) {
    case "invalid_value":
      problem = `${show(input)} is not one of ${
        issue.values.map((v) => v === "" ? '""' : String(v)).join(", ")
      }`;
      break;
    case "invalid_type":
      problem = input === undefined
        ? "is required"
        : `expected ${issue.expected}, got ${show(input)}`;
      break;
    case "too_small":
      problem = issue.origin === "string" || issue.origin === "array"
        ? `${show(input)} ${issue.message.replace(/^Too small: /, "")}`
        : `${show(input)} is below the minimum of ${issue.minimum}`;
      break;
    case "too_big":
      problem = `${show(input)} is above the maximum of ${issue.maximum}`;
      break;
    case "unrecognized_keys":
      path = [path, issue.keys[0]].filter(Boolean).join(".");
      problem = "is not a known setting";
      break;
    case "invalid_union":
      problem = `expected a duration such as 10s or 5m, got ${show(input)}`;
      break;
    default:
      problem = input === undefined ? issue.message : `${show(input)} ${issue.message}`;
  }
  const source = sourceOf(path, sources);
  return `${path || "config"}${source ? ` (from ${source})` : ""}: ${problem}`;
}

function sourceOf(path: string, sources: ReadonlyMap<string, string>): string | undefined {
  for (let p = path; p;) {
    const s = sources.get(p);
    if (s) return s;
    const parent = p.replace(/(\.[^.]*|\[\d+\])$/, "");
    // A key such as `a[b` has no parent to strip: stop (the loop once spun forever here).
    if (parent === p) break;
    p = parent;
  }
  return undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) =>
      typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key),
    "",
  );
}

/**
 * JSON-ish rendering of a bad value for messages, kept short. A number JSON cannot write (YAML's
 * `.nan`, `.inf`) shows as `NaN`/`Infinity`, not JSON's `null`.
 */
export function show(value: unknown): string {
  const text = typeof value === "number" && !Number.isFinite(value)
    ? String(value)
    : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}
