/**
 * The planner's recovery decisions, one row per case: what {@linkcode decideRecovery} does with an
 * open task given its pod, how long its current version has been seen, the epoch and the pods
 * that may take it.
 */
import assert from "node:assert/strict";
import {
  ANNOTATION,
  LABEL,
  newTaskConfigMap,
  patched,
  viewTask,
} from "../../lib/tasks/contract.ts";
import {
  backoffMs,
  decideRecovery,
  observe,
  type Recovery,
} from "../../lib/planner/recovery_rules.ts";
import type { PodInfo } from "../../lib/tasks/store.ts";
import { specs, tasksConfig } from "../fakes/memory_store.ts";

/** Claim limit 2 × 1000 + 500 = 2500 ms; run limit 1000 × (1 + 1 retry) + 500 = 2500 ms. */
const TASKS = tasksConfig({ pollInterval: "1s", stuckGrace: "500ms", maxAttempts: 3 });
const EPOCH = 2;

interface TaskOpts {
  state?: string | null;
  attempt?: number;
  epoch?: number | null;
  spec?: string;
}

function task({ state = "pending", attempt = 1, epoch = EPOCH, spec }: TaskOpts = {}) {
  const cm = newTaskConfigMap({
    app: "app",
    round: "r",
    spec: specs(1, { timeoutMs: 1000, retries: 1 })[0]!,
    assignedTo: "w1",
    epoch: epoch ?? 0,
    signature: "",
  });
  const changed = patched(cm, {
    labels: { [LABEL.state]: state },
    annotations: {
      [ANNOTATION.attempt]: String(attempt),
      [ANNOTATION.leaderEpoch]: epoch === null ? null : String(epoch),
    },
    ...(spec === undefined ? {} : { data: { spec } }),
  });
  return viewTask({ ...changed, metadata: { ...changed.metadata, resourceVersion: "7" } });
}

function pod(overrides: Partial<PodInfo> = {}): PodInfo {
  return {
    name: "w1",
    ready: true,
    terminating: false,
    labels: {},
    phase: "Running",
    restarts: 0,
    ...overrides,
  };
}

interface Row {
  readonly case: string;
  readonly task: TaskOpts;
  /** The assigned pod w1; `null`: it does not exist. */
  readonly pod: PodInfo | null;
  /** How long ago the task's current version was first seen. */
  readonly ageMs: number;
  /** The pod's restarts when the version was first seen (default 0). */
  readonly restartsThen?: number | null;
  readonly workers?: readonly string[];
  readonly openCounts?: Record<string, number>;
  readonly want: Recovery;
}

const gone = "pod w1 is gone";
const unclaimed = "not claimed by w1 within 2500 ms";
const restarted = "the container of pod w1 restarted while running it";
const move = (reason: string, attempt: number, target = "w2"): Recovery => ({
  action: "reassign",
  reason,
  target,
  attempt,
});

const ROWS: Row[] = [
  // Pending: a pod that cannot take it hands it off at once, keeping the attempt.
  { case: "pending, pod gone", task: {}, pod: null, ageMs: 0, want: move(gone, 1) },
  {
    case: "pending, pod finished",
    task: {},
    pod: pod({ phase: "Succeeded" }),
    ageMs: 0,
    want: move("pod w1 has finished (Succeeded)", 1),
  },
  {
    case: "pending, pod terminating",
    task: {},
    pod: pod({ terminating: true }),
    ageMs: 0,
    want: move("pod w1 is terminating", 1),
  },
  {
    case: "pending, pod not ready",
    task: { attempt: 2 },
    pod: pod({ ready: false }),
    ageMs: 0,
    want: move("pod w1 is not ready", 2),
  },
  {
    case: "pending, a Job's pod started but not ready yet: left (it counts as ready)",
    task: { attempt: 2 },
    pod: pod({ ready: false, started: true, labels: { "batch.kubernetes.io/job-name": "r1" } }),
    ageMs: 0,
    want: { action: "leave" },
  },
  {
    case: "pending, a Deployment's pod started but not ready: moved",
    task: { attempt: 2 },
    pod: pod({ ready: false, started: true }),
    ageMs: 0,
    want: move("pod w1 is not ready", 2),
  },
  {
    case: "pending on a vanished pod of an earlier term: moved, not adopted",
    task: { epoch: 1 },
    pod: null,
    ageMs: 0,
    want: move(gone, 1),
  },
  {
    case: "pending handoff with no pod to take it",
    task: {},
    pod: null,
    ageMs: 0,
    workers: [],
    want: { action: "wait", reason: gone },
  },
  {
    case: "pending handoff goes to the least loaded other pod",
    task: {},
    pod: null,
    ageMs: 0,
    workers: ["w1", "w2", "w3"],
    openCounts: { w1: 0, w2: 3, w3: 1 },
    want: move(gone, 1, "w3"),
  },
  // Pending on a ready pod: claimed within 2 × pollInterval + stuckGrace, else retried.
  {
    case: "pending, ready pod, within the claim limit",
    task: {},
    pod: pod(),
    ageMs: 2500,
    want: { action: "leave" },
  },
  {
    case: "pending, ready pod, not claimed in time",
    task: {},
    pod: pod(),
    ageMs: 2501,
    want: move(unclaimed, 2),
  },
  {
    case: "pending, not claimed, last attempt, backoff not over",
    task: { attempt: 3 },
    pod: pod(),
    ageMs: backoffMs(3) - 1,
    want: { action: "wait", reason: unclaimed },
  },
  {
    case: "pending, not claimed, attempts exhausted",
    task: { attempt: 3 },
    pod: pod(),
    ageMs: backoffMs(3),
    want: { action: "dead", reason: unclaimed },
  },
  // Adoption of a healthy pending task of an earlier term.
  {
    case: "pending of an earlier epoch",
    task: { epoch: 1 },
    pod: pod(),
    ageMs: 0,
    want: { action: "adopt" },
  },
  {
    case: "pending without an epoch",
    task: { epoch: null },
    pod: pod(),
    ageMs: 0,
    want: { action: "adopt" },
  },
  { case: "pending of this epoch", task: {}, pod: pod(), ageMs: 0, want: { action: "leave" } },
  {
    case: "running of an earlier epoch is not adopted",
    task: { state: "running", epoch: 1 },
    pod: pod(),
    ageMs: 0,
    want: { action: "leave" },
  },
  // Running: a lost execution costs an attempt, after the backoff.
  {
    case: "running, pod gone, backoff not over",
    task: { state: "running" },
    pod: null,
    ageMs: backoffMs(1) - 1,
    want: { action: "wait", reason: gone },
  },
  {
    case: "running, pod gone",
    task: { state: "running" },
    pod: null,
    ageMs: backoffMs(1),
    want: move(gone, 2),
  },
  {
    case: "running, pod finished",
    task: { state: "running" },
    pod: pod({ phase: "Failed" }),
    ageMs: backoffMs(1),
    want: move("pod w1 has finished (Failed)", 2),
  },
  {
    case: "running, pod gone, attempts exhausted",
    task: { state: "running", attempt: 3 },
    pod: null,
    ageMs: backoffMs(3),
    want: { action: "dead", reason: gone },
  },
  {
    case: "running, pod gone, no pod to take it",
    task: { state: "running" },
    pod: null,
    ageMs: backoffMs(1),
    workers: [],
    want: { action: "wait", reason: gone },
  },
  {
    case: "running, pod not ready: left to its worker",
    task: { state: "running" },
    pod: pod({ ready: false }),
    ageMs: 2500,
    want: { action: "leave" },
  },
  {
    case: "running, pod terminating: left to its worker",
    task: { state: "running" },
    pod: pod({ terminating: true }),
    ageMs: 2500,
    want: { action: "leave" },
  },
  {
    case: "running, container restarted since first sight",
    task: { state: "running" },
    pod: pod({ restarts: 1 }),
    ageMs: backoffMs(1),
    want: move(restarted, 2),
  },
  {
    case: "running, container restarted, the only pod takes it again",
    task: { state: "running" },
    pod: pod({ restarts: 1 }),
    ageMs: backoffMs(1),
    workers: ["w1"],
    want: move(restarted, 2, "w1"),
  },
  {
    case: "running, restarts unknown at first sight count as 0",
    task: { state: "running" },
    pod: pod({ restarts: 1 }),
    restartsThen: null,
    ageMs: backoffMs(1),
    want: move(restarted, 2),
  },
  {
    case: "running, restarted before first sight",
    task: { state: "running" },
    pod: pod({ restarts: 1 }),
    restartsThen: 1,
    ageMs: 2500,
    want: { action: "leave" },
  },
  {
    case: "running within its timeouts + stuckGrace",
    task: { state: "running" },
    pod: pod(),
    ageMs: 2500,
    want: { action: "leave" },
  },
  {
    case: "running past its deadline",
    task: { state: "running" },
    pod: pod(),
    ageMs: 2501,
    want: move("running on w1 for over 2500 ms", 2),
  },
  {
    case: "running past its deadline on a terminating pod",
    task: { state: "running" },
    pod: pod({ terminating: true }),
    ageMs: 2501,
    want: move("running on w1 for over 2500 ms", 2),
  },
  {
    case: "running a garbled spec: 10 s + stuckGrace",
    task: { state: "running", spec: "{" },
    pod: pod(),
    ageMs: 10_501,
    want: move("running on w1 for over 10500 ms", 2),
  },
  {
    case: "running a garbled spec, within 10 s + stuckGrace",
    task: { state: "running", spec: "{" },
    pod: pod(),
    ageMs: 10_500,
    want: { action: "leave" },
  },
  // Not open: nothing to recover.
  {
    case: "succeeded on a vanished pod",
    task: { state: "succeeded" },
    pod: null,
    ageMs: 60_000,
    want: { action: "leave" },
  },
  {
    case: "unknown state of an earlier epoch",
    task: { state: null, epoch: 1 },
    pod: null,
    ageMs: 60_000,
    want: { action: "leave" },
  },
];

Deno.test("decideRecovery() decides each case as the table says", () => {
  for (const row of ROWS) {
    const t = task(row.task);
    const now = 1_000_000;
    const restarts = row.restartsThen === null ? undefined : row.restartsThen ?? 0;
    const got = decideRecovery({
      task: t,
      pod: row.pod ?? undefined,
      observed: { resourceVersion: t.resourceVersion, observedAt: now - row.ageMs, restarts },
      now,
      epoch: EPOCH,
      workers: row.workers ?? ["w1", "w2"],
      openCounts: new Map(Object.entries(row.openCounts ?? {})),
    }, TASKS);
    assert.deepEqual(got, row.want, row.case);
  }
});

Deno.test("observe() keeps the first sight of a version and its pod's restarts then", () => {
  const t = task();
  const first = observe(undefined, t, pod({ restarts: 2 }), 100);
  assert.deepEqual(first, { resourceVersion: "7", observedAt: 100, restarts: 2 });
  assert.equal(observe(first, t, pod({ restarts: 5 }), 900), first);
  const moved = viewTask({ ...t.cm, metadata: { ...t.cm.metadata, resourceVersion: "8" } });
  assert.deepEqual(observe(first, moved, undefined, 900), {
    resourceVersion: "8",
    observedAt: 900,
    restarts: undefined,
  });
});
