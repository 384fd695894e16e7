/**
 * One connection pool per API server (one `Deno.HttpClient`, owned by a `KubeConnection`,
 * lib/kube/client.ts): client-node 2.0.1 alone builds a new undici Agent, so a new TLS connection,
 * for every request. Counted on the wire: every TCP connection to the API server's port leaves an
 * entry in /proc/net/tcp (ESTABLISHED, then TIME_WAIT for a minute on the side that closed first),
 * so the ephemeral ports seen after a burst, minus those seen before, are the connections the
 * burst opened; `close()` ends them. A program process keeps one pool for its life: its leader's
 * and worker's adapters share one connection (`ss` names each socket's process), and closes it
 * when leader mode ends.
 */
import assert from "node:assert/strict";
import { e2eTest, waitFor } from "./harness.ts";
import { startPods, waitForLeader } from "./cluster.ts";
import { KubeApi } from "../../lib/kube/api.ts";
import { HTTP2, KubeConnection } from "../../lib/kube/client.ts";
import { fromClientNode } from "../../lib/kube/client_node.ts";
import { runPool } from "../../lib/engine/pool.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { runLeaderMode } from "../../lib/modes/leader.ts";

const CREATES = 200;
const CONCURRENCY = 16;

/**
 * Client ports of every IPv4 TCP connection with the given server port, in any state, each with
 * whether it is open (either end ESTABLISHED).
 */
async function clientPorts(serverPort: number): Promise<Map<number, boolean>> {
  const ports = new Map<number, boolean>();
  // Deno reads /proc/net only with --allow-all: read it through cat.
  const out = await new Deno.Command("cat", { args: ["/proc/net/tcp"], stderr: "inherit" })
    .output();
  for (const line of new TextDecoder().decode(out.stdout).split("\n").slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (!local || !remote) continue;
    const localPort = parseInt(local.split(":")[1]!, 16);
    const remotePort = parseInt(remote.split(":")[1]!, 16);
    const client = remotePort === serverPort
      ? localPort
      : localPort === serverPort
      ? remotePort
      : undefined;
    if (client !== undefined) ports.set(client, ports.get(client) === true || state === "01");
  }
  return ports;
}

/** ESTABLISHED TCP connections to `serverPort`, counted by the pid of the process that holds each. */
async function connectionsByPid(serverPort: number): Promise<Map<number, number>> {
  const out = await new Deno.Command("ss", {
    args: ["-tnpH", "state", "established"],
    stderr: "inherit",
  }).output();
  const counts = new Map<number, number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    // Recv-Q Send-Q Local:Port Peer:Port users:(("deno",pid=…,fd=…))
    const peer = line.trim().split(/\s+/)[3];
    if (peer === undefined || Number(peer.slice(peer.lastIndexOf(":") + 1)) !== serverPort) {
      continue;
    }
    for (const [, pid] of line.matchAll(/pid=(\d+)/g)) {
      counts.set(Number(pid), (counts.get(Number(pid)) ?? 0) + 1);
    }
  }
  return counts;
}

e2eTest(
  `${CREATES} creates (${CONCURRENCY} at once) and a watch share one connection pool; close() ends it`,
  async (env) => {
    const port = Number(new URL(env.harness.server).port);
    using conn = new KubeConnection(fromClientNode(env.harness.kubeConfig()));
    const store = new KubeApi(conn, env.ns).taskStore();
    const before = await clientPorts(port);
    const watching = new AbortController();
    let seen = 0;
    const watch = store.watch("pool-test=true", "", () => seen++, watching.signal);
    await runPool(Array.from({ length: CREATES }, (_, i) => i), CONCURRENCY, async (i) => {
      await store.create({
        metadata: { name: `pool-${i}`, labels: { "pool-test": "true" } },
        data: { i: String(i) },
      });
    });
    const { items } = await store.list("pool-test=true");
    watching.abort();
    await watch;
    const after = await clientPorts(port);
    const opened = [...after.keys()].filter((p) => !before.has(p));
    assert.equal(items.length, CREATES);
    assert.ok(seen > 0, "the watch saw the creates");
    // Without the pool it is one connection per request (over 200), each left open until its
    // keep-alive expires. With it, connections are reused: over HTTP/2 one connection carries
    // them all (1 measured); over HTTP/1.1 one more opens whenever every open one is busy (17).
    assert.ok(opened.length <= CREATES / 4, `the burst opened ${opened.length} connections`);
    assert.ok(opened.length >= 1, "the burst was counted");
    const open = opened.filter((p) => after.get(p));
    if (HTTP2) assert.equal(open.length, 1, "one HTTP/2 connection kept open");
    else assert.ok(open.length >= 1, "kept-alive connections");

    conn.close();
    await waitFor(async () => {
      const now = await clientPorts(port);
      return opened.every((p) => !now.get(p));
    }, { timeoutMs: 10_000, message: "the pool's connections ended after close()" });
    await assert.rejects(() => store.list("pool-test=true"), /was closed/);
  },
);

e2eTest(
  "a program process keeps one connection to the API server: its leader and worker share it",
  async (env) => {
    const port = Number(new URL(env.harness.server).port);
    const procs = await startPods(env, {
      count: 2,
      config: {
        request: { inputs: [{ name: "a", input: "true" }, { name: "b", input: "true" }] },
        tasks: { interval: "1s", pollInterval: "100ms" },
      },
    });
    await waitForLeader(env.kc, env.ns, procs);
    // Every kind of call has been made: the Lease (elector), an Event (the leader's recorder),
    // task ConfigMaps planned and processed (planner, worker), the pod watch.
    await waitFor(async () =>
      (await env.core.listNamespacedEvent({
          namespace: env.ns,
          fieldSelector: "reason=LeaderElected",
        })).items.length > 0 &&
      (await env.core.listNamespacedConfigMap({ namespace: env.ns, labelSelector: "task=true" }))
        .items.some((cm) => cm.metadata?.annotations?.processed === "true"), {
      timeoutMs: 30_000,
      message: "a LeaderElected event and a processed task",
    });
    const counts = await connectionsByPid(port);
    const perProcess = procs.map((p) => counts.get(p.child.pid) ?? 0);
    // One pool per process; over HTTP/2 it is one connection (over HTTP/1.1 it may be several).
    if (HTTP2) assert.deepEqual(perProcess, [1, 1], "connections per process");
    else assert.ok(perProcess.every((n) => n >= 1), `connections per process: ${perProcess}`);
  },
  { timeoutMs: 120_000 },
);

e2eTest(
  "leader mode closes its connection when it ends: none of the connections it opened stays open",
  async (env) => {
    const port = Number(new URL(env.harness.server).port);
    const config = loadConfig({
      layers: [{
        values: {
          election: { namespace: env.ns, identity: "in-process" },
          tasks: { insecureUnsignedTasks: true },
          metrics: { enable: false },
        },
        sources: new Map(),
      }],
    });
    // No client-node call from here on until the check: only leader mode opens connections.
    const before = await clientPorts(port);
    const stop = new AbortController();
    const running = runLeaderMode(config, {
      signal: stop.signal,
      env: { KUBECONFIG: env.kubeconfigPath },
    });
    const opened = async () => [...(await clientPorts(port)).keys()].filter((p) => !before.has(p));
    await waitFor(async () => (await opened()).length > 0, {
      timeoutMs: 20_000,
      message: "leader mode connected",
    });
    // Let it elect itself, plan and watch over that connection for a while.
    await new Promise((r) => setTimeout(r, 3_000));
    const during = await clientPorts(port);
    assert.ok((await opened()).some((p) => during.get(p)), "a connection open while it runs");
    stop.abort();
    assert.equal((await running).kind, "ok");
    await waitFor(async () => {
      const now = await clientPorts(port);
      return (await opened()).every((p) => !now.get(p));
    }, { timeoutMs: 10_000, message: "leader mode's connections ended when it returned" });
  },
);
