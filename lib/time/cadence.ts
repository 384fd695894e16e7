/**
 * A check's cadence: its due times, from an interval (multiples of it since the Unix epoch, so
 * every pod computes the same ones) or a cron schedule (5 fields or an `@hourly`-style macro, in
 * an IANA time zone, evaluated by `croner`). Pure: every function takes the times it compares.
 *
 * @module
 */
import type { Cron as CronType } from "croner";
import { formatDurationMs } from "./duration.ts";

/** When a check is due. */
export type Cadence =
  | { readonly kind: "interval"; readonly intervalMs: number }
  | { readonly kind: "cron"; readonly schedule: string; readonly timeZone: string };

/** The macros a schedule may be instead of 5 fields (as Kubernetes CronJobs accept them). */
const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

let Cron: typeof CronType | undefined;

/**
 * Loads `croner`, which every function here that reads a cron schedule needs (not the interval
 * ones). Idempotent. Loaded on demand, as the YAML parser is, so a run without a schedule never
 * loads it (`tests/startup_graph_test.ts`): `lib/config/load.ts` calls it when a layer sets one.
 */
export async function loadCron(): Promise<void> {
  Cron ??= (await import("croner")).Cron;
}

const crons = new Map<string, CronType>();

/**
 * The parsed schedule (cached: a schedule is parsed once per process and zone).
 *
 * @throws {Error} When `croner` is not loaded yet ({@linkcode loadCron}).
 */
function cronOf(schedule: string, timeZone: string): CronType {
  if (Cron === undefined) {
    throw new Error("Cannot read a cron schedule before croner is loaded: await loadCron() first");
  }
  const key = `${timeZone}\n${schedule}`;
  let cron = crons.get(key);
  if (cron === undefined) {
    cron = new Cron(schedule, { paused: true, ...(timeZone ? { timezone: timeZone } : {}) });
    crons.set(key, cron);
  }
  return cron;
}

/**
 * Why `schedule` is not a cron schedule this program accepts (5 fields or a macro, no seconds
 * field), or `undefined` when it is.
 */
export function scheduleProblem(schedule: string): string | undefined {
  const text = schedule.trim();
  if (text.startsWith("@")) {
    return MACROS.includes(text.toLowerCase())
      ? undefined
      : `is not one of the macros ${MACROS.join(", ")}`;
  }
  if (text.split(/\s+/).length !== 5) return "must have 5 fields (minute hour day month weekday)";
  try {
    cronOf(text, "");
    return undefined;
  } catch (err) {
    return `is not a cron schedule (${(err as Error).message.replace(/^CronPattern: /, "")})`;
  }
}

/** Why `timeZone` is not an IANA time zone, or `undefined` when it is (or empty: UTC). */
export function timeZoneProblem(timeZone: string): string | undefined {
  if (timeZone === "") return undefined;
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return undefined;
  } catch {
    return "is not an IANA time zone (for example Europe/Berlin)";
  }
}

/** The first due time strictly after `afterMs`, or `undefined` when the schedule has none. */
export function nextDueMs(cadence: Cadence, afterMs: number): number | undefined {
  if (cadence.kind === "interval") {
    return (Math.floor(afterMs / cadence.intervalMs) + 1) * cadence.intervalMs;
  }
  return cronOf(cadence.schedule.trim(), cadence.timeZone).nextRun(new Date(afterMs))?.getTime();
}

/** How far back {@linkcode newestDueMs} looks when nothing bounds it (a bit over a year). */
const LOOKBACK_MS = 400 * 86_400_000;

/**
 * The newest due time `d` with `afterMs < d <= untilMs` (`afterMs` undefined: any, within about
 * a year), or `undefined` when there is none. A cron schedule is searched backwards in windows
 * that double (one hour first), so a minutely schedule costs about 60 steps.
 */
export function newestDueMs(
  cadence: Cadence,
  afterMs: number | undefined,
  untilMs: number,
): number | undefined {
  const floor = afterMs ?? untilMs - LOOKBACK_MS;
  if (cadence.kind === "interval") {
    const due = Math.floor(untilMs / cadence.intervalMs) * cadence.intervalMs;
    return due > floor ? due : undefined;
  }
  for (let window = 3_600_000;; window *= 2) {
    const from = Math.max(floor, untilMs - window);
    let newest: number | undefined;
    for (let d = nextDueMs(cadence, from); d !== undefined && d <= untilMs;) {
      newest = d;
      d = nextDueMs(cadence, d);
    }
    if (newest !== undefined || from <= floor) return newest;
  }
}

/** The cadence as `status` shows it: `every 30s`, or the schedule (and its zone, if set). */
export function describeCadence(cadence: Cadence): string {
  if (cadence.kind === "interval") return `every ${formatDurationMs(cadence.intervalMs)}`;
  return cadence.timeZone ? `${cadence.schedule} (${cadence.timeZone})` : cadence.schedule;
}

/** Due times sampled by {@linkcode gapsMs}. */
const SAMPLES = 600;

/**
 * The shortest and the longest time between consecutive due times, sampled over the next
 * {@linkcode SAMPLES} due times from a fixed instant (2025-01-01, so the answer never depends
 * on when it is asked).
 */
export function gapsMs(cadence: Cadence): { shortest: number; longest: number } {
  if (cadence.kind === "interval") {
    return { shortest: cadence.intervalMs, longest: cadence.intervalMs };
  }
  let shortest = Infinity;
  let longest = 0;
  let prev = nextDueMs(cadence, Date.UTC(2025, 0, 1));
  for (let i = 0; i < SAMPLES && prev !== undefined; i++) {
    const next = nextDueMs(cadence, prev);
    if (next === undefined) break;
    shortest = Math.min(shortest, next - prev);
    longest = Math.max(longest, next - prev);
    prev = next;
  }
  return { shortest, longest };
}
