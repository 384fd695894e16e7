/**
 * `dz-mcall-nosigusr1` (native/nosigusr1.c, built by scripts/native.sh): the image's entrypoint
 * launcher, which starts the program with SIGUSR1 blocked so that Deno (>= 2.9.2) cannot open its
 * unauthenticated V8 inspector on that signal. Checked here: its exit codes and messages, the mask
 * it hands over (SIGUSR1 and nothing else), `dz-mcall-setsid` emptying it again for commands,
 * and serve mode as the program runs it behind the launcher, signalled. The image runs the same
 * launcher as its entrypoint; tests/e2e/image_test.ts sends SIGUSR1 there with and without it.
 */
import assert from "node:assert/strict";
import { program, ROOT, until } from "../cli/program.ts";
import { sigBlk, SIGUSR1_BIT } from "./sigmask.ts";

const dec = new TextDecoder();
const required = ["1", "true"].includes(Deno.env.get("REQUIRE_E2E") ?? "");

/** scripts/native.sh build NAME: the helper's path, or why there is none (musl-gcc missing). */
function build(name: "nosigusr1" | "setsid"): { path?: string; missing?: string } {
  const r = new Deno.Command("bash", { args: [`${ROOT}scripts/native.sh`, "build", name] })
    .outputSync();
  if (r.code === 3) return { missing: dec.decode(r.stderr).trim() };
  assert.equal(r.code, 0, dec.decode(r.stderr));
  return { path: dec.decode(r.stdout).trim() };
}

const launcher = build("nosigusr1");
const setsid = build("setsid");
if (launcher.missing !== undefined) {
  if (required) throw new Error(`REQUIRE_E2E=1 but ${launcher.missing}`);
  console.error(`\n!! dz-mcall-nosigusr1 TESTS SKIPPED: ${launcher.missing}\n`);
}
const ignore = launcher.path === undefined;

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "dz-mcall-nosigusr1: usage, a name instead of a path, a missing or unrunnable program",
  ignore,
  fn: async () => {
    const name = "dz-mcall-nosigusr1";
    assert.deepEqual(await run([launcher.path!]), {
      code: 2,
      stdout: "",
      stderr: `usage: ${name} PROGRAM [ARGS...]\n`,
    });
    // No PATH lookup: the entrypoint names its program, nothing on PATH can stand in for it.
    assert.deepEqual(await run([launcher.path!, "true"]), {
      code: 2,
      stdout: "",
      stderr: `${name}: refusing to look up true: PROGRAM must be a path\n`,
    });
    assert.deepEqual(await run([launcher.path!, "/nonexistent/dz-mcall"]), {
      code: 127,
      stdout: "",
      stderr: `${name}: failed to execute /nonexistent/dz-mcall: No such file or directory\n`,
    });
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/data`, "not a program\n", { mode: 0o600 });
      assert.deepEqual(await run([launcher.path!, `${dir}/data`]), {
        code: 126,
        stdout: "",
        stderr: `${name}: failed to execute ${dir}/data: Permission denied\n`,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "dz-mcall-nosigusr1 execs in place, with SIGUSR1 blocked and nothing else",
  ignore,
  fn: async () => {
    // No fork: the pid spawned is the program's; the arguments pass as given.
    const child = new Deno.Command(launcher.path!, {
      args: ["/bin/sh", "-c", 'echo "$$ $0 $1"', "zero", "one"],
      stdout: "piped",
    }).spawn();
    assert.equal(dec.decode((await child.output()).stdout), `${child.pid} zero one\n`);
    // (grep itself: dash empties the mask at start-up, so a shell would not show it.)
    const mask = await run([launcher.path!, "/bin/grep", "SigBlk", "/proc/self/status"]);
    assert.equal(sigBlk(mask.stdout), SIGUSR1_BIT, mask.stdout);
    // Through itself: still exactly SIGUSR1 (blocking is idempotent).
    const twice = await run([
      launcher.path!,
      launcher.path!,
      "/bin/grep",
      "SigBlk",
      "/proc/self/status",
    ]);
    assert.equal(sigBlk(twice.stdout), SIGUSR1_BIT, twice.stdout);
  },
});

Deno.test({
  name: "dz-mcall-setsid empties the mask again: commands never inherit the blocked SIGUSR1",
  ignore: ignore || setsid.path === undefined,
  fn: async () => {
    const r = await run([launcher.path!, setsid.path!, "/bin/grep", "SigBlk", "/proc/self/status"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sigBlk(r.stdout), 0n, r.stdout);
  },
});

/**
 * Serve mode behind the launcher until healthy, then a SIGUSR1 after the runtime's 500 ms grace
 * (Deno installs its handler then). Returns the output and whether it still served afterwards.
 */
async function serveSignalled(): Promise<{ output: string; served: boolean; port9229: boolean }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = program(["-w", "-p", String(port)], {}, [launcher.path!]).spawn();
  const get = async (url: string) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return await res.text();
    } catch {
      return undefined;
    }
  };
  const healthy = async () => (await get(`http://127.0.0.1:${port}/healthcheck`)) === "OK\n";
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let served = false;
  let port9229 = false;
  try {
    await until(healthy, 15_000);
    await sleep(700);
    const before = (await get("http://127.0.0.1:9229/json/version")) !== undefined;
    child.kill("SIGUSR1");
    await sleep(700);
    served = await healthy();
    // Something else on this host may hold 9229; only a change counts.
    port9229 = !before && (await get("http://127.0.0.1:9229/json/version")) !== undefined;
  } finally {
    child.kill("SIGTERM");
  }
  const out = await child.output();
  return { output: dec.decode(out.stdout) + dec.decode(out.stderr), served, port9229 };
}

Deno.test({
  name: "serve mode behind dz-mcall-nosigusr1: SIGUSR1 opens no inspector, serving goes on",
  ignore,
  fn: async () => {
    const r = await serveSignalled();
    assert.ok(r.served, `still serving after SIGUSR1: ${r.output}`);
    assert.equal(r.port9229, false, "an inspector answers on 127.0.0.1:9229");
    assert.doesNotMatch(r.output, /Debugger listening/, r.output);
  },
});
