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
import * as k8s from "@kubernetes/client-node";
import { forceHttp1 } from "./client.ts";
import { classify } from "./requests.ts";
import type { EventSink, PlannedEvent } from "../observe/task_events.ts";

/** `reportingController` of every event (the API wants a qualified name). */
export const REPORTING_CONTROLLER = "dz-mcall.io/leader";

const API_VERSION: Record<PlannedEvent["regarding"]["kind"], string> = {
  ConfigMap: "v1",
  Lease: "coordination.k8s.io/v1",
};

/** {@linkcode EventSink} over `events.k8s.io/v1` in one namespace. */
export class KubeEventRecorder implements EventSink {
  readonly #api: k8s.EventsV1Api;
  readonly #namespace: string;
  readonly #instance: string;

  /**
   * @param kc The client configuration.
   * @param namespace Where the events (and the objects they are about) live.
   * @param instance `reportingInstance`: this pod's name.
   */
  constructor(kc: k8s.KubeConfig, namespace: string, instance: string) {
    this.#api = forceHttp1(kc).makeApiClient(k8s.EventsV1Api);
    this.#namespace = namespace;
    this.#instance = instance;
  }

  async record(event: PlannedEvent): Promise<void> {
    const namespace = this.#namespace;
    try {
      await this.#api.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: event.name, namespace },
          eventTime: new k8s.V1MicroTime(),
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
        },
      });
    } catch (err) {
      throw classify(err, "create", "events", namespace);
    }
  }
}
