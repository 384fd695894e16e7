/**
 * {@linkcode KubeLeaseClient}: the election's `LeaseClient` over `coordination.k8s.io/v1` Leases
 * (the Role needs `leases` get, create, update, and watch for faster failover).
 *
 * @module
 */
import type { LeaseClient, LeaseObject, LeaseWatchEvent } from "../election/lease_object_lock.ts";
import type { KubeConnection } from "./client.ts";
import { JsonApi } from "./requests.ts";
import { runWatch } from "./watch.ts";

/** The Leases of `namespace`, from the server root. */
const leasesPath = (namespace: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;

/** {@linkcode LeaseClient} over `coordination.k8s.io/v1` Leases. */
export class KubeLeaseClient implements LeaseClient {
  readonly #api: JsonApi;
  readonly #conn: KubeConnection;

  constructor(conn: KubeConnection) {
    this.#api = new JsonApi(conn);
    this.#conn = conn;
  }

  /** One Lease request (plain JSON: the leader renews every retry period). */
  #call(
    verb: string,
    method: "GET" | "POST" | "PUT",
    namespace: string,
    name: string,
    body: LeaseObject | undefined,
    signal: AbortSignal | undefined,
  ): Promise<LeaseObject> {
    const base = leasesPath(namespace);
    const path = method === "POST" ? base : `${base}/${encodeURIComponent(name)}`;
    return this.#api.call<LeaseObject>(verb, "leases", namespace, method, path, body, { signal });
  }

  /**
   * Watches one Lease (`fieldSelector=metadata.name=<name>`; RBAC honours `resourceNames` for
   * it). Resolves when the watch ends (server timeout, `watchDeadline`, `WATCH_SILENCE_MS`
   * without an event or bookmark, or `signal`); rejects with the
   * classified `KubeError`: `forbidden` on 403 (the Role lacks `watch`), `gone` on 410 (a restart
   * lists afresh), `transient` on a network failure.
   */
  watch(
    name: string,
    namespace: string,
    onEvent: (event: LeaseWatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return runWatch(this.#conn, {
      path: leasesPath(namespace),
      query: { fieldSelector: `metadata.name=${name}` },
      onObject: (type, obj) => onEvent({ type, object: obj as LeaseObject }),
      toError: (err, code) => this.#api.grants.classify(err, "watch", "leases", namespace, code),
    }, signal);
  }

  read(name: string, namespace: string, signal?: AbortSignal): Promise<LeaseObject> {
    return this.#call("get", "GET", namespace, name, undefined, signal);
  }

  create(namespace: string, lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject> {
    return this.#call("create", "POST", namespace, lease.metadata?.name ?? "", lease, signal);
  }

  replace(
    name: string,
    namespace: string,
    lease: LeaseObject,
    signal?: AbortSignal,
  ): Promise<LeaseObject> {
    return this.#call("update", "PUT", namespace, name, lease, signal);
  }
}
