/**
 * The client side of every call to the API server: this pod's namespace
 * ({@linkcode resolveNamespace}), and the connection to one API server
 * ({@linkcode KubeConnection}: its one pool, a `Deno.HttpClient` that every request and watch of
 * `lib/kube/` goes through, over Deno's native `fetch`). The client configuration is loaded by
 * `kubeconfig.ts` (`loadKubeConfig`); the connection is created, shared and closed by whoever
 * loads it (`lib/modes/`).
 *
 * @module
 */
import { ConfigError } from "../config/layer.ts";
import type { Config } from "../config/schema.ts";
import { type KubeConfig, SERVICE_ACCOUNT_DIR } from "./kubeconfig.ts";
import { type Clock, systemClock, type TimerId } from "../time/clock.ts";
import { describeFetchFailure } from "./fetch_cause.ts";
import { PinnedTransport } from "./tls.ts";
import { readTextCapped, TOKEN_FILE_CAP } from "../files/bounded_read.ts";

/** Where a pod's service-account namespace is mounted. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = `${SERVICE_ACCOUNT_DIR}/namespace`;

/**
 * Whether connections offer HTTP/2 (ALPN `h2`, which kube-apiserver picks): on. Every request and
 * watch to one API server is then a stream of one connection, and the API server spends less CPU
 * per request (bench/api.ts). It was off while client-node sent requests through undici over
 * Deno's `node:http2`, which crashed the process on the GOAWAY of a gracefully stopping API server;
 * Deno's native `fetch` (hyper) handles GOAWAY: tests/e2e/goaway_test.ts (5 graceful restarts under
 * load), election_test.ts and kube_pool_test.ts passed every time over HTTP/2. Set it to `false`
 * to fall back to HTTP/1.1 (one kept-alive connection per concurrent request and per watch).
 */
export const HTTP2 = true;

/**
 * Sent with every request and watch. The API server names the field manager of what a request
 * writes after it (`managedFields[].manager`, up to the first `/`) and records it in audit logs,
 * so operators see `dz-mcall` there, not the runtime's default (`Deno`).
 */
export const USER_AGENT = "dz-mcall";

/** Idle connections kept per API server (a planning burst runs 16 requests at once). */
const POOL_MAX_IDLE = 32;

/**
 * One API server's connection pool: the `Deno.HttpClient`, and for an `https` server the
 * {@linkcode PinnedTransport} it connects through (the CA pinned, as client-go) and the plain
 * URL base fetch is given (`http://host:port/prefix`, relayed over TLS by the transport).
 */
interface Pool {
  readonly client: Deno.HttpClient;
  readonly transport?: PinnedTransport;
  readonly base: string;
}

/** A new pool for `kc`'s API server and TLS settings. */
function openPool(kc: KubeConfig): Pool {
  const url = new URL(kc.server);
  const options = { http1: !HTTP2, http2: HTTP2, poolMaxIdlePerHost: POOL_MAX_IDLE };
  if (url.protocol === "https:") {
    const transport = new PinnedTransport({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 443),
      caCerts: kc.caCerts,
      ...(kc.cert !== undefined && kc.key !== undefined ? { cert: kc.cert, key: kc.key } : {}),
      ...(kc.tlsServerName === undefined ? {} : { serverName: kc.tlsServerName }),
      ...(kc.insecure ? { insecure: true } : {}),
      ...(kc.proxy === undefined ? {} : { proxy: kc.proxy }),
      alpn: HTTP2 ? "h2" : "http/1.1",
    });
    // One protocol only: HTTP/2 with prior knowledge on the plain socket (the transport
    // negotiated h2 with the server), or HTTP/1.1.
    const client = Deno.createHttpClient({
      ...options,
      proxy: { transport: "unix", path: transport.path },
    });
    return { client, transport, base: `http://${url.host}${url.pathname.replace(/\/+$/, "")}` };
  }
  // A plain-HTTP server (kubectl allows it): nothing to verify.
  const client = Deno.createHttpClient({
    http1: true,
    http2: HTTP2,
    poolMaxIdlePerHost: POOL_MAX_IDLE,
    ...(kc.proxy === undefined ? {} : { proxy: { url: kc.proxy } }),
  });
  return { client, base: kc.server };
}

/** Closes a pool's client (its connections) and its transport (the relays and the socket). */
function closePool(pool: Pool): void {
  try {
    pool.client.close();
  } catch {
    // Already closed.
  }
  pool.transport?.close();
}

/**
 * The connection to one API server: the configuration it was built from and the one connection
 * pool that every request and watch to that server goes through ({@linkcode KubeConnection.send}),
 * as client-go's `rest.RESTClient` owns the `http.Transport` built from its `rest.Config`. Nothing
 * is kept per module: whoever loads the configuration creates the connection, hands it to every
 * adapter of that server (`lib/modes/` builds one per process, so the leader's and the worker's
 * adapters share one pool), and closes it when they are done ({@linkcode KubeConnection.close}).
 *
 * @example Usage
 * ```ts ignore
 * import { KubeConnection } from "./client.ts";
 * import { loadKubeConfig } from "./kubeconfig.ts";
 * using conn = new KubeConnection(await loadKubeConfig());
 * const response = await conn.send("GET", "/version", undefined, AbortSignal.timeout(5_000));
 * ```
 */
export class KubeConnection implements Disposable {
  /** The client configuration: server, TLS material, credentials. */
  readonly config: KubeConfig;
  /** Invariant: at most one pool at a time, built on first use and after a discard. */
  #pool: Pool | undefined;
  #closed = false;

  /** @param config The client configuration (see `loadKubeConfig`). */
  constructor(config: KubeConfig) {
    this.config = config;
  }

  /**
   * Sends one request through the pool, authenticated (`Authorization` from
   * {@linkcode KubeConfig.authorization}). Callers pass what it throws (and what reading the body
   * throws) to {@linkcode KubeConnection.failed}.
   *
   * @param path From the server root, query included (`/api/v1/...?labelSelector=...`).
   * @param body JSON text, sent as `application/json`.
   * @param signal Aborts the request and its body.
   * @returns The response (any status); its body is the caller's to read.
   * @throws {Error} When the connection was closed.
   */
  async send(
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const kc = this.config;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": USER_AGENT,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    const authorization = await kc.authorization();
    if (authorization !== undefined) headers.authorization = authorization;
    const { client, base } = this.#open();
    // Impersonate-* (kubectl's `as`, `as-groups`, …); a name repeated is sent as repeated headers.
    const impersonation = kc.impersonate ?? [];
    const response = await fetch(base + path, {
      method,
      headers: impersonation.length === 0
        ? headers
        : [...Object.entries(headers), ...impersonation.map(([k, v]) => [k, v])],
      signal,
      client,
      ...(body === undefined ? {} : { body }),
    });
    if (response.status === 401 && authorization !== undefined) kc.unauthorized?.(authorization);
    return response;
  }

  /**
   * What a request that got no (or no whole) response throws: the timeout when
   * {@linkcode RequestTimer} fired, else `err`. Discards the pool unless the caller aborted.
   */
  failed(signal: AbortSignal, err: unknown): unknown {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    const timedOut = reason instanceof DOMException && reason.name === "TimeoutError";
    // Read before the pool is discarded: why the transport's last connection failed.
    const cause = timedOut ? undefined : this.#pool?.transport?.lastError;
    if (!signal.aborted || timedOut) this.discard();
    return timedOut ? reason : describeFetchFailure(err, cause);
  }

  /**
   * Drops the pool after a connection failure: the next request builds a new one. When the API
   * server restarts, connections kept alive to the old process may not be noticed as dead until a
   * request on each fails — enough failed renewals to lose the lease — so one failure drops them
   * all.
   */
  discard(): void {
    const pool = this.#pool;
    if (pool === undefined) return;
    this.#pool = undefined;
    closePool(pool);
  }

  /**
   * Closes the pool's connections and refuses further requests: a process that is done keeps no
   * connection open. Idempotent.
   */
  close(): void {
    this.#closed = true;
    this.discard();
  }

  /** {@linkcode KubeConnection.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The pool, built on first use. */
  #open(): Pool {
    if (this.#closed) {
      throw new Error(`the connection to ${this.config.server} was closed`);
    }
    return this.#pool ??= openPool(this.config);
  }
}

/**
 * Aborts a request when nothing arrived for `ms`: armed when created, re-armed by
 * {@linkcode RequestTimer.reset} on every chunk received. Its signal also carries other aborts
 * ({@linkcode RequestTimer.abort}).
 */
export class RequestTimer {
  readonly #controller = new AbortController();
  readonly #ms: number;
  readonly #clock: Clock;
  #timer: TimerId | undefined;

  /**
   * @param ms The longest silence.
   * @param clock Times the silence.
   */
  constructor(ms: number, clock: Clock = systemClock) {
    this.#ms = ms;
    this.#clock = clock;
    this.reset();
  }

  /** Aborted on timeout or {@linkcode RequestTimer.abort}. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Restarts the wait (something arrived). */
  reset(): void {
    this.#clock.clearTimeout(this.#timer);
    if (this.#controller.signal.aborted) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#controller.abort(
        new DOMException(`no response for ${this.#ms / 1000} s`, "TimeoutError"),
      );
    }, this.#ms);
  }

  /** Stops the timer and aborts the request (no-op when already aborted). */
  abort(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#controller.abort();
  }

  /** Stops the timer; the request goes on. */
  clear(): void {
    this.#clock.clearTimeout(this.#timer);
  }
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
    const ns = (await readTextCapped(file, TOKEN_FILE_CAP)).trim();
    if (ns) return ns;
  } catch {
    // Not in a pod; fall through to the error.
  }
  throw new ConfigError(
    `election.namespace: not set (set NAMESPACE or --namespace; ${file} is not readable either)`,
  );
}
