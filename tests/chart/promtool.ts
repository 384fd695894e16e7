/**
 * promtool for the tests: built once from Go modules by `scripts/prom-tools.sh promtool` (cached
 * outside the repo), and the chart's rendered PrometheusRule written as a Prometheus rule file.
 *
 * @module
 */
import { stringify } from "yaml";
import { at, find, type K8sObject } from "./helpers.ts";

const SCRIPT = decodeURIComponent(new URL("../../scripts/prom-tools.sh", import.meta.url).pathname);

let promtoolPath: Promise<string | undefined> | undefined;

/** Builds promtool once; `undefined` when there is no Go toolchain (and not REQUIRE_E2E=1). */
export function promtool(): Promise<string | undefined> {
  promtoolPath ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [SCRIPT, "promtool", "build"],
      stderr: "piped",
    })
      .output();
    const dec = new TextDecoder();
    if (out.code === 3 && Deno.env.get("REQUIRE_E2E") !== "1") return undefined;
    if (out.code !== 0) {
      throw new Error(`scripts/prom-tools.sh promtool: ${dec.decode(out.stderr)}`);
    }
    return dec.decode(out.stdout).trim().split("\n").pop()!;
  })();
  return promtoolPath;
}

/** Runs `bin` with `args` in `cwd`: exit code and stdout + stderr. */
export async function run(bin: string, args: string[], cwd: string) {
  const out = await new Deno.Command(bin, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Writes the rendered PrometheusRule's groups as a Prometheus rule file in `dir`. */
export async function ruleFile(objects: readonly K8sObject[], dir: string): Promise<string> {
  const spec = at(find(objects, "PrometheusRule"), "spec");
  await Deno.writeTextFile(`${dir}/rules.yaml`, stringify(spec));
  return "rules.yaml";
}
