/**
 * {@linkcode KubeApi}: every adapter of `lib/kube/` for one namespace, built from one client
 * configuration — the only Kubernetes I/O, wired in by `lib/modes/`. The adapters: ConfigMaps and
 * pods (`configmaps.ts`), Leases (`leases.ts`); the client configuration and connection pool in
 * `client.ts`, the configuration in `kubeconfig.ts`.
 *
 * Everything happens in one namespace; the Role needs `configmaps` (get, list, watch, create,
 * update, delete, deletecollection), `pods` (list, watch) and `leases` (get, create, update, and watch for
 * faster failover).
 *
 * @module
 */
import { KubePodLister, KubeTaskStore } from "./configmaps.ts";
import { isKubeError } from "../apimachinery/errors.ts";
import type { KubeConfig } from "./kubeconfig.ts";
import { KubeLeaseClient } from "./leases.ts";

/**
 * Every adapter for one namespace, built from one client configuration.
 *
 * @example Usage
 * ```ts ignore
 * import { KubeApi } from "./api.ts";
 * import { loadKubeConfig } from "./kubeconfig.ts";
 * const api = new KubeApi(await loadKubeConfig(), "default");
 * const { items } = await api.taskStore().list("app=dz-mcall,task=true");
 * ```
 */
export class KubeApi {
  readonly #kc: KubeConfig;
  readonly #namespace: string;
  #store: KubeTaskStore | undefined;
  #pods: KubePodLister | undefined;
  #leases: KubeLeaseClient | undefined;

  /**
   * @param kc The client configuration (see {@linkcode loadKubeConfig}).
   * @param namespace The namespace everything lives in.
   */
  constructor(kc: KubeConfig, namespace: string) {
    if (namespace === "") {
      throw new TypeError("Cannot use the Kubernetes API as 'namespace' is empty");
    }
    this.#kc = kc;
    this.#namespace = namespace;
  }

  /** The namespace. */
  get namespace(): string {
    return this.#namespace;
  }

  /** @returns The task ConfigMap store (one instance). */
  taskStore(): KubeTaskStore {
    return this.#store ??= new KubeTaskStore(this.#kc, this.#namespace);
  }

  /** @returns The pod lister (one instance). */
  podLister(): KubePodLister {
    return this.#pods ??= new KubePodLister(this.#kc, this.#namespace);
  }

  /** @returns The Lease client for `LeaseObjectLock` (one instance). */
  leaseClient(): KubeLeaseClient {
    return this.#leases ??= new KubeLeaseClient(this.#kc);
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
