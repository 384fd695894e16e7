/**
 * The configuration of every check's own cadence: a task's `interval` or `schedule`, the
 * release's `tasks.timeZone` and, in CronJob mode, the rounds' own schedule `tasks.schedule` (the
 * tick). The schema's field types for these live here, with the rules across fields that
 * {@linkcode checkCadences} applies at load time (one line, exit 2). The chart's `validateValues`
 * restates the tick rule; `tests/chart/cadence_test.ts` checks both with one table.
 *
 * @module
 */
import { z } from "zod/mini";
import { type Cadence, gapsMs, scheduleProblem, timeZoneProblem } from "../time/cadence.ts";
import { formatDurationMs, parseDurationMs } from "../time/duration.ts";
import type { Config, InputConfig } from "./schema.ts";
import { ConfigError } from "./layer.ts";

/** `@every <duration>`, which a CronJob's schedule may be (not a task's: it has `interval`). */
const EVERY = /^@every\s+(\S+)$/;

/**
 * A cron schedule field: 5 fields or an `@hourly`-style macro (no seconds field). The rounds'
 * schedule (`tick`) may also be `""` (none) or `@every <duration>`, as a CronJob's.
 */
export function cronSchedule(tick = false) {
  return z.string().check(z.superRefine((text, ctx) => {
    const every = tick ? EVERY.exec(text.trim()) : null;
    const problem = tick && text === ""
      ? undefined
      : every
      ? (parseDurationMs(every[1]!) ?? 0) >= 1000 ? undefined : "is not @every <duration ≥ 1s>"
      : scheduleProblem(text);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, input: text });
  }));
}

/** An IANA time zone name, or empty (UTC). */
export function timeZoneName() {
  return z.string().check(z.superRefine((text, ctx) => {
    const problem = timeZoneProblem(text);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, input: text });
  }));
}

/**
 * The check's own cadence, or `undefined` when it sets neither `interval` nor `schedule` (it then
 * runs every round: every `tasks.interval` in deployment mode, every Job in CronJob mode).
 */
export function cadenceOf(input: InputConfig, timeZone: string): Cadence | undefined {
  if (input.schedule !== undefined) return { kind: "cron", schedule: input.schedule, timeZone };
  if (input.intervalMs !== undefined) return { kind: "interval", intervalMs: input.intervalMs };
  return undefined;
}

/**
 * Each check's effective cadence, by input index: its own, else the rounds' — `tasks.schedule`
 * (CronJob mode, the tick) when set, else `tasks.interval`. What `status` and the per-check
 * interval series show; the planner runs a check without its own cadence every round.
 */
export function effectiveCadences(config: Config): Cadence[] {
  const { timeZone, intervalMs } = config.tasks;
  const rounds = tickOf(config) ?? { kind: "interval", intervalMs };
  return (config.request.inputs ?? []).map((i) => cadenceOf(i, timeZone) ?? rounds);
}

/** The rounds' own cadence in CronJob mode (`tasks.schedule`), or `undefined` when not set. */
function tickOf(config: Config): Cadence | undefined {
  const { schedule, timeZone } = config.tasks;
  if (schedule === "") return undefined;
  const every = EVERY.exec(schedule.trim());
  return every
    ? { kind: "interval", intervalMs: parseDurationMs(every[1]!)! }
    : { kind: "cron", schedule, timeZone };
}

/** A check's label in messages: its name when it has one, else its input. */
function label(input: InputConfig): string {
  return JSON.stringify(input.name ?? input.input);
}

/**
 * The rules across fields: a task sets `interval` or `schedule`, not both; an interval is a whole
 * number of seconds (round ids have seconds); and with a tick (`tasks.schedule`, CronJob mode)
 * no task's cadence is finer than the tick's longest gap, which its rounds could never meet.
 *
 * @throws {ConfigError} naming the task (its index and name) and both schedules.
 */
export function checkCadences(config: Config): void {
  const tick = tickOf(config);
  const tickGap = tick && gapsMs(tick).longest;
  (config.request.inputs ?? []).forEach((input, i) => {
    const at = `request.inputs[${i}]`;
    if (input.schedule !== undefined && input.intervalMs !== undefined) {
      throw new ConfigError(`${at}: task ${label(input)} sets interval and schedule: use one`);
    }
    if (input.intervalMs !== undefined && input.intervalMs % 1000 !== 0) {
      throw new ConfigError(
        `${at}.interval: ${formatDurationMs(input.intervalMs)} (task ${label(input)}) ` +
          "is not a whole number of seconds",
      );
    }
    const cadence = cadenceOf(input, config.tasks.timeZone);
    if (cadence === undefined || tickGap === undefined) return;
    if (gapsMs(cadence).shortest < tickGap) {
      const own = cadence.kind === "cron"
        ? `schedule ${JSON.stringify(cadence.schedule)}`
        : `interval ${formatDurationMs(cadence.intervalMs)}`;
      throw new ConfigError(
        `${at}: task ${label(input)} has ${own}, finer than the rounds' schedule ` +
          `${JSON.stringify(config.tasks.schedule)}: it could not run at each of its due times`,
      );
    }
  });
}
