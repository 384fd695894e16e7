/**
 * The only module that talks to the Kubernetes API server: `@kubernetes/client-node` adapters for
 * {@linkcode TaskStore}, {@linkcode PodLister} and the election's {@linkcode LeaseClient}. API
 * errors are classified into {@linkcode KubeError} kinds by `lib/kube_errors.ts`, and objects are
 * converted to and from client-node's types by `lib/kube_convert.ts`.
 *
 * Everything happens in one namespace; the Role needs `configmaps` (get, list, watch, create,
 * update, delete, deletecollection), `pods` (list) and `leases` (get, create, update, and watch for
 * faster failover).
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { toConfigMapLike, toPodInfo, toV1ConfigMap } from "./kube_convert.ts";
import {
  classify,
  forbiddenHint,
  noteGranted,
  statusOf,
  UNAUTHORIZED_HINT,
} from "./kube_errors.ts";
import {
  type LeaseClient,
  type LeaseLockError,
  leaseLockErrorFromStatus,
  type LeaseObject,
  LeaseObjectLock,
  type LeaseWatchEvent,
} from "./lease_lock.ts";
import {
  type ConfigMapLike,
  KubeError,
  type PodInfo,
  type PodLister,
  type TaskStore,
  type WatchEvent,
} from "./task_schema.ts";

export { KubeError, type KubeErrorKind } from "./task_schema.ts";
export { classify } from "./kube_errors.ts";

/** Where a pod's service-account token is mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** An undici dispatcher, as client-node's `RequestContext` carries it. */
type Dispatcher = NonNullable<ReturnType<k8s.RequestContext["getDispatcher"]>>;

/** undici's per-request option that keeps a request off HTTP/2 (`Agent` pools it separately). */
const http1Interceptor =
  (dispatch: Dispatcher["dispatch"]): Dispatcher["dispatch"] => (opts, handler) =>
    dispatch({ ...opts, allowH2: false } as typeof opts, handler);

const http1Only = new WeakSet<k8s.KubeConfig>();

/**
 * Makes every request that client-node sends with `kc` — generated API clients
 * (`kc.makeApiClient`, which authenticate through `kc`) and `k8s.Watch` — use HTTP/1.1.
 * Idempotent; changes `kc` in place and returns it.
 *
 * Why: client-node 2.x sends requests with undici's `fetch`, whose `Agent` offers ALPN
 * `http/1.1, h2`; kube-apiserver picks `h2`, so undici runs its requests over `node:http2`. On
 * Deno 2.9.6 that session can crash the whole process (segfault, double free, or the nghttp2
 * assertion in `find_stream_on_goaway_func`) when it receives, with streams in flight, the GOAWAY
 * that kube-apiserver sends on a graceful shutdown — every pod at once on a control-plane rolling
 * restart. Over HTTP/1.1 a shutdown just closes the sockets, which callers already treat as
 * transient. Clients built from `kc` before or after this call are covered (they authenticate
 * through `kc` on every request).
 *
 * How: after client-node's own `applySecurityAuthentication` (CA, client certificate, bearer
 * token, `tlsServerName`, proxy — all unchanged) we wrap the request's dispatcher with an
 * interceptor that sets undici's `allowH2: false`, so the connection offers only `http/1.1`. When
 * client-node sets no dispatcher (no TLS settings at all) we wrap undici's global one.
 *
 * Cost: no multiplexing — each concurrent request (and each open watch) takes its own TLS
 * connection instead of a stream of a shared one. client-node 2.0.1 builds a new undici `Agent`
 * (so a new connection) per request anyway, and we hold at most a few requests plus one watch
 * at a time, so this changes little here.
 *
 * @param kc The client configuration.
 * @returns `kc`.
 */
export function forceHttp1(kc: k8s.KubeConfig): k8s.KubeConfig {
  if (http1Only.has(kc)) return kc;
  http1Only.add(kc);
  const apply = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context: k8s.RequestContext) => {
    await apply(context);
    const dispatcher = context.getDispatcher() ??
      (globalThis as Record<symbol, Dispatcher | undefined>)[
        Symbol.for("undici.globalDispatcher.2")
      ];
    if (dispatcher) context.setDispatcher(dispatcher.compose(http1Interceptor));
  };
  return kc;
}

/**
 * Loads client configuration: the in-cluster service account when `KUBERNETES_SERVICE_HOST` is
 * set and the token is mounted, else `KUBECONFIG`, else `~/.kube/config`. Requests made with it
 * use HTTP/1.1 only (see {@linkcode forceHttp1}).
 *
 * @returns The loaded configuration.
 * @throws {Error} When no configuration can be found.
 */
export function loadKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (Deno.env.get("KUBERNETES_SERVICE_HOST") && fileExists(`${SERVICE_ACCOUNT_DIR}/token`)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error("Cannot reach Kubernetes: no in-cluster service account and no kubeconfig");
  }
  return forceHttp1(kc);
}

/**
 * The namespace of this pod's service account, if running in a cluster.
 *
 * @returns The namespace, or `undefined` outside a cluster.
 */
export function inClusterNamespace(): string | undefined {
  try {
    return Deno.readTextFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Longest life of one watch request. The server is asked to end it (`timeoutSeconds`, spread
 * over [WATCH_TIMEOUT_S, 1.5 × WATCH_TIMEOUT_S) so pods don't re-watch in step) and the client
 * ends it a little later regardless: under Deno, undici does not notice when the API server goes
 * away mid-watch, so without this deadline a watch cut by a control-plane restart would hang
 * forever and only the periodic resync would still see changes.
 */
export const WATCH_TIMEOUT_S = 60;
const WATCH_CLIENT_GRACE_MS = 5_000;

/** The `timeoutSeconds` for one watch request and the client-side deadline that backs it. */
export function watchDeadline(random: () => number = Math.random) {
  const timeoutSeconds = Math.floor(WATCH_TIMEOUT_S * (1 + random() / 2));
  return { timeoutSeconds, deadlineMs: timeoutSeconds * 1000 + WATCH_CLIENT_GRACE_MS };
}

/** A watch event that carries an object. */
type WatchedType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * Runs one client-node watch as a promise: resolves when the watch ends (server timeout, the
 * {@linkcode watchDeadline}, or `signal`), rejects with `toError(...)` when the server sends an
 * ERROR event or the request fails. Both the configmap and the lease watches go through here.
 *
 * @param toError Maps a failure (and the Status code of an ERROR event) to the caller's error.
 */
function runWatch(
  watch: k8s.Watch,
  path: string,
  query: Record<string, string | number | boolean>,
  onObject: (type: WatchedType, obj: unknown) => void,
  toError: (err: unknown, code?: number) => Error,
  signal: AbortSignal,
): Promise<void> {
  const { timeoutSeconds, deadlineMs } = watchDeadline();
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return resolve();
    let controller: AbortController | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal.removeEventListener("abort", onAbort);
      controller?.abort();
      if (err && !signal.aborted) reject(err);
      else resolve();
    };
    const deadline = setTimeout(() => finish(), deadlineMs);
    const onAbort = () => finish();
    signal.addEventListener("abort", onAbort, { once: true });
    watch.watch(path, { ...query, timeoutSeconds }, (phase, obj) => {
      if (settled) return;
      if (phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED") {
        onObject(phase, obj);
      } else if (phase === "ERROR") {
        const status = obj as { code?: number; message?: string };
        finish(toError(new Error(status.message ?? "watch error"), status.code));
      }
    }, (err) => finish(err ? toError(err) : undefined)).then((c) => {
      controller = c;
      if (settled) c.abort();
    }, (err) => finish(toError(err)));
  });
}

/**
 * {@linkcode TaskStore} over the ConfigMaps of one namespace.
 *
 * Requests are short and are not cancelled by `signal` (client-node's generated API takes none);
 * the watch is.
 */
export class KubeTaskStore implements TaskStore {
  readonly #core: k8s.CoreV1Api;
  readonly #watch: k8s.Watch;
  readonly #namespace: string;

  /**
   * @param kc The client configuration (see {@linkcode loadKubeConfig}).
   * @param namespace Where the ConfigMaps live.
   */
  constructor(kc: k8s.KubeConfig, namespace: string) {
    if (namespace === "") throw new TypeError("Cannot create task store as 'namespace' is empty");
    forceHttp1(kc);
    this.#core = kc.makeApiClient(k8s.CoreV1Api);
    this.#watch = new k8s.Watch(kc);
    this.#namespace = namespace;
  }

  async #call<T>(verb: string, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      noteGranted(verb, "configmaps");
      return result;
    } catch (err) {
      throw classify(err, verb, "configmaps", this.#namespace);
    }
  }

  async list(labelSelector: string) {
    const namespace = this.#namespace;
    const list = await this.#call(
      "list",
      () => this.#core.listNamespacedConfigMap({ namespace, labelSelector }),
    );
    return {
      items: list.items.map(toConfigMapLike),
      resourceVersion: list.metadata?.resourceVersion ?? "",
    };
  }

  async get(name: string): Promise<ConfigMapLike | undefined> {
    const namespace = this.#namespace;
    try {
      return toConfigMapLike(
        await this.#call("get", () => this.#core.readNamespacedConfigMap({ name, namespace })),
      );
    } catch (err) {
      if (err instanceof KubeError && err.kind === "notFound") return undefined;
      throw err;
    }
  }

  async create(cm: ConfigMapLike): Promise<ConfigMapLike> {
    const namespace = this.#namespace;
    const body = toV1ConfigMap(
      { ...cm, metadata: { ...cm.metadata, resourceVersion: "" } },
      namespace,
    );
    return toConfigMapLike(
      await this.#call("create", () => this.#core.createNamespacedConfigMap({ namespace, body })),
    );
  }

  async update(cm: ConfigMapLike): Promise<ConfigMapLike> {
    const namespace = this.#namespace;
    const name = cm.metadata.name;
    const body = toV1ConfigMap(cm, namespace);
    return toConfigMapLike(
      await this.#call(
        "update",
        () => this.#core.replaceNamespacedConfigMap({ name, namespace, body }),
      ),
    );
  }

  async deleteCollection(labelSelector: string): Promise<void> {
    const namespace = this.#namespace;
    await this.#call(
      "deletecollection",
      () => this.#core.deleteCollectionNamespacedConfigMap({ namespace, labelSelector }),
    );
  }

  async delete(name: string): Promise<void> {
    const namespace = this.#namespace;
    try {
      await this.#call("delete", () => this.#core.deleteNamespacedConfigMap({ name, namespace }));
    } catch (err) {
      if (!(err instanceof KubeError && err.kind === "notFound")) throw err;
    }
  }

  watch(
    labelSelector: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const namespace = this.#namespace;
    return runWatch(
      this.#watch,
      `/api/v1/namespaces/${namespace}/configmaps`,
      { labelSelector, resourceVersion, allowWatchBookmarks: true },
      (type, obj) => onEvent({ type, object: toConfigMapLike(obj as k8s.V1ConfigMap) }),
      (err, code) =>
        code === undefined ? classify(err, "watch", "configmaps", namespace) : new KubeError(
          code === 410 ? "gone" : "transient",
          "watch",
          "configmaps",
          `watch: ${(err as Error).message}`,
          { code },
        ),
      signal,
    );
  }
}

/** {@linkcode PodLister} over the pods of one namespace. */
export class KubePodLister implements PodLister {
  readonly #core: k8s.CoreV1Api;
  readonly #namespace: string;

  constructor(kc: k8s.KubeConfig, namespace: string) {
    this.#core = forceHttp1(kc).makeApiClient(k8s.CoreV1Api);
    this.#namespace = namespace;
  }

  async listPods(labelSelector: string): Promise<PodInfo[]> {
    const namespace = this.#namespace;
    let list: k8s.V1PodList;
    try {
      list = await this.#core.listNamespacedPod({ namespace, labelSelector });
      noteGranted("list", "pods");
    } catch (err) {
      throw classify(err, "list", "pods", namespace);
    }
    return list.items.map(toPodInfo).filter((p) => p.name !== "");
  }
}

/** {@linkcode LeaseClient} over `coordination.k8s.io/v1` Leases. */
export class KubeLeaseClient implements LeaseClient {
  readonly #api: k8s.CoordinationV1Api;
  readonly #kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.#api = forceHttp1(kc).makeApiClient(k8s.CoordinationV1Api);
    this.#kc = kc;
  }

  async #call(verb: string, what: string, run: () => Promise<k8s.V1Lease>): Promise<LeaseObject> {
    try {
      const lease = await run() as LeaseObject;
      noteGranted(verb, "leases");
      return lease;
    } catch (err) {
      throw this.#error(verb, what, err);
    }
  }

  #error(verb: string, what: string, err: unknown, code = statusOf(err).code): LeaseLockError {
    const message = code === 403
      ? `${verb} lease ${what}: forbidden — ${forbiddenHint(verb, "leases")}`
      : code === 401
      ? `${verb} lease ${what}: unauthorized — ${UNAUTHORIZED_HINT}`
      : `${verb} lease ${what}`;
    return leaseLockErrorFromStatus(code, message, err) as LeaseLockError;
  }

  /**
   * Watches one Lease (`fieldSelector=metadata.name=<name>`; RBAC honours `resourceNames` for
   * it). Resolves when the watch ends (server timeout, {@linkcode watchDeadline}, client-node's
   * 30 s inactivity timeout —
   * reported as a transient rejection — or `signal`); rejects with `forbidden` on 403 (the Role
   * lacks `watch`) and `transient` on anything else, 410 Gone included (a restart lists afresh).
   */
  watch(
    name: string,
    namespace: string,
    onEvent: (event: LeaseWatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const what = `${namespace}/${name}`;
    return runWatch(
      new k8s.Watch(forceHttp1(this.#kc)),
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      { fieldSelector: `metadata.name=${name}` },
      (type, obj) => onEvent({ type, object: obj as LeaseObject }),
      (err, code) => this.#error("watch", what, err, code),
      signal,
    );
  }

  read(name: string, namespace: string): Promise<LeaseObject> {
    return this.#call(
      "get",
      `${namespace}/${name}`,
      () => this.#api.readNamespacedLease({ name, namespace }),
    );
  }

  create(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return this.#call(
      "create",
      `${namespace}/${lease.metadata?.name ?? ""}`,
      () => this.#api.createNamespacedLease({ namespace, body: lease as k8s.V1Lease }),
    );
  }

  replace(name: string, namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return this.#call(
      "update",
      `${namespace}/${name}`,
      () => this.#api.replaceNamespacedLease({ name, namespace, body: lease as k8s.V1Lease }),
    );
  }
}

/**
 * The election's lock over a Lease: {@linkcode LeaseObjectLock} with {@linkcode KubeLeaseClient}.
 *
 * @param kc The client configuration.
 * @param options Namespace, identity and the Lease's name.
 * @returns A compare-and-swap lock.
 */
export function kubeLeaseLock(
  kc: k8s.KubeConfig,
  options: { namespace: string; identity: string; name?: string },
): LeaseObjectLock {
  return new LeaseObjectLock({ client: new KubeLeaseClient(kc), ...options });
}

/**
 * Every adapter for one namespace, built from one client configuration.
 *
 * @example Usage
 * ```ts ignore
 * import { KubeApi, loadKubeConfig } from "./kube.ts";
 * const api = new KubeApi(loadKubeConfig(), "default");
 * const { items } = await api.taskStore().list("app=dz-mcall,task=true");
 * ```
 */
export class KubeApi {
  readonly #kc: k8s.KubeConfig;
  readonly #namespace: string;
  #store: KubeTaskStore | undefined;
  #pods: KubePodLister | undefined;
  #leases: KubeLeaseClient | undefined;

  /**
   * @param kc The client configuration (see {@linkcode loadKubeConfig}).
   * @param namespace The namespace everything lives in.
   */
  constructor(kc: k8s.KubeConfig, namespace: string) {
    if (namespace === "") {
      throw new TypeError("Cannot use the Kubernetes API as 'namespace' is empty");
    }
    this.#kc = forceHttp1(kc);
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
   * @throws {LeaseLockError} On any failure other than "not found".
   */
  async leaseHolder(name: string): Promise<string | undefined> {
    try {
      const lease = await this.leaseClient().read(name, this.#namespace);
      return lease.spec?.holderIdentity ?? "";
    } catch (err) {
      if ((err as LeaseLockError).kind === "notFound") return undefined;
      throw err;
    }
  }
}
