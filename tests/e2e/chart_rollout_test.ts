/**
 * The chart in Deployment mode through a rolling update (issue 14, items 1 and 2), on a real
 * kube-apiserver with its Deployment, ReplicaSet and garbage-collector controllers: `helm install`,
 * rounds every 4 s, `helm upgrade --set interval=9s` while tasks run, more rounds, then
 * `helm uninstall`. This test is the kubelet of the release's Pods: it runs each Pod's container as
 * the real program (env and volumes resolved from the Pod, the chart's ServiceAccount token), sends
 * SIGTERM when the Deployment controller deletes a Pod, and deletes the Pod once the program has
 * exited. Every task of every round must succeed exactly once, round ids never go back, the new
 * interval applies after the upgrade, and nothing of ours is left after the uninstall.
 */
import assert from "node:assert/strict";
import { e2eTest, isApiException, setPodReady, waitFor } from "./harness.ts";
import type { McallProcess } from "./mcall_proc.ts";
import { startCountingServer } from "./counting_server.ts";
import { bindPod, helmAt, ok, prepareContainer, startLocal } from "./release_pods.ts";
import {
  APP,
  EXTERNAL_CLUSTER,
  helmInstall,
  helmUpgrade,
  LEASE,
  LOCAL_OVERRIDES,
  RELEASE,
} from "./chart_release.ts";
import { roundSeconds } from "./task_cluster.ts";

e2eTest(
  "chart: deployment mode through helm upgrade of interval and helm uninstall — every task once, no past slot, nothing left",
  async ({ ns, kc, kubeconfigPath, core, coordination, defer, tempDir }) => {
    const server = startCountingServer();
    defer(() => server.close());
    const tasks = [
      { name: "slow", type: "get", input: `${server.url}/slow/a?ms=5000`, timeout: "20s" },
      { name: "fast", type: "get", input: `${server.url}/r/fast` },
      { name: "echo", type: "cmd", input: "echo hello" },
    ];
    const paths = ["/slow/a", "/r/fast"];
    await helmInstall(kubeconfigPath, ns, [
      "mode=deployment",
      "replicas=2",
      "interval=4s",
      "historyLimit=50",
      "failedHistoryLimit=50",
    ], tasks);

    // ----- the kubelet: run every Pod of the release, SIGTERM on deletion, remove after exit.
    const dir = await tempDir();
    const running = new Map<string, { name: string; proc?: McallProcess; signalled: boolean }>();
    const all: McallProcess[] = [];
    let stop = false;
    const kubelet = (async () => {
      while (!stop) {
        const pods = (await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
        })).items;
        for (const p of pods) {
          const uid = p.metadata?.uid ?? "";
          const name = p.metadata?.name ?? "";
          const entry = running.get(uid);
          if (!entry && !p.metadata?.deletionTimestamp) {
            const e: { name: string; proc?: McallProcess; signalled: boolean } = {
              name,
              signalled: false,
            };
            running.set(uid, e);
            await bindPod(kc, ns, name);
            const pod = await core.readNamespacedPod({ name, namespace: ns });
            const c = await prepareContainer(kc, pod, `${dir}/${name}`, LOCAL_OVERRIDES);
            const proc = startLocal(name, c);
            e.proc = proc;
            all.push(proc);
            defer(() => proc.stop());
            proc.exited.then(async () => {
              try {
                await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 });
              } catch (err) {
                if (!isApiException(err, 404)) console.error(`kubelet: delete ${name}: ${err}`);
              }
            });
            await setPodReady(kc, ns, name, true);
          } else if (entry?.proc && p.metadata?.deletionTimestamp && !entry.signalled) {
            entry.signalled = true;
            entry.proc.kill("SIGTERM");
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    defer(async () => {
      stop = true;
      await kubelet.catch(() => {});
    });

    const list = async (selector: string) =>
      (await core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector })).items;
    const summaries = () => list(`app=${APP},round=true`);
    const complete = async () =>
      (await summaries()).filter((s) => s.data?.phase === "complete").length;
    const tails = () => all.map((p) => `--- ${p.name}\n${p.tail(8)}`).join("\n");

    await waitFor(async () => await complete() >= 2, {
      timeoutMs: 60_000,
      message: "two rounds at the 4 s interval",
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${tails()}`);
    });
    const before = new Set((await summaries()).map((s) => s.metadata?.labels?.["round-id"] ?? ""));

    // The rolling update starts while the slow task of a round is running.
    const hits = server.count("/slow/a");
    await server.waitForHit("/slow/a", 30_000, hits + 1);
    await helmUpgrade(kubeconfigPath, ns, ["interval=9s"]);
    const firstPods = [...running.values()].map((e) => e.proc!).filter(Boolean);
    // The old pods are replaced: their programs exit 0 after draining.
    for (const p of firstPods) {
      const status = await p.exited;
      assert.equal(status.code, 0, `${p.name} exit code\n${p.tail()}`);
    }
    const drained =
      firstPods.flatMap((p) => p.lines).filter((l) => l.message.startsWith("Stopping:")).length;
    console.error(`rollout: ${drained} old pod(s) drained a running task on SIGTERM`);
    // Two complete rounds planned by the new pods at the 9 s interval.
    const after = async () =>
      (await summaries()).filter((s) =>
        !before.has(s.metadata?.labels?.["round-id"] ?? "") && s.data?.phase === "complete" &&
        roundSeconds(s.metadata?.labels?.["round-id"] ?? "") % 9 === 0
      ).length;
    await waitFor(async () => await after() >= 2, {
      timeoutMs: 60_000,
      message: "two rounds at the 9 s interval",
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${tails()}`);
    });

    // A quiet moment (no open task) to compare the server's counts with the task ConfigMaps.
    const snapshot = await waitFor(async () => {
      const taskCms = await list(`app=${APP},task=true`);
      const sums = await summaries();
      const counts = paths.map((p) => server.count(p));
      const open = taskCms.some((t) => ["pending", "running"].includes(t.metadata?.labels?.state!));
      return !open && sums.every((s) => s.data?.phase === "complete") &&
        { taskCms, sums, counts };
    }, { timeoutMs: 30_000, message: "a moment without open tasks" });

    const { taskCms, sums, counts } = snapshot;
    for (const s of sums) {
      const id = s.metadata?.labels?.["round-id"];
      assert.deepEqual(
        [s.data?.total, s.data?.succeeded, s.data?.failed, s.data?.dead, s.data?.rejected],
        ["3", "3", "0", "0", "0"],
        `round ${id}: ${JSON.stringify(s.data)}`,
      );
    }
    for (const t of taskCms) {
      const name = t.metadata?.name;
      assert.equal(t.metadata?.labels?.state, "succeeded", `${name}: ${t.data?.error}`);
      assert.equal(t.metadata?.annotations?.attempt, "1", `${name} ran on its first attempt`);
    }
    // Every execution the server saw is one recorded result: no task ran twice.
    paths.forEach((p, i) => {
      const recorded = taskCms.filter((t) => t.data?.spec?.includes(p)).length;
      assert.equal(counts[i], recorded, `${p}: ${counts[i]} requests, ${recorded} results`);
    });
    // Round ids in creation order only go forward; the ones after the upgrade are 9 s slots.
    const ordered = [...sums].sort((a, b) =>
      new Date(a.metadata!.creationTimestamp!).getTime() -
      new Date(b.metadata!.creationTimestamp!).getTime()
    ).map((s) => s.metadata?.labels?.["round-id"] ?? "");
    for (let i = 1; i < ordered.length; i++) {
      assert.ok(ordered[i]! > ordered[i - 1]!, `round ids go forward: ${ordered.join(" ")}`);
    }
    const newIds = ordered.filter((id) => !before.has(id));
    const lastOld = [...before].sort().at(-1)!;
    assert.ok(newIds.every((id) => id > lastOld), `no slot before ${lastOld}: ${newIds}`);
    const tail = newIds.slice(-2).map(roundSeconds);
    assert.equal(tail[1]! - tail[0]!, 9, `the new interval: ${newIds.slice(-2)}`);

    // ----- helm uninstall: the pods stop, the garbage collector takes our objects.
    ok("helm uninstall", await helmAt(kubeconfigPath, ["uninstall", RELEASE, "-n", ns]));
    for (const p of all) {
      const status = await p.exited;
      assert.equal(status.code, 0, `${p.name} exit code\n${p.tail()}`);
    }
    await waitFor(async () => {
      const left = await list(`app=${APP}`);
      const leases = (await coordination.listNamespacedLease({ namespace: ns })).items;
      return left.length === 0 && !leases.some((l) => l.metadata?.name === LEASE);
    }, { timeoutMs: 60_000, message: "no ConfigMap or Lease of ours after uninstall" });
    stop = true;
    await kubelet;
    // helm deletes the Role, binding and ServiceAccount while the pods stop: the errors say so,
    // and none blames a verb the Role grants.
    const text = (l: { message: string; properties: Record<string, unknown> }) =>
      `${l.message} ${JSON.stringify(l.properties)}`;
    const lines = all.flatMap((p) => p.lines).map(text);
    assert.deepEqual(lines.filter((l) => /the Role needs verb/.test(l)), []);
    assert.deepEqual(
      lines.filter((l) => /HTTP 40[13]/.test(l) && !/allowed before|token was rejected/.test(l)),
      [],
    );
  },
  { controllers: true, timeoutMs: 240_000, ignore: EXTERNAL_CLUSTER },
);
