declare const unit: unique symbol;

/**
 * A number of milliseconds, branded so the unit travels with the value: what
 * {@linkcode parseDurationMs} returns and the configuration's duration fields hold (their parsed
 * names end in `Ms`, `lib/config/schema.ts`). A `Millis` is a `number` wherever one is wanted;
 * a plain number becomes one only through {@linkcode millis}.
 */
export type Millis = number & { readonly [unit]: "ms" };

/** `ms` as {@linkcode Millis}: for defaults and constants written in milliseconds. */
export function millis(ms: number): Millis {
  return ms as Millis;
}

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
export function parseDurationMs(value: string | number): Millis | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) ? millis(Math.round(value * 1000)) : undefined;
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return millis(Math.round(Number(text) * 1000));
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
  return matched > 0 ? millis(Math.round(total)) : undefined;
}

/**
 * How {@linkcode formatDurationMs} writes a duration:
 * - `"compound"`: the shortest text, in hours, minutes, seconds and milliseconds (`"1m30s"`,
 *   `"1s500ms"`), as configuration errors print lease timings;
 * - `"single"`: one number in one unit, seconds when whole, else milliseconds (`"90s"`,
 *   `"1500ms"`), as an input's timeout is printed in its error.
 */
export type DurationStyle = "compound" | "single";

/**
 * Formats milliseconds as duration text that `parseDurationMs` reads back: the one printer of
 * durations.
 *
 * @param ms A non-negative number of milliseconds (whole, for `"single"`).
 * @param style `"compound"` (default) or `"single"`, see {@linkcode DurationStyle}.
 * @returns Text such as `"5m"`, `"1m30s"` or `"250ms"`; `"90s"` or `"1500ms"` when single.
 *
 * @example Usage
 * ```ts
 * import { formatDurationMs } from "./duration.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatDurationMs(90_000), "1m30s");
 * assert.equal(formatDurationMs(90_000, "single"), "90s");
 * ```
 */
export function formatDurationMs(ms: number, style: DurationStyle = "compound"): string {
  if (style === "single") return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
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
