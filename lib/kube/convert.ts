/**
 * Pure conversions between `@kubernetes/client-node` objects and the project's shapes: ConfigMaps
 * to and from {@linkcode ConfigMapLike}, and pods to {@linkcode PodInfo}. Used by `lib/kube/configmaps.ts`,
 * which makes the calls.
 *
 * @module
 */
import type * as k8s from "@kubernetes/client-node";
import type { ConfigMapLike, PodInfo } from "../tasks/store.ts";

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value !== "string") return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Narrows a client-node ConfigMap (or a raw watch object) to {@linkcode ConfigMapLike}. */
export function toConfigMapLike(raw: k8s.V1ConfigMap | Record<string, unknown>): ConfigMapLike {
  const cm = raw as k8s.V1ConfigMap;
  const meta = cm.metadata ?? {};
  const created = toDate(meta.creationTimestamp);
  const deleted = toDate(meta.deletionTimestamp);
  return {
    metadata: {
      name: meta.name ?? "",
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      ...(meta.uid ? { uid: meta.uid } : {}),
      ...(meta.ownerReferences?.length
        ? {
          ownerReferences: meta.ownerReferences.map(({ apiVersion, kind, name, uid }) => ({
            apiVersion,
            kind,
            name,
            uid,
          })),
        }
        : {}),
      ...(meta.labels ? { labels: meta.labels } : {}),
      ...(meta.annotations ? { annotations: meta.annotations } : {}),
      ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
      ...(created ? { creationTimestamp: created } : {}),
      ...(deleted ? { deletionTimestamp: deleted } : {}),
    },
    ...(cm.data ? { data: cm.data } : {}),
  };
}

/**
 * Builds the client-node ConfigMap sent to the API server for {@linkcode ConfigMapLike} `cm`.
 *
 * @param cm The ConfigMap; its namespace is replaced by `namespace`.
 * @param namespace Where the ConfigMap lives.
 * @returns A `v1` ConfigMap object.
 */
export function toV1ConfigMap(cm: ConfigMapLike, namespace: string): k8s.V1ConfigMap {
  const { name, labels, annotations, resourceVersion, ownerReferences } = cm.metadata;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace,
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
      ...(resourceVersion ? { resourceVersion } : {}),
      ...(ownerReferences?.length ? { ownerReferences } : {}),
    },
    ...(cm.data ? { data: cm.data } : {}),
  };
}

/**
 * Reads what the planner needs from a client-node pod.
 *
 * @param pod The pod as listed.
 * @returns Its name ("" when missing), whether it is Running and Ready, whether it is being
 *   deleted, its labels, its phase and its containers' restarts.
 */
export function toPodInfo(pod: k8s.V1Pod): PodInfo {
  return {
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
    ...(pod.status?.containerStatuses
      ? { restarts: pod.status.containerStatuses.reduce((n, c) => n + (c.restartCount ?? 0), 0) }
      : {}),
    name: pod.metadata?.name ?? "",
    ready: pod.status?.phase === "Running" &&
      (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    terminating: pod.metadata?.deletionTimestamp != null,
    labels: pod.metadata?.labels ?? {},
  };
}
