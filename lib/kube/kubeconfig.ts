/**
 * Client configuration without a Kubernetes client library ({@linkcode loadKubeConfig}): the
 * in-cluster service account, or a kubeconfig file, read into a {@linkcode KubeConfig} — the API
 * server's URL, the TLS material of its connection pool and how to authenticate a request.
 *
 * Supported: a kubeconfig (`KUBECONFIG`, colon-separated and merged as kubectl does, missing
 * files skipped, else `~/.kube/config`): the current context's cluster `server`,
 * `certificate-authority` / `-data` (the only trust: `tls.ts` pins it), `tls-server-name`,
 * `insecure-skip-tls-verify` (with a warning), `proxy-url` (`http://`), and its user's `token` /
 * `tokenFile`, `client-certificate` / `-data` + `client-key` / `-data`, `username` + `password`,
 * `exec` (`exec_credential.ts`), impersonation (`impersonation.ts`); else, in a pod,
 * `KUBERNETES_SERVICE_HOST`/`_PORT` with the mounted token (re-read when it rotates) and `ca.crt`
 * — as client-go, a kubeconfig that names a context wins over the service account. A user with
 * `auth-provider` gets its token from `@kubernetes/client-node`, imported only then
 * (`client_node.ts`).
 *
 * @module
 */
import { ConfigError } from "../config/layer.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import { logger } from "../log/log.ts";
import { execAuthorization } from "./exec_credential.ts";
import { impersonationHeaders } from "./impersonation.ts";
import { proxyFromEnvironment } from "./proxy_env.ts";
import {
  KUBE_FILE_CAP,
  readTextCapped,
  readTextCappedSync,
  TOKEN_FILE_CAP,
} from "../files/bounded_read.ts";

/** Where a pod's service-account token, CA and namespace are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How long a token read from a file is used before the file is read again (client-go: 1 min). */
export const TOKEN_REREAD_MS = 60_000;

/** Everything a request to one API server needs. */
export interface KubeConfig {
  /** The API server's URL, no trailing slash (`https://10.0.0.1:443`). */
  readonly server: string;
  /** PEM CA certificates the server's certificate must chain to (none: the system roots). */
  readonly caCerts: readonly string[];
  /** PEM client certificate and key (mutual TLS), both or neither. */
  readonly cert?: string;
  readonly key?: string;
  /** An `http://` proxy for every connection to the server (`CONNECT`). */
  readonly proxy?: string;
  /** The name sent as SNI and checked in the server's certificate (`tls-server-name`). */
  readonly tlsServerName?: string;
  /** `insecure-skip-tls-verify`: the server's certificate is not checked. */
  readonly insecure?: boolean;
  /**
   * The current context's `namespace` (kubectl's default namespace; `undefined`: none set, or
   * in-cluster). The program's namespace is `election.namespace` or the service account's
   * (`resolveNamespace`); this is what kubectl would use, for tools and the conformance suite.
   */
  readonly namespace?: string;
  /** Impersonate-* headers sent with every request and watch (a name may repeat). */
  readonly impersonate?: readonly (readonly [string, string])[];
  /** The `Authorization` header value for the next request (`undefined`: none). */
  authorization(): Promise<string | undefined>;
  /** Told the header of a request the API server answered 401 (an exec token is refreshed). */
  readonly unauthorized?: (authorization: string) => void;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where {@linkcode loadKubeConfig} looks besides the environment (tests point it elsewhere). */
export interface LoadOptions {
  /** The service-account directory (default {@linkcode SERVICE_ACCOUNT_DIR}). */
  readonly serviceAccountDir?: string;
  /** Times the re-reading of token files. */
  readonly clock?: Clock;
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * A bearer token read from `path`, read again when {@linkcode TOKEN_REREAD_MS} has passed since
 * the last read: bound service-account tokens rotate (the kubelet rewrites the file), and a
 * `tokenFile` may be refreshed by another program. A failed re-read keeps the last token.
 *
 * @param path The token file.
 * @param clock Times the re-reads.
 * @returns `Bearer <token>`, or `undefined` while the file is empty.
 */
export function tokenFromFile(path: string, clock: Clock = systemClock) {
  let token = readTextCappedSync(path, TOKEN_FILE_CAP).trim();
  let readAt = clock.now();
  return async (): Promise<string | undefined> => {
    if (clock.now() - readAt >= TOKEN_REREAD_MS) {
      readAt = clock.now();
      try {
        token = (await readTextCapped(path, TOKEN_FILE_CAP)).trim();
      } catch {
        // Mid-rotation or briefly unreadable: the last token is still the best guess.
      }
    }
    return token === "" ? undefined : `Bearer ${token}`;
  };
}

/**
 * The environment's proxy for `server` (`HTTPS_PROXY` / `NO_PROXY`, as client-go), refused in one
 * line unless it is `http://` (the pinned TLS connection is tunnelled with CONNECT).
 */
function envProxy(server: string, env: Env, where: string): string | undefined {
  const proxy = proxyFromEnvironment(server, env);
  if (proxy !== undefined && !proxy.startsWith("http://")) {
    throw new ConfigError(
      `${where}: the proxy from HTTPS_PROXY/HTTP_PROXY (${proxy}) is not supported (only ` +
        `http:// proxies; the pinned TLS connection is tunnelled with CONNECT): set NO_PROXY ` +
        `for the API server or use an http:// proxy`,
    );
  }
  return proxy;
}

/** The in-cluster configuration: the pod's service account and the API server's Service. */
function inCluster(env: Env, dir: string, clock: Clock): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  const caFile = `${dir}/ca.crt`;
  let ca: string;
  try {
    ca = readTextCappedSync(caFile, KUBE_FILE_CAP);
  } catch (err) {
    throw new ConfigError(`in-cluster: cannot read ${caFile}: ${(err as Error).name}`);
  }
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const proxy = envProxy(server, env, "in-cluster");
  return {
    server,
    caCerts: [ca],
    ...(proxy === undefined ? {} : { proxy }),
    authorization: tokenFromFile(`${dir}/token`, clock),
  };
}

/** A kubeconfig's named entries, as kubectl merges several files: the first name wins. */
interface Merged {
  currentContext: string;
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
}

/** One `cluster`/`user`/`context` map, and the directory its relative paths are relative to. */
interface Entry {
  readonly fields: Record<string, unknown>;
  readonly dir: string;
}

/** Reads one kubeconfig file into `merged` (the first file to name something wins). */
function mergeFile(
  merged: Merged,
  path: string,
  text: string,
  parse: (text: string) => unknown,
): void {
  const doc = parse(text);
  if (doc === null || doc === undefined) return;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new Error("not a YAML mapping");
  const obj = doc as Record<string, unknown>;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  if (!merged.currentContext && typeof obj["current-context"] === "string") {
    merged.currentContext = obj["current-context"];
  }
  for (
    const [list, field, into] of [
      ["clusters", "cluster", merged.clusters],
      ["users", "user", merged.users],
      ["contexts", "context", merged.contexts],
    ] as const
  ) {
    const items = obj[list] ?? [];
    if (!Array.isArray(items)) throw new Error(`${list} is not a list`);
    for (const item of items as unknown[]) {
      const named = (item ?? {}) as Record<string, unknown>;
      if (typeof named.name !== "string") throw new Error(`an entry of ${list} has no name`);
      const fields = named[field] ?? {};
      if (typeof fields !== "object") throw new Error(`${list} ${named.name}: no ${field}`);
      if (!into.has(named.name)) into.set(named.name, { fields: fields as Entry["fields"], dir });
    }
  }
}

/** Reads `entry`'s `<name>-data` (base64) or `<name>` (a file, relative to the kubeconfig). */
function dataOrFile(entry: Entry, name: string): string | undefined {
  const data = entry.fields[`${name}-data`];
  if (typeof data === "string" && data !== "") {
    return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  }
  const file = entry.fields[name];
  if (typeof file !== "string" || file === "") return undefined;
  return readTextCappedSync(pathIn(entry, file), KUBE_FILE_CAP);
}

/** `file` as the kubeconfig that named it means it: relative paths are relative to that file. */
function pathIn(entry: Entry, file: string): string {
  return file.startsWith("/") ? file : `${entry.dir}/${file}`;
}

/**
 * Builds the {@linkcode KubeConfig} of a kubeconfig's current context.
 *
 * @param source How the error names where the files came from (`KUBECONFIG` or the path).
 * @param paths The files, merged in order.
 * @throws {ConfigError} One line naming what is unsupported or missing.
 */
async function fromKubeconfig(
  source: string,
  paths: string[],
  merged: Merged,
  clock: Clock,
  env: Env,
): Promise<KubeConfig> {
  const where = `${source}: ${paths.join(":")}`;
  const context = merged.contexts.get(merged.currentContext);
  const cluster = context && merged.clusters.get(String(context.fields.cluster ?? ""));
  const server = cluster?.fields.server;
  if (cluster === undefined || typeof server !== "string" || server === "") {
    throw new ConfigError(
      `${where} has no current context with a cluster server ` +
        `(current-context: ${JSON.stringify(merged.currentContext)})`,
    );
  }
  const clusterName = String(context!.fields.cluster);
  const insecure = cluster.fields["insecure-skip-tls-verify"] === true;
  const hasCa = Boolean(
    cluster.fields["certificate-authority"] || cluster.fields["certificate-authority-data"],
  );
  if (insecure && hasCa) {
    // kubectl: "specifying a root certificates file with the insecure flag is not allowed".
    throw new ConfigError(
      `${where}: cluster ${JSON.stringify(clusterName)} sets both insecure-skip-tls-verify and ` +
        `a certificate-authority: give one of them`,
    );
  }
  if (insecure) {
    logger("kube").warn(
      "Cluster {cluster} sets insecure-skip-tls-verify: the API server's certificate is not " +
        "checked, anyone between this pod and the server can read the token",
      { cluster: clusterName },
    );
  }
  const serverName = cluster.fields["tls-server-name"];
  const userName = String(context!.fields.user ?? "");
  const user = merged.users.get(userName) ?? { fields: {}, dir: "." };
  const ca = dataOrFile(cluster, "certificate-authority");
  const cert = dataOrFile(user, "client-certificate");
  const key = dataOrFile(user, "client-key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      `${where}: user ${JSON.stringify(userName)} needs both client-certificate and client-key`,
    );
  }
  const proxyUrl = cluster.fields["proxy-url"];
  // client-go: proxy-url, else the environment's proxy.
  const proxy = typeof proxyUrl === "string" && proxyUrl !== ""
    ? proxyUrl
    : envProxy(server.replace(/\/+$/, ""), env, where);
  if (typeof proxy === "string" && proxy !== "" && !proxy.startsWith("http://")) {
    throw new ConfigError(
      `${where}: cluster ${JSON.stringify(clusterName)}: proxy-url ${JSON.stringify(proxy)} is ` +
        `not supported (only http:// proxies; the pinned TLS connection is tunnelled with CONNECT)`,
    );
  }
  const f = user.fields;
  const impersonate = impersonationHeaders(f);
  const base = {
    server: server.replace(/\/+$/, ""),
    caCerts: ca === undefined ? [] : [ca],
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    ...(typeof proxy === "string" && proxy !== "" ? { proxy } : {}),
    ...(typeof serverName === "string" && serverName !== "" ? { tlsServerName: serverName } : {}),
    ...(insecure ? { insecure } : {}),
    ...(impersonate.length > 0 ? { impersonate } : {}),
    ...(typeof context!.fields.namespace === "string" && context!.fields.namespace !== ""
      ? { namespace: context!.fields.namespace }
      : {}),
  };
  if (f.exec) {
    const cafield = cluster.fields["certificate-authority-data"];
    const { authorization, unauthorized } = execAuthorization({
      exec: f.exec as Record<string, unknown>,
      dir: user.dir,
      user: userName,
      cluster: {
        server: base.server,
        ...(typeof cafield === "string" ? { "certificate-authority-data": cafield } : {}),
      },
    }, clock);
    // Run once now, so a plugin that cannot give a token fails at start, in one line.
    await authorization();
    return { ...base, authorization, unauthorized };
  }
  if (f["auth-provider"]) {
    const { authProviderAuthorization } = await import("./client_node.ts");
    const authorization = await authProviderAuthorization(base.server, userName, f);
    return { ...base, authorization };
  }
  // Both set: client-go's transport reads the file (the field is only its first value).
  if (typeof f.tokenFile === "string" && f.tokenFile !== "") {
    return { ...base, authorization: tokenFromFile(pathIn(user, f.tokenFile), clock) };
  }
  if (typeof f.token === "string" && f.token !== "") {
    const header = `Bearer ${f.token}`;
    return { ...base, authorization: () => Promise.resolve(header) };
  }
  if (typeof f.username === "string" && f.username !== "") {
    const header = `Basic ${btoa(`${f.username}:${String(f.password ?? "")}`)}`;
    return { ...base, authorization: () => Promise.resolve(header) };
  }
  return { ...base, authorization: () => Promise.resolve(undefined) };
}

/**
 * Loads client configuration as client-go's deferred loading does: the kubeconfig —
 * `KUBECONFIG` (colon-separated paths, merged: the first file to set a name or
 * `current-context` wins; missing files are skipped) when set, else `~/.kube/config` — when it
 * names a current context; else, in a pod (`KUBERNETES_SERVICE_HOST` set and the token mounted),
 * the service account. So `KUBECONFIG` wins over the service account, as with kubectl. Unlike
 * client-node's `loadFromDefault`, it never falls back to `http://localhost:8080`.
 *
 * @param env The environment (default: the process's).
 * @param options Where the service account is mounted; the clock of token re-reads.
 * @returns The loaded configuration.
 * @throws {ConfigError} One line naming what is missing, unsupported, or which file is malformed.
 */
export async function loadKubeConfig(
  env: Env = Deno.env.toObject(),
  options: LoadOptions = {},
): Promise<KubeConfig> {
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const clock = options.clock ?? systemClock;
  const tokenFile = `${dir}/token`;
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST) && fileExists(tokenFile);
  const home = env.HOME ? `${env.HOME}/.kube/config` : "~/.kube/config";
  const listed = (env.KUBECONFIG ?? "").split(":").filter(Boolean);
  const source = listed.length > 0 ? "KUBECONFIG" : home;
  // client-go skips the files of KUBECONFIG that do not exist.
  const paths = listed.length > 0
    ? listed.filter(fileExists)
    : env.HOME && fileExists(home)
    ? [home]
    : [];
  if (paths.length === 0) {
    if (inPod) return inCluster(env, dir, clock);
    if (listed.length > 0) {
      throw new ConfigError(`KUBECONFIG: ${listed.join(", ")} does not exist or is not a file`);
    }
    const pod = env.KUBERNETES_SERVICE_HOST
      ? `KUBERNETES_SERVICE_HOST is set but ${tokenFile} is missing`
      : "KUBERNETES_SERVICE_HOST is not set";
    throw new ConfigError(
      `no Kubernetes credentials: not in a pod (${pod}) and no kubeconfig (KUBECONFIG is not ` +
        `set and ${home} does not exist)`,
    );
  }
  // Only kubeconfig files are YAML: in a pod the parser is never loaded.
  const { parse } = await import("yaml");
  const merged: Merged = {
    currentContext: "",
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  for (const path of paths) {
    try {
      mergeFile(merged, path, readTextCappedSync(path, KUBE_FILE_CAP), parse);
    } catch (err) {
      const reason = String((err as Error)?.message ?? err).split("\n")[0];
      throw new ConfigError(`${source}: ${path} is not a valid kubeconfig: ${reason}`);
    }
  }
  // client-go: a kubeconfig that chooses no context is "empty"; in a pod the service account
  // applies then.
  if (merged.currentContext === "" && inPod) return inCluster(env, dir, clock);
  try {
    return await fromKubeconfig(source, paths, merged, clock, env);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = String((err as Error)?.message ?? err).split("\n")[0];
    throw new ConfigError(`${source}: ${paths.join(":")}: ${reason}`);
  }
}
