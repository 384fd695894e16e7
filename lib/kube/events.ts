/**
 * Records Kubernetes Events through `events.k8s.io/v1` (the Role needs `create` on
 * `events.k8s.io` `events`, nothing else).
 *
 * Why events.k8s.io/v1 and not core/v1: it is the API client-go's current recorder writes,
 * with explicit `reportingController`/`reportingInstance`/`action` and microsecond `eventTime`;
 * `kubectl get events` and `kubectl events` read both (they share one storage), and field
 * selectors such as `reason=TaskFailed` work on either. Events are never updated or patched
 * (each outcome gets its own deterministically named event), so `create` is the only verb.
 *
 * @module
 */
import type { KubeConnection } from "./client.ts";
import { JsonApi } from "./requests.ts";
import type { EventSink, PlannedEvent } from "../observe/task_events.ts";
import { type Clock, systemClock } from "../time/clock.ts";

/** `reportingController` of every event (the API wants a qualified name). */
export const REPORTING_CONTROLLER = "dz-mcall.io/leader";

const API_VERSION: Record<PlannedEvent["regarding"]["kind"], string> = {
  ConfigMap: "v1",
  Lease: "coordination.k8s.io/v1",
};

/**
 * A `MicroTime` as the API wants it: RFC 3339 with six fractional digits
 * (`2026-01-02T03:04:05.678000Z`).
 */
export function microTime(date: Date): string {
  return date.toISOString().slice(0, -1) + "000Z";
}

/** {@linkcode EventSink} over `events.k8s.io/v1` in one namespace. */
export class KubeEventRecorder implements EventSink {
  readonly #api: JsonApi;
  readonly #namespace: string;
  readonly #instance: string;
  readonly #clock: Clock;

  /**
   * @param conn The connection to the API server (its creator closes it).
   * @param namespace Where the events (and the objects they are about) live.
   * @param instance `reportingInstance`: this pod's name.
   * @param clock Stamps `eventTime`.
   */
  constructor(
    conn: KubeConnection,
    namespace: string,
    instance: string,
    clock: Clock = systemClock,
  ) {
    this.#api = new JsonApi(conn);
    this.#namespace = namespace;
    this.#instance = instance;
    this.#clock = clock;
  }

  async record(event: PlannedEvent, signal?: AbortSignal): Promise<void> {
    const namespace = this.#namespace;
    const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    await this.#api.call("create", "events", namespace, "POST", path, {
      metadata: { name: event.name, namespace },
      eventTime: microTime(this.#clock.wallNow()),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.#instance.slice(0, 128),
      action: event.action,
      reason: event.reason,
      type: event.type,
      note: event.note,
      regarding: {
        apiVersion: API_VERSION[event.regarding.kind],
        kind: event.regarding.kind,
        name: event.regarding.name,
        namespace,
      },
    }, { signal });
  }
}
