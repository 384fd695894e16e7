/**
 * Pure conversions between API objects as the API server's JSON has them (the minimal shapes
 * below: only the fields read) and the project's shapes: ConfigMaps to and from
 * {@linkcode ConfigMapLike}, and pods to {@linkcode PodInfo}. Used by `lib/kube/configmaps.ts`,
 * which makes the calls.
 *
 * @module
 */
import type { ConfigMapLike, PodInfo } from "../tasks/store.ts";

/**
 * `metadata` of an API object, as far as we read or write it: the fields of
 * {@linkcode ConfigMapLike}'s, all optional, with times as the JSON has them (RFC 3339 text; a
 * `Date` is read too).
 */
export type ApiObjectMeta =
  & Partial<Omit<ConfigMapLike["metadata"], "creationTimestamp" | "deletionTimestamp">>
  & {
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date | null;
  };

/** A `v1` ConfigMap. */
export interface ApiConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata?: ApiObjectMeta;
  data?: Record<string, string>;
}

/** A `v1` Pod: what the planner reads. */
export interface ApiPod {
  metadata?: ApiObjectMeta;
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount?: number; started?: boolean }[];
  };
}

/** A list response. */
export interface ApiList<T> {
  items?: T[];
  /** `continue`: the token of the next page of a paginated list (absent on the last). */
  metadata?: { resourceVersion?: string; continue?: string };
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value !== "string") return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Narrows an API ConfigMap (or a raw watch object) to {@linkcode ConfigMapLike}. */
export function toConfigMapLike(raw: ApiConfigMap | Record<string, unknown>): ConfigMapLike {
  const cm = raw as ApiConfigMap;
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
 * Builds the ConfigMap sent to the API server for {@linkcode ConfigMapLike} `cm`.
 *
 * @param cm The ConfigMap; its namespace is replaced by `namespace`.
 * @param namespace Where the ConfigMap lives.
 * @returns A `v1` ConfigMap object.
 */
export function toV1ConfigMap(cm: ConfigMapLike, namespace: string): ApiConfigMap {
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
 * Reads what the planner needs from a pod.
 *
 * @param pod The pod as listed.
 * @returns Its name ("" when missing), whether it is Running and Ready, whether it is Running
 *   with every container started, whether it is being deleted, its labels, its phase and its
 *   containers' restarts.
 */
export function toPodInfo(pod: ApiPod): PodInfo {
  return {
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
    ...(pod.status?.containerStatuses
      ? { restarts: pod.status.containerStatuses.reduce((n, c) => n + (c.restartCount ?? 0), 0) }
      : {}),
    name: pod.metadata?.name ?? "",
    ready: pod.status?.phase === "Running" &&
      (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    started: pod.status?.phase === "Running" && (pod.status.containerStatuses ?? []).length > 0 &&
      pod.status.containerStatuses!.every((c) => c.started === true),
    terminating: pod.metadata?.deletionTimestamp != null,
    labels: pod.metadata?.labels ?? {},
  };
}
