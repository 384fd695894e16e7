/**
 * The task ConfigMap contract: the names, labels, annotations and data keys through which the
 * leader hands tasks to workers. Users read these objects with kubectl, so every key here is an
 * API (documented in `docs/tasks.md`).
 *
 * Also {@linkcode viewTask}, which reads a task ConfigMap without ever throwing on missing or
 * garbled fields. The store interfaces live in `store.ts`, `KubeError` in `lib/apimachinery/errors.ts`.
 *
 * @module
 */
import { z } from "zod/mini";
import { INPUT_TYPES, integer } from "../config/schema.ts";
import { capUtf8 } from "../engine/capture.ts";
import type { InputSpec, Result } from "../engine/input.ts";
import type { ConfigMapLike } from "./store.ts";

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** Label keys on task and round ConfigMaps. */
export const LABEL = {
  app: "app",
  task: "task",
  round: "round",
  assignedTo: "assigned-to",
  roundId: "round-id",
  state: "state",
} as const;

/** Annotation keys on task ConfigMaps. */
export const ANNOTATION = {
  processed: "processed",
  processedAt: "processed-at",
  processedBy: "processed-by",
  leaderEpoch: "leader-epoch",
  attempt: "attempt",
  signature: "signature",
  claimedAt: "claimed-at",
  reason: "reason",
} as const;

/** The states of a task, as its `state` label. */
export const TASK_STATES = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "dead",
  "rejected",
] as const;
/** A task's state. */
export type TaskState = typeof TASK_STATES[number];

/** Cap on the `output` data key, so a task object stays far below the 1 MiB object limit. */
export const OUTPUT_CAP_BYTES = 64 * 1024;
/** Cap on the `error` data key and the `reason` annotation. */
const ERROR_CAP_BYTES = 2 * 1024;

/** Phases of a round summary. */
export type RoundPhase = "running" | "complete" | "deadline-exceeded";

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/** Lowercases and replaces characters a DNS subdomain cannot hold. */
function dnsPart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "");
}

/**
 * The round id as it appears in object names: lowercased for DNS, without a leading `<app>-`.
 * In CronJob mode the round id is the Job's name, which already starts with the chart's fullname
 * (usually the app): `dz-mcall-29929283` gives `29929283`, so names do not say `dz-mcall` twice.
 * Round ids `x` and `<app>-x` therefore name the same objects; the chart's round ids (the Jobs of
 * one CronJob, or interval timestamps) never come in such pairs.
 */
function roundPart(app: string, round: string): string {
  const prefix = `${dnsPart(app)}-`;
  const part = dnsPart(round);
  return part.startsWith(prefix) && part.length > prefix.length
    ? part.slice(prefix.length).replace(/^[-.]+/, "") || part
    : part;
}

/**
 * The deterministic name of task `index` of a round: `<app>-<round>-<index, 3+ digits>`, where a
 * round id that already starts with `<app>-` (a CronJob's Job name) is not prefixed again.
 *
 * @throws {RangeError} When the name would exceed 253 characters.
 * @example Usage
 * ```ts
 * import { taskName } from "./contract.ts";
 * import assert from "node:assert/strict";
 * assert.equal(taskName("dz-mcall", "20250101-000500", 7), "dz-mcall-20250101-000500-007");
 * assert.equal(taskName("dz-mcall", "dz-mcall-29929283", 0), "dz-mcall-29929283-000");
 * ```
 */
export function taskName(app: string, round: string, index: number): string {
  const name = `${dnsPart(app)}-${roundPart(app, round)}-${String(index).padStart(3, "0")}`;
  if (name.length > 253) throw new RangeError(`Task name is longer than 253 characters: ${name}`);
  return name;
}

/**
 * The round summary's name: `<app>-round-<round>` (a round id starting with `<app>-` loses that
 * prefix, as in {@linkcode taskName}).
 */
export function roundName(app: string, round: string): string {
  return `${dnsPart(app)}-round-${roundPart(app, round)}`;
}

/**
 * The id of the round containing `wall`: UTC `YYYYMMDD-HHMMSS` of floor(wall / interval) ×
 * interval, so every pod (and every new leader) computes the same id.
 *
 * @example Usage
 * ```ts
 * import { roundIdAt } from "./contract.ts";
 * import assert from "node:assert/strict";
 * assert.equal(roundIdAt(new Date("2025-01-01T00:07:12Z"), 300_000), "20250101-000500");
 * ```
 */
export function roundIdAt(wall: Date, intervalMs: number): string {
  const start = new Date(Math.floor(wall.getTime() / intervalMs) * intervalMs);
  const iso = start.toISOString(); // 2025-01-01T00:05:00.000Z
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
}

/** Selector of all task ConfigMaps of an app. */
export function tasksSelector(app: string, extra = ""): string {
  return `${LABEL.app}=${app},${LABEL.task}=true${extra ? `,${extra}` : ""}`;
}

/** Selector of all round summaries of an app. */
export function roundsSelector(app: string): string {
  return `${LABEL.app}=${app},${LABEL.round}=true`;
}

// ---------------------------------------------------------------------------------------------
// Canonical spec
// ---------------------------------------------------------------------------------------------

/**
 * JSON with object keys sorted at every level and no whitespace, so the same value always
 * serialises to the same bytes (what signatures are computed over).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

const SpecSchema = z.strictObject({
  index: integer(0),
  input: z.string().check(z.minLength(1)),
  type: z.enum(INPUT_TYPES),
  name: z.string(),
  expect: z.optional(z.string()),
  timeoutMs: integer(1),
  shell: z.boolean(),
  body: z.optional(z.string()),
  headers: z.record(z.string(), z.string()),
  retries: integer(0, 10),
});

/** The `spec` data key: canonical JSON of the input. */
export function encodeSpec(spec: InputSpec): string {
  return canonicalJson({
    index: spec.index,
    input: spec.input,
    type: spec.type,
    name: spec.name,
    expect: spec.expect,
    timeoutMs: spec.timeoutMs,
    shell: spec.shell,
    body: spec.body,
    headers: spec.headers,
    retries: spec.retries,
  });
}

/**
 * Reads the `spec` data key back.
 *
 * @returns The input, or a one-line reason why the text is not a valid spec.
 */
export function decodeSpec(text: string): { spec: InputSpec } | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { error: "spec is not JSON" };
  }
  const parsed = SpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `spec is invalid: ${issue?.path.join(".") || "(root)"} ${issue?.message}` };
  }
  const { expect, body, ...rest } = parsed.data;
  return {
    spec: {
      ...rest,
      ...(expect === undefined ? {} : { expect }),
      ...(body === undefined ? {} : { body }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading a task
// ---------------------------------------------------------------------------------------------

/** A task ConfigMap read leniently: every field defaulted, never throws. */
export interface TaskView {
  readonly name: string;
  readonly resourceVersion: string;
  readonly round: string;
  /** The `state` label, or `undefined` when missing or unknown. */
  readonly state: TaskState | undefined;
  readonly assignedTo: string;
  /** `leader-epoch`, or `undefined` when missing or not a non-negative integer. */
  readonly epoch: number | undefined;
  /** `attempt`, 1 when missing or garbled. */
  readonly attempt: number;
  readonly signature: string;
  readonly processedBy: string;
  /** The `spec` data key verbatim ("" when missing). */
  readonly specText: string;
  readonly creationTimestamp: Date | undefined;
  readonly cm: ConfigMapLike;
}

function nonNegativeInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Reads a task ConfigMap without ever throwing: missing labels, annotations or data read as
 * empty/undefined, and the caller decides what that means.
 */
export function viewTask(cm: ConfigMapLike): TaskView {
  const labels = cm.metadata?.labels ?? {};
  const ann = cm.metadata?.annotations ?? {};
  const state = labels[LABEL.state];
  const attempt = nonNegativeInt(ann[ANNOTATION.attempt]);
  const created = cm.metadata?.creationTimestamp;
  return {
    name: cm.metadata?.name ?? "",
    resourceVersion: cm.metadata?.resourceVersion ?? "",
    round: labels[LABEL.roundId] ?? "",
    state: (TASK_STATES as readonly string[]).includes(state ?? "")
      ? state as TaskState
      : undefined,
    assignedTo: labels[LABEL.assignedTo] ?? "",
    epoch: nonNegativeInt(ann[ANNOTATION.leaderEpoch]),
    attempt: attempt !== undefined && attempt >= 1 ? attempt : 1,
    signature: ann[ANNOTATION.signature] ?? "",
    processedBy: ann[ANNOTATION.processedBy] ?? "",
    specText: cm.data?.spec ?? "",
    creationTimestamp: created instanceof Date && !Number.isNaN(created.getTime())
      ? created
      : undefined,
    cm,
  };
}

/** Whether a state still needs work. */
export function isOpen(state: TaskState | undefined): boolean {
  return state === "pending" || state === "running";
}

// ---------------------------------------------------------------------------------------------
// Writing a task
// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode newTaskConfigMap}. */
export interface NewTask {
  readonly app: string;
  readonly round: string;
  readonly spec: InputSpec;
  readonly assignedTo: string;
  readonly epoch: number;
  /** Hex HMAC, or "" when running with unsigned tasks. */
  readonly signature: string;
}

/** A fresh pending task ConfigMap (attempt 1). */
export function newTaskConfigMap(task: NewTask): ConfigMapLike {
  return {
    metadata: {
      name: taskName(task.app, task.round, task.spec.index),
      labels: {
        [LABEL.app]: task.app,
        [LABEL.task]: "true",
        [LABEL.assignedTo]: task.assignedTo,
        [LABEL.roundId]: task.round,
        [LABEL.state]: "pending",
      },
      annotations: {
        [ANNOTATION.processed]: "false",
        [ANNOTATION.leaderEpoch]: String(task.epoch),
        [ANNOTATION.attempt]: "1",
        ...(task.signature ? { [ANNOTATION.signature]: task.signature } : {}),
      },
    },
    data: { spec: encodeSpec(task.spec) },
  };
}

/**
 * A copy of `cm` with labels, annotations and data merged in (`null` removes a key). The copy
 * keeps `metadata.resourceVersion`, so updating it is a compare-and-swap.
 */
export function patched(
  cm: ConfigMapLike,
  change: {
    labels?: Record<string, string | null>;
    annotations?: Record<string, string | null>;
    data?: Record<string, string>;
  },
): ConfigMapLike {
  const merge = (base: Record<string, string> | undefined, add: Record<string, string | null>) => {
    const out: Record<string, string> = { ...base };
    for (const [k, v] of Object.entries(add)) {
      if (v === null) delete out[k];
      else out[k] = v;
    }
    return out;
  };
  return {
    metadata: {
      ...cm.metadata,
      labels: merge(cm.metadata.labels, change.labels ?? {}),
      annotations: merge(cm.metadata.annotations, change.annotations ?? {}),
    },
    data: { ...cm.data, ...change.data },
  };
}

/** The data keys recording a run's result (`output` capped at {@linkcode OUTPUT_CAP_BYTES}). */
export function resultData(result: Result): Record<string, string> {
  const output = capUtf8(result.result, OUTPUT_CAP_BYTES);
  return {
    errorCode: result.errorCode,
    exitCode: result.exitCode === null ? "" : String(result.exitCode),
    status: result.status === null ? "" : String(result.status),
    durationMs: String(Math.round(result.durationMs)),
    truncated: String(result.truncated || output.cut),
    error: capUtf8(result.error ?? "", ERROR_CAP_BYTES).text,
    output: output.text,
    ts: result.ts,
  };
}

/** RFC 3339 text of a wall-clock time, second precision. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
