/**
 * Every cmd input runs in a session of its own, through whichever session launcher the engine
 * finds (lib/engine/command.ts): `dz-mcall-setsid` (native/setsid.c, built by scripts/native.sh),
 * util-linux or busybox `setsid`, or none (`detached: true`). Each variant available here runs
 * `session_probe.ts` in a fresh process with a PATH that selects it; the assertions are here.
 * The helper binary itself is checked against util-linux `setsid`'s exit codes and messages.
 */
import assert from "node:assert/strict";
import { stillRunning } from "./processes.ts";
import type { Probe } from "./session_probe.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const PROBE = new URL("./session_probe.ts", import.meta.url).pathname;
const HELPER = "dz-mcall-setsid";
const dec = new TextDecoder();
const required = ["1", "true"].includes(Deno.env.get("REQUIRE_E2E") ?? "");

/** scripts/native.sh build setsid: the helper's path, or why there is none (musl-gcc missing). */
function buildHelper(): { path?: string; missing?: string } {
  const r = new Deno.Command("bash", { args: [`${ROOT}scripts/native.sh`, "build", "setsid"] })
    .outputSync();
  if (r.code === 3) return { missing: dec.decode(r.stderr).trim() };
  assert.equal(r.code, 0, dec.decode(r.stderr));
  return { path: dec.decode(r.stdout).trim() };
}

const helper = buildHelper();
if (helper.missing !== undefined) {
  if (required) throw new Error(`REQUIRE_E2E=1 but ${helper.missing}`);
  console.error(`\n!! ${HELPER} TESTS SKIPPED: ${helper.missing}\n`);
}

/** Whether `path` is an executable file. */
function executable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

const inherited = (Deno.env.get("PATH") ?? "").split(":").filter((d) =>
  !executable(`${d}/${HELPER}`)
);
const utilLinux = ["/usr/bin/setsid", "/bin/setsid"].find(
  (p) => executable(p) && !Deno.realPathSync(p).endsWith("/busybox"),
);
const busybox = ["/bin/busybox", "/usr/bin/busybox"].find(executable);

/** One way to give each command its session: a PATH (in `dir`) and the launcher it selects. */
interface Variant {
  name: string;
  /** Lays out `dir` and returns the PATH and the launcher the engine should pick. */
  setUp(dir: string): { path: string[]; launcher: string | null };
}

const variants: Variant[] = [];
if (helper.path !== undefined) {
  const path = helper.path;
  variants.push({
    name: HELPER,
    setUp: () => ({ path: [path.slice(0, path.lastIndexOf("/")), ...inherited], launcher: path }),
  });
}
if (utilLinux !== undefined) {
  const setsid = utilLinux;
  variants.push({
    name: "util-linux setsid",
    setUp: () => {
      const path = inherited.filter((d) => !executable(`${d}/setsid`) || d === "/usr/bin");
      const launcher = path.map((d) => `${d}/setsid`).find(executable);
      assert.equal(launcher && Deno.realPathSync(launcher), setsid);
      return { path, launcher: launcher! };
    },
  });
}
if (busybox !== undefined) {
  const bb = busybox;
  variants.push({
    name: "busybox setsid",
    setUp: (dir) => {
      Deno.symlinkSync(bb, `${dir}/setsid`);
      return { path: [dir, ...inherited], launcher: `${dir}/setsid` };
    },
  });
}
variants.push({
  name: "no launcher (detached: true)",
  setUp: (dir) => {
    // Only what the probe runs from PATH: no setsid of any kind.
    for (const program of ["sh", "sleep"]) {
      const found = inherited.map((d) => `${d}/${program}`).find(executable);
      assert.ok(found, `${program} not on PATH`);
      Deno.symlinkSync(found, `${dir}/${program}`);
    }
    return { path: [dir], launcher: null };
  },
});

for (const variant of variants) {
  Deno.test(`session (${variant.name}): own session, a timeout kills the tree, PATH retries`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "dz-session-test-" });
    try {
      const { path, launcher } = variant.setUp(dir);
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-run", PROBE],
        env: { PATH: path.join(":") },
        clearEnv: false,
      }).output();
      assert.equal(r.code, 0, dec.decode(r.stderr));
      const probe: Probe = JSON.parse(dec.decode(r.stdout));
      assert.equal(probe.launcher, launcher);
      // The program itself leads its session and its process group: pid = pgrp = sid.
      const [pid, pgrp, sid] = probe.ids.split(" ").map(Number);
      assert.ok(pid! > 0, probe.ids);
      assert.deepEqual([pgrp, sid], [pid, pid], `pid pgrp sid: ${probe.ids}`);
      // The timed-out shell and its background sleep: nothing of the group survives.
      assert.equal(probe.timedOut.error, "timed out after 500ms");
      const [shell, sleep] = probe.timedOut.result.trim().split("\n").map(Number);
      assert.ok(shell! > 0 && sleep! > 0, probe.timedOut.result);
      assert.deepEqual(await stillRunning([shell!, sleep!]), [], "still running after the timeout");
      assert.equal(probe.missing, 'program "nosuchprog" not found');
      // A cached lookup gone stale: the launcher exits 127, the engine looks again.
      assert.deepEqual(probe.moved, [
        { errorCode: "0", result: "first\n" },
        { errorCode: "0", result: "second\n" },
      ]);
      assert.equal(probe.removed, 'program "dzprog" not found');
      assert.equal(probe.script, "no #! arg\n", "a script without #! runs through /bin/sh");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/** Runs `argv` (with `path` as PATH when given) and returns its exit code, stdout and stderr. */
async function run(
  argv: string[],
  path?: string,
): Promise<{ code: number; stderr: string; stdout: string }> {
  const r = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    ...(path === undefined ? {} : { env: { PATH: path } }),
  }).output();
  return { code: r.code, stderr: dec.decode(r.stderr), stdout: dec.decode(r.stdout) };
}

Deno.test({
  name: `${HELPER}: exec in place (the spawned pid is the program's), one session`,
  ignore: helper.path === undefined,
  fn: async () => {
    const child = new Deno.Command(helper.path!, {
      args: [
        "/bin/sh",
        "-c",
        'read -r pid comm state ppid pgrp sid rest </proc/$$/stat; echo "$pid $pgrp $sid $ppid"',
      ],
      stdout: "piped",
    }).spawn();
    const { stdout } = await child.output();
    const p = child.pid;
    assert.equal(dec.decode(stdout), `${p} ${p} ${p} ${Deno.pid}\n`);
  },
});

Deno.test({
  name: `${HELPER}: finds and runs programs, exit codes and messages as util-linux setsid's`,
  ignore: helper.path === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${dir}/deny`);
      await Deno.mkdir(`${dir}/bin`);
      await Deno.writeTextFile(`${dir}/plain`, "echo hi\n", { mode: 0o644 });
      await Deno.writeTextFile(`${dir}/script`, 'echo "script $0 $1"\n', { mode: 0o755 });
      await Deno.writeTextFile(`${dir}/deny/x`, "#!/bin/sh\necho denied\n", { mode: 0o644 });
      await Deno.writeTextFile(`${dir}/bin/x`, "#!/bin/sh\necho later\n", { mode: 0o755 });
      const failed = (program: string, why: string) =>
        `${HELPER}: failed to execute ${program}: ${why}\n`;
      const cases: { argv: string[]; path?: string; code: number; out?: string; err?: string }[] = [
        {
          argv: [`${dir}/none`],
          code: 127,
          err: failed(`${dir}/none`, "No such file or directory"),
        },
        { argv: ["nosuchprog"], code: 127, err: failed("nosuchprog", "No such file or directory") },
        { argv: [""], code: 127, err: failed("", "No such file or directory") },
        { argv: [`${dir}/plain`], code: 126, err: failed(`${dir}/plain`, "Permission denied") },
        { argv: [dir], code: 126, err: failed(dir, "Permission denied") },
        { argv: ["plain"], path: dir, code: 126, err: failed("plain", "Permission denied") },
        // Not executable in the first PATH directory, executable in a later one: runs that.
        { argv: ["x"], path: `${dir}/deny:${dir}/bin`, code: 0, out: "later\n" },
        // No "#!": /bin/sh runs it, as glibc's execvp does (musl's would refuse).
        { argv: [`${dir}/script`, "a"], code: 0, out: `script ${dir}/script a\n` },
        {
          argv: ["script", "a"],
          path: `${dir}:/usr/bin:/bin`,
          code: 0,
          out: `script ${dir}/script a\n`,
        },
      ];
      for (const { argv, path, code, out = "", err = "" } of cases) {
        const what = `${JSON.stringify(argv)} with PATH=${path ?? "(inherited)"}`;
        const got = await run([helper.path!, ...argv], path);
        assert.deepEqual(got, { code, stdout: out, stderr: err }, what);
        if (utilLinux !== undefined) {
          const want = await run([utilLinux, ...argv], path);
          assert.deepEqual(
            got,
            { ...want, stderr: want.stderr.replace(/^setsid:/, `${HELPER}:`) },
            `${what}: util-linux setsid differs`,
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `${HELPER}: usage without a program (exit 2); refuses to run as a group leader (exit 126)`,
  ignore: helper.path === undefined,
  fn: async () => {
    assert.deepEqual(await run([helper.path!]), {
      code: 2,
      stdout: "",
      stderr: `usage: ${HELPER} PROGRAM [ARGS...]\n`,
    });
    // Through itself: the outer one already leads a session, so the inner setsid(2) fails and
    // the program never runs (forking instead would break the pid contract).
    const leader = await run([helper.path!, helper.path!, "/bin/echo", "ran"]);
    assert.deepEqual(leader, {
      code: 126,
      stdout: "",
      stderr: `${HELPER}: setsid failed: Operation not permitted\n`,
    });
  },
});

Deno.test("scripts/native.sh refuses an unknown subcommand or helper with its usage, exit 2", async () => {
  for (const args of [["bogus"], ["build"], ["build", "sh"], ["check", "setsid"]]) {
    assert.deepEqual(await run(["bash", `${ROOT}scripts/native.sh`, ...args]), {
      code: 2,
      stdout: "",
      stderr:
        "usage: scripts/native.sh build|path NAME, or scripts/native.sh check (NAME: setsid, nosigusr1)\n",
    }, args.join(" "));
  }
});
