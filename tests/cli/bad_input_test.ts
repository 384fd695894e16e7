/**
 * Issue 23's bad input against the real program: one line on stderr naming the field or file,
 * nothing on stdout, exit 2, and no unbounded read.
 */
import assert from "node:assert/strict";
import { MAIN, mcall, ROOT } from "./program.ts";
import { PROGRAM_PERMISSIONS, PROGRAM_V8_FLAGS } from "../e2e/mcall_proc.ts";

Deno.test("main: -c /dev/zero and --token-file /dev/zero fail fast naming the file and the cap", async () => {
  const cases: [string[], string][] = [
    [
      ["-c", "/dev/zero", "-i", "true"],
      'dz-mcall: config file "/dev/zero": larger than the 4 MiB cap\n',
    ],
    [
      ["-w", "-p", "0", "--token-file", "/dev/zero"],
      'dz-mcall: webserver.tokenFile: cannot read /dev/zero: "/dev/zero" is larger than the 64 KiB cap\n',
    ],
  ];
  for (const [args, message] of cases) {
    const started = performance.now();
    const { code, stdout, stderr } = await mcall(args);
    assert.equal(stderr, message);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    // Reading on would take seconds and grow by ~1 GiB/s; the cap stops it at once.
    assert.ok(performance.now() - started < 20_000);
  }
});

Deno.test("main: alias cycles, .nan and -flag=-value are exit 2 naming the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = (name: string, text: string) => {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    };
    const cases: [string[], string][] = [
      [
        ["-c", file("cycle.yaml", 'request: {inputs: [{input: "true", name: &r [*r]}]}\n')],
        "dz-mcall: request.inputs[0].name[0]: a YAML alias that contains itself (an alias cycle)\n",
      ],
      [
        ["-c", file("nan.yaml", "worker: {number: .nan}\n"), "-i", "true"],
        "dz-mcall: worker.number: expected number, got NaN\n",
      ],
      [
        ["-worker=-1", "-i", "true"],
        "dz-mcall: worker.number (from --worker): -1 is below the minimum of 1\n",
      ],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await mcall(args);
      assert.equal(stderr, message, args.join(" "));
      assert.equal(code, 2);
      assert.equal(stdout, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: --subject=-x runs with the subject -x", async () => {
  const { code, stdout, stderr } = await mcall(["--subject=-x", "-i", "true"]);
  assert.equal(code, 0, stderr);
  assert.equal(JSON.parse(stdout)[0].subject, "-x");
});

Deno.test("main: a closed stdout (>&-) ends a run with one line and exit 1; >/dev/null is fine", async () => {
  // The program as program.ts starts it, but through sh, so fd 1 can be closed at exec.
  const run = async (redirect: string) => {
    const args = ["run", ...PROGRAM_V8_FLAGS, ...PROGRAM_PERMISSIONS, MAIN, "-i", "echo x"];
    const out = await new Deno.Command("/bin/sh", {
      args: ["-c", `exec "$0" "$@" ${redirect}`, Deno.execPath(), ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  assert.deepEqual(await run(">&-"), {
    code: 1,
    stderr: "dz-mcall: stdout is closed: the results cannot be written\n",
  });
  assert.deepEqual(await run(">/dev/null"), { code: 0, stderr: "" });
});
