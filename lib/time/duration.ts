/**
 * Parses a duration the way operators write them in YAML and flags: `"1h30m"`, `"5m"`, `"250ms"`,
 * `"10s"`, or a bare number of seconds (`10`, `"10"`), as the original `request.timeout` was.
 *
 * @param value The duration text or number of seconds.
 * @returns The duration in milliseconds, or `undefined` when the text is not a duration.
 *
 * @example Usage
 * ```ts
 * import { parseDurationMs } from "./duration.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseDurationMs("1m30s"), 90_000);
 * assert.equal(parseDurationMs(2), 2_000);
 * assert.equal(parseDurationMs("soon"), undefined);
 * ```
 */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) ? Math.round(value * 1000) : undefined;
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let matched = 0;
  while (part.lastIndex < text.length) {
    const m = part.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    matched++;
  }
  return matched > 0 ? Math.round(total) : undefined;
}

/**
 * Formats milliseconds as the shortest duration text `parseDurationMs` reads back.
 *
 * @param ms A non-negative number of milliseconds.
 * @returns Text such as `"5m"`, `"1m30s"` or `"250ms"`.
 *
 * @example Usage
 * ```ts
 * import { formatDurationMs } from "./duration.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatDurationMs(90_000), "1m30s");
 * ```
 */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join("");
}
