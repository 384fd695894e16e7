/**
 * Start-up benchmark (`deno task bench startup`): the real program in a subprocess against a bare
 * `deno run` of a one-line print (in a directory without deno.json, as the reference),
 * interleaved run by run; medians, and ratios taken pair by pair. `BENCH_STARTUP_RUNS` sets the
 * runs per command (default 21).
 *
 * Goals (issue 12): `-i true` wall ≤ 4× bare and peak RSS ≤ 64 MiB; `--help` and `--version` at
 * bare-Deno speed.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { interleaved, measureProcess, median, pairedRatio, round, verdict } from "./proc.ts";
import type { Row } from "./table.ts";
import { programV8Flags } from "../tests/permissions.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-run",
  "--allow-sys",
];

/**
 * Where the rest of `-i true`'s time goes (measured with a scratch script timing each import and
 * phase, and by strace): zod's import (~12 ms: its core loads ~90 modules, every locale among
 * them) and building the schema (~6 ms); the first `setTimeout` (the engine's per-input timer and
 * spawn gate) boots Deno's Node layer (~5 ms); `deno run` reads every module reachable through a
 * literal dynamic import at start (leader mode and lib/kube too, ~90 files).
 */
const NEXT_LEVER =
  "; next levers: the engine's first setTimeout boots Deno's Node layer (~5 ms); " +
  "zod's import (~12 ms) and schema build (~6 ms)";

/** Runs the start-up benchmark. */
export async function benchStartup(): Promise<Row[]> {
  const runs = Math.max(3, Number(Deno.env.get("BENCH_STARTUP_RUNS") ?? "21") || 21);
  const deno = Deno.execPath();
  const dir = await Deno.makeTempDir({ prefix: "dz-bench-startup-" });
  try {
    const hello = `${dir}/hello.ts`;
    await Deno.writeTextFile(hello, 'console.log("hello");\n');
    const configFile = `${dir}/mcall.yaml`;
    await Deno.writeTextFile(configFile, 'request:\n  inputs:\n    - input: "true"\n');
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
    };
    const mcall = (...args: string[]) => () =>
      // With the V8 flags users run it with (etc/deno-v8-flags).
      measureProcess([deno, "run", ...programV8Flags(), ...PERMISSIONS, MAIN, ...args], {
        cwd: ROOT,
        env,
      });
    const commands = {
      bare: () => measureProcess([deno, "run", hello], { cwd: dir, env }),
      once: mcall("-i", "true"),
      version: mcall("--version"),
      help: mcall("--help"),
      file: mcall("-c", configFile),
    };
    for (const run of Object.values(commands)) await run(); // warm caches (code cache, page cache)
    const s = await interleaved(commands, runs);
    const wall = (k: keyof typeof s) => round(median(s[k]!.map((x) => x.wallMs)));
    const rss = (k: keyof typeof s) => round(median(s[k]!.map((x) => x.peakRssMiB)));
    const ratio = (k: keyof typeof s) => round(pairedRatio(s[k]!, s.bare!), 2);
    const onceRss = rss("once");
    return [
      {
        name: "bare deno run (one print)",
        value: wall("bare"),
        unit: "ms",
        note: `reference; peak RSS ${rss("bare")} MiB; ${runs} runs interleaved, medians`,
      },
      {
        name: "dz-mcall -i true",
        value: wall("once"),
        unit: "ms",
        note: `peak RSS ${onceRss} MiB`,
      },
      {
        name: "  -i true / bare (wall, paired)",
        value: ratio("once"),
        unit: "ratio",
        note: verdict(ratio("once"), 4, "×") + (ratio("once") > 4 ? NEXT_LEVER : ""),
      },
      {
        name: "  -i true peak RSS",
        value: onceRss,
        unit: "MiB",
        note: verdict(onceRss, 64, " MiB"),
      },
      {
        name: "dz-mcall --version",
        value: wall("version"),
        unit: "ms",
        note: `${ratio("version")}× bare; peak RSS ${rss("version")} MiB`,
      },
      {
        name: "dz-mcall --help",
        value: wall("help"),
        unit: "ms",
        note: `${ratio("help")}× bare; peak RSS ${rss("help")} MiB`,
      },
      {
        name: "dz-mcall -c mcall.yaml (1 input)",
        value: wall("file"),
        unit: "ms",
        note: `${ratio("file")}× bare; peak RSS ${rss("file")} MiB; loads the YAML parser`,
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { renderTable } = await import("./table.ts");
  console.log(renderTable("Start-up", await benchStartup()));
}
