/**
 * What the kubeconfig conformance suite (conformance_test.ts) compares: the PKI and recording
 * servers every case shares, a kubeconfig builder, and one side's observation of a case — what
 * `kubectl config view --minify --flatten` / our loader read (server, CA, client certificate,
 * namespace) and what the recording server saw of the live request (which server, path, SNI,
 * client certificate subject, Authorization and Impersonate-* headers, proxy tunnels).
 */
import { issue, type Issued, type KeyType, makeCa } from "./pki.ts";
import type { Recorded, Recorder } from "./recorder.ts";

/** The certificates of the suite. */
export interface SuitePki {
  readonly ca: Issued;
  readonly evilCa: Issued;
  /** For 127.0.0.1, ::1 and localhost. */
  readonly server: Issued;
  /** Names only `kubernetes.internal` (tls-server-name cases). */
  readonly named: Issued;
  /** Client certificates by key type, subject `/O=team/CN=<type>-user`. */
  readonly clients: Readonly<Record<KeyType, Issued>>;
}

export async function makeSuitePki(dir: string): Promise<SuitePki> {
  const ca = await makeCa(dir, "cluster-ca");
  const evilCa = await makeCa(dir, "evil-ca");
  const clients = {} as Record<KeyType, Issued>;
  for (const type of ["rsa", "ec", "pkcs8", "ed25519"] as const) {
    clients[type] = await issue(dir, ca, `client-${type}`, {
      keyType: type,
      subject: `/O=team/CN=${type}-user`,
    });
  }
  return {
    ca,
    evilCa,
    server: await issue(dir, ca, "server", { san: "IP:127.0.0.1,IP:::1,DNS:localhost" }),
    named: await issue(dir, ca, "named", { san: "DNS:kubernetes.internal" }),
    clients,
  };
}

/** What a case's files may refer to. */
export interface Suite {
  readonly pki: SuitePki;
  /** `https://127.0.0.1:<port>` (with a CONNECT proxy at {@linkcode Suite.proxy}). */
  readonly main: string;
  /** `https://[::1]:<port>`. */
  readonly v6: string;
  /** `https://127.0.0.1:<port>` serving the `kubernetes.internal` certificate. */
  readonly named: string;
  /** `http://127.0.0.1:<port>`, the CONNECT proxy. */
  readonly proxy: string;
  /** The directory of this case's files. */
  readonly dir: string;
}

export const b64 = (text: string) => btoa(text);

/** A kubeconfig document (JSON is YAML). */
export function kubeconfig(doc: {
  clusters?: Record<string, Record<string, unknown>>;
  users?: Record<string, Record<string, unknown>>;
  contexts?: Record<string, Record<string, unknown>>;
  current?: string;
}): string {
  const list = (m: Record<string, Record<string, unknown>> | undefined, field: string) =>
    Object.entries(m ?? {}).map(([name, v]) => ({ name, [field]: v }));
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: list(doc.clusters, "cluster"),
    users: list(doc.users, "user"),
    contexts: list(doc.contexts, "context"),
    ...(doc.current === undefined ? {} : { "current-context": doc.current }),
  });
}

/** The usual one-context kubeconfig: cluster `c` at `server` with the CA file, user `u`. */
export function simple(
  s: Suite,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
  context: Record<string, unknown> = {},
): string {
  return kubeconfig({
    clusters: { c: { server: s.main, "certificate-authority": s.pki.ca.certFile, ...cluster } },
    users: { u: user },
    contexts: { ctx: { cluster: "c", user: "u", ...context } },
    current: "ctx",
  });
}

/** One side's view of a case. */
export interface Observation {
  ok: boolean;
  /** From the loaded configuration. */
  server?: string;
  ca?: string;
  cert?: string;
  namespace?: string;
  /** From the recording server: the live request. */
  request?: {
    target: string;
    path: string;
    sni: string;
    client: string;
    authorization: string[];
    impersonate: string[];
  };
  connects?: string[];
}

/** The live request of a side: the first `…/configmaps` list among what the recorders saw. */
export function requestOf(
  seen: { name: string; requests: Recorded[] }[],
): Observation["request"] {
  for (const { name, requests } of seen) {
    const r = requests.find((r) => r.path.endsWith("/configmaps"));
    if (r === undefined) continue;
    return {
      target: name,
      path: r.path,
      sni: r.sni,
      client: r.client,
      authorization: r.headers.authorization ?? [],
      impersonate: Object.entries(r.headers)
        .filter(([k]) => k.startsWith("impersonate-"))
        .flatMap(([k, vs]) => vs.map((v) => `${k}: ${v}`))
        .sort(),
    };
  }
  return undefined;
}

/** Records what `recorders` see while `fn` runs. */
export async function recording(
  recorders: Record<string, Recorder>,
  fn: () => Promise<void>,
): Promise<{ request: Observation["request"]; connects: string[] }> {
  const before = Object.fromEntries(
    Object.entries(recorders).map(([k, r]) => [k, [r.requests.length, r.connects.length]]),
  );
  await fn();
  const seenNow = () =>
    Object.entries(recorders).map(([name, r]) => ({
      name,
      requests: r.requests.slice(before[name]![0]),
    }));
  // The recorders' lines arrive through pipes: wait a little for the request's line.
  for (let i = 0; i < 20 && requestOf(seenNow()) === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const seen = seenNow();
  // The tunnels' targets, each once: kubectl opens one for discovery and one for the request.
  const connects = [
    ...new Set(Object.entries(recorders).flatMap(([k, r]) => r.connects.slice(before[k]![1]))),
  ];
  return { request: requestOf(seen), connects };
}
