/**
 * `scripts/test-deps.sh`, the first step of `scripts/deno task test`: on a root Debian machine it
 * installs the real node's packages (scripts/node-deps.sh) and says so in one line; elsewhere it
 * installs nothing and says why in one line; it never fails the test command.
 *
 * Each case runs a copy of the script next to a fake `scripts/node-deps.sh` (which records its
 * calls), with a PATH of fakes: `id` answers the uid, `apt-get` and `dpkg-query` are there or not
 * (the Debian test).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

interface Case {
  what: string;
  uid: number;
  aptGet: boolean;
  /** Exit code of the fake `node-deps.sh check` (0: all installed, 3: missing). */
  check: number;
  /** Exit code of the fake `node-deps.sh` install. */
  install?: number;
  env?: Record<string, string>;
  /** The fake node-deps.sh calls, in order. */
  calls: string[];
  /** The lines on stderr that start with `test-deps:`. */
  lines: RegExp[];
}

const CASES: Case[] = [
  {
    what: "root on Debian with packages missing installs them, saying so first",
    uid: 0,
    aptGet: true,
    check: 3,
    install: 0,
    calls: ["check", "install"],
    lines: [
      /^test-deps: root on Debian: installing .*scripts\/node-deps\.sh/,
      /^test-deps: installed in \d+s$/,
    ],
  },
  {
    what: "root on Debian with everything installed does nothing, silently",
    uid: 0,
    aptGet: true,
    check: 0,
    calls: ["check"],
    lines: [],
  },
  {
    what: "not root installs nothing and says the tests skip",
    uid: 1000,
    aptGet: true,
    check: 3,
    calls: ["check"],
    lines: [/^test-deps: not root: the real-node, image and setsid tests skip/],
  },
  {
    what: "not Debian installs nothing and says the tests skip",
    uid: 0,
    aptGet: false,
    check: 3,
    calls: ["check"],
    lines: [/^test-deps: not Debian: the real-node, image and setsid tests skip/],
  },
  {
    what: "a failed install is one line and the tests still run",
    uid: 0,
    aptGet: true,
    check: 3,
    install: 100,
    calls: ["check", "install"],
    lines: [
      /^test-deps: root on Debian: installing/,
      /^test-deps: scripts\/node-deps\.sh failed \(exit 100\)/,
    ],
  },
  {
    what: "DZ_TEST_NODE_DEPS=off does nothing at all",
    uid: 0,
    aptGet: true,
    check: 3,
    env: { DZ_TEST_NODE_DEPS: "off" },
    calls: [],
    lines: [],
  },
];

async function fake(path: string, body: string): Promise<void> {
  await Deno.writeTextFile(path, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

for (const c of CASES) {
  Deno.test(`test-deps: ${c.what}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "test-deps-" });
    try {
      await Deno.mkdir(`${dir}/scripts`);
      await Deno.mkdir(`${dir}/bin`);
      await Deno.copyFile(`${ROOT}scripts/test-deps.sh`, `${dir}/scripts/test-deps.sh`);
      const log = `${dir}/calls`;
      await fake(
        `${dir}/scripts/node-deps.sh`,
        `echo "\${1:-install}" >>${log}\n[ "\${1:-}" = check ] && exit ${c.check}\nexit ${
          c.install ?? 0
        }`,
      );
      await fake(`${dir}/bin/id`, `echo ${c.uid}`);
      await fake(`${dir}/bin/dirname`, `exec /usr/bin/dirname "$@"`);
      if (c.aptGet) {
        await fake(`${dir}/bin/apt-get`, "exit 0");
        await fake(`${dir}/bin/dpkg-query`, "exit 0");
      }
      const out = await new Deno.Command("/bin/bash", {
        args: [`${dir}/scripts/test-deps.sh`],
        env: { PATH: `${dir}/bin`, ...c.env },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const calls = await Deno.readTextFile(log).catch(() => "");
      assert.deepEqual(calls.split("\n").filter((l) => l), c.calls);
      const lines = stderr.split("\n").filter((l) => l.startsWith("test-deps:"));
      assert.equal(lines.length, c.lines.length, stderr);
      c.lines.forEach((re, i) => assert.match(lines[i]!, re));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("test-deps: `deno task test` runs it first, then every test", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  assert.match(tasks.test, /^scripts\/test-deps\.sh && deno test .* lib\/ tests\/$/);
});
