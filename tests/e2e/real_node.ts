/**
 * What the real-node chart tests share: the node harness (tests/testenv `-node`, see
 * {@linkcode nodeHarness}), our image built by `scripts/image.sh` and imported into the node's
 * containerd, helm against the node's API server, and a per-test cleanup list.
 *
 * @module
 */
import type * as k8s from "@kubernetes/client-node";
import { helmAt, type ToolResult } from "./release_pods.ts";
import { type NodeHarness, nodeTest } from "./harness.ts";

const IMAGE_SH = decodeURIComponent(new URL("../../scripts/image.sh", import.meta.url).pathname);

/** The node as a chart test uses it. */
export interface RealNode {
  readonly harness: NodeHarness;
  readonly kubeconfigPath: string;
  /** Admin client config (HTTP/1.1, like the program). */
  readonly kc: k8s.KubeConfig;
  /** The node's address on this machine: pods reach a server listening here. */
  readonly address: string;
  /** The API server's audit log (JSON lines, metadata of every request). */
  readonly auditLog: string;
  /** Imports an image archive into the node's containerd. */
  importImage(archive: string): Promise<void>;
  /** Runs helm against the node's API server. */
  helm(args: readonly string[]): Promise<ToolResult>;
}

/** Our image, as `scripts/image.sh` built it. */
export interface BuiltImage {
  /** The OCI archive. */
  readonly archive: string;
  /** `dz-mcall`: the chart's default `image.repository`. */
  readonly repository: string;
  readonly tag: string;
}

let built: Promise<BuiltImage> | undefined;

/** Builds our image (cached by content in `scripts/image.sh`) once per test module. */
export function buildImage(): Promise<BuiltImage> {
  built ??= (async () => {
    const run = async (arg: string) => {
      const out = await new Deno.Command("bash", {
        args: [IMAGE_SH, arg],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      if (out.code !== 0) {
        throw new Error(`scripts/image.sh ${arg} exited ${out.code}:\n${dec.decode(out.stderr)}`);
      }
      return dec.decode(out.stdout).trim().split("\n").pop() ?? "";
    };
    const archive = await run("build");
    // docker.io/library/dz-mcall:0.1.0 → dz-mcall, 0.1.0
    const name = await run("name");
    const [ref = "", tag = ""] = name.split(":");
    return { archive, repository: ref.split("/").pop() ?? "", tag };
  })();
  return built;
}

/**
 * Registers a real-node test (skip policy of {@linkcode nodeTest}): `fn` gets the node, the test
 * context and `defer` (cleanups run after the test, in reverse order).
 */
export function realNodeTest(
  name: string,
  fn: (node: RealNode, t: Deno.TestContext, defer: (f: () => unknown) => void) => Promise<void>,
  opts: { timeoutMs?: number } = {},
): void {
  nodeTest(name, async (h, t) => {
    if (!h) throw new Error("realNodeTest needs the shared node harness");
    const st = await h.status() as { auditLog?: string };
    const node: RealNode = {
      harness: h,
      kubeconfigPath: h.kubeconfigPath,
      kc: h.kubeConfig(),
      address: h.node.address,
      auditLog: st.auditLog ?? "",
      importImage: async (archive) => void await h.importImage(archive),
      helm: (args) => helmAt(h.kubeconfigPath, args),
    };
    const cleanups: Array<() => unknown> = [];
    try {
      await fn(node, t, (f) => void cleanups.push(f));
    } finally {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (e) {
          console.error(`real-node cleanup in "${name}": ${e}`);
        }
      }
    }
  }, { timeoutMs: opts.timeoutMs ?? 900_000 });
}
