/**
 * What still uses `@kubernetes/client-node`, which the program no longer loads in its normal
 * paths (importing it costs ~80 MiB of RSS: its `KubeConfig` pulls in every generated API class):
 *
 * - {@linkcode authProviderAuthorization}: the token of a kubeconfig user with `auth-provider`
 *   (OIDC), which client-node's authenticators know how to run and cache. `kubeconfig.ts`
 *   imports this module dynamically, only for such a user (`exec` is `exec_credential.ts`).
 * - {@linkcode fromClientNode} and {@linkcode forceHttp1}: for tests and benches that drive the
 *   API server with a client-node `KubeConfig` as a tool.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import type { KubeConfig } from "./kubeconfig.ts";
import { KUBE_FILE_CAP, readTextCappedSync } from "../files/bounded_read.ts";

/** client-node's private header step: runs the user's authenticator (exec, auth-provider). */
interface WithAuthHeader {
  applyAuthorizationHeader(opts: { headers?: Record<string, string> }): Promise<void>;
}

/** The `Authorization` header client-node computes for `kc`'s current user (cached by it). */
function authorizationOf(kc: k8s.KubeConfig): () => Promise<string | undefined> {
  return async () => {
    const opts: { headers?: Record<string, string> } = {};
    await (kc as unknown as WithAuthHeader).applyAuthorizationHeader(opts);
    return opts.headers?.Authorization;
  };
}

/**
 * The `Authorization` header of an `auth-provider` user, computed by client-node for each request
 * (it caches the token until it expires). client-node is given only that user, from OUR merged
 * kubeconfig (`kubeconfig.ts`): it never re-reads or re-merges the files, whose merge it does
 * differently (duplicate names across `KUBECONFIG` files).
 *
 * @param server The cluster's server (client-node wants a cluster in the context).
 * @param user The user's name, for the error.
 * @param fields The user's map, as merged.
 * @returns A function giving the header for the next request.
 * @throws {Error} One line when the provider gives no token.
 */
export async function authProviderAuthorization(
  server: string,
  user: string,
  fields: Record<string, unknown>,
): Promise<() => Promise<string | undefined>> {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server } }],
    users: [{ name: "u", user: fields }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  }));
  const authorization = authorizationOf(kc);
  let first: string | undefined;
  try {
    first = await authorization();
  } catch (err) {
    const reason = String((err as Error)?.message ?? err).split("\n")[0];
    throw new Error(`user ${JSON.stringify(user)}: auth-provider failed: ${reason}`);
  }
  if (first === undefined) {
    throw new Error(`user ${JSON.stringify(user)}: auth-provider gave no token`);
  }
  return authorization;
}

const decode = (base64: string) =>
  new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));

/**
 * The {@linkcode KubeConfig} of a client-node `KubeConfig`'s current context (tests and benches
 * build theirs with client-node).
 *
 * @throws {Error} When `kc` has no current cluster.
 */
export function fromClientNode(kc: k8s.KubeConfig): KubeConfig {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("the KubeConfig has no current cluster");
  const user = kc.getCurrentUser();
  const read = (data?: string, file?: string) =>
    data ? decode(data) : file ? readTextCappedSync(file, KUBE_FILE_CAP) : undefined;
  const ca = read(cluster.caData, cluster.caFile);
  const cert = read(user?.certData, user?.certFile);
  const key = read(user?.keyData, user?.keyFile);
  return {
    server: cluster.server.replace(/\/+$/, ""),
    caCerts: ca === undefined ? [] : [ca],
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    authorization: authorizationOf(kc),
  };
}

/** An undici dispatcher, as client-node's `RequestContext` carries it. */
type Dispatcher = NonNullable<ReturnType<k8s.RequestContext["getDispatcher"]>>;

/** undici's per-request option that keeps a request off HTTP/2. */
const http1Interceptor =
  (dispatch: Dispatcher["dispatch"]): Dispatcher["dispatch"] => (opts, handler) =>
    dispatch({ ...opts, allowH2: false } as typeof opts, handler);

/** Set on a client-node `KubeConfig` that {@linkcode forceHttp1} changed (the mark is the object's). */
const HTTP1_ONLY = Symbol("http1Only");

/**
 * Makes every request that client-node sends with `kc` use HTTP/1.1: on Deno 2.9.6, undici's
 * HTTP/2 session (`node:http2`) can crash the process on the GOAWAY of a gracefully stopping API
 * server (tests/e2e/goaway_test.ts). Idempotent; changes `kc` in place and returns it. For tests
 * and benches that use client-node as a tool; the program itself does not use client-node.
 *
 * @param kc The client configuration.
 * @returns `kc`.
 */
export function forceHttp1(kc: k8s.KubeConfig): k8s.KubeConfig {
  const marked = kc as k8s.KubeConfig & { [HTTP1_ONLY]?: true };
  if (marked[HTTP1_ONLY]) return kc;
  marked[HTTP1_ONLY] = true;
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
