/**
 * `dz-mcall status` against the real API server: task ConfigMaps and round summaries written
 * through the program's own store (the objects the leader and workers write), the Lease through
 * the API, and the real entrypoint (`main.ts status -c …`) as a child process.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { KubeTaskStore } from "../../lib/kube/configmaps.ts";
import { fromClientNode } from "../../lib/kube/client_node.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { newRoundSummary } from "../../lib/planner/round_summary.ts";
import { newTaskConfigMap, patched, rfc3339, roundName } from "../../lib/tasks/contract.ts";
import type { ConfigMapLike } from "../../lib/tasks/store.ts";
import { specs } from "../fakes/memory_store.ts";
import { e2eTest } from "./harness.ts";
import { PROGRAM_PERMISSIONS } from "./mcall_proc.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const APP = "dz-mcall";

async function status(configPath: string, kubeconfig: string, ...extra: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PROGRAM_PERMISSIONS, MAIN, "status", "-c", configPath, ...extra],
    env: { NO_COLOR: "1", KUBECONFIG: kubeconfig },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

e2eTest("status: rounds table, failing checks, -o json, exit code", async (e) => {
  using conn = new KubeConnection(fromClientNode(e.kc));
  const store = new KubeTaskStore(conn, e.ns);
  const inputs = specs(2).map((s, i) => ({ ...s, name: ["web", "db"][i]! }));
  const configPath = `${await e.tempDir()}/mcall.yaml`;
  await Deno.writeTextFile(
    configPath,
    stringify({
      request: { inputs: inputs.map((s) => ({ input: s.input, name: s.name })) },
      election: { namespace: e.ns, leaseName: "dz-mcall-leader" },
      tasks: { app: APP },
    }),
  );
  const t0 = Date.now() - 600_000;
  const at = (s: number) => new Date(t0 + s * 1000);

  /** A round as the leader and workers leave it: summary and one task per input. */
  const writeRound = async (round: string, start: number, states: string[]) => {
    const summary = newRoundSummary({
      app: APP,
      round,
      total: inputs.length,
      epoch: 1,
      leader: "pod-0",
      start: at(start),
    });
    const counts: Record<string, string> = { pending: "0" };
    for (const s of states) counts[s] = String(Number(counts[s] ?? "0") + 1);
    await store.create({
      ...summary,
      data: { ...summary.data, ...counts, phase: "complete", end: rfc3339(at(start + 4)) },
    });
    for (const [i, state] of states.entries()) {
      const created = await store.create(newTaskConfigMap({
        app: APP,
        round,
        spec: inputs[i]!,
        assignedTo: "pod-1",
        epoch: 1,
        signature: "",
      }));
      const done: ConfigMapLike = patched(created, {
        labels: { state },
        annotations: { processed: "true", "processed-at": rfc3339(at(start + 3)) },
        data: {
          errorCode: state === "succeeded" ? "0" : "-1",
          durationMs: "120",
          error: state === "succeeded" ? "" : "GET http://db:5432/: connection refused",
        },
      });
      await store.update(done);
    }
  };

  await e.coordination.createNamespacedLease({
    namespace: e.ns,
    body: { metadata: { name: "dz-mcall-leader" }, spec: { holderIdentity: "pod-0" } },
  });
  await writeRound("20250101-000000", 0, ["succeeded", "succeeded"]);
  await writeRound("20250101-000100", 60, ["succeeded", "failed"]);

  const table = await status(configPath, e.kubeconfigPath);
  assert.equal(table.code, 1, `${table.stdout}\n${table.stderr}`);
  const lines = table.stdout.split("\n");
  assert.equal(
    lines[0],
    `failing: lease ${e.ns}/dz-mcall-leader holder "pod-0", 2 round summaries`,
  );
  assert.match(table.stdout, /\n20250101-000100 +complete +1 +1 +0 +0 +0 +4s\n/);
  assert.match(table.stdout, /\n20250101-000000 +complete +2 +0 +0 +0 +0 +4s\n/);
  const since = rfc3339(at(63));
  assert.match(
    table.stdout,
    new RegExp(
      `\\ndb +failed +${since} +20250101-000100 +GET http://db:5432/: connection refused\\n`,
    ),
  );
  // Every configured check is in the schedule table; only failing ones in the failing table.
  const failingTable = table.stdout.slice(table.stdout.search(/^CHECK +STATE /m));
  assert.match(failingTable, /^CHECK +STATE /, table.stdout);
  assert.doesNotMatch(failingTable, /\nweb /, "a succeeding check is not listed as failing");
  const scheduleTable = table.stdout.slice(table.stdout.search(/^CHECK +SCHEDULE /m));
  assert.match(scheduleTable, /^CHECK +SCHEDULE /, table.stdout);
  for (const check of ["web", "db"]) {
    assert.match(scheduleTable, new RegExp(`\\n${check} `), `${check} in the schedule table`);
  }

  const json = await status(configPath, e.kubeconfigPath, "-o", "json");
  assert.equal(json.code, 1);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.verdict, "failing");
  assert.deepEqual(doc.failing.map((f: { check: string }) => f.check), ["db"]);
  assert.equal(doc.failing[0].lastSuccess, rfc3339(at(3)));
  assert.deepEqual(doc.rounds.map((r: { round: string }) => r.round), [
    "20250101-000100",
    "20250101-000000",
  ]);

  // A newer clean round: the release is healthy again.
  await writeRound("20250101-000200", 120, ["succeeded", "succeeded"]);
  const after = await status(configPath, e.kubeconfigPath);
  assert.equal(after.code, 0, after.stdout);
  assert.match(after.stdout, /^ok: .*3 round summaries/);
  assert.match(after.stdout, /No failing checks\./);
  assert.ok(await store.get(roundName(APP, "20250101-000200")));

  const bad = await status(configPath, e.kubeconfigPath, "-o", "yaml");
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), 'dz-mcall: --output: "yaml" is not table or json');
});
