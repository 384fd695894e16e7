/**
 * Engine benchmarks: process fan-out against `xargs -P`, HTTP probe throughput against a local
 * server, and the peak resident memory of the run. Run standalone with
 * `scripts/deno run --allow-read --allow-env --allow-net --allow-run --allow-sys bench/engine.ts`.
 *
 * @module
 */
import { sessionLauncher } from "../lib/engine/command.ts";
import { runInput } from "../lib/engine/exec.ts";
import { systemClock } from "../lib/time/clock.ts";
import type { InputSpec, Result } from "../lib/engine/input.ts";
import { runPool } from "../lib/engine/pool.ts";
import { programPermissions, programV8Flags } from "../tests/permissions.ts";
import { interleaved, measureProcess, median, pairedRatio, verdict } from "./proc.ts";

/** One measurement. */
export interface Row {
  name: string;
  value: number | string;
  unit: string;
  note?: string;
}

const PROCESSES = 200;
const PROCESS_CONCURRENCY = 10;
const WHOLE_INPUTS = 2000;
const REQUESTS = 1000;
const REQUEST_CONCURRENCY = 50;

function input(text: string, type: InputSpec["type"], index: number): InputSpec {
  return {
    index,
    input: text,
    type,
    name: text,
    timeoutMs: 30_000,
    shell: false,
    headers: {},
    retries: 0,
  };
}

async function engineRun(specs: readonly InputSpec[], concurrency: number): Promise<number> {
  const started = performance.now();
  const results: Result[] = await runPool(
    specs,
    concurrency,
    (s, _i, signal) => runInput(s, { signal }),
  );
  const elapsed = performance.now() - started;
  const failed = results.filter((r) => r.errorCode !== "0");
  if (failed.length > 0) throw new Error(`${failed.length} inputs failed: ${failed[0]!.error}`);
  return elapsed;
}

async function xargsRun(count: number, concurrency: number): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command("xargs", {
    args: ["-P", String(concurrency), "-n", "1", "true"],
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("x\n".repeat(count)));
  await writer.close();
  const status = await child.status;
  const elapsed = performance.now() - started;
  if (!status.success) throw new Error(`xargs exited with ${status.code}`);
  return elapsed;
}

/** The floor: the same fan-out with bare `Deno.Command(...).output()`, no engine around it. */
async function denoFloorRun(count: number, concurrency: number): Promise<number> {
  const started = performance.now();
  await runPool(
    Array.from({ length: count }, () => "true"),
    concurrency,
    (program) => new Deno.Command(program, { stdin: "null" }).output(),
  );
  return performance.now() - started;
}

/** Peak resident set size of this process in MiB (VmHWM), or current RSS where /proc is absent. */
function peakRssMiB(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (kb) return Number(kb[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 1024 / 1024;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Whether `path` is a file. */
function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The session launcher both images put first on PATH: `dz-mcall-setsid`, from
 * `scripts/native.sh build setsid` (cached; built when musl-gcc is there).
 *
 * @returns The directory holding it, or the reason there is none.
 */
export async function helperSetsid(): Promise<{ dir?: string; why?: string }> {
  const script = new URL("../scripts/native.sh", import.meta.url).pathname;
  const r = await new Deno.Command("bash", { args: [script, "build", "setsid"], stderr: "piped" })
    .output();
  if (!r.success) return { why: new TextDecoder().decode(r.stderr).trim() };
  const path = new TextDecoder().decode(r.stdout).trim();
  return { dir: path.slice(0, path.lastIndexOf("/")) };
}

/**
 * Links `dir/setsid` to busybox's static binary when it is installed (Debian `busybox-static`,
 * the applet the default image shipped before `dz-mcall-setsid`), for the comparison row.
 *
 * @returns The busybox path, or `undefined` when there is none.
 */
async function busyboxSetsid(dir: string): Promise<string | undefined> {
  for (const busybox of ["/bin/busybox", "/usr/bin/busybox"]) {
    try {
      if (!(await Deno.stat(busybox)).isFile) continue;
    } catch {
      continue;
    }
    await Deno.mkdir(dir, { recursive: true });
    await Deno.symlink(busybox, `${dir}/setsid`);
    return busybox;
  }
  return undefined;
}

/**
 * The whole program (`main.ts -c` with 2,000 × `true`, concurrency 10) against
 * `xargs -P 10 -n 1 true` over as many lines, each run as a process: wall and peak RSS,
 * interleaved `BENCH_ENGINE_RUNS` times (default 5); medians and paired ratios.
 */
async function wholeProcess(helper: { dir?: string; why?: string }): Promise<Row[]> {
  const runs = Math.max(1, Number(Deno.env.get("BENCH_ENGINE_RUNS") ?? "5") || 5);
  const dir = await Deno.makeTempDir({ prefix: "dz-bench-engine-" });
  try {
    const configFile = `${dir}/inputs.json`;
    const inputs = Array.from({ length: WHOLE_INPUTS }, () => ({ input: "true" }));
    await Deno.writeTextFile(
      configFile,
      JSON.stringify({ request: { inputs }, worker: { number: PROCESS_CONCURRENCY } }),
    );
    const main = new URL("../main.ts", import.meta.url).pathname;
    // The program's own permissions (etc/deno-permissions), as users run it.
    const permissions = programPermissions();
    // The launcher the images put first on PATH: dz-mcall-setsid (none on PATH here otherwise).
    const path = (Deno.env.get("PATH") ?? "").split(":")
      .filter((d) => !isFile(`${d}/dz-mcall-setsid`));
    const withPath = (first: string[]) => ({
      ...Deno.env.toObject(),
      PATH: [...first, ...path].join(":"),
    });
    const env = withPath(helper.dir ? [helper.dir] : []);
    const setsid = helper.dir
      ? "dz-mcall-setsid (scripts/native.sh build setsid: static, musl)"
      : `first on PATH, no dz-mcall-setsid (${helper.why})`;
    // For comparison: busybox's applet, what the default image ran before.
    const busybox = await busyboxSetsid(`${dir}/busybox`);
    const busyboxEnv = withPath([`${dir}/busybox`]);
    const mcall = (v8: readonly string[], env: Record<string, string>) => async () => {
      const r = await measureProcess([
        Deno.execPath(),
        "run",
        ...v8,
        ...permissions,
        main,
        "-c",
        configFile,
      ], { env });
      const results = JSON.parse(r.stdout) as Result[];
      if (results.length !== WHOLE_INPUTS || results.some((x) => x.errorCode !== "0")) {
        throw new Error("dz-mcall: not every input succeeded");
      }
      return r;
    };
    const s = await interleaved({
      // As users run it: with etc/deno-v8-flags (the image and `deno task start` use them).
      mcall: mcall(programV8Flags(), env),
      xargs: () =>
        measureProcess(["xargs", "-P", String(PROCESS_CONCURRENCY), "-n", "1", "true"], {
          stdin: "x\n".repeat(WHOLE_INPUTS),
        }),
      noFlags: mcall([], env),
      ...(busybox ? { busybox: mcall(programV8Flags(), busyboxEnv) } : {}),
    }, runs);
    const ratio = round(pairedRatio(s.mcall!, s.xargs!), 2);
    const rss = round(median(s.mcall!.map((x) => x.peakRssMiB)));
    const what = `${WHOLE_INPUTS} × true, concurrency ${PROCESS_CONCURRENCY}, whole process`;
    return [
      {
        name: `dz-mcall: ${what}`,
        value: round(median(s.mcall!.map((x) => x.wallMs))),
        unit: "ms",
        note: `main.ts -c (JSON config), ${
          programV8Flags().join(" ")
        } (etc/deno-v8-flags), setsid: ${setsid}; ${runs} runs interleaved with xargs, medians`,
      },
      {
        name: `xargs -P ${PROCESS_CONCURRENCY}: ${WHOLE_INPUTS} × true`,
        value: round(median(s.xargs!.map((x) => x.wallMs))),
        unit: "ms",
        note: "same run",
      },
      {
        name: "  dz-mcall / xargs (wall, paired)",
        value: ratio,
        unit: "ratio",
        note: verdict(ratio, 1.3, "×"),
      },
      { name: "  dz-mcall peak RSS", value: rss, unit: "MiB", note: verdict(rss, 96, " MiB") },
      {
        name: "  the same without etc/deno-v8-flags: peak RSS",
        value: round(median(s.noFlags!.map((x) => x.peakRssMiB))),
        unit: "MiB",
        note: `V8's default heap sizing, for comparison; wall ${
          round(pairedRatio(s.noFlags!, s.xargs!), 2)
        }× xargs`,
      },
      ...(s.busybox
        ? [{
          name: "  the same with busybox setsid instead: dz-mcall / xargs",
          value: round(pairedRatio(s.busybox, s.xargs!), 2),
          unit: "ratio",
          note: `for comparison: ${busybox}'s applet first on PATH, the default image's before ` +
            `dz-mcall-setsid; wall ${round(median(s.busybox.map((x) => x.wallMs)))} ms`,
        }]
        : []),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs the engine benchmarks and returns one row per measurement.
 *
 * - 200 × `true` at concurrency 10 through `runPool` + `runInput`, and the same through
 *   `xargs -P 10`, in the same run; the ratio's goal is ≤ 1.5.
 * - 1,000 GETs at concurrency 50 against a `Deno.serve` on 127.0.0.1 → requests per second.
 * - Peak RSS of the process.
 *
 * @returns The rows, in that order.
 *
 * @example Usage
 * ```ts ignore
 * import { benchEngine } from "./engine.ts";
 * for (const row of await benchEngine()) console.log(row.name, row.value, row.unit);
 * ```
 */
export async function benchEngine(): Promise<Row[]> {
  // The in-process engine rows spawn through the same launcher as the program: dz-mcall-setsid.
  const helper = await helperSetsid();
  if (helper.dir) Deno.env.set("PATH", `${helper.dir}:${Deno.env.get("PATH") ?? ""}`);
  const trueSpecs = Array.from({ length: PROCESSES }, (_, i) => input("true", "cmd", i));
  // Warm up both paths (JIT, page cache) before measuring.
  await engineRun(trueSpecs.slice(0, 20), PROCESS_CONCURRENCY);
  await xargsRun(20, PROCESS_CONCURRENCY);
  const engineMs = await engineRun(trueSpecs, PROCESS_CONCURRENCY);
  const xargsMs = await xargsRun(PROCESSES, PROCESS_CONCURRENCY);
  await denoFloorRun(20, PROCESS_CONCURRENCY);
  const floorMs = await denoFloorRun(PROCESSES, PROCESS_CONCURRENCY);

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  let httpMs: number;
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const getSpecs = Array.from({ length: REQUESTS }, (_, i) => input(url, "get", i));
    await engineRun(getSpecs.slice(0, 100), REQUEST_CONCURRENCY);
    httpMs = await engineRun(getSpecs, REQUEST_CONCURRENCY);
  } finally {
    await server.shutdown();
  }

  const whole = await wholeProcess(helper);
  const launcher = sessionLauncher(systemClock);
  return [
    ...whole,
    {
      name: `engine: ${PROCESSES} × true, concurrency ${PROCESS_CONCURRENCY}`,
      value: round(engineMs),
      unit: "ms",
      note: `runPool + runInput (no shell), launcher ${
        launcher?.slice(launcher.lastIndexOf("/") + 1) ?? "none (detached: true)"
      }`,
    },
    {
      name: `xargs -P ${PROCESS_CONCURRENCY}: ${PROCESSES} × true`,
      value: round(xargsMs),
      unit: "ms",
      note: "same machine, same run",
    },
    {
      name: `Deno.Command floor: ${PROCESSES} × true`,
      value: round(floorMs),
      unit: "ms",
      note: "bare Deno.Command().output() through runPool: the runtime's own spawn cost",
    },
    {
      name: "engine / xargs",
      value: round(engineMs / xargsMs, 2),
      unit: "ratio",
      note: "goal ≤ 1.5",
    },
    {
      name: `engine: ${REQUESTS} GETs, concurrency ${REQUEST_CONCURRENCY}`,
      value: Math.round(REQUESTS / (httpMs / 1000)),
      unit: "req/s",
      note: `local Deno.serve on 127.0.0.1, ${round(httpMs)} ms total`,
    },
    {
      name: "peak RSS of the bench process",
      value: round(peakRssMiB()),
      unit: "MiB",
      note: "VmHWM (includes the local HTTP server)",
    },
  ];
}

if (import.meta.main) {
  for (const row of await benchEngine()) {
    console.log(`${row.name}\t${row.value} ${row.unit}${row.note ? `\t(${row.note})` : ""}`);
  }
}
