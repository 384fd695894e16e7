/**
 * The client side of every call to the API server: loading the client configuration
 * ({@linkcode loadKubeConfig}) and this pod's namespace ({@linkcode resolveNamespace}), and the
 * one connection pool per API server, over HTTP/1.1 only ({@linkcode poolConnections},
 * {@linkcode forceHttp1}), that every adapter of `lib/kube/` sends its requests and watches
 * through.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { ConfigError } from "../config/layer.ts";
import type { Config } from "../config/schema.ts";

/** Where a pod's service-account token is mounted. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Where a pod's service-account namespace is mounted. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = `${SERVICE_ACCOUNT_DIR}/namespace`;

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
export function discardPool(kc: k8s.KubeConfig): void {
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
 * made with `kc`. Idempotent; changes `kc` in place and returns it. The adapters
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
 * The namespace: `election.namespace` (env `NAMESPACE`), else the in-cluster service-account
 * namespace file.
 *
 * @throws {ConfigError} When neither is available.
 */
export async function resolveNamespace(
  config: Config,
  file = SERVICE_ACCOUNT_NAMESPACE_FILE,
): Promise<string> {
  if (config.election.namespace) return config.election.namespace;
  try {
    const ns = (await Deno.readTextFile(file)).trim();
    if (ns) return ns;
  } catch {
    // Not in a pod; fall through to the error.
  }
  throw new ConfigError(
    `election.namespace: not set (set NAMESPACE or --namespace; ${file} is not readable either)`,
  );
}
