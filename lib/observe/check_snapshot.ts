/**
 * What the task ConfigMaps say about each configured check and about the rounds: the pure model
 * behind the per-check metrics (`lib/observe/check_metrics.ts`), the Pushgateway push and
 * `dz-mcall status`. Never throws on missing or garbled fields: such a task is skipped.
 *
 * Bounded cardinality (invariant): a check is one configured input, named by
 * {@linkcode checkLabels}; a task whose index is not a configured input, or whose name is not
 * the deterministic name of its round and index, is ignored. Nothing read from a task's output
 * becomes a label.
 *
 * @module
 */
import type { InputSpec } from "../engine/input.ts";
import {
  ANNOTATION,
  LABEL,
  type RoundPhase,
  TASK_STATES,
  taskName,
  type TaskState,
  type TaskView,
} from "../tasks/contract.ts";
import type { ConfigMapLike } from "../tasks/store.ts";

/** The last known result of one check. */
export interface CheckState {
  /** The `check` label: the input's name (see {@linkcode checkLabels}). */
  readonly check: string;
  /** The terminal state of its newest task. */
  readonly state: TaskState;
  /** 1 when the newest task succeeded, else 0. */
  readonly success: 0 | 1;
  /** When the newest task finished (its `processed-at`), seconds since the epoch. */
  readonly lastRun: number;
  /** When the newest succeeded task finished, if any is still kept. */
  readonly lastSuccess: number | undefined;
  /** Run time of the newest task that ran (succeeded or failed), seconds. */
  readonly durationSeconds: number | undefined;
  /** The newest task's attempt. */
  readonly attempts: number;
  /** Longest time between the check's due times, seconds (when the caller knows its cadence). */
  readonly intervalSeconds: number | undefined;
  /** The round of the newest task. */
  readonly round: string;
  /** The newest task's ConfigMap. */
  readonly task: string;
  /** Why the newest task did not succeed ("" when it did). */
  readonly error: string;
  /** While failing: when the first failure after the last kept success finished. */
  readonly failingSince: number | undefined;
}

/** A configured check as the snapshot needs it: index, name and, if known, its interval. */
export type CheckInput = Pick<InputSpec, "index" | "name"> & {
  readonly intervalSeconds?: number | undefined;
};

/** One round summary, read leniently. */
export interface RoundState {
  readonly round: string;
  readonly phase: RoundPhase;
  /** Start and end (finished rounds only), seconds since the epoch. */
  readonly start: number | undefined;
  readonly end: number | undefined;
  readonly counts: Readonly<Record<TaskState, number>>;
  readonly total: number;
}

/** What {@linkcode snapshot} returns. */
export interface Snapshot {
  /** One entry per configured check that has a finished task, in configuration order. */
  readonly checks: readonly CheckState[];
  /** Every round summary, newest start first. */
  readonly rounds: readonly RoundState[];
  /** The newest `complete` round's end, seconds. */
  readonly lastCompleted: number | undefined;
  /** The newest finished (complete or deadline-exceeded) round. */
  readonly lastFinished: RoundState | undefined;
}

/**
 * The `check` label of each configured input, by index: its name, made unique by appending
 * `#<index>` to the second and later inputs of one name.
 *
 * @example Usage
 * ```ts
 * import { checkLabels } from "./check_snapshot.ts";
 * import assert from "node:assert/strict";
 * const labels = checkLabels([{ index: 0, name: "a" }, { index: 1, name: "a" }]);
 * assert.deepEqual([...labels.values()], ["a", "a#1"]);
 * ```
 */
export function checkLabels(
  inputs: readonly Pick<InputSpec, "index" | "name">[],
): Map<number, string> {
  const out = new Map<number, string>();
  const used = new Set<string>();
  for (const { index, name } of inputs) {
    const label = used.has(name) ? `${name}#${index}` : name;
    used.add(label);
    out.set(index, label);
  }
  return out;
}

/** Seconds since the epoch of an RFC 3339 text, or `undefined`. */
function seconds(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** The input index a task belongs to, when its name is its round's deterministic name for it. */
export function taskIndex(app: string, view: TaskView): number | undefined {
  const m = /-(\d{3,9})$/.exec(view.name);
  if (!m || view.round === "") return undefined;
  const index = Number(m[1]);
  try {
    return taskName(app, view.round, index) === view.name ? index : undefined;
  } catch {
    return undefined;
  }
}

const FINISHED: readonly TaskState[] = ["succeeded", "failed", "dead", "rejected"];

interface Run {
  readonly view: TaskView;
  readonly at: number;
}

/**
 * Builds the snapshot from task views and round summaries (as listed by the leader).
 *
 * @param inputs The configured inputs (the only source of `check` labels).
 * @param app `tasks.app`.
 */
export function snapshot(
  inputs: readonly CheckInput[],
  app: string,
  views: readonly TaskView[],
  summaries: readonly ConfigMapLike[],
): Snapshot {
  const labels = checkLabels(inputs);
  const runs = new Map<number, Run[]>();
  for (const view of views) {
    if (view.state === undefined || !FINISHED.includes(view.state)) continue;
    const index = taskIndex(app, view);
    if (index === undefined || !labels.has(index)) continue;
    const at = seconds(view.cm.metadata.annotations?.[ANNOTATION.processedAt]);
    if (at === undefined) continue;
    const list = runs.get(index) ?? [];
    list.push({ view, at });
    runs.set(index, list);
  }
  const checks: CheckState[] = [];
  for (const [index, check] of labels) {
    // Newest first; among equal times the newer round, then the higher attempt.
    const list = (runs.get(index) ?? []).sort((a, b) =>
      b.at - a.at || b.view.round.localeCompare(a.view.round) || b.view.attempt - a.view.attempt
    );
    const newest = list[0];
    if (!newest) continue;
    const lastOk = list.find((r) => r.view.state === "succeeded");
    const ran = list.find((r) => r.view.cm.data?.durationMs !== undefined);
    const failures = list.filter((r) => r.view.state !== "succeeded" && r.at > (lastOk?.at ?? -1));
    const state = newest.view.state!;
    const data = newest.view.cm.data ?? {};
    checks.push({
      check,
      state,
      success: state === "succeeded" ? 1 : 0,
      lastRun: newest.at,
      lastSuccess: lastOk?.at,
      durationSeconds: ran ? Number(ran.view.cm.data!.durationMs) / 1000 || 0 : undefined,
      attempts: newest.view.attempt,
      intervalSeconds: inputs.find((i) => i.index === index)?.intervalSeconds,
      round: newest.view.round,
      task: newest.view.name,
      error: state === "succeeded"
        ? ""
        : (data.error || newest.view.cm.metadata.annotations?.[ANNOTATION.reason] || state),
      failingSince: state === "succeeded" ? undefined : failures.at(-1)?.at,
    });
  }
  const rounds = summaries.map(roundState).sort((a, b) =>
    (b.start ?? 0) - (a.start ?? 0) || b.round.localeCompare(a.round)
  );
  const finished = rounds.filter((r) => r.phase !== "running" && r.end !== undefined)
    .sort((a, b) => b.end! - a.end!);
  return {
    checks,
    rounds,
    lastCompleted: finished.find((r) => r.phase === "complete")?.end,
    lastFinished: finished[0],
  };
}

/** Reads a round summary leniently. */
export function roundState(cm: ConfigMapLike): RoundState {
  const data = cm.data ?? {};
  const count = (text: string | undefined) => {
    const n = Number(text ?? "0");
    return Number.isInteger(n) && n >= 0 ? n : 0;
  };
  const phase = data.phase === "complete" || data.phase === "deadline-exceeded"
    ? data.phase
    : "running";
  return {
    round: cm.metadata.labels?.[LABEL.roundId] ?? "",
    phase,
    start: seconds(data.start),
    end: phase === "running" ? undefined : seconds(data.end),
    counts: Object.fromEntries(TASK_STATES.map((s) => [s, count(data[s])])) as Record<
      TaskState,
      number
    >,
    total: count(data.total),
  };
}
