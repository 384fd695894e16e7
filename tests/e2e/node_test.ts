/**
 * The real node of the e2e harness (`tests/testenv -node`): kubelet, kube-proxy and kube-scheduler
 * against containerd, through the harness API the real-node suites use ({@linkcode nodeHarness},
 * {@linkcode startTestEnv}). Pods run in real containers; every host change is undone when the
 * node stops, also after a crash. Needs root and `scripts/node-deps.sh` (skipped loudly without,
 * a failure with `REQUIRE_E2E=1`).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { forceHttp1 } from "../../lib/kube/client_node.ts";
import {
  createNamespace,
  deleteNamespace,
  type NodeHarness,
  nodeTest,
  type NodeTestEnvStatus,
  startTestEnv,
  stopNodeHarness,
  type TestEnvProcess,
  waitFor,
} from "./harness.ts";
import { kubectlAt, ok } from "./release_pods.ts";

const dec = new TextDecoder();

function sh(cmd: string, args: string[]): { code: number; out: string } {
  const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

function kubeConfigAt(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return forceHttp1(kc);
}

/** Runs a busybox pod to completion; returns its phase, log and the time from create to done. */
async function runPod(
  kubeconfig: string,
  ns: string,
  name: string,
  image: string,
  script: string | undefined, // undefined: the image's entrypoint and cmd
): Promise<{ phase: string; log: string; ms: number }> {
  const core = kubeConfigAt(kubeconfig).makeApiClient(k8s.CoreV1Api);
  const t0 = performance.now();
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        containers: [{
          name: "main",
          image,
          imagePullPolicy: "Never",
          ...(script === undefined ? {} : { command: ["/bin/sh", "-c", script] }),
        }],
      },
    },
  });
  const phase = await waitFor(async () => {
    const p = (await core.readNamespacedPod({ name, namespace: ns })).status?.phase;
    return p === "Succeeded" || p === "Failed" ? p : undefined;
  }, { timeoutMs: 60_000, intervalMs: 100, message: `pod ${ns}/${name} done` });
  const ms = performance.now() - t0;
  const log = ok("kubectl logs", await kubectlAt(kubeconfig, ns, ["logs", name]));
  return { phase, log, ms };
}

const SNAPSHOT_KEYS = [
  "addresses",
  "links",
  "iptables",
  "ip6tables",
  "mounts",
  "cgroups",
  "sysctls",
  "paths",
] as const;
type HostSnapshot = Record<typeof SNAPSHOT_KEYS[number], string>;

/** What the node may change on the host, normalised for a before/after comparison. */
function hostSnapshot(): HostSnapshot {
  const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const ipt = (fam: string) => {
    // iptables-nft leaves empty tables (only built-in chains) behind on first use.
    const out: string[] = [];
    let table: string[] = [];
    for (const l of lines(sh(`${fam}-save`, []).out)) {
      if (l.startsWith("#")) continue;
      if (l.startsWith("*")) table = [l];
      else if (l === "COMMIT") {
        if (table.some((t) => t.startsWith("-A") || /^:\S+ - /.test(t))) out.push(...table, l);
      } else table.push(l.replace(/\[\d+:\d+\]/, ""));
    }
    return out.join("\n");
  };
  // Other programs on this machine may run containers at the same time: only what the node
  // could own is compared (its state dirs, pod netns, kubepods cgroups, lo, bridge, veths).
  const nodePaths =
    /^\/(var\/lib\/dz-testenv-node|run\/netns|var\/lib\/kubelet|run\/containerd)(\/|$)/;
  // Deno needs --allow-all for /proc/self and /sys: read them through cat and find.
  const mounts = lines(sh("cat", ["/proc/self/mountinfo"]).out).map((l) => l.split(" ")[4] ?? "")
    .filter((m) => nodePaths.test(m));
  const cgroups = lines(
    sh("find", ["/sys/fs/cgroup", "-mindepth", "2", "-maxdepth", "2", "-type", "d"]).out,
  ).filter((d) => /\/kubepods/.test(d));
  const ours = (l: string) => / lo |dztestenv|veth/.test(l);
  const sysctls = ["net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "kernel/panic"]
    .map((k) => `${k}=${sh("cat", [`/proc/sys/${k}`]).out.trim()}`);
  const paths = ["/var/lib/kubelet", "/run/containerd", "/var/lib/cni", "/etc/cni", "/opt/cni"]
    .concat(["/var/log/pods", "/var/log/containers", "/var/lib/dz-testenv-node"])
    .filter((p) => {
      try {
        Deno.lstatSync(p);
        return true;
      } catch {
        return false;
      }
    });
  return {
    addresses: lines(sh("ip", ["-o", "addr"]).out).filter(ours).map((l) => l.replace(/\\.*$/, ""))
      .join("\n"),
    links: lines(sh("ip", ["-o", "link"]).out).filter(ours)
      .map((l) => l.split(" ").slice(0, 3).join(" ")).join("\n"),
    iptables: ipt("iptables"),
    ip6tables: ipt("ip6tables"),
    mounts: mounts.sort().join("\n"),
    cgroups: cgroups.sort().join("\n"),
    sysctls: sysctls.join("\n"),
    paths: paths.join("\n"),
  };
}

function assertSameHost(before: HostSnapshot, after: HostSnapshot): void {
  for (const k of SNAPSHOT_KEYS) {
    assert.equal(after[k], before[k], `host ${k} changed`);
  }
}

/** The packet count of our FORWARD drop rule (undefined if the rule is missing). */
function dropRulePackets(bridge: string): number | undefined {
  const out = sh("iptables", ["-w", "-xvnL", "FORWARD"]).out;
  const line = out.split("\n").find((l) => l.includes(bridge) && l.includes("DROP"));
  return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
}

nodeTest("node: Ready; a busybox pod runs to Succeeded and kubectl logs reads it", async (h) => {
  const node = (h as NodeHarness).node;
  const kc = (h as NodeHarness).kubeConfig();
  const n = await kc.makeApiClient(k8s.CoreV1Api).readNode({ name: node.name });
  const ready = n.status?.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.status, "True", `node ${node.name} Ready`);
  assert.deepEqual(
    n.status?.addresses?.find((a) => a.type === "InternalIP")?.address,
    node.address,
  );
  console.error(`node ready ${node.readyAfter} after node start`);

  const ns = await createNamespace(kc, "node-pod");
  try {
    const marker = `hello-${crypto.randomUUID()}`;
    const r = await runPod(h!.kubeconfigPath, ns, "hello", h!.busyboxImage, `echo ${marker}`);
    console.error(`pod created -> ${r.phase} in ${Math.round(r.ms)} ms`);
    assert.equal(r.phase, "Succeeded");
    assert.equal(r.log.trim(), marker);
  } finally {
    await deleteNamespace(kc, ns);
  }
});

nodeTest(
  "node: a pod reaches the API server via the kubernetes Service, nothing off the machine",
  async (h) => {
    const nh = h as NodeHarness;
    const kc = nh.kubeConfig();
    const svc = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedService({
      name: "kubernetes",
      namespace: "default",
    });
    const clusterIP = svc.spec?.clusterIP ?? "";
    assert.notEqual(clusterIP, "");
    const gateway = sh("ip", ["route", "show", "default"]).out.match(/via (\S+)/)?.[1];
    // The drop rule must be in place before any pod sends a packet off the machine.
    const before = dropRulePackets(nh.node.bridge);
    assert.notEqual(before, undefined, "FORWARD drop rule for the pod bridge");

    const ns = await createNamespace(kc, "node-net");
    try {
      const script = [
        'echo "svc=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"',
        // Plain HTTP to the TLS port: the API server itself answers "400 Bad Request".
        "printf 'GET /version HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT",
        "echo api=$?",
        gateway ? `nc -w 3 ${gateway} 80 </dev/null; echo gateway=$?` : "echo gateway=none",
        "cat /etc/resolv.conf",
      ].join("; ");
      const r = await runPod(nh.kubeconfigPath, ns, "net", nh.busyboxImage, script);
      assert.equal(r.phase, "Succeeded", r.log);
      assert.match(r.log, new RegExp(`^svc=${clusterIP.replaceAll(".", "\\.")}:443$`, "m"));
      assert.match(r.log, /400 Bad Request/, `API server answered through ${clusterIP}:\n${r.log}`);
      assert.deepEqual(
        r.log.split("\n").filter((l) => l.startsWith("nameserver")),
        ["nameserver 127.0.0.1"],
      );
      if (gateway) {
        assert.match(r.log, /^gateway=[1-9]\d*$/m, `the gateway ${gateway} must be unreachable`);
        assert.ok(dropRulePackets(nh.node.bridge)! > before!, "the drop rule caught the packets");
      }
    } finally {
      await deleteNamespace(kc, ns);
    }
  },
);

nodeTest("node: an OCI archive imported with importImage runs as a pod", async (h) => {
  const nh = h as NodeHarness;
  const dir = await Deno.makeTempDir({ prefix: "dz-e2e-image-" });
  const kc = nh.kubeConfig();
  const ns = await createNamespace(kc, "node-import");
  try {
    // An image from scratch: busybox as entrypoint, `echo <marker>` as cmd.
    const marker = `imported-${crypto.randomUUID()}`;
    const ref = `${dir}/oci:v1`;
    for (
      const args of [
        ["init", "--layout", `${dir}/oci`],
        ["new", "--image", ref],
        ["unpack", "--image", ref, `${dir}/bundle`],
      ]
    ) assert.equal(sh("umoci", args).code, 0, `umoci ${args.join(" ")}`);
    await Deno.copyFile("/bin/busybox", `${dir}/bundle/rootfs/busybox`);
    for (
      const args of [
        ["repack", "--image", ref, `${dir}/bundle`],
        ["config", "--image", ref, "--config.entrypoint", "/busybox"]
          .concat(["--config.cmd", "echo", "--config.cmd", marker]),
      ]
    ) assert.equal(sh("umoci", args).code, 0, `umoci ${args.join(" ")}`);
    assert.equal(sh("tar", ["-C", `${dir}/oci`, "-cf", `${dir}/image.tar`, "."]).code, 0);

    const out = await nh.importImage(`${dir}/image.tar`, { baseName: "dz-e2e.local/imported" });
    assert.match(out, /dz-e2e\.local\/imported:v1/);
    const r = await runPod(
      nh.kubeconfigPath,
      ns,
      "imported",
      "dz-e2e.local/imported:v1",
      undefined,
    );
    assert.equal(r.phase, "Succeeded", r.log);
    assert.equal(r.log.trim(), marker);
    // A path that is not there: a clear error, nothing imported.
    await assert.rejects(nh.importImage(`${dir}/missing.tar`), /missing\.tar.*not an existing/);
  } finally {
    await deleteNamespace(kc, ns);
    await Deno.remove(dir, { recursive: true });
  }
});

function busyboxOf(st: NodeTestEnvStatus): string {
  return st.node.images.find((i) => i.includes("/busybox:")) ?? "";
}

/** Starts a node of its own with a pod that keeps running (its mounts, cgroups and veth). */
async function nodeWithRunningPod(): Promise<{ env: TestEnvProcess; st: NodeTestEnvStatus }> {
  await stopNodeHarness(); // one node per machine: the shared one goes first
  const env = await startTestEnv(["-node"]);
  const st = env.status as NodeTestEnvStatus;
  const core = kubeConfigAt(st.kubeconfig).makeApiClient(k8s.CoreV1Api);
  const ns = await createNamespace(kubeConfigAt(st.kubeconfig), "node-host");
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: "sleeper" },
      spec: {
        // The projected service-account token is a tmpfs mount under the kubelet's root.
        containers: [{
          name: "main",
          image: busyboxOf(st),
          imagePullPolicy: "Never",
          command: ["sleep", "600"],
        }],
      },
    },
  });
  await waitFor(async () => {
    const p = await core.readNamespacedPod({ name: "sleeper", namespace: ns });
    return p.status?.phase === "Running";
  }, { timeoutMs: 60_000, message: "sleeper Running" });
  return { env, st };
}

/** Asserts the running node changed the host where the snapshot looks (so the checks can fail). */
function assertNodeVisible(before: HostSnapshot, st: NodeTestEnvStatus): void {
  const during = hostSnapshot();
  for (const k of ["addresses", "links", "iptables", "mounts", "cgroups"] as const) {
    assert.notEqual(during[k], before[k], `the running node changed host ${k}`);
  }
  assert.match(during.addresses, new RegExp(`${st.node.address.replaceAll(".", "\\.")}/32`));
  assert.match(during.links, new RegExp(st.node.bridge));
}

nodeTest("node: stopping undoes every host change", async () => {
  await stopNodeHarness();
  const before = hostSnapshot();
  const { env, st } = await nodeWithRunningPod();
  let stderr = "";
  try {
    assertNodeVisible(before, st);
  } finally {
    stderr = await env.stop();
  }
  assert.match(stderr, /node: stopped and cleaned up/);
  assert.doesNotMatch(stderr, /node: cleanup:/);
  assertSameHost(before, hostSnapshot());
});

nodeTest("node: when the supervisor is SIGKILLed its reaper undoes every host change", async () => {
  await stopNodeHarness();
  const before = hostSnapshot();
  const { env, st } = await nodeWithRunningPod();
  assertNodeVisible(before, st);
  await env.kill();
  await waitFor(() => {
    const now = hostSnapshot();
    return SNAPSHOT_KEYS.every((k) => now[k] === before[k]);
  }, { timeoutMs: 30_000, message: "the reaper's sweep" });
  assertSameHost(before, hostSnapshot());
});

nodeTest(
  "node: after supervisor and reaper are SIGKILLed, the next node sweeps and runs",
  async () => {
    await stopNodeHarness();
    const before = hostSnapshot();
    const { env: first, st } = await nodeWithRunningPod();
    Deno.kill(st.node.reaperPid, "SIGKILL");
    await first.kill();
    const crashed = hostSnapshot();
    assertNodeVisible(before, st); // the pod, bridge, address, rules and mounts are left behind
    assert.match(crashed.cgroups, /kubepods/);

    const t0 = performance.now();
    const second = await startTestEnv(["-node"]);
    console.error(`node start after a crash: ready in ${Math.round(performance.now() - t0)} ms`);
    let stderr = "";
    try {
      const s2 = second.status as NodeTestEnvStatus;
      const ns = await createNamespace(kubeConfigAt(s2.kubeconfig), "node-again");
      const r = await runPod(s2.kubeconfig, ns, "again", busyboxOf(s2), "echo again");
      assert.equal(r.phase, "Succeeded");
      assert.equal(r.log.trim(), "again");
    } finally {
      stderr = await second.stop();
    }
    assert.match(stderr, /node: sweeping leftovers/);
    assertSameHost(before, hostSnapshot());
  },
);

nodeTest("node: bad -node-root is a one-line usage error (exit 2), nothing started", async () => {
  const build = await new Deno.Command("bash", {
    args: [new URL("../../scripts/testenv.sh", import.meta.url).pathname, "build"],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(build.code, 0);
  const bin = dec.decode(build.stdout).trim().split("\n").pop() ?? "";
  for (const root of ["relative/dir", "/"]) {
    const r = sh(bin, ["-node", "-node-root", root]);
    assert.equal(r.code, 2, r.out);
    assert.equal(r.out.trim().split("\n").length, 1, r.out);
    assert.match(r.out, new RegExp(`-node-root "${root}": must be an absolute path`));
  }
}, { ownNode: true });
