/**
 * The program's Deno permissions are written once, in etc/deno-permissions, and its V8 flags in
 * etc/deno-v8-flags. The Dockerfile and scripts/image.sh read the files; deno.json cannot, so its
 * tasks restate the flags, and so does the README (permissions). These tests fail when any of them
 * differs from the files.
 */
import assert from "node:assert/strict";
import {
  parsePermissions,
  parseV8Flags,
  PERMISSIONS_FILE,
  programPermissions,
  programV8Flags,
  V8_FLAGS_FILE,
} from "./permissions.ts";
import { PROGRAM_PERMISSIONS, PROGRAM_V8_FLAGS } from "./e2e/mcall_proc.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const read = (path: string) => Deno.readTextFileSync(`${ROOT}${path}`);
const sorted = (flags: readonly string[]) => [...flags].sort();

/** Permission flags of a `deno run …` command line, up to the script it runs. */
function runFlags(command: string, flag = /^(-A|--allow-)/): string[] {
  const words = command.trim().split(/\s+/);
  assert.equal(words[0], "deno", command);
  assert.equal(words[1], "run", command);
  const script = words.findIndex((w) => w.endsWith(".ts"));
  assert.ok(script > 1, `no script in "${command}"`);
  return words.slice(2, script).filter((w) => flag.test(w));
}

async function sh(script: string, cwd: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "piped" })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("permissions: the file holds explicit flags only, /tmp the only writable path", () => {
  const flags = programPermissions();
  assert.ok(flags.includes("--allow-write=/tmp"), flags.join(" "));
  assert.ok(!flags.includes("--allow-write"), "unrestricted write");
  assert.equal(new Set(flags).size, flags.length, "duplicate flag");
});

Deno.test("permissions: the parser refuses -A, --allow-all and more than one line", () => {
  assert.throws(() => parsePermissions("-A\n"), /"-A" is not an explicit/);
  assert.throws(() => parsePermissions("--allow-all\n"), /"--allow-all" is not an explicit/);
  assert.throws(() => parsePermissions("# c\n--allow-read\n--allow-env\n"), /found 2/);
  assert.throws(() => parsePermissions("# only a comment\n"), /found 0/);
  assert.deepEqual(parsePermissions("# c\n\n  --allow-read --allow-write=/tmp \n"), [
    "--allow-read",
    "--allow-write=/tmp",
  ]);
});

Deno.test("permissions: deno.json tasks start and mcall use exactly the file's flags", () => {
  const tasks = JSON.parse(read("deno.json")).tasks as Record<string, string>;
  for (const name of ["start", "mcall"]) {
    assert.deepEqual(sorted(runFlags(tasks[name]!)), sorted(programPermissions()), `task ${name}`);
  }
});

Deno.test("permissions: the e2e harness runs the program with the file's flags", () => {
  assert.deepEqual([...PROGRAM_PERMISSIONS], programPermissions());
  assert.deepEqual([...PROGRAM_V8_FLAGS], programV8Flags());
});

Deno.test("v8 flags: the parser takes one --v8-flags=… word and nothing else", () => {
  assert.deepEqual(parseV8Flags("# c\n\n --v8-flags=--optimize-for-size \n"), [
    "--v8-flags=--optimize-for-size",
  ]);
  assert.deepEqual(parseV8Flags("--v8-flags=--a-b,--max-semi-space-size=1\n"), [
    "--v8-flags=--a-b,--max-semi-space-size=1",
  ]);
  assert.throws(() => parseV8Flags("--allow-all\n"), /is not one --v8-flags=/);
  assert.throws(() => parseV8Flags("--v8-flags=--a --allow-read\n"), /is not one --v8-flags=/);
  assert.throws(() => parseV8Flags("--v8-flags=\n"), /is not one --v8-flags=/);
  assert.throws(() => parseV8Flags("--v8-flags=--a\n--v8-flags=--b\n"), /found 2/);
  assert.throws(() => parseV8Flags("# only a comment\n"), /found 0/);
});

Deno.test("v8 flags: deno.json tasks start and mcall use exactly the file's flags", () => {
  const tasks = JSON.parse(read("deno.json")).tasks as Record<string, string>;
  for (const name of ["start", "mcall"]) {
    assert.deepEqual(runFlags(tasks[name]!, /^--v8-flags/), programV8Flags(), `task ${name}`);
  }
});

Deno.test("v8 flags: the Dockerfile compiles with the file's flags (read from the file)", async () => {
  const code = read("Dockerfile").split("\n").filter((l) => !l.trimStart().startsWith("#"))
    .join("\n");
  assert.doesNotMatch(code, /--v8-flags/, "the Dockerfile spells out V8 flags of its own");
  assert.match(code, /^COPY etc\/deno-v8-flags \.\/$/m);
  assert.match(read(".dockerignore"), /^!etc\/deno-v8-flags$/m);
  const step = code.match(/deno compile --frozen \\\n((?:\s*\$\(.*\) \\\n)+)\s*-o /)?.[1];
  const expr = step?.split("\n").map((l) => l.trim().replace(/ \\$/, ""))
    .find((l) => l.includes("deno-v8-flags"));
  assert.ok(expr, "no $(… deno-v8-flags) in the deno compile step");
  const dir = await Deno.makeTempDir({ prefix: "dz-v8-" });
  try {
    await Deno.copyFile(V8_FLAGS_FILE, `${dir}/deno-v8-flags`);
    const words = (await sh(`printf '%s\\n' ${expr}`, dir)).trim().split("\n");
    assert.deepEqual(words, programV8Flags());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("v8 flags: scripts/image.sh writes the file's flags into the launcher", async () => {
  const launcher = await sh("scripts/image.sh launcher", ROOT);
  const exec = launcher.split("\n").find((l) => l.startsWith("exec "));
  assert.ok(exec, launcher);
  const words = exec.split(/\s+/);
  assert.deepEqual(words.filter((w) => w.startsWith("--v8-flags")), programV8Flags());
  // Before the script: deno takes its own flags only there.
  assert.ok(words.indexOf(programV8Flags()[0]!) < words.indexOf("/app/main.ts"), exec);
});

Deno.test("permissions: the Dockerfile compiles with the file's flags (read from the file)", async () => {
  const dockerfile = read("Dockerfile");
  const code = dockerfile.split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
  assert.doesNotMatch(code, /--allow-|\s-A\s/, "the Dockerfile spells out flags of its own");
  assert.match(code, /^COPY etc\/deno-permissions \.\/$/m);
  // The command substitution in the compile step, run the way the build runs it (the file
  // copied into the working directory).
  const expr = code.match(/deno compile --frozen \\\n\s*(\$\(.*deno-permissions\))/)?.[1];
  assert.ok(expr, "no $(… deno-permissions) in the deno compile step");
  const dir = await Deno.makeTempDir({ prefix: "dz-perm-" });
  try {
    await Deno.copyFile(PERMISSIONS_FILE, `${dir}/deno-permissions`);
    const words = (await sh(`printf '%s\\n' ${expr}`, dir)).trim().split("\n");
    assert.deepEqual(words, programPermissions());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("permissions: scripts/image.sh writes the file's flags into the launcher", async () => {
  const launcher = await sh("scripts/image.sh launcher", ROOT);
  const exec = launcher.split("\n").find((l) => l.startsWith("exec "));
  assert.ok(exec, launcher);
  const flags = exec.split(/\s+/).filter((w) => /^(-A|--allow-)/.test(w));
  assert.deepEqual(flags, programPermissions());
  assert.match(exec, / run --cached-only --no-prompt /);
});

Deno.test("permissions: a log file outside /tmp is a one-line error, exit 2, nothing written", async () => {
  // A directory outside /tmp (a checkout may itself live under /tmp, where writes are allowed).
  const outside = ROOT.startsWith("/tmp/") ? Deno.env.get("HOME") ?? "/var/tmp" : ROOT;
  const dir = await Deno.makeTempDir({ dir: outside, prefix: ".dz-perm-" });
  try {
    for (
      const [file, why] of [
        [`${dir}/mcall.log`, "writes are allowed only under /tmp"],
        ["/tmp/dz-no-such-dir/mcall.log", "its directory does not exist"],
      ] as const
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...programPermissions(),
          `${ROOT}main.ts`,
          "--log-file",
          file,
          "-i",
          "echo x",
        ],
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.equal(out.stdout.length, 0);
      assert.match(
        stderr,
        new RegExp(`^dz-mcall: log\\.file: cannot open "${file}": .*${why}.*\\n$`),
      );
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("permissions: the README states the file's line", () => {
  assert.ok(
    read("README.md").includes(programPermissions().join(" ")),
    `README.md does not state "${programPermissions().join(" ")}"`,
  );
});
