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

/** A fake install script: exit codes of its `check` (0: all there, 3: missing) and install. */
interface FakeDeps {
  check: number;
  install?: number;
}

interface Case {
  what: string;
  uid: number;
  aptGet: boolean;
  node: FakeDeps;
  /** scripts/browser-deps.sh (default: installed). */
  browser?: FakeDeps;
  env?: Record<string, string>;
  /** The fake scripts' calls, in order (`node check`, `browser install`, …). */
  calls: string[];
  /** The lines on stderr that start with `test-deps:`. */
  lines: RegExp[];
}

const NODE_TESTS = "the real-node, image and setsid tests";

const CASES: Case[] = [
  {
    what: "root on Debian with packages missing installs them, saying so first",
    uid: 0,
    aptGet: true,
    node: { check: 3, install: 0 },
    calls: ["node check", "node install", "browser check"],
    lines: [
      new RegExp(
        `^test-deps: root on Debian: running scripts/node-deps\\.sh first, for ${NODE_TESTS}$`,
      ),
      /^test-deps: installed in \d+s$/,
    ],
  },
  {
    what: "root on Debian without Chromium installs it too, one line each",
    uid: 0,
    aptGet: true,
    node: { check: 3, install: 0 },
    browser: { check: 3, install: 0 },
    calls: ["node check", "node install", "browser check", "browser install"],
    lines: [
      /^test-deps: root on Debian: running scripts\/node-deps\.sh first/,
      /^test-deps: installed in \d+s$/,
      /^test-deps: root on Debian: running scripts\/browser-deps\.sh first, for the serve-mode browser test$/,
      /^test-deps: installed in \d+s$/,
    ],
  },
  {
    what: "root on Debian with everything installed does nothing, silently",
    uid: 0,
    aptGet: true,
    node: { check: 0 },
    calls: ["node check", "browser check"],
    lines: [],
  },
  {
    what: "not root installs nothing and says the tests skip",
    uid: 1000,
    aptGet: true,
    node: { check: 3 },
    calls: ["node check", "browser check"],
    lines: [
      new RegExp(
        `^test-deps: not root: skipping ${NODE_TESTS} until scripts/node-deps.sh runs as root$`,
      ),
    ],
  },
  {
    what: "not Debian installs nothing and says the tests skip",
    uid: 0,
    aptGet: false,
    node: { check: 3 },
    browser: { check: 3 },
    calls: ["node check", "browser check"],
    lines: [
      new RegExp(`^test-deps: not Debian: skipping ${NODE_TESTS} \\(they need`),
      /^test-deps: not Debian: skipping the serve-mode browser test \(they need/,
    ],
  },
  {
    what: "a failed install is one line and the tests still run",
    uid: 0,
    aptGet: true,
    node: { check: 3, install: 100 },
    calls: ["node check", "node install", "browser check"],
    lines: [
      /^test-deps: root on Debian: running scripts\/node-deps\.sh first/,
      new RegExp(
        `^test-deps: scripts/node-deps\\.sh failed \\(exit 100\\): skipping ${NODE_TESTS}$`,
      ),
    ],
  },
  {
    what: "DZ_TEST_NODE_DEPS=off does nothing at all",
    uid: 0,
    aptGet: true,
    node: { check: 3 },
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
      for (
        const [name, deps] of [["node", c.node], ["browser", c.browser ?? { check: 0 }]] as const
      ) {
        await fake(
          `${dir}/scripts/${name}-deps.sh`,
          `echo "${name} \${1:-install}" >>${log}\n` +
            `[ "\${1:-}" = check ] && exit ${deps.check}\nexit ${deps.install ?? 0}`,
        );
      }
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
