/**
 * The tasks' ports over the API: {@linkcode KubeTaskStore} ({@linkcode TaskStore} over the
 * ConfigMaps of one namespace) and {@linkcode KubePodLister} ({@linkcode PodLister} over its pods).
 * The Role needs `configmaps` (get, list, watch, create, update, delete, deletecollection) and
 * `pods` (list, watch).
 *
 * @module
 */
import {
  type ApiConfigMap,
  type ApiList,
  type ApiPod,
  toConfigMapLike,
  toPodInfo,
  toV1ConfigMap,
} from "./convert.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { KubeConnection } from "./client.ts";
import { type CallOptions, JsonApi, LONG_REQUEST_TIMEOUT_MS } from "./requests.ts";
import { runWatch } from "./watch.ts";
import type {
  Bookmark,
  ConfigMapLike,
  PodInfo,
  PodLister,
  TaskStore,
  WatchEvent,
} from "../tasks/store.ts";

/** Objects per page of a ConfigMap list (client-go's pager uses the same). */
export const LIST_PAGE_SIZE = 500;

/** `?labelSelector=…` */
const selectorQuery = (labelSelector: string) =>
  labelSelector === "" ? "" : `?labelSelector=${encodeURIComponent(labelSelector)}`;

/**
 * {@linkcode TaskStore} over the ConfigMaps of one namespace. Every call honours its `signal`
 * (an aborted call rejects with `signal.reason` and sends nothing more); `deleteCollection` gets
 * the long limit (`LONG_REQUEST_TIMEOUT_MS`): the server deletes one object after another.
 */
export class KubeTaskStore implements TaskStore {
  readonly #api: JsonApi;
  readonly #conn: KubeConnection;
  readonly #namespace: string;
  readonly #path: string;

  /**
   * @param conn The connection to the API server (its creator closes it).
   * @param namespace Where the ConfigMaps live.
   */
  constructor(conn: KubeConnection, namespace: string) {
    if (namespace === "") throw new TypeError("Cannot create task store as 'namespace' is empty");
    this.#api = new JsonApi(conn);
    this.#conn = conn;
    this.#namespace = namespace;
    this.#path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  }

  #call<T>(
    verb: string,
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
    options?: CallOptions,
  ): Promise<T> {
    const url = this.#path + path;
    return this.#api.call<T>(verb, "configmaps", this.#namespace, method, url, body, options);
  }

  /**
   * Lists in pages of {@linkcode LIST_PAGE_SIZE} (every page from the first page's snapshot, as
   * client-go's pager does), converting each page before the next is read: a relist of 10,000
   * tasks then never holds the whole response text and its raw objects at once (it added ~45 MiB
   * to the leader's peak at 10,000 tasks). An expired continue token is `gone`: list again.
   */
  async list(labelSelector: string, signal?: AbortSignal) {
    const items: ConfigMapLike[] = [];
    let resourceVersion = "";
    let token = "";
    do {
      const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
      if (labelSelector !== "") query.set("labelSelector", labelSelector);
      if (token !== "") query.set("continue", token);
      const page = await this.#call<ApiList<ApiConfigMap>>("list", "GET", `?${query}`, undefined, {
        signal,
      });
      for (const cm of page.items ?? []) items.push(toConfigMapLike(cm));
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?.continue ?? "";
    } while (token !== "");
    return { items, resourceVersion };
  }

  async get(name: string, signal?: AbortSignal): Promise<ConfigMapLike | undefined> {
    const path = `/${encodeURIComponent(name)}`;
    try {
      return toConfigMapLike(
        await this.#call<ApiConfigMap>("get", "GET", path, undefined, { signal }),
      );
    } catch (err) {
      if (isKubeError(err, "notFound")) return undefined;
      throw err;
    }
  }

  async create(cm: ConfigMapLike, signal?: AbortSignal): Promise<ConfigMapLike> {
    const body = toV1ConfigMap(
      { ...cm, metadata: { ...cm.metadata, resourceVersion: "" } },
      this.#namespace,
    );
    return toConfigMapLike(await this.#call<ApiConfigMap>("create", "POST", "", body, { signal }));
  }

  async update(cm: ConfigMapLike, signal?: AbortSignal): Promise<ConfigMapLike> {
    const body = toV1ConfigMap(cm, this.#namespace);
    const path = `/${encodeURIComponent(cm.metadata.name)}`;
    return toConfigMapLike(await this.#call<ApiConfigMap>("update", "PUT", path, body, { signal }));
  }

  async deleteCollection(labelSelector: string, signal?: AbortSignal): Promise<void> {
    await this.#call("deletecollection", "DELETE", selectorQuery(labelSelector), undefined, {
      signal,
      timeoutMs: LONG_REQUEST_TIMEOUT_MS,
    });
  }

  async delete(name: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call("delete", "DELETE", `/${encodeURIComponent(name)}`, undefined, { signal });
    } catch (err) {
      if (!isKubeError(err, "notFound")) throw err;
    }
  }

  watch(
    labelSelector: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent | Bookmark) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const namespace = this.#namespace;
    return runWatch(this.#conn, {
      path: this.#path,
      query: { labelSelector, resourceVersion },
      onObject: (type, obj) => onEvent({ type, object: toConfigMapLike(obj as ApiConfigMap) }),
      onBookmark: (rv) => onEvent({ type: "BOOKMARK", resourceVersion: rv }),
      toError: (err, code) =>
        this.#api.grants.classify(err, "watch", "configmaps", namespace, code),
    }, signal);
  }
}

/** {@linkcode PodLister} over the pods of one namespace. */
export class KubePodLister implements PodLister {
  readonly #api: JsonApi;
  readonly #conn: KubeConnection;
  readonly #namespace: string;
  readonly #path: string;

  constructor(conn: KubeConnection, namespace: string) {
    this.#api = new JsonApi(conn);
    this.#conn = conn;
    this.#namespace = namespace;
    this.#path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  }

  watchPods(
    labelSelector: string,
    onPod: (pod: PodInfo) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const namespace = this.#namespace;
    // No resourceVersion: the server first sends every matching pod as ADDED, then the changes.
    return runWatch(this.#conn, {
      path: this.#path,
      query: { labelSelector },
      onObject: (type, obj) => {
        if (type === "DELETED") return;
        const pod = toPodInfo(obj as ApiPod);
        if (pod.name !== "") onPod(pod);
      },
      toError: (err, code) => this.#api.grants.classify(err, "watch", "pods", namespace, code),
    }, signal);
  }

  async listPods(labelSelector: string, signal?: AbortSignal): Promise<PodInfo[]> {
    const namespace = this.#namespace;
    const list = await this.#api.call<ApiList<ApiPod>>(
      "list",
      "pods",
      namespace,
      "GET",
      this.#path + selectorQuery(labelSelector),
      undefined,
      { signal },
    );
    return (list.items ?? []).map(toPodInfo).filter((p) => p.name !== "");
  }
}
