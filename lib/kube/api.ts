/**
 * The only module that talks to the Kubernetes API server: `@kubernetes/client-node` adapters for
 * {@linkcode TaskStore}, {@linkcode PodLister} and the election's {@linkcode LeaseClient}. API
 * errors are classified into {@linkcode KubeError} kinds by `lib/kube/errors.ts`, and objects are
 * converted to and from client-node's types by `lib/kube/convert.ts`.
 *
 * Everything happens in one namespace; the Role needs `configmaps` (get, list, watch, create,
 * update, delete, deletecollection), `pods` (list) and `leases` (get, create, update, and watch for
 * faster failover).
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { ConfigError } from "../config/layer.ts";
import { toConfigMapLike, toPodInfo, toV1ConfigMap } from "./convert.ts";
import { classify, forbiddenHint, noteGranted, statusOf, UNAUTHORIZED_HINT } from "./errors.ts";
import {
  type LeaseClient,
  type LeaseLockError,
  leaseLockErrorFromStatus,
  type LeaseObject,
  LeaseObjectLock,
  type LeaseWatchEvent,
} from "../election/lease_lock.ts";
import {
  type ConfigMapLike,
  KubeError,
  type PodInfo,
  type PodLister,
  type TaskStore,
  type WatchEvent,
} from "../tasks/contract.ts";

export { KubeError, type KubeErrorKind } from "../tasks/contract.ts";
export { classify } from "./errors.ts";

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

/** client-node's dispatcher factory, private in its types. */
interface DispatcherFactory {
  createDispatcher(cluster: k8s.Cluster | null, agentOptions: object): Dispatcher | undefined;
  createDispatcherOptions(cluster: k8s.Cluster | null, agentOptions: object): unknown;
}

/** The one connection pool of a `KubeConfig`, and the TLS settings it was built for. */
interface Pool {
  readonly key: string;
  /** The undici `Agent` built for these settings (`undefined`: undici's global one). */
  readonly own: Dispatcher | undefined;
}

const pools = new WeakMap<k8s.KubeConfig, Pool>();
const pooled = new WeakSet<k8s.KubeConfig>();
const http1Only = new WeakSet<k8s.KubeConfig>();

/**
 * Drops `kc`'s connection pool after a connection failure: the next request builds a new one,
 * and the old one closes once its requests are done. Under Deno, undici does not always notice
 * that the API server closed a kept-alive connection (a restart), and every such connection
 * would fail one request — enough failed renewals to lose the lease.
 */
function discardPool(kc: k8s.KubeConfig): void {
  const pool = pools.get(kc);
  if (pool === undefined) return;
  pools.delete(kc);
  pool.own?.close().catch(() => {});
}

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
 * restart (tests/e2e/goaway_test.ts). Over HTTP/1.1 a shutdown just closes the sockets, which
 * callers already treat as transient.
 *
 * How: after client-node's own `applySecurityAuthentication` (CA, client certificate, bearer
 * token, `tlsServerName`, proxy — all unchanged) we wrap the request's dispatcher with an
 * interceptor that sets undici's `allowH2: false`, so the connection offers only `http/1.1`. When
 * client-node sets no dispatcher (no TLS settings at all) we wrap undici's global one.
 *
 * Cost: no multiplexing — each concurrent request (and each open watch) takes its own
 * connection instead of a stream of a shared one. The program's adapters also pool connections
 * ({@linkcode poolConnections}).
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
 * {@linkcode forceHttp1}, and one connection pool per API server for every request and watch
 * made with `kc`. Idempotent; changes `kc` in place and returns it. The adapters below
 * (`KubeApi` and its parts) apply it.
 *
 * client-node 2.0.1 builds a new undici `Agent` — so a new TLS connection — for every request
 * (`createDispatcher`): hundreds of connections mid-burst, a TLS handshake per write, and twice
 * the API server's CPU per request (bench/api.ts). We keep client-node's own dispatcher options
 * (CA, client certificate, `tlsServerName`, proxy — all unchanged) and reuse the `Agent` built
 * for them while they stay the same; when they change (a rotated client certificate), the next
 * request gets a new pool and the old one closes once its requests are done. Keep-alive
 * connections, as client-go has. A connection failure drops the pool ({@linkcode discardPool}).
 *
 * @param kc The client configuration.
 * @returns `kc`.
 */
export function poolConnections(kc: k8s.KubeConfig): k8s.KubeConfig {
  forceHttp1(kc);
  if (pooled.has(kc)) return kc;
  pooled.add(kc);
  const factory = kc as unknown as DispatcherFactory;
  const create = factory.createDispatcher.bind(kc);
  factory.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify(factory.createDispatcherOptions(cluster, agentOptions));
    const current = pools.get(kc);
    if (current?.key === key) return current.own;
    const own = create(cluster, agentOptions);
    pools.set(kc, { key, own });
    // Settings changed: the old pool finishes what it has in flight, then closes.
    current?.own?.close().catch(() => {});
    return own;
  };
  return kc;
}

/**
 * Loads client configuration: the in-cluster service account when `KUBERNETES_SERVICE_HOST` is
 * set and the token is mounted, else `KUBECONFIG` (colon-separated paths), else `~/.kube/config`.
 * Requests made with it use HTTP/1.1 only (see {@linkcode forceHttp1}). Unlike client-node's
 * `loadFromDefault`, it never falls back to `http://localhost:8080`.
 *
 * @param env The environment (default: the process's).
 * @returns The loaded configuration.
 * @throws {ConfigError} One line naming what is missing or which file is malformed.
 */
export function loadKubeConfig(
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const tokenFile = `${SERVICE_ACCOUNT_DIR}/token`;
  if (env.KUBERNETES_SERVICE_HOST && fileExists(tokenFile)) {
    kc.loadFromCluster();
    return forceHttp1(kc);
  }
  const home = env.HOME ? `${env.HOME}/.kube/config` : "~/.kube/config";
  const paths = (env.KUBECONFIG ?? "").split(":").filter(Boolean);
  const source = paths.length > 0 ? "KUBECONFIG" : home;
  if (paths.length === 0 && env.HOME && fileExists(home)) paths.push(home);
  if (paths.length === 0) {
    const pod = env.KUBERNETES_SERVICE_HOST
      ? `KUBERNETES_SERVICE_HOST is set but ${tokenFile} is missing`
      : "KUBERNETES_SERVICE_HOST is not set";
    throw new ConfigError(
      `no Kubernetes credentials: not in a pod (${pod}) and no kubeconfig (KUBECONFIG is not ` +
        `set and ${home} does not exist)`,
    );
  }
  for (const path of paths) {
    if (!fileExists(path)) {
      throw new ConfigError(`${source}: ${path} does not exist or is not a file`);
    }
    try {
      new k8s.KubeConfig().loadFromFile(path);
    } catch (err) {
      const reason = String((err as Error)?.message ?? err).split("\n")[0];
      throw new ConfigError(`${source}: ${path} is not a valid kubeconfig: ${reason}`);
    }
  }
  if (paths.length === 1) kc.loadFromFile(paths[0]!);
  else kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (cluster === null || !cluster.server) {
    throw new ConfigError(
      `${source}: ${paths.join(":")} has no current context with a cluster server ` +
        `(current-context: ${JSON.stringify(kc.getCurrentContext() ?? "")})`,
    );
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
  kc: k8s.KubeConfig,
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
    }, (err) => {
      if (err) discardPool(kc);
      finish(err ? toError(err) : undefined);
    }).then((c) => {
      controller = c;
      if (settled) c.abort();
    }, (err) => {
      discardPool(kc);
      finish(toError(err));
    });
  });
}

/** Longest wait for a response's headers, and between two chunks of its body. */
const REQUEST_TIMEOUT_MS = 30_000;

/** An undici response as `Dispatcher.request` resolves it. */
interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: { text(): Promise<string> };
}

/**
 * Plain JSON requests to the API server, authenticated by client-node and sent over the pool of
 * {@linkcode poolConnections} with undici's `Dispatcher.request`. The task hot paths (create, claim,
 * record, list) use it instead of client-node's generated client, whose object (de)serialisers
 * and undici `fetch` layer cost twice the CPU per request (bench/api.ts); objects arrive as the
 * API server's JSON, which `toConfigMapLike` and `toPodInfo` read as they read watch events.
 * Errors are client-node's `ApiException` (HTTP status, Status body), as `classify` expects.
 */
class JsonApi {
  readonly #kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.#kc = poolConnections(kc);
  }

  /**
   * @param path From the server root, query included (`/api/v1/...?labelSelector=...`).
   * @returns The parsed response body.
   * @throws {k8s.ApiException} For an HTTP error status; undici's errors for network failures.
   */
  async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown) {
    const server = this.#kc.getCurrentCluster()?.server ?? "";
    const context = new k8s.RequestContext(server + path, method as k8s.HttpMethod);
    await this.#kc.applySecurityAuthentication(context);
    const dispatcher = context.getDispatcher();
    if (dispatcher === undefined) throw new Error(`${method} ${path}: no HTTP client`);
    const url = new URL(context.getUrl());
    const headers: Record<string, string> = { ...context.getHeaders(), accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: RawResponse;
    let text: string;
    try {
      response = await (dispatcher as unknown as {
        request(o: object): Promise<RawResponse>;
      }).request({
        origin: url.origin,
        path: url.pathname + url.search,
        method,
        headers,
        // A request never waits forever: under Deno, undici can miss that a kept-alive
        // connection died, and such a request would otherwise hang for undici's default 300 s.
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      text = await response.body.text();
    } catch (err) {
      discardPool(this.#kc);
      throw err;
    }
    if (response.statusCode >= 400) {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.headers)) {
        if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
      }
      throw new k8s.ApiException(
        response.statusCode,
        `HTTP-Code: ${response.statusCode}\nMessage: ${method} ${url.pathname}\nBody: ${text}`,
        text,
        flat,
      );
    }
    return (text === "" ? {} : JSON.parse(text)) as T;
  }
}

/** `?labelSelector=…` */
const selectorQuery = (labelSelector: string) =>
  labelSelector === "" ? "" : `?labelSelector=${encodeURIComponent(labelSelector)}`;

/**
 * {@linkcode TaskStore} over the ConfigMaps of one namespace.
 *
 * Requests are short and are not cancelled by `signal`;
 * the watch is.
 */
export class KubeTaskStore implements TaskStore {
  readonly #api: JsonApi;
  readonly #kc: k8s.KubeConfig;
  readonly #watch: k8s.Watch;
  readonly #namespace: string;
  readonly #path: string;

  /**
   * @param kc The client configuration (see {@linkcode loadKubeConfig}).
   * @param namespace Where the ConfigMaps live.
   */
  constructor(kc: k8s.KubeConfig, namespace: string) {
    if (namespace === "") throw new TypeError("Cannot create task store as 'namespace' is empty");
    this.#api = new JsonApi(kc);
    this.#kc = kc;
    this.#watch = new k8s.Watch(kc);
    this.#namespace = namespace;
    this.#path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  }

  async #call<T>(
    verb: string,
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<T> {
    try {
      const result = await this.#api.request<T>(method, this.#path + path, body);
      noteGranted(verb, "configmaps");
      return result;
    } catch (err) {
      throw classify(err, verb, "configmaps", this.#namespace);
    }
  }

  async list(labelSelector: string) {
    const list = await this.#call<k8s.V1ConfigMapList>("list", "GET", selectorQuery(labelSelector));
    return {
      items: (list.items ?? []).map(toConfigMapLike),
      resourceVersion: list.metadata?.resourceVersion ?? "",
    };
  }

  async get(name: string): Promise<ConfigMapLike | undefined> {
    try {
      return toConfigMapLike(
        await this.#call<k8s.V1ConfigMap>("get", "GET", `/${encodeURIComponent(name)}`),
      );
    } catch (err) {
      if (err instanceof KubeError && err.kind === "notFound") return undefined;
      throw err;
    }
  }

  async create(cm: ConfigMapLike): Promise<ConfigMapLike> {
    const body = toV1ConfigMap(
      { ...cm, metadata: { ...cm.metadata, resourceVersion: "" } },
      this.#namespace,
    );
    return toConfigMapLike(await this.#call<k8s.V1ConfigMap>("create", "POST", "", body));
  }

  async update(cm: ConfigMapLike): Promise<ConfigMapLike> {
    const body = toV1ConfigMap(cm, this.#namespace);
    const path = `/${encodeURIComponent(cm.metadata.name)}`;
    return toConfigMapLike(await this.#call<k8s.V1ConfigMap>("update", "PUT", path, body));
  }

  async deleteCollection(labelSelector: string): Promise<void> {
    await this.#call("deletecollection", "DELETE", selectorQuery(labelSelector));
  }

  async delete(name: string): Promise<void> {
    try {
      await this.#call("delete", "DELETE", `/${encodeURIComponent(name)}`);
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
      this.#kc,
    );
  }
}

/** {@linkcode PodLister} over the pods of one namespace. */
export class KubePodLister implements PodLister {
  readonly #api: JsonApi;
  readonly #namespace: string;

  constructor(kc: k8s.KubeConfig, namespace: string) {
    this.#api = new JsonApi(kc);
    this.#namespace = namespace;
  }

  async listPods(labelSelector: string): Promise<PodInfo[]> {
    const namespace = this.#namespace;
    let list: k8s.V1PodList;
    try {
      list = await this.#api.request<k8s.V1PodList>(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods${selectorQuery(labelSelector)}`,
      );
      noteGranted("list", "pods");
    } catch (err) {
      throw classify(err, "list", "pods", namespace);
    }
    return (list.items ?? []).map(toPodInfo).filter((p) => p.name !== "");
  }
}

/** {@linkcode LeaseClient} over `coordination.k8s.io/v1` Leases. */
export class KubeLeaseClient implements LeaseClient {
  readonly #api: JsonApi;
  readonly #kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.#api = new JsonApi(kc);
    this.#kc = kc;
  }

  /** One Lease request (plain JSON: the leader renews every retry period). */
  async #call(
    verb: string,
    method: "GET" | "POST" | "PUT",
    namespace: string,
    name: string,
    body?: LeaseObject,
  ): Promise<LeaseObject> {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    try {
      const lease = await this.#api.request<LeaseObject>(
        method,
        method === "POST" ? base : `${base}/${encodeURIComponent(name)}`,
        body,
      );
      noteGranted(verb, "leases");
      return lease;
    } catch (err) {
      throw this.#error(verb, `${namespace}/${name}`, err);
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
      this.#kc,
    );
  }

  read(name: string, namespace: string): Promise<LeaseObject> {
    return this.#call("get", "GET", namespace, name);
  }

  create(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return this.#call("create", "POST", namespace, lease.metadata?.name ?? "", lease);
  }

  replace(name: string, namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return this.#call("update", "PUT", namespace, name, lease);
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
 * import { KubeApi, loadKubeConfig } from "./api.ts";
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
    this.#kc = poolConnections(kc);
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
