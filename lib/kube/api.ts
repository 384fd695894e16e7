/**
 * {@linkcode KubeApi}: every adapter of `lib/kube/` for one namespace, over one connection — the
 * only Kubernetes I/O, wired in by `lib/modes/`. The adapters: ConfigMaps and pods
 * (`configmaps.ts`), Leases (`leases.ts`); the connection and its pool in `client.ts`, the
 * configuration in `kubeconfig.ts`.
 *
 * Everything happens in one namespace; the Role needs `configmaps` (get, list, watch, create,
 * update, delete, deletecollection), `pods` (list, watch) and `leases` (get, create, update, and watch for
 * faster failover).
 *
 * @module
 */
import { KubePodLister, KubeTaskStore } from "./configmaps.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { KubeConnection } from "./client.ts";
import { KubeLeaseClient } from "./leases.ts";

/**
 * Every adapter for one namespace, over one connection: they share its pool. The connection is the
 * caller's, which closes it when done (the adapters never do).
 *
 * @example Usage
 * ```ts ignore
 * import { KubeApi } from "./api.ts";
 * import { KubeConnection } from "./client.ts";
 * import { loadKubeConfig } from "./kubeconfig.ts";
 * using conn = new KubeConnection(await loadKubeConfig());
 * const api = new KubeApi(conn, "default");
 * const { items } = await api.taskStore().list("app=dz-mcall,task=true");
 * ```
 */
export class KubeApi {
  readonly #conn: KubeConnection;
  readonly #namespace: string;
  #store: KubeTaskStore | undefined;
  #pods: KubePodLister | undefined;
  #leases: KubeLeaseClient | undefined;

  /**
   * @param conn The connection to the API server (see {@linkcode KubeConnection}).
   * @param namespace The namespace everything lives in.
   */
  constructor(conn: KubeConnection, namespace: string) {
    if (namespace === "") {
      throw new TypeError("Cannot use the Kubernetes API as 'namespace' is empty");
    }
    this.#conn = conn;
    this.#namespace = namespace;
  }

  /** The namespace. */
  get namespace(): string {
    return this.#namespace;
  }

  /** @returns The task ConfigMap store (one instance). */
  taskStore(): KubeTaskStore {
    return this.#store ??= new KubeTaskStore(this.#conn, this.#namespace);
  }

  /** @returns The pod lister (one instance). */
  podLister(): KubePodLister {
    return this.#pods ??= new KubePodLister(this.#conn, this.#namespace);
  }

  /** @returns The Lease client for `LeaseObjectLock` (one instance). */
  leaseClient(): KubeLeaseClient {
    return this.#leases ??= new KubeLeaseClient(this.#conn);
  }

  /**
   * Reads a Lease's holder.
   *
   * @param name The Lease's name.
   * @returns `spec.holderIdentity` ("" when released), or `undefined` when the Lease does not exist.
   * @throws {KubeError} On any failure other than "not found".
   */
  async leaseHolder(name: string): Promise<string | undefined> {
    try {
      const lease = await this.leaseClient().read(name, this.#namespace);
      return lease.spec?.holderIdentity ?? "";
    } catch (err) {
      if (isKubeError(err, "notFound")) return undefined;
      throw err;
    }
  }
}
