/**
 * The two small interfaces the planner and worker talk to ({@linkcode TaskStore} over ConfigMaps,
 * {@linkcode PodLister} over pods) and the ConfigMap shape they exchange. Their implementations
 * throw `KubeError` (`lib/apimachinery/errors.ts`).
 *
 * @module
 */
import type { OwnerReference } from "../apimachinery/objects.ts";

/** The subset of a Kubernetes ConfigMap that tasks use. */
export interface ConfigMapLike {
  metadata: {
    name: string;
    namespace?: string;
    /** Set by the API server. */
    uid?: string;
    ownerReferences?: OwnerReference[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    creationTimestamp?: Date;
    deletionTimestamp?: Date;
  };
  data?: Record<string, string>;
}

/** A watch event on ConfigMaps. */
export interface WatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: ConfigMapLike;
}

/**
 * A watch's BOOKMARK: nothing the watch shows changed up to `resourceVersion`, so a new watch may
 * resume from there (the API server sends one about every minute to a quiet watch).
 */
export interface Bookmark {
  readonly type: "BOOKMARK";
  readonly resourceVersion: string;
}

/**
 * ConfigMaps in one namespace. Implementations throw `KubeError` (`lib/apimachinery/errors.ts`).
 * Every method honours its `signal`: once it aborts, the call rejects with `signal.reason` as it
 * is (not a `KubeError`) and sends nothing more (`watch` resolves instead).
 */
export interface TaskStore {
  /** Lists ConfigMaps matching a label selector, with the list's resourceVersion. */
  list(labelSelector: string, signal?: AbortSignal): Promise<{
    items: ConfigMapLike[];
    resourceVersion: string;
  }>;
  /** Reads one ConfigMap, or `undefined` when it does not exist. */
  get(name: string, signal?: AbortSignal): Promise<ConfigMapLike | undefined>;
  /** Creates a ConfigMap; throws kind `alreadyExists` when the name is taken. */
  create(cm: ConfigMapLike, signal?: AbortSignal): Promise<ConfigMapLike>;
  /** Replaces a ConfigMap if `metadata.resourceVersion` still matches (kinds `conflict`, `notFound`). */
  update(cm: ConfigMapLike, signal?: AbortSignal): Promise<ConfigMapLike>;
  /** Deletes every ConfigMap matching a label selector. */
  deleteCollection(labelSelector: string, signal?: AbortSignal): Promise<void>;
  /** Deletes one ConfigMap; a missing one is not an error. */
  delete(name: string, signal?: AbortSignal): Promise<void>;
  /**
   * Streams changes after `resourceVersion`, and bookmarks, until the server ends the watch
   * (resolves) or the signal aborts (resolves). Rejects with kind `gone` when the version is too
   * old: relist.
   */
  watch(
    labelSelector: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent | Bookmark) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** A pod as the planner sees it. */
export interface PodInfo {
  readonly name: string;
  /** The Ready condition is True. */
  readonly ready: boolean;
  /**
   * Running with every container started (`containerStatuses[].started`): the program runs,
   * whether or not a readiness probe has passed yet. Absent means unknown (not started).
   */
  readonly started?: boolean;
  /** `deletionTimestamp` is set. */
  readonly terminating: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** `status.phase` (`Pending`, `Running`, `Succeeded`, `Failed`); absent means unknown. */
  readonly phase?: string;
  /** The sum of its containers' `restartCount`; absent means unknown. */
  readonly restarts?: number;
}

/** Lists and watches pods in the namespace. */
export interface PodLister {
  listPods(labelSelector: string, signal?: AbortSignal): Promise<PodInfo[]>;
  /**
   * Watches the pods matching `labelSelector`: first every pod that exists, then each pod added
   * or changed, each passed to `onPod` (deletions are not reported). Resolves when the watch ends
   * (the server's timeout, or `signal`); rejects when it fails.
   */
  watchPods(
    labelSelector: string,
    onPod: (pod: PodInfo) => void,
    signal: AbortSignal,
  ): Promise<void>;
}
