/**
 * The kubeconfig variants of the conformance suite (conformance_test.ts): each is loaded by our
 * loader and by kubectl, and both send a live request to the recording servers. A case without
 * `differs` must give the same observation on both sides; a case with it is a deliberate,
 * documented difference (docs/kubernetes.md), and the test asserts each side's expectation.
 */
import { b64, kubeconfig, type Observation, simple, type Suite } from "./conformance_fixture.ts";

export interface Case {
  readonly name: string;
  /** Files to write in the case's directory (name → text; `x` marks an executable). */
  readonly files: (s: Suite) => Record<string, string | { text: string; x: true }>;
  /** `KUBECONFIG`'s entries, relative to the case's directory (default `["config"]`; `[]`: unset). */
  readonly kubeconfig?: readonly string[];
  /** More environment for both sides. */
  readonly env?: (s: Suite) => Record<string, string>;
  /** Run as in a pod: `KUBERNETES_SERVICE_HOST`/`_PORT` at the main server, a service account. */
  readonly pod?: boolean;
  /** A deliberate difference: why, and what each side must show instead of equality. */
  readonly differs?: {
    readonly why: string;
    readonly ours: Partial<Observation>;
    readonly kubectl: Partial<Observation>;
  };
}

/** An exec plugin printing token `token` (and `$EXTRA` when set). */
const plugin = (token: string) => ({
  text:
    `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s%s"}}' '${token}' "$EXTRA"\n`,
  x: true as const,
});
const exec = (command: string, more: Record<string, unknown> = {}) => ({
  exec: {
    apiVersion: "client.authentication.k8s.io/v1",
    command,
    interactiveMode: "Never",
    ...more,
  },
});
const certUser = (s: Suite, type: "rsa" | "ec" | "pkcs8" | "ed25519") => ({
  "client-certificate": s.pki.clients[type].certFile,
  "client-key": s.pki.clients[type].keyFile,
});

export const CASES: readonly Case[] = [
  // CA: file (absolute, relative, in a subdirectory) or data; data wins.
  { name: "ca-file-absolute", files: (s) => ({ config: simple(s, { token: "t1" }) }) },
  {
    name: "ca-file-relative",
    files: (s) => ({
      "ca.crt": s.pki.ca.cert,
      config: simple(s, { token: "t2" }, { "certificate-authority": "ca.crt" }),
    }),
  },
  {
    name: "ca-file-relative-subdir",
    files: (s) => ({
      "pki/ca.crt": s.pki.ca.cert,
      config: simple(s, { token: "t3" }, { "certificate-authority": "pki/ca.crt" }),
    }),
  },
  {
    name: "ca-data",
    files: (s) => ({
      config: simple(s, { token: "t4" }, {
        "certificate-authority": undefined,
        "certificate-authority-data": b64(s.pki.ca.cert),
      }),
    }),
  },
  {
    name: "ca-data-over-file",
    files: (s) => ({
      config: simple(s, { token: "t5" }, {
        "certificate-authority": s.pki.evilCa.certFile,
        "certificate-authority-data": b64(s.pki.ca.cert),
      }),
    }),
    differs: {
      why: "kubectl's validation refuses a cluster with both; client-go's loader (and ours, as " +
        "issue 20 asks to keep) lets the -data win",
      ours: { ok: true },
      kubectl: { ok: false },
    },
  },
  {
    name: "ca-wrong",
    files: (s) => ({
      config: simple(s, { token: "t6" }, { "certificate-authority": s.pki.evilCa.certFile }),
    }),
  },
  // Client certificates: files absolute / relative, data, key formats, mixed.
  { name: "cert-rsa-files", files: (s) => ({ config: simple(s, certUser(s, "rsa")) }) },
  {
    name: "cert-rsa-relative",
    files: (s) => ({
      "u.crt": s.pki.clients.rsa.cert,
      "u.key": s.pki.clients.rsa.key,
      config: simple(s, { "client-certificate": "u.crt", "client-key": "u.key" }),
    }),
  },
  {
    name: "cert-rsa-data",
    files: (s) => ({
      config: simple(s, {
        "client-certificate-data": b64(s.pki.clients.rsa.cert),
        "client-key-data": b64(s.pki.clients.rsa.key),
      }),
    }),
  },
  { name: "cert-ec-sec1", files: (s) => ({ config: simple(s, certUser(s, "ec")) }) },
  { name: "cert-pkcs8", files: (s) => ({ config: simple(s, certUser(s, "pkcs8")) }) },
  { name: "cert-ed25519", files: (s) => ({ config: simple(s, certUser(s, "ed25519")) }) },
  {
    name: "cert-ec-data",
    files: (s) => ({
      config: simple(s, {
        "client-certificate-data": b64(s.pki.clients.ec.cert),
        "client-key-data": b64(s.pki.clients.ec.key),
      }),
    }),
  },
  {
    name: "cert-data-key-file",
    files: (s) => ({
      config: simple(s, {
        "client-certificate-data": b64(s.pki.clients.pkcs8.cert),
        "client-key": s.pki.clients.pkcs8.keyFile,
      }),
    }),
  },
  {
    name: "cert-and-token",
    files: (s) => ({ config: simple(s, { ...certUser(s, "ec"), token: "t-both" }) }),
  },
  // Tokens and basic auth.
  { name: "token", files: (s) => ({ config: simple(s, { token: "plain-token" }) }) },
  {
    name: "tokenfile-absolute",
    files: (s) => ({
      token: "from-file\n",
      config: simple(s, { tokenFile: `${s.dir}/token` }),
    }),
  },
  {
    name: "tokenfile-relative",
    files: (s) => ({
      "secrets/tok": "relative-file",
      config: simple(s, { tokenFile: "secrets/tok" }),
    }),
  },
  {
    name: "token-and-tokenfile",
    files: (s) => ({
      tok: "the-file",
      config: simple(s, { token: "the-field", tokenFile: "tok" }),
    }),
  },
  {
    name: "basic-auth",
    files: (s) => ({ config: simple(s, { username: "admin", password: "s3cret" }) }),
  },
  {
    name: "anonymous",
    files: (s) => ({ config: simple(s, {}) }),
    differs: {
      why: "with no credentials kubectl prompts for a username on the terminal (EOF here); " +
        "dz-mcall never prompts and sends the request anonymously",
      ours: { ok: true },
      kubectl: { ok: false },
    },
  },
  // Two-file KUBECONFIG merges.
  {
    name: "merge-split-files",
    kubeconfig: ["a", "b"],
    files: (s) => ({
      a: kubeconfig({ contexts: { ctx: { cluster: "c", user: "u" } }, current: "ctx" }),
      b: kubeconfig({
        clusters: { c: { server: s.main, "certificate-authority": s.pki.ca.certFile } },
        users: { u: { token: "split" } },
      }),
    }),
  },
  {
    name: "merge-duplicate-cluster",
    kubeconfig: ["a", "b"],
    files: (s) => ({
      a: simple(s, { token: "first" }),
      b: simple(s, { token: "second" }, { server: s.named }),
    }),
  },
  {
    name: "merge-duplicate-user",
    kubeconfig: ["a", "b"],
    files: (s) => ({
      a: kubeconfig({ users: { u: { token: "user-a" } } }),
      b: simple(s, { token: "user-b" }),
    }),
  },
  {
    name: "merge-current-context-first-wins",
    kubeconfig: ["a", "b"],
    files: (s) => ({
      a: kubeconfig({ current: "two" }),
      b: kubeconfig({
        clusters: { c: { server: s.main, "certificate-authority": s.pki.ca.certFile } },
        users: { one: { token: "one" }, two: { token: "two" } },
        contexts: { one: { cluster: "c", user: "one" }, two: { cluster: "c", user: "two" } },
        current: "one",
      }),
    }),
  },
  {
    name: "merge-order-reversed",
    kubeconfig: ["b", "a"],
    files: (s) => ({
      a: simple(s, { token: "from-a" }),
      b: simple(s, { token: "from-b" }, {}, { namespace: "from-b" }),
    }),
  },
  {
    name: "merge-missing-file-skipped",
    kubeconfig: ["missing", "config"],
    files: (s) => ({ config: simple(s, { token: "after-missing" }) }),
  },
  {
    name: "merge-relative-paths-per-file",
    kubeconfig: ["config", "sub/users"],
    files: (s) => ({
      config: kubeconfig({
        clusters: { c: { server: s.main, "certificate-authority": s.pki.ca.certFile } },
        contexts: { ctx: { cluster: "c", user: "u" } },
        current: "ctx",
      }),
      "sub/tok": "sub-dir-token",
      "sub/users": kubeconfig({ users: { u: { tokenFile: "tok" } } }),
    }),
  },
  // Missing and broken contexts.
  {
    name: "context-missing",
    files: (s) => ({
      config: simple(s, { token: "x" }).replace(
        '"current-context":"ctx"',
        '"current-context":"nope"',
      ),
    }),
  },
  {
    name: "context-cluster-missing",
    files: (s) => ({ config: simple(s, { token: "x" }, {}, { cluster: "nope" }) }),
  },
  {
    name: "context-user-missing",
    files: (s) => ({ config: simple(s, { token: "x" }, {}, { user: "nope" }) }),
    differs: {
      why: "with no credentials kubectl prompts for a username on the terminal (EOF here); " +
        "dz-mcall never prompts and sends the request anonymously",
      ours: { ok: true },
      kubectl: { ok: false },
    },
  },
  {
    name: "no-current-context",
    files: (s) => ({ config: simple(s, { token: "x" }).replace(',"current-context":"ctx"', "") }),
  },
  { name: "broken-yaml", files: () => ({ config: "apiVersion: v1\nclusters: [\n" }) },
  // Namespaces.
  {
    name: "namespace-from-context",
    files: (s) => ({ config: simple(s, { token: "ns" }, {}, { namespace: "team-a" }) }),
  },
  // Servers: IPv6, path prefix, trailing slash, a name.
  { name: "ipv6", files: (s) => ({ config: simple(s, { token: "v6" }, { server: s.v6 }) }) },
  {
    name: "path-prefix",
    files: (s) => ({ config: simple(s, { token: "p" }, { server: `${s.main}/k8s/clusters/c1` }) }),
  },
  {
    name: "trailing-slash",
    files: (s) => ({ config: simple(s, { token: "slash" }, { server: `${s.main}/` }) }),
  },
  {
    name: "server-localhost-name",
    files: (s) => ({
      config: simple(s, { token: "lh" }, { server: s.main.replace("127.0.0.1", "localhost") }),
    }),
  },
  // Proxy, TLS server name, insecure.
  {
    name: "proxy-url",
    files: (s) => ({ config: simple(s, { token: "proxied" }, { "proxy-url": s.proxy }) }),
  },
  {
    name: "https-proxy-env-loopback-direct",
    env: (s) => ({ HTTPS_PROXY: s.proxy }),
    files: (s) => ({ config: simple(s, { token: "env-proxy" }) }),
  },
  {
    name: "tls-server-name",
    files: (s) => ({
      config: simple(s, { token: "sni" }, {
        server: s.named,
        "tls-server-name": "kubernetes.internal",
      }),
    }),
  },
  {
    name: "name-mismatch-without-tls-server-name",
    files: (s) => ({ config: simple(s, { token: "mismatch" }, { server: s.named }) }),
  },
  {
    name: "insecure-skip-tls-verify",
    files: (s) => ({
      config: simple(s, { token: "insecure" }, {
        "certificate-authority": undefined,
        "insecure-skip-tls-verify": true,
      }),
    }),
  },
  {
    name: "insecure-with-ca",
    files: (s) => ({ config: simple(s, { token: "i" }, { "insecure-skip-tls-verify": true }) }),
  },
  // Impersonation.
  { name: "as-user", files: (s) => ({ config: simple(s, { token: "adm", as: "bob" }) }) },
  {
    name: "as-user-groups",
    files: (s) => ({ config: simple(s, { token: "adm", as: "bob", "as-groups": ["dev", "ops"] }) }),
  },
  {
    name: "as-uid-extra",
    files: (s) => ({
      config: simple(s, {
        token: "adm",
        as: "bob",
        "as-uid": "1234",
        "as-user-extra": { "example.com/scopes": ["view", "edit"], reason: ["audit"] },
      }),
    }),
  },
  {
    name: "as-groups-without-user",
    files: (s) => ({ config: simple(s, { token: "adm", "as-groups": ["dev"] }) }),
  },
  // exec plugins.
  {
    name: "exec-absolute",
    files: (s) => ({ cred: plugin("abs"), config: simple(s, exec(`${s.dir}/cred`)) }),
  },
  {
    name: "exec-relative",
    files: (s) => ({ "bin/cred": plugin("rel"), config: simple(s, exec("./bin/cred")) }),
  },
  {
    name: "exec-env",
    files: (s) => ({
      cred: plugin("env-"),
      config: simple(s, exec(`${s.dir}/cred`, { env: [{ name: "EXTRA", value: "42" }] })),
    }),
  },
  {
    name: "exec-two-files-duplicate-cluster",
    kubeconfig: ["a", "b"],
    files: (s) => ({
      cred: plugin("dup"),
      a: simple(s, exec(`${s.dir}/cred`)),
      b: simple(s, { token: "b" }, { server: s.named }),
    }),
  },
  // In a pod.
  {
    name: "pod-with-kubeconfig",
    pod: true,
    files: (s) => ({ config: simple(s, { token: "kubeconfig-in-pod" }) }),
  },
  {
    name: "pod-without-kubeconfig",
    pod: true,
    kubeconfig: [],
    files: () => ({}),
    differs: {
      why: "kubectl reads the service account only at /var/run/secrets/kubernetes.io/" +
        "serviceaccount, absent on the test machine; our loader takes the directory as a parameter",
      ours: { ok: true },
      kubectl: { ok: false },
    },
  },
];
