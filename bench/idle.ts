/**
 * Leader idle benchmark (`deno task bench idle`): one pod of the real program in leader mode on
 * the real API server (tests/testenv), leading, with no ready worker pod matching its selector —
 * the state in which it used to log "No ready worker pod matches…" at every retry (2 s). After
 * `BENCH_IDLE_S` seconds (default 120): its resident memory, its CPU over the second half, and
 * how often it logged the unchanged state. Reference in the same run: a bare `deno run` that
 * only waits.
 *
 * Goals (issue 12): RSS ≤ 110 MiB after 2 minutes, CPU ≤ 0.5 % of a core, an unchanged state
 * logged once.
 *
 * @module
 */
import { cpuMs, memoryMiB } from "./apiserver.ts";
import { round, verdict } from "./proc.ts";
import { withBenchPods } from "./pods.ts";
import type { Row } from "./table.ts";
import { startPods } from "../tests/e2e/cluster.ts";

const CONFIG = { request: { inputs: [{ name: "noop", input: "true" }] } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the benchmark. */
export async function benchIdle(): Promise<Row[]> {
  const seconds = Math.max(10, Number(Deno.env.get("BENCH_IDLE_S") ?? "120") || 120);
  return await withBenchPods("idle", async ({ env, sa }) => {
    // The reference: a bare Deno process that only waits.
    const dir = await env.tempDir();
    await Deno.writeTextFile(`${dir}/wait.ts`, "setInterval(() => {}, 1000);\n");
    const bare = new Deno.Command(Deno.execPath(), {
      args: ["run", `${dir}/wait.ts`],
      cwd: dir,
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    env.defer(async () => {
      bare.kill("SIGKILL");
      await bare.status;
    });
    // Its pod's labels match no worker selector: the leader waits for a ready worker pod.
    const [proc] = await startPods(env, { sa, config: CONFIG, labels: { app: "not-a-worker" } });
    const pid = proc!.child.pid;
    await proc!.waitFor("leadership", () => proc!.events("started-leading")[0], 60_000);
    const started = performance.now();
    await sleep((seconds * 1000) / 2);
    const [cpu0, t0] = [await cpuMs(pid), performance.now()];
    await sleep((seconds * 1000) / 2);
    const [cpu1, t1] = [await cpuMs(pid), performance.now()];
    const mem = await memoryMiB(pid);
    const bareMem = await memoryMiB(bare.pid);
    const minutes = (performance.now() - started) / 60_000;
    const waitLines = proc!.lines.filter((l) => l.message.startsWith("No ready worker pod"));
    const waits = waitLines.length;
    // The state is (round, no ready worker): a new round (every tasks.interval) is a new state.
    const states = new Set(waitLines.map((l) => String(l.properties.round))).size;
    const warnings = proc!.lines.filter((l) => /^warn/i.test(l.level)).length;
    const cpuPercent = ((cpu1 - cpu0) / (t1 - t0)) * 100;
    return [
      {
        name: `leader RSS after ${seconds} s idle`,
        value: round(mem.rss),
        unit: "MiB",
        note: `${verdict(round(mem.rss), 110, " MiB")}; peak ${round(mem.peak)} MiB`,
      },
      {
        name: "bare deno run, waiting",
        value: round(bareMem.rss),
        unit: "MiB",
        note: "reference, same run",
      },
      {
        name: `leader CPU, second half (${seconds / 2} s)`,
        value: round(cpuPercent, 2),
        unit: "% of a core",
        note: verdict(round(cpuPercent, 2), 0.5, " %"),
      },
      {
        name: '"No ready worker pod…" lines',
        value: waits,
        unit: "lines",
        note: `${verdict(waits, states)} (one per round waited on: ${states}); retry every 2 s ` +
          `for ${seconds} s`,
      },
      {
        name: "warnings per minute",
        value: round(warnings / minutes, 2),
        unit: "lines/min",
        note: `${warnings} warning lines in all`,
      },
    ];
  });
}

if (import.meta.main) {
  const { renderTable } = await import("./table.ts");
  console.log(renderTable("Leader idle", await benchIdle()));
}
