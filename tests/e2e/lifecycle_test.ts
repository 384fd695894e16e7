/**
 * Pod lifecycle end to end (issue 14, item 1) on the real API server: program processes as
 * pods, one slow HTTP task counted by a local server. A graceful delete (SIGTERM and a
 * Terminating Pod, as `kubectl delete pod` and every rolling update do) lets the task finish, or
 * hands it back when the grace period is too short; a container restarted in place picks its own
 * task up again at once. In every case the task is recorded exactly once. And a leader whose
 * interval changed never plans a round before the last one.
 *
 * Run: scripts/deno test --allow-read --allow-write --allow-env --allow-net --allow-run
 *   --allow-sys tests/e2e/lifecycle_test.ts
 */
import assert from "node:assert/strict";
import { roundIdAt, roundName } from "../../lib/tasks/contract.ts";
import type { CountingServer } from "./counting_server.ts";
import { type E2E, e2eTest, updatePodStatus, waitFor } from "./harness.ts";
import {
  ann,
  APP,
  type Cluster,
  type InputConfig,
  lab,
  type Member,
  startCluster,
  waitForTerminal,
  withServer,
} from "./task_cluster.ts";

const SLOW = "dz-mcall-r-000";

/** The slow task's ConfigMap, once it is running on some pod. */
async function runningOn(cluster: Cluster): Promise<string> {
  return await waitFor(async () => {
    const t = (await cluster.tasks()).find((c) => c.metadata?.name === SLOW);
    return lab(t!, "state") === "running" && lab(t!, "assigned-to");
  }, { timeoutMs: 30_000, message: `${SLOW} running` });
}

/** How {@linkcode startSlowRound} starts the pods. */
interface SlowRound {
  /** How long the slow task's request takes. */
  ms: number;
  /** A path of a second, fast GET task, if any. */
  fast?: string;
  /** Environment besides `MCALL_TASKS_ROUND=r`. */
  env: Record<string, string>;
  /** The Pods outlive their containers (`restartPolicy: OnFailure`). */
  keepPods?: boolean;
}

/**
 * Starts three program pods, leader first, on round `r` whose first task is the slow GET
 * (timeout 20 s), and waits until that task runs.
 *
 * @returns The cluster and the member the slow task runs on.
 */
async function startSlowRound(
  env: E2E,
  server: CountingServer,
  round: SlowRound,
): Promise<{ cluster: Cluster; victim: Member }> {
  const names = ["mcall-a", "mcall-b", "mcall-c"];
  const inputs: InputConfig[] = [
    { input: `${server.url}/slow?ms=${round.ms}`, type: "get", name: "slow", timeout: "20s" },
  ];
  if (round.fast !== undefined) {
    inputs.push({ input: `${server.url}${round.fast}`, type: "get", name: "fast" });
  }
  const cluster = await startCluster(env, {
    names,
    inputs,
    env: { MCALL_TASKS_ROUND: "r", ...round.env },
    ...(round.keepPods ? { keepPods: names } : {}),
    leaderFirst: true,
  });
  await server.waitForHit("/slow", 30_000);
  return { cluster, victim: cluster.member(await runningOn(cluster)) };
}

e2eTest(
  "lifecycle: SIGTERM on a terminating pod lets its running task finish; recorded once",
  async (env) => {
    await withServer(async (server) => {
      const { cluster, victim } = await startSlowRound(env, server, {
        ms: 6000,
        fast: "/l1/fast",
        env: { MCALL_WORKER_TERMINATION_GRACE_PERIOD: "30s" },
      });
      // kubectl delete pod: the Pod turns Terminating and its container gets SIGTERM.
      await victim.pod.terminate({ gracePeriodSeconds: 30 });
      victim.proc.kill("SIGTERM");

      const tasks = await waitForTerminal(cluster, 2, 60_000);
      const slow = tasks.find((t) => t.metadata?.name === SLOW)!;
      assert.equal(lab(slow, "state"), "succeeded", String(ann(slow, "reason")));
      assert.equal(ann(slow, "attempt"), "1");
      assert.equal(ann(slow, "processed-by"), victim.name, "finished where it ran");
      assert.equal(slow.data?.output, "slow /slow 6000");
      assert.equal(server.count("/slow"), 1, "executed exactly once");
      assert.equal((await victim.proc.exited).code, 0, victim.proc.tail());
      for (const m of cluster.members) {
        assert.equal((await m.proc.exited).code, 0, `${m.name}\n${m.proc.tail()}`);
      }
      const [summary] = await cluster.summaries();
      assert.deepEqual([summary?.data?.phase, summary?.data?.succeeded], ["complete", "2"]);
    });
  },
  { timeoutMs: 90_000 },
);

e2eTest(
  "lifecycle: a grace period too short → the task is handed back and rerun at once, attempt kept",
  async (env) => {
    await withServer(async (server) => {
      const { cluster, victim } = await startSlowRound(env, server, {
        ms: 6000,
        fast: "/l2/fast",
        // 2 s of grace: 1 s to drain, then the task is aborted and handed back.
        env: { MCALL_WORKER_TERMINATION_GRACE_PERIOD: "2s" },
      });
      const leader = await cluster.leader();
      await victim.pod.terminate({ gracePeriodSeconds: 2 });
      const signalled = Date.now();
      victim.proc.kill("SIGTERM");
      await server.waitForHit("/slow", 20_000, 2);
      const rerunAfterMs = Date.now() - signalled;
      // Drain (1 s) + hand back + the leader's next reconcile (≤ 2 s) + claim; not the stuck
      // rule (timeout 20 s + stuckGrace).
      assert.ok(rerunAfterMs < 8_000, `rerun ${rerunAfterMs} ms after SIGTERM`);
      assert.equal((await victim.proc.exited).code, 0, victim.proc.tail());
      assert.ok(
        victim.proc.lines.some((l) => /^Handed .* back/.test(l.message)),
        victim.proc.tail(),
      );

      const tasks = await waitForTerminal(cluster, 2, 60_000);
      const slow = tasks.find((t) => t.metadata?.name === SLOW)!;
      const survivor = cluster.members.find((m) => m !== victim && m !== leader)!;
      assert.equal(lab(slow, "state"), "succeeded", String(ann(slow, "reason")));
      assert.equal(ann(slow, "attempt"), "1", "a handed-back execution burns no attempt");
      assert.equal(ann(slow, "processed-by"), survivor.name);
      assert.match(
        ann(slow, "reason") ?? "",
        new RegExp(`^reassigned from ${victim.name}: pod ${victim.name} is (terminating|gone)`),
      );
      assert.equal(slow.data?.output, "slow /slow 6000", "the recorded result is the rerun's");
      assert.equal(server.count("/slow"), 2, "the aborted request and the rerun");
      for (const m of cluster.members.filter((x) => x !== victim)) {
        assert.equal((await m.proc.exited).code, 0, `${m.name}\n${m.proc.tail()}`);
      }
    });
  },
  { timeoutMs: 90_000 },
);

e2eTest(
  "lifecycle: a container restarted in place picks its own running task up again at once",
  async (env) => {
    await withServer(async (server) => {
      const { cluster, victim } = await startSlowRound(env, server, {
        ms: 4000,
        env: { MCALL_TASKS_STUCK_GRACE: "30s" },
        // restartPolicy OnFailure: the Pod (name, assigned tasks) outlives its container.
        keepPods: true,
      });
      victim.proc.kill("SIGKILL");
      assert.equal((await victim.proc.exited).signal, "SIGKILL");
      const restartedAt = Date.now();
      const next = cluster.restart(victim.name);
      await server.waitForHit("/slow", 20_000, 2);
      const pickedUpMs = Date.now() - restartedAt;
      assert.ok(pickedUpMs < 8_000, `picked up ${pickedUpMs} ms after the restart`);

      const [slow] = await waitForTerminal(cluster, 1, 60_000);
      assert.equal(lab(slow!, "state"), "succeeded", String(ann(slow!, "reason")));
      assert.equal(ann(slow!, "attempt"), "2", "the killed execution counts as an attempt");
      assert.equal(ann(slow!, "processed-by"), victim.name, "rerun by the restarted container");
      assert.match(ann(slow!, "reason") ?? "", new RegExp(`${victim.name} restarted while`));
      assert.equal(server.count("/slow"), 2);
      assert.equal((await next.proc.exited).code, 0, next.proc.tail());
    });
  },
  { timeoutMs: 90_000 },
);

e2eTest(
  "lifecycle: a container that crashed and is restarting → the leader reruns its task elsewhere at once",
  async (env) => {
    await withServer(async (server) => {
      const { cluster, victim } = await startSlowRound(env, server, {
        ms: 8000,
        env: { MCALL_TASKS_STUCK_GRACE: "30s" },
        keepPods: true,
      });
      const leader = await cluster.leader();
      // The leader reconciles every 2 s: let it see the task running before the crash (a claim
      // it never saw before the restart could be the new container's, and is left alone).
      await new Promise((r) => setTimeout(r, 2_500));
      victim.proc.kill("SIGKILL");
      await victim.proc.exited;
      // The kubelet reports the crash: restartCount 1, not ready (in CrashLoopBackOff, say).
      const crashedAt = Date.now();
      await updatePodStatus(env.kc, env.ns, victim.name, (pod, now) => ({
        ...pod.status,
        conditions: (pod.status?.conditions ?? []).map((c) =>
          c.type === "Ready" || c.type === "ContainersReady"
            ? { ...c, status: "False", lastTransitionTime: now }
            : c
        ),
        containerStatuses: [{
          name: "main",
          image: "dz-mcall.invalid/fake-kubelet:e2e",
          imageID: "",
          ready: false,
          restartCount: 1,
          state: { waiting: { reason: "CrashLoopBackOff" } },
        }],
      }));
      await server.waitForHit("/slow", 20_000, 2).catch((e) => {
        throw new Error(`${(e as Error).message}\n${leader.proc.tail(15)}`);
      });
      const rerunMs = Date.now() - crashedAt;
      assert.ok(rerunMs < 8_000, `rerun ${rerunMs} ms after the restart was reported`);
      const [slow] = await waitForTerminal(cluster, 1, 60_000);
      const survivor = cluster.members.find((m) => m !== victim && m !== leader)!;
      assert.equal(lab(slow!, "state"), "succeeded", String(ann(slow!, "reason")));
      assert.equal(ann(slow!, "attempt"), "2");
      assert.equal(ann(slow!, "processed-by"), survivor.name);
      assert.equal(slow!.data?.output, "slow /slow 8000");
      assert.equal(
        ann(slow!, "reason"),
        `reassigned from ${victim.name}: the container of pod ${victim.name} restarted while running it`,
      );
      assert.equal(server.count("/slow"), 2);
      await cluster.stopAll();
    });
  },
  { timeoutMs: 90_000 },
);

e2eTest(
  "lifecycle: after an interval change the new leader plans no slot before the last round",
  async (env) => {
    await withServer(async (server) => {
      // The previous pods ran a 2 s interval; their last round is the current 2 s slot. The new
      // interval is 1 h: its current slot began up to an hour ago, before that last round.
      const HOUR = 3_600_000;
      const toBoundary = HOUR - Date.now() % HOUR;
      if (toBoundary < 40_000) await new Promise((r) => setTimeout(r, toBoundary + 1_000));
      const last = roundIdAt(new Date(), 2_000);
      await env.core.createNamespacedConfigMap({
        namespace: env.ns,
        body: {
          metadata: {
            name: roundName(APP, last),
            labels: { app: APP, round: "true", "round-id": last },
          },
          data: { phase: "complete", total: "1", succeeded: "1" },
        },
      });
      const cluster = await startCluster(env, {
        names: ["mcall-a", "mcall-b"],
        inputs: [{ input: `${server.url}/l4/task`, type: "get", name: "task" }],
        env: { MCALL_TASKS_INTERVAL: "1h" },
        leaderFirst: true,
      });
      const leader = await cluster.leader();
      // Three reconciles of the new leader.
      await leader.proc.waitFor("three reconciles", () => {
        const at = leader.proc.events("started-leading")[0]?.properties.at as number | undefined;
        return at !== undefined && Date.now() - at > 6_000;
      }, 30_000);
      const rounds = (await cluster.summaries()).map((s) => lab(s, "round-id")).sort();
      assert.deepEqual(rounds, [last], "no round planned at or before the last one");
      assert.deepEqual(await cluster.tasks(), []);
      assert.equal(server.total(), 0);
      await cluster.stopAll();
    });
  },
  { timeoutMs: 120_000 },
);

e2eTest(
  "lifecycle: a 403 once the RoleBinding is gone says so, not that the Role lacks a verb",
  async (env) => {
    await withServer(async (server) => {
      const cluster = await startCluster(env, {
        names: ["mcall-a"],
        inputs: [{ input: `${server.url}/l5/task`, type: "get", name: "task" }],
        env: { MCALL_TASKS_INTERVAL: "1h" },
      });
      const leader = await cluster.leader();
      await server.waitForHit("/l5/task");
      // What `helm uninstall` does while the pods still stop.
      await env.rbac.deleteNamespacedRoleBinding({ name: "dz-mcall", namespace: env.ns });
      const text = (l: { message: string; properties: Record<string, unknown> }) =>
        `${l.message} ${JSON.stringify(l.properties)}`;
      const line = await leader.proc.waitFor(
        "a forbidden error",
        () => leader.proc.lines.find((l) => /forbidden/i.test(text(l))),
        30_000,
      );
      assert.match(text(line), /allowed before, so the Role or RoleBinding was deleted or changed/);
      assert.doesNotMatch(text(line), /the Role needs verb/);
      await cluster.stopAll();
    });
  },
  { timeoutMs: 90_000 },
);
