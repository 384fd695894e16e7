/**
 * Helpers for the chart's end-to-end test: run helm and kubectl against the test cluster, and
 * play kubelet for the release's Pods — resolve a container's environment as the kubelet does
 * (downward-API fieldRefs, Secret/ConfigMap refs, `$(VAR)` expansion), materialise its
 * ConfigMap/Secret volumes in a temp dir, mint a token for its ServiceAccount with the
 * TokenRequest API (bound to the Pod, as the kubelet does) and run the container's command as a
 * local {@linkcode McallProcess}.
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { dirname } from "node:path";
import { helmBin } from "../chart/helpers.ts";
import { FAKE_NODE, isApiException, updatePodStatus } from "./harness.ts";
import { McallProcess } from "./mcall_proc.ts";

/** The output of a helm or kubectl run. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function tool(bin: string, args: readonly string[], kubeconfig: string) {
  const out = await new Deno.Command(bin, {
    args: [...args],
    stdout: "piped",
    stderr: "piped",
    env: { KUBECONFIG: kubeconfig },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs helm against the cluster of `kubeconfig` (passed as `--kubeconfig` too). */
export async function helmAt(kubeconfig: string, args: readonly string[]): Promise<ToolResult> {
  return await tool(await helmBin(), [...args, "--kubeconfig", kubeconfig], kubeconfig);
}

/** Runs kubectl (next to helm, from `scripts/k8s-tools.sh`) against `kubeconfig` in `namespace`. */
export async function kubectlAt(
  kubeconfig: string,
  namespace: string,
  args: readonly string[],
): Promise<ToolResult> {
  const kubectl = `${dirname(await helmBin())}/kubectl`;
  return await tool(kubectl, ["--kubeconfig", kubeconfig, "-n", namespace, ...args], kubeconfig);
}

/** All logs of the pods matching `selector`, each line prefixed with its pod (stderr appended). */
export async function podLogsAt(
  kubeconfig: string,
  namespace: string,
  selector: string,
): Promise<string> {
  const r = await kubectlAt(kubeconfig, namespace, [
    "logs",
    "-l",
    selector,
    "--tail=-1",
    "--prefix",
    "--max-log-requests=20",
  ]);
  return r.stdout + r.stderr;
}

/** Throws with the tool's stderr unless it exited 0; returns stdout. */
export function ok(what: string, r: ToolResult): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// Environment, as the kubelet resolves it

/** `metadata.labels['key']` / `metadata.annotations['key']` → [map, key]. */
function fieldPathMap(path: string): ["labels" | "annotations", string] | undefined {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  return m ? [m[1] as "labels" | "annotations", m[2] as string] : undefined;
}

/** The value of a downward-API `fieldRef` for `pod` (the paths the kubelet supports for env). */
export function fieldRefValue(pod: k8s.V1Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const mapped = fieldPathMap(fieldPath);
  if (mapped) return meta[mapped[0]]?.[mapped[1]] ?? "";
  switch (fieldPath) {
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "";
    case "metadata.uid":
      return meta.uid ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    case "status.podIP":
      return pod.status?.podIP ?? "";
    case "status.hostIP":
      return pod.status?.hostIP ?? "";
  }
  throw new Error(`fieldRef ${fieldPath} is not supported by this fake kubelet`);
}

/**
 * Kubernetes' `$(VAR)` expansion (k8s.io/kubernetes/third_party/forked/golang/expansion):
 * `$(NAME)` becomes the value of an earlier variable, an unknown reference stays as written, and
 * `$$` is an escaped `$`.
 */
export function expandVars(text: string, vars: ReadonlyMap<string, string>): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "$" || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const end = text.indexOf(")", i + 2);
      if (end < 0) {
        out += text.slice(i);
        break;
      }
      const name = text.slice(i + 2, end);
      out += vars.has(name) ? vars.get(name) : `$(${name})`;
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

function decodeB64(text: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0)));
}

async function secretData(
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  const s = await core.readNamespacedSecret({ name, namespace });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decodeB64(v)]));
}

async function configMapData(
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  return (await core.readNamespacedConfigMap({ name, namespace })).data ?? {};
}

/**
 * The container's environment as the kubelet builds it: `envFrom`, then `env` in order, each
 * value `$(VAR)`-expanded against the variables defined before it. Secret and ConfigMap refs are
 * read with `adminKc` (the kubelet's own credentials). The kubelet's service-link variables
 * (`KUBERNETES_SERVICE_HOST`, ...) are deliberately not added: locally the process talks to the
 * API server through a kubeconfig.
 */
export async function resolveEnv(
  adminKc: k8s.KubeConfig,
  pod: k8s.V1Pod,
  container: k8s.V1Container,
): Promise<Map<string, string>> {
  const core = adminKc.makeApiClient(k8s.CoreV1Api);
  const ns = pod.metadata?.namespace ?? "";
  const vars = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const data = from.secretRef
      ? await secretData(core, ns, from.secretRef.name ?? "")
      : from.configMapRef
      ? await configMapData(core, ns, from.configMapRef.name ?? "")
      : {};
    for (const [k, v] of Object.entries(data)) vars.set(`${from.prefix ?? ""}${k}`, v);
  }
  for (const e of container.env ?? []) {
    const src = e.valueFrom;
    let value: string;
    if (!src) {
      value = expandVars(e.value ?? "", vars);
    } else if (src.fieldRef) {
      value = fieldRefValue(pod, src.fieldRef.fieldPath);
    } else if (src.secretKeyRef) {
      const data = await secretData(core, ns, src.secretKeyRef.name ?? "");
      value = data[src.secretKeyRef.key] ?? "";
    } else if (src.configMapKeyRef) {
      const data = await configMapData(core, ns, src.configMapKeyRef.name ?? "");
      value = data[src.configMapKeyRef.key] ?? "";
    } else {
      throw new Error(`env ${e.name}: unsupported valueFrom ${JSON.stringify(src)}`);
    }
    vars.set(e.name, value);
  }
  return vars;
}

// ---------------------------------------------------------------------------------------------
// Volumes

/**
 * Writes the container's ConfigMap, Secret and projected (ConfigMap/Secret) volume mounts under
 * `root` (`<root><mountPath>/<item path>`), honouring `items`. Volumes the kubelet fills with
 * other things (the service-account token projection, emptyDir) are skipped.
 *
 * @returns Maps a container path (e.g. `/etc/dz-mcall/mcall.yaml`) to the local one.
 */
export async function materializeVolumes(
  adminKc: k8s.KubeConfig,
  pod: k8s.V1Pod,
  container: k8s.V1Container,
  root: string,
): Promise<(path: string) => string> {
  const core = adminKc.makeApiClient(k8s.CoreV1Api);
  const ns = pod.metadata?.namespace ?? "";
  const mounts: string[] = [];
  const write = async (
    mountPath: string,
    data: Record<string, string>,
    items: k8s.V1KeyToPath[] | undefined,
  ) => {
    const entries = items
      ? items.map((it) => [it.path, data[it.key]] as const)
      : Object.entries(data);
    for (const [path, value] of entries) {
      if (value === undefined) throw new Error(`volume at ${mountPath}: key for ${path} missing`);
      const file = `${root}${mountPath}/${path}`;
      await Deno.mkdir(dirname(file), { recursive: true });
      await Deno.writeTextFile(file, value, { mode: 0o600 });
    }
  };
  for (const m of container.volumeMounts ?? []) {
    const vol = pod.spec?.volumes?.find((v) => v.name === m.name);
    if (!vol) throw new Error(`volumeMount ${m.name}: no such volume`);
    const sources: k8s.V1VolumeProjection[] = vol.projected?.sources ??
      (vol.configMap
        ? [{ configMap: vol.configMap }]
        : vol.secret
        ? [{ secret: { name: vol.secret.secretName ?? "", items: vol.secret.items ?? [] } }]
        : []);
    if (sources.some((s) => s.serviceAccountToken) || sources.length === 0) continue;
    for (const s of sources) {
      if (s.configMap) {
        await write(
          m.mountPath,
          await configMapData(core, ns, s.configMap.name ?? ""),
          s.configMap.items,
        );
      } else if (s.secret) {
        const items = s.secret.items?.length ? s.secret.items : undefined;
        await write(m.mountPath, await secretData(core, ns, s.secret.name ?? ""), items);
      } else {
        throw new Error(`volume ${vol.name}: unsupported projection ${JSON.stringify(s)}`);
      }
    }
    mounts.push(m.mountPath);
  }
  mounts.sort((a, b) => b.length - a.length);
  return (path: string) => {
    const mount = mounts.find((mp) => path === mp || path.startsWith(`${mp}/`));
    return mount ? `${root}${path}` : path;
  };
}

// ---------------------------------------------------------------------------------------------
// Tokens and kubeconfigs

/**
 * Mints a token for the Pod's ServiceAccount with the TokenRequest API, bound to the Pod as the
 * kubelet's projected token is, and writes a kubeconfig for exactly that identity.
 */
export async function podKubeconfig(
  adminKc: k8s.KubeConfig,
  pod: k8s.V1Pod,
  path: string,
): Promise<{ token: string; kubeconfigPath: string; kc: k8s.KubeConfig }> {
  const ns = pod.metadata?.namespace ?? "";
  const sa = pod.spec?.serviceAccountName ?? "default";
  const tr = await adminKc.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name: sa,
    namespace: ns,
    body: {
      spec: {
        audiences: [],
        expirationSeconds: 3600,
        ...(pod.metadata?.uid
          ? {
            boundObjectRef: {
              apiVersion: "v1",
              kind: "Pod",
              name: pod.metadata.name ?? "",
              uid: pod.metadata.uid,
            },
          }
          : {}),
      },
    },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${ns}/${sa} returned no token`);
  return { token, ...await writeTokenKubeconfig(adminKc, ns, token, path) };
}

/** Mints an unbound token for ServiceAccount `sa` and writes a kubeconfig for it. */
export async function serviceAccountKubeconfig(
  adminKc: k8s.KubeConfig,
  namespace: string,
  sa: string,
  path: string,
): Promise<{ token: string; kubeconfigPath: string; kc: k8s.KubeConfig }> {
  return await podKubeconfig(
    adminKc,
    { metadata: { namespace }, spec: { serviceAccountName: sa, containers: [] } },
    path,
  );
}

async function writeTokenKubeconfig(
  adminKc: k8s.KubeConfig,
  namespace: string,
  token: string,
  path: string,
): Promise<{ kubeconfigPath: string; kc: k8s.KubeConfig }> {
  const cluster = adminKc.getCurrentCluster();
  if (!cluster) throw new Error("admin kubeconfig has no current cluster");
  let caData = cluster.caData;
  if (!caData && cluster.caFile) caData = btoa(await Deno.readTextFile(cluster.caFile));
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "e2e",
      cluster: {
        server: cluster.server,
        ...(caData ? { "certificate-authority-data": caData } : {}),
        ...(cluster.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
      },
    }],
    users: [{ name: "sa", user: { token } }],
    contexts: [{ name: "e2e", context: { cluster: "e2e", user: "sa", namespace } }],
    "current-context": "e2e",
  };
  // JSON is YAML: client-node and kubectl both read it.
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return { kubeconfigPath: path, kc };
}

// ---------------------------------------------------------------------------------------------
// Pods

/** Binds a Pod to the fake node through the `binding` subresource, as the scheduler would. */
export async function bindPod(kc: k8s.KubeConfig, namespace: string, name: string) {
  try {
    await kc.makeApiClient(k8s.CoreV1Api).createNamespacedPodBinding({
      name,
      namespace,
      body: { metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: FAKE_NODE } },
    });
  } catch (e) {
    if (!isApiException(e, 409)) throw e; // already bound
  }
}

/**
 * Reports the Pod's only container terminated with `exitCode` (phase Succeeded for 0, else
 * Failed) through the status subresource, so the Job controller counts it. Retries 409.
 */
export async function setPodTerminated(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  exitCode: number,
): Promise<void> {
  await updatePodStatus(kc, namespace, name, (pod, now) => {
    const started = pod.status?.startTime ?? now;
    return {
      ...pod.status,
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      conditions: (pod.status?.conditions ?? []).map((c) =>
        c.type === "Ready" || c.type === "ContainersReady"
          ? { ...c, status: "False", reason: "PodCompleted", lastTransitionTime: now }
          : c
      ),
      containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image ?? "",
        imageID: "",
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? "Completed" : "Error",
            startedAt: started,
            finishedAt: now,
          },
        },
      })),
    };
  });
}

/** A container of a Pod prepared to run locally. */
export interface LocalContainer {
  /** The resolved environment (after the overrides). */
  env: Record<string, string>;
  /** The container's args with volume paths mapped to the local copies. */
  args: string[];
  /** The kubeconfig of the Pod's ServiceAccount token. */
  kubeconfigPath: string;
  /** Maps a container path to its local copy. */
  localPath: (path: string) => string;
}

/**
 * The entrypoint of the image (the Dockerfile's `ENTRYPOINT`, scripts/image.sh's config): the
 * program behind the launcher that blocks SIGUSR1 (native/nosigusr1.c).
 */
export const IMAGE_ENTRYPOINT: readonly string[] = [
  "/usr/local/bin/dz-mcall-nosigusr1",
  "/app/dz-mcall",
];

/**
 * Prepares the Pod's (first) container to run as a local process: its env as the kubelet resolves
 * it, its volumes under `dir`, and a kubeconfig for its ServiceAccount. `overrides` are added
 * last (and an empty `KUBERNETES_SERVICE_HOST`, so the program uses the kubeconfig).
 */
export async function prepareContainer(
  adminKc: k8s.KubeConfig,
  pod: k8s.V1Pod,
  dir: string,
  overrides: Record<string, string> = {},
): Promise<LocalContainer> {
  const container = pod.spec?.containers[0];
  if (!container) throw new Error(`pod ${pod.metadata?.name} has no container`);
  const command = container.command ?? IMAGE_ENTRYPOINT;
  if (JSON.stringify(command) !== JSON.stringify(IMAGE_ENTRYPOINT)) {
    throw new Error(`unexpected command ${JSON.stringify(command)}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const localPath = await materializeVolumes(adminKc, pod, container, dir);
  const vars = await resolveEnv(adminKc, pod, container);
  const env: Record<string, string> = {};
  for (const [k, v] of vars) env[k] = localPath(v);
  // The kubelet expands $(VAR) in args too.
  const args = (container.args ?? []).map((a) => localPath(expandVars(a, vars)));
  const { kubeconfigPath } = await podKubeconfig(adminKc, pod, `${dir}/kubeconfig`);
  Object.assign(env, { KUBECONFIG: kubeconfigPath, KUBERNETES_SERVICE_HOST: "" }, overrides);
  return { env, args, kubeconfigPath, localPath };
}

/** Starts the prepared container as the real program. */
export function startLocal(name: string, c: LocalContainer): McallProcess {
  return new McallProcess(name, c.args, c.env);
}
