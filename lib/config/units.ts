/**
 * Duration fields and their unit at the config boundary. A user writes `tasks.interval: 30s` (the
 * key is an API); the parsed configuration holds the value as {@linkcode Millis} under
 * `intervalMs`, so the unit travels in the name and the type from the schema to the timer.
 * `tests/layout_test.ts` checks the rule for every field of the schema. (Parsing goes through
 * `schema.ts`, which sets zod's global configuration.)
 *
 * @module
 */
import { z } from "zod/mini";
import { type Millis, parseDurationMs } from "../time/duration.ts";
import { fields } from "./fields.ts";

/**
 * A duration field: text such as `"15s"` or a number of seconds, parsed to milliseconds by
 * `lib/time/duration.ts` (the one parser). Its bounds are kept as the schema's metadata
 * (`durationMs`) for the generated docs/configuration.md.
 */
export function duration(
  opts: { minMs?: number; maxMs?: number } = {},
): z.ZodMiniType<Millis, string | number> {
  const { minMs = 0, maxMs = 7 * 24 * 3_600_000 } = opts;
  return z.pipe(
    z.union([z.string(), z.number()]),
    z.transform((value: string | number, ctx) => {
      const ms = parseDurationMs(value);
      if (ms === undefined) {
        ctx.issues.push({
          code: "custom",
          message: "is not a duration (use e.g. 10s, 5m, 1h30m)",
          input: value,
        });
        return z.NEVER;
      }
      if (ms < minMs || ms > maxMs) {
        ctx.issues.push({
          code: "custom",
          message: `must be between ${minMs}ms and ${maxMs}ms`,
          input: value,
        });
        return z.NEVER;
      }
      return ms;
    }),
  ).register(z.globalRegistry, { durationMs: { min: minMs, max: maxMs } });
}

/**
 * The parsed form of an object schema's output: each key `k` holding a duration ({@linkcode Millis})
 * is renamed `kMs`; every other key stays.
 */
export type WithUnits<T> = {
  [K in keyof T as NonNullable<T[K]> extends Millis ? `${K & string}Ms` : K]: T[K];
};

/**
 * A strict object whose parsed output names its duration fields with their unit
 * ({@linkcode WithUnits}): validation and error paths use the keys as written, the program reads
 * `…Ms`. The renamed keys are the fields built by {@linkcode duration} (its registered metadata).
 */
export function unitObject<T extends z.core.$ZodLooseShape>(shape: T) {
  const durations = new Set(
    fields(z.strictObject(shape))
      .filter((f) => !f.path.includes(".") && f.layers.some(isDuration))
      .map((f) => f.path),
  );
  return z.pipe(
    z.strictObject(shape),
    z.transform((value: z.output<z.ZodMiniObject<T, z.core.$strict>>) => {
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) out[durations.has(key) ? `${key}Ms` : key] = v;
      return out as WithUnits<typeof value>;
    }),
  );
}

/** Whether `schema` is one built by {@linkcode duration}. */
export function isDuration(schema: z.ZodMiniType): boolean {
  return z.globalRegistry.get(schema)?.durationMs !== undefined;
}
