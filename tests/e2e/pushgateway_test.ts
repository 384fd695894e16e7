/**
 * CronJob mode with `metrics.pushgateway.url`: the round's leader pushes the per-check series to
 * a real Pushgateway, replacing the release's group (a series pushed before and no longer
 * produced is gone).
 */
import assert from "node:assert/strict";
import { groupUrl, pushText } from "../../lib/observe/pushgateway.ts";
import { e2eTest } from "./harness.ts";
import { startPushgateway } from "./pushgateway.ts";
import { startCluster } from "./task_cluster.ts";

e2eTest(
  "pushgateway: a one-shot round's leader pushes its checks, replacing the group",
  async (env) => {
    const pg = await startPushgateway();
    env.defer(() => pg.stop());
    const group = groupUrl(pg.url, "dz-mcall", { namespace: env.ns, app: "dz-mcall" });
    // What an earlier round left: a check that is no longer configured.
    await pushText(group, 'mcall_check_success{check="retired"} 1\n', 2000);
    assert.match(await pg.metrics(), /check="retired"/);

    const cluster = await startCluster(env, {
      names: ["mcall-a", "mcall-b"],
      inputs: [
        { input: "echo fine", name: "good" },
        { input: "sh -c 'exit 3'", name: "bad" },
      ],
      env: { MCALL_TASKS_ROUND: "r1", MCALL_METRICS_PUSHGATEWAY_URL: pg.url },
      leaderFirst: true,
    });
    const leader = await cluster.leader();
    const codes = await Promise.all(cluster.members.map((m) => m.proc.exited));
    assert.deepEqual(codes.map((c) => c.code), [0, 0], "a failed check still ran: exit 0");
    const pushed = leader.proc.lines.filter((l) =>
      l.message.startsWith("Pushed the round's series")
    );
    assert.equal(pushed.length, 1, leader.proc.tail());
    for (const m of cluster.members.filter((m) => m !== leader)) {
      assert(!m.proc.lines.some((l) => l.message.startsWith("Pushed")), `${m.name} did not push`);
    }

    const text = await pg.metrics();
    const series = (name: string, check: string) => {
      const re = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "m");
      const line = text.split("\n").find((l) =>
        l.startsWith(`${name}{`) && l.includes(`check="${check}"`)
      );
      assert(line, `${name}{check="${check}"} in\n${text}`);
      const m = re.exec(line)!;
      return { labels: m[1]!, value: Number(m[2]) };
    };
    const bad = series("mcall_check_success", "bad");
    assert.equal(bad.value, 0);
    assert.match(bad.labels, /app="dz-mcall"/);
    assert.match(bad.labels, new RegExp(`namespace="${env.ns}"`));
    assert.match(bad.labels, /job="dz-mcall"/);
    assert.equal(series("mcall_check_success", "good").value, 1);
    const lastRun = series("mcall_check_last_run_timestamp_seconds", "bad").value;
    assert(Math.abs(lastRun - Date.now() / 1000) < 120, `last run ${lastRun}`);
    assert.equal(series("mcall_check_attempts", "bad").value, 1);
    assert.match(text, /^mcall_round_tasks\{[^}]*state="failed"[^}]*\} 1$/m);
    assert.match(text, /^mcall_round_last_completed_timestamp_seconds\{[^}]*\} \d/m);
    assert.doesNotMatch(text, /check="retired"/, "the PUT replaced the group");
  },
);
