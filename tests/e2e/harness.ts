/**
 * End-to-end test harness: a real Kubernetes API server for the tests.
 *
 * By default the first e2e test of a test module builds (once, cached) and starts `tests/testenv`
 * — embedded etcd + the real kube-apiserver (+ kube-controller-manager on demand) on 127.0.0.1 —
 * and every later e2e test of the same module shares it. Deno runs each test file in its own
 * isolate: the harness stops when that isolate ends (its stdin pipe closes), so each e2e file
 * starts its own (~3 s). Other modes, chosen by environment variables:
 *
 * - `DZ_E2E_KUBECONFIG=/path/to/kubeconfig` (optionally `DZ_E2E_CONTEXT=name`): use that cluster
 *   (kind, k3d, ...) and start nothing. Stopping/starting the API server is unavailable there, so
 *   tests that need it are skipped with a message.
 * - `DZ_E2E_CONTROL=http://127.0.0.1:PORT`: reuse a testenv that is already running (started by
 *   hand with `scripts/testenv.sh run -ignore-stdin`); its control URL is printed at startup.
 *
 * Skip policy: when the harness cannot be built because there is no Go toolchain
 * (`scripts/testenv.sh` exit code 3) e2e tests are registered as ignored and a LOUD message goes
 * to stderr — unless `REQUIRE_E2E=1`, then they fail. Any other build or start failure fails.
 *
 * Process hygiene: the supervisor exits when its stdin closes (so it dies with this process even
 * on SIGKILL) and its children carry PDEATHSIG; on normal exit an `unload` handler also sends it
 * SIGTERM. `DZ_E2E_KEEP=1` keeps the testenv work directory (logs) after the run.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { forceHttp1 } from "../../lib/kube/client_node.ts";
import { collectStderr, firstLine } from "../fakes/child_output.ts";

const TESTENV_SH = decodeURIComponent(
  new URL("../../scripts/testenv.sh", import.meta.url).pathname,
);

/** What the testenv supervisor reports (its ready line, `GET /status`). */
export interface TestEnvStatus {
  ready: boolean;
  kubeconfig: string;
  server: string;
  control?: string;
  version: string;
  dir?: string;
  logs?: string;
  apiserver?: string;
  controllers?: string;
  controllerManager?: string;
  pid?: number;
}

/** How the harness reached a cluster. */
export type HarnessMode = "testenv" | "reuse" | "external";

/** A running (or external) control plane shared by the e2e tests of this process. */
export interface Harness {
  /** `testenv`: started by this process; `reuse`: `DZ_E2E_CONTROL`; `external`: `DZ_E2E_KUBECONFIG`. */
  readonly mode: HarnessMode;
  /** Path of an admin kubeconfig file. */
  readonly kubeconfigPath: string;
  /** API server URL, e.g. `https://127.0.0.1:40123`. */
  readonly server: string;
  /** Kubernetes version (`v1.36.3` for testenv; from `/version` for an external cluster). */
  readonly version: string;
  /** Control endpoint of the testenv supervisor; undefined for an external cluster. */
  readonly control: string | undefined;
  /** Directory of the testenv logs (apiserver.log, controller-manager.log, etcd.log), if known. */
  readonly logs: string | undefined;
  /** True when the API server can be stopped and started (not for an external cluster). */
  readonly canControl: boolean;
  /** A fresh admin `KubeConfig`. */
  kubeConfig(): k8s.KubeConfig;
  /**
   * Stops the API server (etcd keeps the data); {@linkcode startApiServer} brings it back on the
   * same port. By default it is SIGKILLed: connections simply drop (crash / partition). With
   * `graceful: true` it gets SIGTERM and shuts down gracefully (GOAWAY to HTTP/2 clients). Deno
   * 2.9.6's node:http2 can crash on that GOAWAY, so clients must use HTTP/1.1: the program and
   * {@linkcode Harness.kubeConfig} do (`forceHttp1` in lib/kube/api.ts); a `KubeConfig` built by
   * hand needs `forceHttp1(kc)` before its first request.
   */
  stopApiServer(opts?: { graceful?: boolean }): Promise<void>;
  /** Starts the API server again on the same port and resolves once `/readyz` is ok. */
  startApiServer(): Promise<void>;
  /** Makes sure kube-controller-manager (job, cronjob, serviceaccount, gc, namespace...) runs. */
  ensureControllers(): Promise<void>;
  /** Current supervisor status (throws for an external cluster). */
  status(): Promise<TestEnvStatus>;
}

/** Thrown (and turned into an ignored test or a failure) when e2e cannot run here. */
export class E2EUnavailable extends Error {
  override name = "E2EUnavailable";
}

function env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? undefined : v;
}

/** True when `REQUIRE_E2E=1`: a missing toolchain fails e2e tests instead of skipping them. */
export function e2eRequired(): boolean {
  return env("REQUIRE_E2E") === "1" || env("REQUIRE_E2E") === "true";
}

let loudSkipPrinted = false;
function loudSkip(reason: string): void {
  if (loudSkipPrinted) return;
  loudSkipPrinted = true;
  const bar = "!".repeat(78);
  console.error(
    `\n${bar}\n!! E2E TESTS SKIPPED: ${reason}\n` +
      `!! Install Go >= 1.26 (scripts/testenv.sh builds the real kube-apiserver), or point\n` +
      `!! DZ_E2E_KUBECONFIG at a cluster. Set REQUIRE_E2E=1 to make this a failure.\n${bar}\n`,
  );
}

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Decides synchronously (at test registration) whether e2e tests can run: true with
 * `DZ_E2E_KUBECONFIG` / `DZ_E2E_CONTROL`, otherwise when `scripts/testenv.sh check` finds Go.
 */
export function e2eAvailability(): { ok: true } | { ok: false; reason: string } {
  if (availability) return availability;
  if (env("DZ_E2E_KUBECONFIG") || env("DZ_E2E_CONTROL")) return availability = { ok: true };
  try {
    const out = new Deno.Command("bash", {
      args: [TESTENV_SH, "check"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (out.code === 0) return availability = { ok: true };
    const msg = new TextDecoder().decode(out.stderr).trim();
    if (out.code === 3) return availability = { ok: false, reason: msg || "no Go toolchain" };
    return availability = {
      ok: false,
      reason: `scripts/testenv.sh check exited ${out.code}: ${msg}`,
    };
  } catch (e) {
    return availability = { ok: false, reason: `cannot run scripts/testenv.sh: ${e}` };
  }
}

async function controlCall(control: string, method: "GET" | "POST", path: string) {
  const res = await fetch(control + path, { method });
  const body = await res.text();
  if (!res.ok) throw new Error(`testenv ${method} ${path}: HTTP ${res.status}: ${body}`);
  return JSON.parse(body) as TestEnvStatus;
}

class HarnessImpl implements Harness {
  constructor(
    readonly mode: HarnessMode,
    readonly kubeconfigPath: string,
    readonly server: string,
    readonly version: string,
    readonly control: string | undefined,
    readonly logs: string | undefined,
    private readonly context: string | undefined,
  ) {}

  /** A harness started by the testenv supervisor (ours, or a running one to reuse). */
  static fromStatus(mode: "testenv" | "reuse", st: TestEnvStatus): HarnessImpl {
    return new HarnessImpl(
      mode,
      st.kubeconfig,
      st.server,
      st.version,
      st.control,
      st.logs,
      undefined,
    );
  }

  get canControl(): boolean {
    return this.control !== undefined;
  }

  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    if (this.context) kc.setCurrentContext(this.context);
    // HTTP/1.1 like the program: the test process must survive stopApiServer({ graceful: true })
    // too (an HTTP/2 GOAWAY crashes Deno 2.9.6; see forceHttp1 in lib/kube/api.ts).
    return forceHttp1(kc);
  }

  private requireControl(what: string): string {
    if (!this.control) {
      throw new E2EUnavailable(`${what} needs the testenv control endpoint (mode ${this.mode})`);
    }
    return this.control;
  }

  async stopApiServer(opts: { graceful?: boolean } = {}): Promise<void> {
    const path = opts.graceful ? "/apiserver/stop?mode=graceful" : "/apiserver/stop";
    const st = await controlCall(this.requireControl("stopApiServer"), "POST", path);
    if (st.apiserver !== "stopped") throw new Error(`apiserver still ${st.apiserver}`);
  }

  async startApiServer(): Promise<void> {
    const st = await controlCall(this.requireControl("startApiServer"), "POST", "/apiserver/start");
    if (!st.ready) throw new Error(`apiserver not ready after start: ${JSON.stringify(st)}`);
  }

  async ensureControllers(): Promise<void> {
    if (this.mode === "external") return; // a real cluster runs its controllers
    await controlCall(
      this.requireControl("ensureControllers"),
      "POST",
      "/controller-manager/start",
    );
  }

  status(): Promise<TestEnvStatus> {
    return controlCall(this.requireControl("status"), "GET", "/status");
  }
}

let harnessPromise: Promise<Harness> | undefined;
let supervisor: Deno.ChildProcess | undefined;

/**
 * The shared control plane of this test module: started lazily on first use (building the
 * testenv binary if needed), or reused / external per the environment variables above.
 * Rejects with {@linkcode E2EUnavailable} when there is no Go toolchain.
 */
export function harness(): Promise<Harness> {
  harnessPromise ??= startHarness();
  return harnessPromise;
}

async function startHarness(): Promise<Harness> {
  const external = env("DZ_E2E_KUBECONFIG");
  if (external) {
    const context = env("DZ_E2E_CONTEXT");
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(external);
    if (context) kc.setCurrentContext(context);
    const server = kc.getCurrentCluster()?.server ?? "";
    let version = "unknown";
    try {
      const v = await kc.makeApiClient(k8s.VersionApi).getCode();
      version = v.gitVersion;
    } catch (e) {
      throw new Error(`DZ_E2E_KUBECONFIG=${external}: cannot reach ${server}: ${e}`);
    }
    return new HarnessImpl("external", external, server, version, undefined, undefined, context);
  }

  const reuse = env("DZ_E2E_CONTROL");
  if (reuse) {
    const st = await controlCall(reuse.replace(/\/+$/, ""), "GET", "/status");
    return HarnessImpl.fromStatus("reuse", st);
  }

  const avail = e2eAvailability();
  if (!avail.ok) throw new E2EUnavailable(avail.reason);

  const build = await new Deno.Command("bash", {
    args: [TESTENV_SH, "build"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (build.code === 3) throw new E2EUnavailable("no Go toolchain (scripts/testenv.sh exit 3)");
  if (build.code !== 0) {
    throw new Error(`scripts/testenv.sh build failed with exit code ${build.code}`);
  }
  const bin = new TextDecoder().decode(build.stdout).trim().split("\n").pop() ?? "";

  const args: string[] = [];
  if (env("DZ_E2E_KEEP") === "1") args.push("-keep");
  if (env("DZ_E2E_CONTROLLERS") === "1") args.push("-controllers");
  const child = new Deno.Command(bin, {
    args,
    stdin: "piped", // the supervisor exits when this pipe closes, i.e. when we die
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  supervisor = child;
  globalThis.addEventListener("unload", killSupervisor);

  // Collect the supervisor's stderr: shown if it fails, echoed with DZ_E2E_VERBOSE=1.
  const stderr = collectStderr(child, 20_000, env("DZ_E2E_VERBOSE") === "1");
  const line = await firstLine(child, 180_000);
  if (line === undefined) {
    const status = await child.status;
    throw new Error(
      `testenv exited (code ${status.code}) before it was ready; its stderr:\n${stderr.text()}`,
    );
  }
  const st = JSON.parse(line) as TestEnvStatus;
  if (!st.ready) throw new Error(`testenv not ready: ${line}`);
  return HarnessImpl.fromStatus("testenv", st);
}

function killSupervisor(): void {
  const child = supervisor;
  supervisor = undefined;
  if (!child) return;
  try {
    child.kill("SIGTERM");
  } catch { /* already exited */ }
}

/**
 * Stops the testenv started by this process (SIGTERM, then waits for it to exit). Normally not
 * needed: the `unload` handler and the stdin contract take care of it.
 */
export async function stopHarness(): Promise<void> {
  const child = supervisor;
  harnessPromise = undefined;
  if (!child) return;
  killSupervisor();
  await child.status;
}

/** Stops the shared API server (see {@linkcode Harness.stopApiServer}). */
export async function stopApiServer(opts: { graceful?: boolean } = {}): Promise<void> {
  await (await harness()).stopApiServer(opts);
}

/** Starts the shared API server again and waits for `/readyz` (see {@linkcode Harness.startApiServer}). */
export async function startApiServer(): Promise<void> {
  await (await harness()).startApiServer();
}

// ---------------------------------------------------------------------------------------------
// Errors and polling

/** True if `e` is a client-node `ApiException` (optionally with the given HTTP code). */
export function isApiException(e: unknown, code?: number): e is k8s.ApiException<unknown> {
  return e instanceof k8s.ApiException && (code === undefined || e.code === code);
}

/** Resolves to the error `fn` rejects with; fails if it resolves. */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({ message: "expected the call to be rejected" });
}

/**
 * The API server's own message for a failed call (the `Status.message` in the body, e.g.
 * `configmaps is forbidden: User "..." cannot create resource "configmaps" ...`), falling back
 * to the error text.
 */
export function apiErrorMessage(e: unknown): string {
  if (e instanceof k8s.ApiException) {
    let body: unknown = e.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch { /* keep the text */ }
    }
    if (body && typeof body === "object" && "message" in body) {
      return `HTTP ${e.code}: ${String((body as { message: unknown }).message)}`;
    }
    return `HTTP ${e.code}: ${typeof body === "string" ? body : e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Options for {@linkcode waitFor}. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/** Polls `fn` until it returns a value other than `undefined`/`false`; throws after the timeout. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
  throw new Error(
    `waitFor: ${opts.message ?? "condition"} not met within ${timeoutMs} ms` +
      (lastErr ? `; last error: ${apiErrorMessage(lastErr)}` : ""),
  );
}

// ---------------------------------------------------------------------------------------------
// Namespaces

function namespaceName(testName: string): string {
  const slug = testName.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, 40).replace(/-+$/, "");
  const rand = crypto.randomUUID().slice(0, 6);
  return `e2e-${slug || "test"}-${rand}`;
}

/**
 * Creates a fresh namespace (plus its `default` ServiceAccount, which the ServiceAccount
 * admission plugin needs for Pods when no controller-manager runs) and returns its name.
 */
export async function createNamespace(kc: k8s.KubeConfig, hint = "test"): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = namespaceName(hint);
  await core.createNamespace({
    body: { metadata: { name, labels: { "app.kubernetes.io/part-of": "dz-mcall-e2e" } } },
  });
  try {
    await core.createNamespacedServiceAccount({
      namespace: name,
      body: { metadata: { name: "default" } },
    });
  } catch (e) {
    if (!isApiException(e, 409)) throw e;
  }
  return name;
}

/** Deletes a namespace (does not wait; without the namespace controller it stays Terminating). */
export async function deleteNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name });
  } catch (e) {
    if (!isApiException(e, 404)) throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Service accounts

/** An identity minted by {@linkcode withServiceAccount}. */
export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  /** `system:serviceaccount:<ns>:<name>` */
  username: string;
  /** Bearer token from the TokenRequest API. */
  token: string;
  /** A kubeconfig file for exactly this identity (for a child process: `KUBECONFIG=...`). */
  kubeconfigPath: string;
  /** The same identity as a client-node `KubeConfig`. */
  kc: k8s.KubeConfig;
}

/** Options for {@linkcode withServiceAccount}. */
export interface ServiceAccountOptions {
  /** Token lifetime (default 3600; the API server enforces at least 600). */
  expirationSeconds?: number;
  /** Directory for the kubeconfig file (default: a new temp dir). */
  dir?: string;
}

function b64(text: string): string {
  return btoa(text);
}

/**
 * Creates ServiceAccount `name` + Role `name` (with `rules`) + RoleBinding `name` in `namespace`,
 * mints a token with the TokenRequest API, waits until RBAC grants the first rule, and writes a
 * kubeconfig for exactly that identity.
 */
export async function withServiceAccount(
  adminKc: k8s.KubeConfig,
  namespace: string,
  name: string,
  rules: k8s.V1PolicyRule[],
  opts: ServiceAccountOptions = {},
): Promise<ServiceAccountIdentity> {
  const core = adminKc.makeApiClient(k8s.CoreV1Api);
  const rbac = adminKc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  });
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const username = `system:serviceaccount:${namespace}:${name}`;

  // RBAC is served from informer caches: wait until the new binding is visible.
  const first = rules.find((r) => r.verbs.length > 0);
  if (first) {
    const authz = adminKc.makeApiClient(k8s.AuthorizationV1Api);
    await waitFor(async () => {
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: username,
            groups: [
              "system:serviceaccounts",
              `system:serviceaccounts:${namespace}`,
              "system:authenticated",
            ],
            resourceAttributes: {
              namespace,
              verb: first.verbs[0] === "*" ? "get" : first.verbs[0] ?? "get",
              group: first.apiGroups?.[0] === "*" ? "" : first.apiGroups?.[0] ?? "",
              resource: first.resources?.[0] === "*" ? "configmaps" : first.resources?.[0] ?? "",
            },
          },
        },
      });
      return r.status?.allowed === true;
    }, { timeoutMs: 10_000, message: `RBAC for ${username}` });
  }

  const cluster = adminKc.getCurrentCluster();
  if (!cluster) throw new Error("admin kubeconfig has no current cluster");
  let caData = cluster.caData;
  if (!caData && cluster.caFile) caData = b64(await Deno.readTextFile(cluster.caFile));
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "dz-e2e-sa-" });
  const kubeconfigPath = `${dir}/${namespace}.${name}.kubeconfig`;
  const yaml = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: e2e",
    "  cluster:",
    `    server: ${JSON.stringify(cluster.server)}`,
    caData ? `    certificate-authority-data: ${caData}` : "",
    cluster.skipTLSVerify ? "    insecure-skip-tls-verify: true" : "",
    "users:",
    `- name: ${JSON.stringify(username)}`,
    "  user:",
    `    token: ${JSON.stringify(token)}`,
    "contexts:",
    "- name: e2e",
    "  context:",
    "    cluster: e2e",
    `    user: ${JSON.stringify(username)}`,
    `    namespace: ${namespace}`,
    "current-context: e2e",
    "",
  ].filter((l, i, a) => l !== "" || i === a.length - 1).join("\n");
  await Deno.writeTextFile(kubeconfigPath, yaml, { mode: 0o600 });
  const kc = forceHttp1(new k8s.KubeConfig());
  kc.loadFromFile(kubeconfigPath);
  return { namespace, name, username, token, kubeconfigPath, kc };
}

// ---------------------------------------------------------------------------------------------
// Fake kubelet

/** The node name fake pods are bound to (no scheduler or kubelet is involved). */
export const FAKE_NODE = "dz-e2e-fake-node";

/** Options for {@linkcode startFakePod}. */
export interface FakePodOptions {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The process that "is" the pod: when it exits the Pod object is deleted. */
  child?: Deno.ChildProcess;
  /** Initial readiness (default true). */
  ready?: boolean;
  nodeName?: string;
  /** Pod IP reported in status (default 127.0.0.1). */
  podIP?: string;
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
}

/** A Pod object driven by the test instead of a kubelet. */
export interface FakePod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Sets the Ready / ContainersReady conditions (status subresource). */
  setReady(ready: boolean): Promise<void>;
  /**
   * Deletes the Pod with a grace period: it gets `deletionTimestamp` and, with no kubelet to
   * finish the job, stays Terminating. With `signal`, the child process also receives it (as a
   * kubelet would send SIGTERM).
   */
  terminate(opts?: { gracePeriodSeconds?: number; signal?: Deno.Signal }): Promise<void>;
  /** Deletes the Pod object at once (grace period 0). Ignores 404. */
  remove(): Promise<void>;
  /** Resolves when the child has exited and the Pod object was removed (if a child was given). */
  readonly done: Promise<void>;
  /** The current Pod object. */
  get(): Promise<k8s.V1Pod>;
}

function podConditions(ready: boolean, now: Date): k8s.V1PodCondition[] {
  const r = ready ? "True" : "False";
  return [
    { type: "PodScheduled", status: "True", lastTransitionTime: now },
    { type: "Initialized", status: "True", lastTransitionTime: now },
    { type: "ContainersReady", status: r, lastTransitionTime: now },
    { type: "Ready", status: r, lastTransitionTime: now },
  ];
}

/**
 * Read-modify-write of a pod's status subresource, as a kubelet does it: `mutate` builds the new
 * status from the current pod; a 409 (someone else wrote first) re-reads and tries again.
 */
export async function updatePodStatus(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  mutate: (pod: k8s.V1Pod, now: Date) => k8s.V1PodStatus,
): Promise<k8s.V1Pod> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (let attempt = 0;; attempt++) {
    const pod = await core.readNamespacedPodStatus({ name, namespace });
    pod.status = mutate(pod, new Date());
    try {
      return await core.replaceNamespacedPodStatus({ name, namespace, body: pod });
    } catch (e) {
      if (!isApiException(e, 409) || attempt >= 10) throw e;
    }
  }
}

/** Sets a pod's Running phase and Ready condition through the status subresource (retries 409). */
export function setPodReady(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  ready: boolean,
  podIP = "127.0.0.1",
): Promise<k8s.V1Pod> {
  return updatePodStatus(kc, namespace, name, (pod, now) => {
    const started = pod.status?.startTime ?? now;
    return {
      ...pod.status,
      phase: "Running",
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: started,
      conditions: podConditions(ready, now),
      containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image ?? "",
        imageID: "",
        ready,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: started } },
      })),
    };
  });
}

/**
 * Deletes a pod with a grace period. Without a kubelet the Pod keeps its `deletionTimestamp`
 * and stays Terminating until deleted with grace 0 (see {@linkcode FakePod.remove}).
 */
export async function deletePodWithGrace(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  gracePeriodSeconds = 30,
): Promise<void> {
  try {
    await kc.makeApiClient(k8s.CoreV1Api).deleteNamespacedPod({
      name,
      namespace,
      gracePeriodSeconds,
    });
  } catch (e) {
    if (!isApiException(e, 404)) throw e;
  }
}

/**
 * Plays kubelet for one process: creates Pod `name` bound to a fake node, reports it Running
 * (Ready by default) through the status subresource, and deletes it when `child` exits.
 */
export async function startFakePod(kc: k8s.KubeConfig, opts: FakePodOptions): Promise<FakePod> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const { namespace, name } = opts;
  const metadata: k8s.V1ObjectMeta = { name, namespace, labels: opts.labels ?? {} };
  if (opts.annotations) metadata.annotations = opts.annotations;
  const spec: k8s.V1PodSpec = {
    nodeName: opts.nodeName ?? FAKE_NODE,
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: opts.terminationGracePeriodSeconds ?? 30,
    containers: [{ name: "main", image: "dz-mcall.invalid/fake-kubelet:e2e" }],
  };
  if (opts.serviceAccountName) spec.serviceAccountName = opts.serviceAccountName;
  const created = await core.createNamespacedPod({ namespace, body: { metadata, spec } });
  await setPodReady(kc, namespace, name, opts.ready ?? true, opts.podIP);

  const remove = async () => {
    try {
      await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    } catch (e) {
      if (!isApiException(e, 404)) throw e;
    }
  };
  const child = opts.child;
  const done = child
    ? child.status.then(() => remove()).catch((e) => {
      // The API server may be stopped (or gone) when the process exits; not fatal.
      console.error(
        `fake kubelet: could not delete pod ${namespace}/${name}: ${apiErrorMessage(e)}`,
      );
    })
    : Promise.resolve();

  return {
    namespace,
    name,
    uid: created.metadata?.uid ?? "",
    setReady: async (ready) => {
      await setPodReady(kc, namespace, name, ready, opts.podIP);
    },
    terminate: async ({ gracePeriodSeconds = 30, signal } = {}) => {
      await deletePodWithGrace(kc, namespace, name, gracePeriodSeconds);
      if (signal && child) {
        try {
          child.kill(signal);
        } catch { /* already exited */ }
      }
    },
    remove,
    done,
    get: () => core.readNamespacedPod({ name, namespace }),
  };
}

// ---------------------------------------------------------------------------------------------
// Test registration

/** What an e2e test body receives. */
export interface E2E {
  readonly harness: Harness;
  /** A fresh namespace, deleted after the test (pass or fail). */
  readonly ns: string;
  /** Admin KubeConfig (system:masters on testenv). */
  readonly kc: k8s.KubeConfig;
  /** Path of the admin kubeconfig file. */
  readonly kubeconfigPath: string;
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly rbac: k8s.RbacAuthorizationV1Api;
  readonly batch: k8s.BatchV1Api;
  readonly t: Deno.TestContext;
  /** Registers a cleanup, run after the test in reverse order (errors are logged, not thrown). */
  defer(fn: () => unknown): void;
  /** {@linkcode withServiceAccount} in this test's namespace; the kubeconfig lives in a temp dir removed after the test. */
  withServiceAccount(
    name: string,
    rules: k8s.V1PolicyRule[],
    opts?: ServiceAccountOptions,
  ): Promise<ServiceAccountIdentity>;
  /** {@linkcode startFakePod} in this test's namespace; the Pod is removed after the test. */
  startFakePod(opts: Omit<FakePodOptions, "namespace">): Promise<FakePod>;
  /** A temp dir removed after the test. */
  tempDir(): Promise<string>;
}

/** Options for {@linkcode e2eTest}. */
export interface E2ETestOptions {
  /** Needs kube-controller-manager (Job → Pod etc.); started on demand. */
  controllers?: boolean;
  /** Needs to stop/start the API server; skipped with a message against an external cluster. */
  needsControl?: boolean;
  /** Fails the test if it runs longer (default 120 s). */
  timeoutMs?: number;
  ignore?: boolean;
  only?: boolean;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers an e2e test: `Deno.test` with op/resource sanitizers off (client-node keeps
 * connections and timers), the shared {@linkcode harness}, a fresh namespace and cleanups.
 * Without Go the test is ignored with a loud message (or fails when `REQUIRE_E2E=1`).
 */
export function e2eTest(
  name: string,
  fn: (env: E2E) => Promise<void>,
  opts: E2ETestOptions = {},
): void {
  const base = { name, sanitizeOps: false, sanitizeResources: false, sanitizeExit: true };
  const avail = e2eAvailability();
  if (!avail.ok) {
    if (e2eRequired()) {
      Deno.test({
        ...base,
        fn: () => {
          throw new Error(`REQUIRE_E2E=1 but e2e cannot run: ${avail.reason}`);
        },
      });
    } else {
      loudSkip(avail.reason);
      Deno.test({ ...base, ignore: true, fn: () => {} });
    }
    return;
  }
  if (opts.needsControl && env("DZ_E2E_KUBECONFIG")) {
    console.error(
      `e2e: "${name}" skipped: it stops/starts the API server, impossible with DZ_E2E_KUBECONFIG`,
    );
    Deno.test({ ...base, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({
    ...base,
    ignore: opts.ignore ?? false,
    only: opts.only ?? false,
    fn: async (t) => {
      const h = await harness();
      if (opts.controllers) await h.ensureControllers();
      const kc = h.kubeConfig();
      const cleanups: Array<() => unknown> = [];
      const ns = await createNamespace(kc, name);
      cleanups.push(() => deleteNamespace(h.kubeConfig(), ns));
      const tempDir = async () => {
        const d = await Deno.makeTempDir({ prefix: "dz-e2e-" });
        cleanups.push(() => Deno.remove(d, { recursive: true }));
        return d;
      };
      const ctx: E2E = {
        harness: h,
        ns,
        kc,
        kubeconfigPath: h.kubeconfigPath,
        core: kc.makeApiClient(k8s.CoreV1Api),
        coordination: kc.makeApiClient(k8s.CoordinationV1Api),
        rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
        batch: kc.makeApiClient(k8s.BatchV1Api),
        t,
        defer: (f) => void cleanups.push(f),
        withServiceAccount: async (saName, rules, saOpts = {}) =>
          withServiceAccount(kc, ns, saName, rules, {
            dir: saOpts.dir ?? await tempDir(),
            ...saOpts,
          }),
        startFakePod: async (podOpts) => {
          const pod = await startFakePod(kc, { ...podOpts, namespace: ns });
          cleanups.push(() => pod.remove());
          return pod;
        },
        tempDir,
      };
      try {
        await withTimeout(fn(ctx), opts.timeoutMs ?? 120_000, `e2e test "${name}"`);
      } finally {
        // A test may leave the API server stopped; bring it back for the next test.
        if (h.canControl) {
          const st = await h.status().catch(() => undefined);
          if (st && st.apiserver !== "running") await h.startApiServer();
        }
        for (const c of cleanups.reverse()) {
          try {
            await c();
          } catch (e) {
            console.error(`e2e cleanup in "${name}": ${apiErrorMessage(e)}`);
          }
        }
      }
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Real node (tests/testenv -node): containerd + kube-scheduler + kubelet + kube-proxy

const NODE_DEPS_SH = decodeURIComponent(
  new URL("../../scripts/node-deps.sh", import.meta.url).pathname,
);

/** The `node` object of a `-node` supervisor's status (see tests/testenv/README.md). */
export interface NodeStatus {
  /** Node name (`dz-testenv-node`). */
  name: string;
  /** The API server's and kubelet's address: a /32 on `lo`, reachable from pods. */
  address: string;
  /** containerd's socket (`ctr --address <this> --namespace k8s.io ...`). */
  containerd: string;
  /** A ready `ctr` command line prefix for the node's containerd (namespace k8s.io). */
  ctr: string;
  /** Node state dir (containerd, kubelet); removed when the node stops. */
  root: string;
  podCIDR: string;
  bridge: string;
  /** Images imported at start: the sandbox (pause) image and a busybox image. */
  images: string[];
  /** `running` or `stopped`. */
  state: string;
  readyAfter?: string;
  /** The node's reaper: sweeps the host when the supervisor dies (even by SIGKILL). */
  reaperPid: number;
}

/** The status of a `-node` supervisor. */
export interface NodeTestEnvStatus extends TestEnvStatus {
  node: NodeStatus;
}

/** A harness whose API server has a real node: pods are scheduled and run in containers. */
export interface NodeHarness extends Harness {
  readonly node: NodeStatus;
  /** `dz-testenv.local/busybox:latest` (sh, nc, sleep, ...): use with `imagePullPolicy: Never`. */
  readonly busyboxImage: string;
  /**
   * Imports an image archive (OCI layout or `docker save` tar; absolute path) into the node's
   * containerd, namespace `k8s.io`. Names come from the archive (`io.containerd.image.name`, or a
   * full reference in `org.opencontainers.image.ref.name`); `baseName` is ctr's `--base-name`.
   * Returns ctr's output.
   */
  importImage(path: string, opts?: { baseName?: string }): Promise<string>;
}

let nodeAvail: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Whether a real node can run here: the testenv toolchain (see {@linkcode e2eAvailability}), root,
 * and the Debian packages of `scripts/node-deps.sh` (`check` exits 0). True with `DZ_E2E_CONTROL`
 * (a running `-node` supervisor is reused).
 */
export function nodeAvailability(): { ok: true } | { ok: false; reason: string } {
  if (nodeAvail) return nodeAvail;
  if (env("DZ_E2E_CONTROL")) return nodeAvail = { ok: true };
  if (env("DZ_E2E_KUBECONFIG")) {
    return nodeAvail = { ok: false, reason: "DZ_E2E_KUBECONFIG is set: no testenv node" };
  }
  const base = e2eAvailability();
  if (!base.ok) return nodeAvail = base;
  if (Deno.uid() !== 0) return nodeAvail = { ok: false, reason: "a real node needs root" };
  const out = new Deno.Command("bash", { args: [NODE_DEPS_SH, "check"], stderr: "piped" })
    .outputSync();
  if (out.code !== 0) {
    const msg = new TextDecoder().decode(out.stderr).trim();
    return nodeAvail = {
      ok: false,
      reason: msg || `scripts/node-deps.sh check exited ${out.code}`,
    };
  }
  return nodeAvail = { ok: true };
}

/** A supervisor process started by {@linkcode startTestEnv}. */
export interface TestEnvProcess {
  /** Its ready line. */
  readonly status: TestEnvStatus;
  readonly child: Deno.ChildProcess;
  /** SIGTERM, then waits for it to exit (it cleans up first); returns its stderr. */
  stop(): Promise<string>;
  /** SIGKILL (no cleanup: a crash), then waits for it to exit. */
  kill(): Promise<void>;
}

/**
 * Starts a testenv supervisor with `args` (e.g. `["-node"]`) and waits for its ready line. The
 * caller owns it (stdin stays open until {@linkcode TestEnvProcess.stop}; when this process dies
 * the pipe closes and the supervisor goes too).
 */
export async function startTestEnv(args: string[], timeoutMs = 180_000): Promise<TestEnvProcess> {
  const build = await new Deno.Command("bash", {
    args: [TESTENV_SH, "build"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (build.code === 3) throw new E2EUnavailable("no Go toolchain (scripts/testenv.sh exit 3)");
  if (build.code !== 0) throw new Error(`scripts/testenv.sh build exited ${build.code}`);
  const bin = new TextDecoder().decode(build.stdout).trim().split("\n").pop() ?? "";
  const keep = env("DZ_E2E_KEEP") === "1" ? ["-keep"] : [];
  const child = new Deno.Command(bin, {
    args: [...keep, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collectStderr(child, 50_000, env("DZ_E2E_VERBOSE") === "1");
  const line = await firstLine(child, timeoutMs);
  if (line === undefined) {
    const st = await child.status;
    await stderr.done;
    throw new Error(
      `testenv ${args.join(" ")} exited (code ${st.code}) before ready:\n${stderr.text()}`,
    );
  }
  const status = JSON.parse(line) as TestEnvStatus;
  const onUnload = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  };
  globalThis.addEventListener("unload", onUnload);
  return {
    status,
    child,
    stop: async () => {
      globalThis.removeEventListener("unload", onUnload);
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await stderr.done;
      return stderr.text();
    },
    kill: async () => {
      globalThis.removeEventListener("unload", onUnload);
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

class NodeHarnessImpl extends HarnessImpl implements NodeHarness {
  readonly busyboxImage: string;
  constructor(mode: "testenv" | "reuse", st: NodeTestEnvStatus) {
    super(mode, st.kubeconfig, st.server, st.version, st.control, st.logs, undefined);
    this.node = st.node;
    this.busyboxImage = st.node.images.find((i) => i.includes("/busybox:")) ?? "";
  }
  readonly node: NodeStatus;

  async importImage(path: string, opts: { baseName?: string } = {}): Promise<string> {
    const q = new URLSearchParams({ path });
    if (opts.baseName) q.set("baseName", opts.baseName);
    const res = await fetch(`${this.control}/node/import?${q}`, { method: "POST" });
    const body = await res.json() as { imported?: string; error?: string };
    if (!res.ok) throw new Error(`import ${path}: ${body.error ?? res.status}`);
    return body.imported ?? "";
  }
}

let nodeHarnessPromise: Promise<NodeHarness> | undefined;
let nodeProcess: TestEnvProcess | undefined;

/**
 * The shared real-node harness of this test module (separate from {@linkcode harness}): a
 * `-node` supervisor (control plane + controllers + node), started on first use; or, with
 * `DZ_E2E_CONTROL`, a running `-node` supervisor. One node per machine (the supervisor holds a
 * lock). Rejects with {@linkcode E2EUnavailable} when {@linkcode nodeAvailability} says no.
 */
export function nodeHarness(): Promise<NodeHarness> {
  nodeHarnessPromise ??= (async () => {
    const reuse = env("DZ_E2E_CONTROL");
    if (reuse) {
      const st = await controlCall(reuse.replace(/\/+$/, ""), "GET", "/status");
      if (!("node" in st)) throw new E2EUnavailable(`DZ_E2E_CONTROL=${reuse} has no node`);
      return new NodeHarnessImpl("reuse", st as NodeTestEnvStatus);
    }
    const avail = nodeAvailability();
    if (!avail.ok) throw new E2EUnavailable(avail.reason);
    nodeProcess = await startTestEnv(["-node"]);
    return new NodeHarnessImpl("testenv", nodeProcess.status as NodeTestEnvStatus);
  })();
  return nodeHarnessPromise;
}

/** Stops the node harness started by this process (the node cleans the host up first). */
export async function stopNodeHarness(): Promise<void> {
  const p = nodeProcess;
  nodeProcess = undefined;
  nodeHarnessPromise = undefined;
  if (p) await p.stop();
}

/**
 * Registers a test that needs a real node, with the e2e skip policy: when
 * {@linkcode nodeAvailability} says no, the test is ignored with a loud message, or fails when
 * `REQUIRE_E2E=1`. The body gets the shared {@linkcode nodeHarness} (or nothing, with
 * `ownNode: true`, for tests that start their own supervisor with {@linkcode startTestEnv}).
 */
export function nodeTest(
  name: string,
  fn: (h: NodeHarness | undefined, t: Deno.TestContext) => Promise<void>,
  opts: { ownNode?: boolean; timeoutMs?: number } = {},
): void {
  const base = { name, sanitizeOps: false, sanitizeResources: false, sanitizeExit: true };
  const avail = nodeAvailability();
  if (!avail.ok) {
    if (e2eRequired()) {
      Deno.test({
        ...base,
        fn: () => {
          throw new Error(`REQUIRE_E2E=1 but the real-node e2e cannot run: ${avail.reason}`);
        },
      });
    } else {
      loudSkip(`real node unavailable: ${avail.reason} (run scripts/node-deps.sh as root)`);
      Deno.test({ ...base, ignore: true, fn: () => {} });
    }
    return;
  }
  Deno.test({
    ...base,
    fn: async (t) => {
      const h = opts.ownNode ? undefined : await nodeHarness();
      await withTimeout(fn(h, t), opts.timeoutMs ?? 180_000, `node test "${name}"`);
    },
  });
}
