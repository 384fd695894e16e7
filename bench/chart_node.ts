/**
 * What the real-node benchmarks (`cronround`, `podmem`) share: the real node (tests/testenv
 * `-node`: a real kubelet, containerd and runc), our image built by `scripts/image.sh` and imported
 * into it, and our chart installed by helm into a fresh `restricted` Pod Security namespace, as
 * `tests/e2e/realnode_test.ts` drives them. Run them under `flock /tmp/dz-realnode.lock` (one real
 * node per machine).
 *
 * @module
 */
import type * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type NodeHarness, nodeHarness, stopNodeHarness } from "../tests/e2e/harness.ts";
import { helmAt, kubectlAt, ok, podLogsAt } from "../tests/e2e/release_pods.ts";
import { buildImage } from "../tests/e2e/real_node.ts";

const CHART = decodeURIComponent(new URL("../chart", import.meta.url).pathname);
/** The guide's release name: the CronJob, the app label and the Lease are all `dz-mcall…`. */
export const RELEASE = "dz-mcall";

/** The chart installed on the real node, in its own namespace. */
export interface ChartNode {
  readonly node: NodeHarness;
  readonly kc: k8s.KubeConfig;
  readonly ns: string;
  /** `dz-testenv.local/busybox:latest`, imported on the node. */
  readonly busybox: string;
  /** kubectl in the namespace; throws unless it exits 0; returns stdout. */
  kubectl(...args: string[]): Promise<string>;
  /** `helm upgrade` of the release with more values (merged over the installed ones). */
  upgrade(values: Record<string, unknown>): Promise<void>;
  /** Every container's log lines of the pods matching `selector`, `--prefix`ed. */
  logs(selector: string): Promise<string>;
  /** Working set (MiB) of each pod of the namespace, from the kubelet's stats summary. */
  workingSets(): Promise<Map<string, number>>;
  /** Deletes the namespace and stops the node. */
  close(): Promise<void>;
}

/** Starts the node, imports our image and installs the chart with `values` (image filled in). */
export async function chartNode(hint: string, values: Record<string, unknown>): Promise<ChartNode> {
  const node = await nodeHarness();
  const image = await buildImage();
  await node.importImage(image.archive);
  const ns = `${hint}-${Date.now().toString(36)}`;
  const dir = await Deno.makeTempDir({ prefix: `dz-bench-${hint}-` });
  const kubectl = async (...args: string[]) =>
    ok(`kubectl ${args.slice(0, 3).join(" ")}`, await kubectlAt(node.kubeconfigPath, ns, args));
  await ok(
    "kubectl create namespace",
    await kubectlAt(node.kubeconfigPath, "default", ["create", "namespace", ns]),
  );
  await ok(
    "kubectl label namespace",
    await kubectlAt(node.kubeconfigPath, "default", [
      "label",
      "namespace",
      ns,
      "pod-security.kubernetes.io/enforce=restricted",
      "pod-security.kubernetes.io/enforce-version=latest",
    ]),
  );
  const helm = async (verb: string, vals: Record<string, unknown>) => {
    const file = `${dir}/values-${Date.now()}.yaml`;
    await Deno.writeTextFile(file, stringify(vals));
    ok(
      `helm ${verb}`,
      await helmAt(node.kubeconfigPath, [
        verb,
        RELEASE,
        CHART,
        "-n",
        ns,
        "-f",
        file,
        ...(verb === "upgrade" ? ["--reuse-values"] : []),
      ]),
    );
  };
  await helm("install", {
    image: { repository: image.repository, tag: image.tag, pullPolicy: "Never" },
    ...values,
  });
  return {
    node,
    kc: node.kubeConfig(),
    ns,
    busybox: node.busyboxImage,
    kubectl,
    upgrade: (vals) => helm("upgrade", vals),
    logs: (selector) => podLogsAt(node.kubeconfigPath, ns, selector),
    workingSets: async () => {
      const raw = ok(
        "stats summary",
        await kubectlAt(node.kubeconfigPath, ns, [
          "get",
          "--raw",
          `/api/v1/nodes/${node.node.name}/proxy/stats/summary`,
        ]),
      );
      type Stats = {
        podRef: { name: string; namespace: string };
        containers?: { memory?: { workingSetBytes?: number } }[];
      };
      const out = new Map<string, number>();
      for (const p of (JSON.parse(raw) as { pods?: Stats[] }).pods ?? []) {
        if (p.podRef.namespace !== ns) continue;
        const bytes = (p.containers ?? []).reduce(
          (a, c) => a + (c.memory?.workingSetBytes ?? 0),
          0,
        );
        if (bytes > 0) out.set(p.podRef.name, bytes / 2 ** 20);
      }
      return out;
    },
    close: async () => {
      await helmAt(node.kubeconfigPath, ["uninstall", RELEASE, "-n", ns, "--wait"]).catch(() => {});
      await kubectlAt(node.kubeconfigPath, "default", ["delete", "namespace", ns, "--wait=false"])
        .catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await stopNodeHarness();
    },
  };
}

/** The 1-, 5- and 15-minute load averages, for the notes of a timing run. */
export async function loadAverage(): Promise<string> {
  // Through cat: Deno reads /proc only with --allow-all.
  const out = await new Deno.Command("cat", { args: ["/proc/loadavg"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split(" ").slice(0, 3).join(" ");
}
