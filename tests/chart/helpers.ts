/**
 * Helpers for the Helm chart tests: find helm through `scripts/k8s-tools.sh`, render the chart
 * with `helm template`, and pick objects out of the rendered documents.
 *
 * @module
 */
import { parse, parseAllDocuments } from "yaml";

/** The repository root. */
export const ROOT = new URL("../..", import.meta.url).pathname;
/** The chart directory. */
export const CHART_DIR = `${ROOT}chart`;

/** A rendered Kubernetes object, loosely typed: tests navigate it with `at()`. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

/** The output of one helm invocation. */
export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let helmBinPromise: Promise<string> | undefined;

/**
 * Returns the path of the helm binary, installing it on first use through `scripts/k8s-tools.sh`.
 *
 * @returns The absolute path of helm.
 * @throws {Error} When the install script fails.
 */
export function helmBin(): Promise<string> {
  helmBinPromise ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}scripts/k8s-tools.sh`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    if (!out.success) throw new Error(`scripts/k8s-tools.sh failed: ${stderr}`);
    const binDir = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    return `${binDir}/helm`;
  })();
  return helmBinPromise;
}

/**
 * Runs helm with the given arguments, offline (no kubeconfig).
 *
 * @param args The arguments after `helm`.
 * @returns Exit code, stdout and stderr.
 */
export async function helm(args: readonly string[]): Promise<HelmResult> {
  const out = await new Deno.Command(await helmBin(), {
    args: [...args],
    stdout: "piped",
    stderr: "piped",
    env: { KUBECONFIG: "/dev/null" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Options of one rendering. */
export interface RenderOptions {
  /** Release name (default `dz-mcall`). */
  release?: string;
  /** `--set` pairs. */
  set?: Record<string, string | number | boolean>;
  /** `--set-json` pairs. */
  setJson?: Record<string, unknown>;
  /** Values files, relative to the chart directory. */
  files?: readonly string[];
  /** Namespace (default `default`). */
  namespace?: string;
}

function valueArgs(opts: RenderOptions): string[] {
  const args: string[] = [];
  for (const f of opts.files ?? []) args.push("-f", `${CHART_DIR}/${f}`);
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push("--set", `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.setJson ?? {})) {
    args.push("--set-json", `${k}=${JSON.stringify(v)}`);
  }
  return args;
}

/**
 * Runs `helm template` and returns the raw result (for failure tests).
 *
 * @param opts Release name and values.
 * @returns The helm result.
 */
export function templateRaw(opts: RenderOptions = {}): Promise<HelmResult> {
  return helm([
    "template",
    opts.release ?? "dz-mcall",
    CHART_DIR,
    "--namespace",
    opts.namespace ?? "default",
    ...valueArgs(opts),
  ]);
}

/**
 * Renders the chart and parses every document.
 *
 * @param opts Release name and values.
 * @returns The rendered objects, empty documents dropped.
 * @throws {Error} When helm fails, with its stderr.
 */
export async function render(opts: RenderOptions = {}): Promise<K8sObject[]> {
  const res = await templateRaw(opts);
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return parseAllDocuments(res.stdout)
    .map((doc) => {
      if ("errors" in doc && doc.errors.length > 0) {
        throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
      }
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === "object");
}

/**
 * Runs `helm install --dry-run=client` and returns the NOTES text.
 *
 * @param opts Release name and values.
 * @returns The NOTES section of the output.
 */
export async function notes(opts: RenderOptions = {}): Promise<string> {
  const res = await helm([
    "install",
    opts.release ?? "dz-mcall",
    CHART_DIR,
    "--dry-run=client",
    "--namespace",
    opts.namespace ?? "default",
    ...valueArgs(opts),
  ]);
  if (res.code !== 0) throw new Error(`helm install --dry-run failed: ${res.stderr}`);
  const i = res.stdout.indexOf("NOTES:");
  return i < 0 ? "" : res.stdout.slice(i);
}

/**
 * Finds the one object of a kind (and name, when given).
 *
 * @param objects Rendered objects.
 * @param kind The kind.
 * @param name The name, when several objects share the kind.
 * @returns The object.
 * @throws {Error} When there is not exactly one match.
 */
export function find(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const hits = objects.filter((o) =>
    o.kind === kind && (name === undefined || o.metadata.name === name)
  );
  if (hits.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${hits.length}`);
  }
  return hits[0]!;
}

/**
 * Walks a path of keys and indexes through plain data.
 *
 * @param value The root.
 * @param path Keys and indexes.
 * @returns What is there, or undefined.
 */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = value;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/** The pod spec of the CronJob's or the Deployment's template. */
export function podTemplate(objects: readonly K8sObject[]): Record<string, unknown> {
  const cron = objects.find((o) => o.kind === "CronJob");
  const tpl = cron
    ? at(cron, "spec", "jobTemplate", "spec", "template")
    : at(find(objects, "Deployment"), "spec", "template");
  return tpl as Record<string, unknown>;
}

/** The first container of the workload's pod template. */
export function container(objects: readonly K8sObject[]): Record<string, unknown> {
  return at(podTemplate(objects), "spec", "containers", 0) as Record<string, unknown>;
}

/** The workload container's env as a name → entry map. */
export function envMap(objects: readonly K8sObject[]): Map<string, Record<string, unknown>> {
  const env = (container(objects).env ?? []) as Record<string, unknown>[];
  return new Map(env.map((e) => [String(e.name), e]));
}

/** The rendered mcall.yaml, parsed. */
export function mcallYaml(objects: readonly K8sObject[]): Record<string, unknown> {
  const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-config"));
  const text = at(cm, "data", "mcall.yaml");
  if (typeof text !== "string") throw new Error("no mcall.yaml in the config ConfigMap");
  return parse(text) as Record<string, unknown>;
}

/** One rule of a rendered Role (the shape of `rbac.authorization.k8s.io/v1` PolicyRule). */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * The rules of the Role the chart renders (`helm template`), for the given Lease name: the one
 * Role every test and bench binds the program to, so what they prove holds for what we ship.
 *
 * @param leaseName The Lease the program campaigns for (`election.leaseName`).
 * @returns The Role's rules.
 * @throws {Error} When helm fails or renders no Role.
 */
export async function chartRoleRules(leaseName = "dz-mcall-leader"): Promise<PolicyRule[]> {
  const role = find(await render({ set: { "election.leaseName": leaseName } }), "Role");
  const rules = role.rules as PolicyRule[] | undefined;
  if (!rules || rules.length === 0) throw new Error("the chart's Role has no rules");
  return rules;
}

/**
 * A reduced copy of `rules` without `verb` on `resource` (rules left without verbs are dropped),
 * to test how the program reports a Role that lacks it.
 *
 * @throws {Error} When no rule grants that verb (the reduction would prove nothing).
 */
export function withoutVerb(
  rules: readonly PolicyRule[],
  resource: string,
  verb: string,
): PolicyRule[] {
  if (!rules.some((r) => r.resources.includes(resource) && r.verbs.includes(verb))) {
    throw new Error(`no rule grants ${verb} on ${resource}`);
  }
  return rules.map((r) =>
    r.resources.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r
  ).filter((r) => r.verbs.length > 0);
}
