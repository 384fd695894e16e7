/**
 * Which Kubernetes Events the leader records (pure; `lib/kube/events.ts` writes them): one per
 * task that ended failed, dead or rejected, on the task's ConfigMap, and one per leadership term,
 * on the Lease. Reasons are a small fixed set a user can filter on:
 * `kubectl get events --field-selector reason=TaskFailed`.
 *
 * Each event has a deterministic name (the object, the state, the attempt or epoch), so a second
 * leader recording the same event gets AlreadyExists instead of a duplicate.
 *
 * @module
 */
import { capUtf8 } from "../engine/capture.ts";
import { ANNOTATION, type TaskView } from "../tasks/contract.ts";

/** The reasons, in one place. */
export const EVENT_REASON = {
  failed: "TaskFailed",
  dead: "TaskDead",
  rejected: "TaskRejected",
  leaderElected: "LeaderElected",
} as const;

/** The kinds of object an event is about. */
export type EventObjectKind = "ConfigMap" | "Lease";

/** One event to record (events.k8s.io/v1 fields). */
export interface PlannedEvent {
  /** The Event object's name. */
  readonly name: string;
  readonly regarding: { readonly kind: EventObjectKind; readonly name: string };
  readonly reason: typeof EVENT_REASON[keyof typeof EVENT_REASON];
  readonly type: "Normal" | "Warning";
  readonly action: string;
  /** Human-readable, at most 1 KiB (the API's limit). */
  readonly note: string;
}

/** Events about tasks older than this (by their `processed-at`) are not recorded. */
export const EVENT_MAX_AGE_S = 600;

/** `<object>.<suffix>`, kept within the 253 characters of a name. */
function eventName(object: string, suffix: string): string {
  return `${object.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

/**
 * The events for tasks that ended failed, dead or rejected within {@linkcode EVENT_MAX_AGE_S} of
 * `now` (wall-clock seconds) and are not in `done` (keys already recorded by this process; the
 * caller adds the returned keys).
 *
 * @param checkOf The `check` label of a task, if it is a configured check.
 */
export function taskEvents(
  views: readonly TaskView[],
  done: ReadonlySet<string>,
  now: number,
  checkOf: (view: TaskView) => string | undefined,
): { key: string; event: PlannedEvent }[] {
  const out: { key: string; event: PlannedEvent }[] = [];
  for (const view of views) {
    const state = view.state;
    if (state !== "failed" && state !== "dead" && state !== "rejected") continue;
    const key = eventKey(view);
    if (done.has(key)) continue;
    const at = Date.parse(view.cm.metadata.annotations?.[ANNOTATION.processedAt] ?? "") / 1000;
    if (!(at >= now - EVENT_MAX_AGE_S)) continue;
    const check = checkOf(view);
    const what = check === undefined ? `Task ${view.name}` : `Check ${JSON.stringify(check)}`;
    const why = state === "failed"
      ? view.cm.data?.error || "its check failed"
      : view.cm.metadata.annotations?.[ANNOTATION.reason] || state;
    const verb = state === "failed" ? "failed" : state === "dead" ? "is dead" : "was rejected";
    const note = `${what} ${verb} in round ${view.round} (attempt ${view.attempt}): ${why}`;
    out.push({
      key,
      event: {
        name: eventName(view.name, `${state}-${view.attempt}`),
        regarding: { kind: "ConfigMap", name: view.name },
        reason: EVENT_REASON[state],
        type: "Warning",
        action: state === "rejected" ? "Verify" : "Run",
        note: capUtf8(note, 1024).text,
      },
    });
  }
  return out;
}

/** What identifies one task outcome: name, attempt and state. */
export function eventKey(view: TaskView): string {
  return `${view.name}#${view.attempt}#${view.state}`;
}

/** The event of a new leadership term on the Lease. */
export function leaderElectedEvent(lease: string, identity: string, epoch: number): PlannedEvent {
  return {
    name: eventName(lease, `elected-${epoch}`),
    regarding: { kind: "Lease", name: lease },
    reason: EVENT_REASON.leaderElected,
    type: "Normal",
    action: "Elect",
    note: `${identity} became the leader (epoch ${epoch})`,
  };
}

/**
 * Writes events (`lib/kube/events.ts` over the API); rejects with a classified `KubeError`, or
 * with `signal.reason` once `signal` aborted.
 */
export interface EventSink {
  record(event: PlannedEvent, signal?: AbortSignal): Promise<void>;
}
