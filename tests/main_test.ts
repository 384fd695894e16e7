/**
 * The CLI as users run it: the real program in a subprocess, its stdout, stderr and exit code.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PROGRAM_PERMISSIONS } from "./e2e/mcall_proc.ts";
import { mcall } from "./cli/program.ts";
import { EXIT_CODES, exitCode } from "../main.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("main runs the bundled example config and exits 0 (the README's first command)", async () => {
  const { code, stdout, stderr } = await mcall(["-c", "etc/mcall.yaml"]);
  assert.equal(code, 0, stderr);
  const results = JSON.parse(stdout);
  assert.deepEqual(results.map((r: { name: string }) => r.name), [
    "greeting",
    "kernel",
    "quoting",
    "pipeline",
  ]);
  for (const r of results) assert.equal(r.errorCode, "0", JSON.stringify(r));
  assert.equal(results[0].result, "Hello from task 1\n");
  assert.equal(results[2].result, "a b|c|");
  assert.match(results[0].ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
});

Deno.test("main reads the original layout, warns once per ignored key or unknown variable", async () => {
  const { code, stdout, stderr } = await mcall(["-c", "etc/mcall-original.yaml"], {
    MCALL_WORKER_NUMBR: "2",
  });
  assert.equal(code, 0);
  const warnings = stderr.trim().split("\n").map((line) => JSON.parse(line).message);
  assert.deepEqual(warnings, [
    "MCALL_WORKER_NUMBR is not a setting and is ignored (did you mean MCALL_WORKER_NUMBER?)",
    "response.es: the original's Elasticsearch output is not supported; ignored",
  ]);
  assert.equal(
    stdout,
    `Hello from task 1\n${"=".repeat(80)}\nHello from task 2\n${"=".repeat(80)}\n`,
  );
});

Deno.test("main exits 1 when an input fails and keeps results on stdout only", async () => {
  const { code, stdout, stderr } = await mcall(["-i", "true,false", "-l", "error"]);
  assert.equal(code, 1);
  const results = JSON.parse(stdout);
  assert.deepEqual(results.map((r: { errorCode: string }) => r.errorCode), ["0", "-1"]);
  assert.equal(stderr, "");
});

Deno.test("main exits 2 with one line naming the field for bad configuration, printing nothing on stdout", async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [
      ["-worker", "0", "-i", "true"],
      {},
      "dz-mcall: worker.number (from --worker): 0 is below the minimum of 1\n",
    ],
    [
      ["-i", "true"],
      { MCALL_RESPONSE_FORMAT: "xml" },
      'dz-mcall: response.format (from MCALL_RESPONSE_FORMAT): "xml" is not one of json, plain, plan\n',
    ],
    [["-c", "/nonexistent.yaml"], {}, 'dz-mcall: config file "/nonexistent.yaml": no such file\n'],
    [[], {}, "dz-mcall: request.inputs: no inputs to run (give -i, or a config file with -c)\n"],
    [
      ["--bogus"],
      {},
      "dz-mcall: unknown flag --bogus (see --help)\n",
    ],
    [
      [],
      {
        MCALL_REQUEST_INPUTS: '[{"input":"true","name":"db","schedule":"*/2 * * * *"}]',
        MCALL_TASKS_SCHEDULE: "*/5 * * * *",
      },
      'dz-mcall: request.inputs[0]: task "db" has schedule "*/2 * * * *", finer than the ' +
      'rounds\' schedule "*/5 * * * *": it could not run at each of its due times\n',
    ],
  ];
  for (const [args, env, message] of cases) {
    const { code, stdout, stderr } = await mcall(args, env);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    assert.equal(stderr, message);
  }
});

Deno.test("main in leader mode exits 2 naming what is missing", async () => {
  const noNamespace = await mcall(["--elect", "--insecure-unsigned-tasks", "-i", "true"], {
    HOSTNAME: "pod-a",
  });
  assert.equal(noNamespace.code, 2);
  assert.match(
    noNamespace.stderr,
    /^dz-mcall: election\.namespace: not set \(set NAMESPACE or --namespace;/,
  );
  const noIdentity = await mcall(["--elect", "-i", "true"], { NAMESPACE: "ns" });
  assert.equal(noIdentity.code, 2);
  assert.match(noIdentity.stderr, /^dz-mcall: election\.identity: not set/);
  const noKey = await mcall(["--elect", "-i", "true"], { NAMESPACE: "ns", HOSTNAME: "pod-a" });
  assert.equal(noKey.code, 2);
  assert.match(
    noKey.stderr,
    /^dz-mcall: Cannot run tasks without a signing key: set tasks\.signingKeyFile/,
  );
  const badKey = await mcall(["--elect", "--signing-key-file", "/nonexistent/key", "-i", "true"], {
    NAMESPACE: "ns",
    HOSTNAME: "pod-a",
  });
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /\/nonexistent\/key: does not exist/);
});

Deno.test("main prints --help and --version", async () => {
  const help = await mcall(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^dz-mcall \d+\.\d+\.\d+/);
  assert.match(help.stdout, /-worker, --worker N/);
  const version = await mcall(["-v"]);
  assert.match(version.stdout, /^dz-mcall \d+\.\d+\.\d+\n$/);
});

Deno.test("main -w serves until SIGTERM, then exits 0", async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PROGRAM_PERMISSIONS, MAIN, "-w", "-p", String(port), "-l", "error"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    let body = "";
    for (let i = 0; i < 100 && !body; i++) {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/healthcheck`)).text();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(body, "OK\n");
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal((await child.status).code, 0);
});

for (const [sig, exitCode] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`main prints finished and interrupted results on ${sig}, exit ${exitCode}`, async () => {
    const dir = await Deno.makeTempDir();
    const marker = `${dir}/started`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PROGRAM_PERMISSIONS,
        MAIN,
        "--shell",
        "-worker",
        "1",
        "-l",
        "error",
        "-i",
        `echo first,touch ${marker}; sleep 5,sleep 5,sleep 5`,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      for (let i = 0; i < 200; i++) {
        try {
          await Deno.stat(marker);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      child.kill(sig);
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, exitCode, stderr);
      assert.equal(stderr, "");
      const results = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(results.length, 4);
      assert.equal(results[0].errorCode, "0");
      assert.equal(results[0].result, "first\n");
      for (const r of results.slice(1)) {
        assert.equal(r.errorCode, "-1");
        assert.equal(r.error, `interrupted by ${sig}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("main -w lets an in-flight request finish on SIGTERM, exits 0, prints no raw warning", async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PROGRAM_PERMISSIONS, MAIN, "-w", "-p", String(port), "-l", "error"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 100; i++) {
      try {
        await (await fetch(`${base}/healthcheck`)).text();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const params = encodeURIComponent(JSON.stringify({ inputs: [{ input: "sleep 1" }] }));
    const pending = fetch(`${base}/mcall/cmd/${params}`);
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    const res = await pending;
    assert.equal(res.status, 200);
    const [result] = await res.json();
    assert.equal(result.errorCode, "0", JSON.stringify(result));
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  // Nothing but JSON log lines (here none at level error): no raw runtime warnings either.
  assert.equal(stderr, "");
});

Deno.test("main in leader mode and status exit 2 at once without Kubernetes credentials", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${home}/broken`, "clusters: [\n");
    const env = { NAMESPACE: "ns", HOSTNAME: "pod-a", HOME: home };
    const runs: [string[], Record<string, string>, RegExp][] = [
      [
        ["--elect", "--insecure-unsigned-tasks", "-i", "true"],
        env,
        /^dz-mcall: no Kubernetes credentials: not in a pod \(KUBERNETES_SERVICE_HOST is not set\)/,
      ],
      [["status"], env, /^dz-mcall: no Kubernetes credentials/],
      [
        ["status"],
        { ...env, KUBECONFIG: `${home}/broken` },
        /^dz-mcall: KUBECONFIG: .*\/broken is not a valid kubeconfig/,
      ],
    ];
    for (const [args, runEnv, pattern] of runs) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...PROGRAM_PERMISSIONS, MAIN, "-l", "error", ...args],
        cwd: ROOT,
        env: {
          NO_COLOR: "1",
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          // HOME is an empty directory (no ~/.kube/config); Deno's cache stays where it is.
          DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`,
          ...runEnv,
        },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Before the fix leader mode retried forever: give up after 20 s instead of hanging.
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const out = await child.output();
      clearTimeout(timer);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, pattern);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("main exits 2 with one line when the port is taken or the log file cannot be opened", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const cases: [string[], string][] = [
      [["-w", "-p", String(port)], `webserver.port: 127.0.0.1:${port} is already in use`],
      [
        ["-i", "true", "-lf", `${dir}/missing/x.log`],
        `log.file: cannot open "${dir}/missing/x.log": its directory does not exist`,
      ],
      [["-i", "true", "-lf", dir], `log.file: cannot open "${dir}": is a directory`],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await mcall(args);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.equal(stdout, "");
      assert.equal(stderr, `dz-mcall: ${message}\n`);
    }
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main -e std|url encodes the raw bytes of binary output", async () => {
  for (const [encoding, want] of [["std", "//4="], ["url", "__4="]]) {
    const { code, stdout, stderr } = await mcall(["-e", encoding!, "-i", "printf '\\377\\376'"]);
    assert.equal(code, 0, stderr);
    assert.equal(JSON.parse(stdout)[0].result, want);
  }
});

Deno.test("exit codes: main.ts's table is the one the README's Exit codes section documents", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const section = /^#+ Exit codes\n([\s\S]*?)(?=^#)/m.exec(readme);
  assert.ok(section, "README.md has an Exit codes section");
  const documented = [...section[1]!.matchAll(/^\| ([\d/]+)\s+\|/gm)]
    .flatMap((m) => m[1]!.split("/").map(Number));
  const table = [...new Set(Object.values(EXIT_CODES))];
  assert.deepEqual(documented.toSorted((a, b) => a - b), table.toSorted((a, b) => a - b));
  assert.equal(exitCode({ kind: "interrupted", signal: "SIGINT" }), EXIT_CODES.SIGINT);
  assert.equal(exitCode({ kind: "interrupted", signal: "SIGTERM" }), EXIT_CODES.SIGTERM);
  for (const kind of ["ok", "failed", "roundDeadline"] as const) {
    assert.equal(exitCode({ kind }), EXIT_CODES[kind]);
  }
});
