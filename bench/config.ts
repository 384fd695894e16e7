/**
 * Config-size benchmark (`deno task bench config`): peak RSS and wall time of reading, parsing and
 * validating a config file through `lib/config/load.ts` in a child `deno run`, against the same
 * child reading a one-input config (the reference, measured in the same run, interleaved).
 *
 * Goal (issue 23 item 4): memory for an accepted config within a small multiple of its size —
 * JSON up to the 4 MiB file cap is read by `JSON.parse`, YAML is capped at 256 KiB; a larger
 * file is refused at the cap before it is read (`-c /dev/zero` stops at 4 MiB).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { interleaved, measureProcess, median, round } from "./proc.ts";
import type { Row } from "./table.ts";
import { programV8Flags } from "../tests/permissions.ts";

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MiB = 1024 * 1024;

/** A JSON config of `inputs` inputs. */
function jsonConfig(bytes: number): string {
  const inputs: string[] = [];
  for (let i = 0, size = 40; size < bytes; i++) {
    const one = `{"input": "echo ${i}", "name": "n${i}"}`;
    inputs.push(one);
    size += one.length + 1;
  }
  return `{"request": {"inputs": [${inputs.join(",")}]}}`;
}

/** A block-style YAML config of about `bytes` bytes. */
function yamlConfig(bytes: number): string {
  let text = "request:\n  inputs:\n";
  for (let i = 0; text.length < bytes - 60; i++) {
    text += `    - input: echo ${i}\n      name: n${i}\n`;
  }
  return text;
}

/** Runs the benchmark. */
export async function benchConfig(): Promise<Row[]> {
  const runs = Math.max(3, Number(Deno.env.get("BENCH_CONFIG_RUNS") ?? "5") || 5);
  const dir = await Deno.makeTempDir({ prefix: "dz-bench-config-" });
  try {
    const files = {
      tiny: `${dir}/tiny.yaml`,
      json: `${dir}/big.json`,
      yaml: `${dir}/big.yaml`,
    };
    await Deno.writeTextFile(files.tiny, 'request:\n  inputs:\n    - input: "true"\n');
    await Deno.writeTextFile(files.json, jsonConfig(4 * MiB - 1024));
    await Deno.writeTextFile(files.yaml, yamlConfig(256 * 1024 - 64));
    const load = (file: string) => () =>
      measureProcess([
        Deno.execPath(),
        "run",
        ...programV8Flags(),
        "--allow-read",
        "--allow-env",
        SELF,
        file,
      ], {
        cwd: ROOT,
      });
    const commands = { tiny: load(files.tiny), json: load(files.json), yaml: load(files.yaml) };
    const s = await interleaved(commands, runs);
    const rss = (k: keyof typeof s) => round(median(s[k]!.map((x) => x.peakRssMiB)));
    const wall = (k: keyof typeof s) => round(median(s[k]!.map((x) => x.wallMs)));
    const size = async (f: string) => (await Deno.stat(f)).size / MiB;
    const extra = async (k: "json" | "yaml") =>
      `${round((rss(k) - rss("tiny")) / (await size(files[k])))}× its size above the reference`;
    return [
      {
        name: "one-input config (reference)",
        value: rss("tiny"),
        unit: "MiB peak",
        note: `${wall("tiny")} ms; ${runs} runs interleaved, medians`,
      },
      {
        name: `JSON config, ${round(await size(files.json))} MiB`,
        value: rss("json"),
        unit: "MiB peak",
        note: `${await extra("json")}; ${wall("json")} ms (${
          round(wall("json") / wall("tiny"))
        }× reference)`,
      },
      {
        name: `YAML config, ${round(await size(files.yaml) * 1024, 0)} KiB (the YAML cap)`,
        value: rss("yaml"),
        unit: "MiB peak",
        note: `${await extra("yaml")}; ${wall("yaml")} ms (${
          round(wall("yaml") / wall("tiny"))
        }× reference)`,
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main && Deno.args.length === 1) {
  // The child: read, parse and validate one config file, as main.ts does.
  const { loadConfig, readConfigFile } = await import("../lib/config/load.ts");
  const config = loadConfig({ layers: [await readConfigFile(Deno.args[0]!)] });
  console.log(config.request.inputs?.length ?? 0);
}
