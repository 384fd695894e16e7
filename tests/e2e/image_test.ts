/**
 * The image as a kubelet would run it, without Kubernetes: `scripts/image.sh` builds the OCI
 * archive (cached), `umoci unpack` turns it into a runtime bundle, and `runc run` starts it as a
 * restricted pod's container would be: the image's user (65532), read-only root, `/tmp` a tmpfs,
 * no capabilities, no new privileges, a network namespace of its own (only `lo`, down: nothing
 * can leave, so a module fetch would fail). A private containerd, when installed, imports the
 * archive under the name the chart's `image:` normalizes to.
 *
 * Needs root, umoci, runc, jq, busybox-static, ca-certificates (scripts/node-deps.sh).
 * Without them the test is skipped loudly, or fails when REQUIRE_E2E=1 (as tests/e2e/harness.ts).
 *
 * Run: scripts/deno test --allow-read --allow-write --allow-env --allow-net --allow-run
 *   --allow-sys tests/e2e/image_test.ts
 */
import assert from "node:assert/strict";
import { e2eRequired } from "./harness.ts";
import { container, find, render } from "../chart/helpers.ts";
import { programPermissions } from "../permissions.ts";
import { IMAGE_ENTRYPOINT } from "./release_pods.ts";
import { sigBlk, SIGUSR1_BIT } from "../native/sigmask.ts";
import {
  Bundle,
  importWithPrivateContainerd,
  ok,
  onPath,
  restricted,
  run,
  type Spec,
} from "./oci_runtime.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const IMAGE_SH = `${ROOT}scripts/image.sh`;
const VERSION: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).version;
const dec = new TextDecoder();

/** Why the image cannot be built and run here, or undefined when it can. */
function unavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "runc and umoci unpack need root";
  if (!onPath("runc")) return "runc missing (scripts/node-deps.sh)";
  const check = new Deno.Command("bash", { args: [IMAGE_SH, "check"], stderr: "piped" })
    .outputSync();
  if (!check.success) return dec.decode(check.stderr).trim();
  return undefined;
}

Deno.test("image: scripts/image.sh refuses an unknown subcommand with its usage, exit 2", async () => {
  const r = await run("bash", [IMAGE_SH, "bogus"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "usage: scripts/image.sh [build|name|launcher|check]\n");
});

Deno.test("image: the Dockerfile ships the native helpers and entrypoint as scripts/image.sh does", () => {
  const dockerfile = Deno.readTextFileSync(`${ROOT}Dockerfile`)
    .split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
  const stages = new Map(
    dockerfile.split(/^(?=FROM )/m).map((stage) => [/^FROM \S+ AS (\S+)/.exec(stage)?.[1], stage]),
  );
  // Built from native/*.c by scripts/native.sh (its flags), all in the build context.
  const native = stages.get("native") ?? "";
  assert.match(
    native,
    /COPY native\/complain\.h native\/setsid\.c native\/nosigusr1\.c .*\nCOPY scripts\/native\.sh /,
  );
  const ignore = Deno.readTextFileSync(`${ROOT}.dockerignore`).split("\n");
  assert.ok(ignore.includes("!scripts/native.sh") && ignore.includes("!native/complain.h"));
  for (const name of ["setsid", "nosigusr1"]) {
    assert.match(
      native,
      new RegExp(`scripts/native\\.sh build ${name}\\)" /out/dz-mcall-${name}\\b`),
    );
    assert.ok(ignore.includes(`!native/${name}.c`), name);
    // runtime-slim copies it read-only, root's; the default target is built FROM runtime-slim.
    assert.match(
      stages.get("runtime-slim") ?? "",
      new RegExp(
        `^COPY --from=native --chown=0:0 --chmod=0555 /out/dz-mcall-${name} ` +
          `/usr/local/bin/dz-mcall-${name}$`,
        "m",
      ),
    );
  }
  // The entrypoint blocks SIGUSR1 before the runtime starts, in both images (the unpacked
  // image's config is checked against IMAGE_ENTRYPOINT below).
  const entrypoint = `ENTRYPOINT [${IMAGE_ENTRYPOINT.map((a) => JSON.stringify(a)).join(", ")}]`;
  assert.ok(stages.get("runtime-slim")!.split("\n").includes(entrypoint), entrypoint);
  assert.match(stages.get("runtime") ?? "", /^FROM runtime-slim AS runtime$/m);
});

const missing = unavailable();
const testName = "image: scripts/image.sh builds an image that runs as the Dockerfile's runtime";
if (missing !== undefined) {
  if (e2eRequired()) {
    Deno.test(testName, () => {
      throw new Error(`REQUIRE_E2E=1 but the image test cannot run: ${missing}`);
    });
  } else {
    const bar = "!".repeat(78);
    console.error(
      `\n${bar}\n!! IMAGE TEST SKIPPED: ${missing}\n!! Run scripts/node-deps.sh ` +
        `(as root). Set REQUIRE_E2E=1 to make this a failure.\n${bar}\n`,
    );
    Deno.test({ name: testName, ignore: true, fn: () => {} });
  }
} else {
  Deno.test(testName, async (t) => {
    const tmp = await Deno.makeTempDir({ prefix: "dz-image-" });
    try {
      await imageTest(t, tmp);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

async function imageTest(t: Deno.TestContext, tmp: string): Promise<void> {
  let started = Date.now();
  const archive = (await ok("bash", [IMAGE_SH, "build"])).trim().split("\n").at(-1)!;
  const buildMs = Date.now() - started;
  const layout = `${tmp}/layout`;
  await Deno.mkdir(layout);
  await ok("tar", ["-C", layout, "-xf", archive]);
  const name = (await ok("bash", [IMAGE_SH, "name"])).trim();

  await t.step("named as the chart's image, normalized as Kubernetes does", async () => {
    const image = container(await render()).image as string;
    assert.equal(image, `dz-mcall:${VERSION}`);
    assert.equal(name, `docker.io/library/${image}`);
    const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations["io.containerd.image.name"], name);
    assert.equal(index.manifests[0].annotations["org.opencontainers.image.ref.name"], VERSION);
  });

  const bundleDir = `${tmp}/bundle`;
  await ok("umoci", ["unpack", "--image", `${layout}:${VERSION}`, bundleDir]);
  const spec: Spec = JSON.parse(await Deno.readTextFile(`${bundleDir}/config.json`));

  await t.step("the Dockerfile's runtime contract: entrypoint, cmd, user, workdir, env", () => {
    assert.deepEqual(spec.process.args, [...IMAGE_ENTRYPOINT, "--help"]);
    assert.deepEqual(spec.process.user, { uid: 65532, gid: 65532 });
    assert.equal(spec.process.cwd, "/tmp");
    assert.ok(spec.process.env.includes("TMPDIR=/tmp"), spec.process.env.join(" "));
    assert.ok(spec.process.env.includes("HOME=/tmp"), spec.process.env.join(" "));
    const passwd = Deno.readTextFileSync(`${bundleDir}/rootfs/etc/passwd`);
    assert.match(passwd, /^nonroot:x:65532:65532:/m);
    assert.match(Deno.readTextFileSync(`${bundleDir}/rootfs/etc/group`), /^nonroot:x:65532:$/m);
    assert.ok(Deno.statSync(`${bundleDir}/rootfs/etc/ssl/certs/ca-certificates.crt`).size > 1e5);
    // Its own network namespace (no path: a new one), as runc creates it.
    const ns = spec.linux.namespaces;
    assert.ok(ns.some((n) => n.type === "network" && !n.path), JSON.stringify(ns));
  });

  await t.step("the launcher: --cached-only, etc/deno-permissions, read-only DENO_DIR", () => {
    const launcher = Deno.readTextFileSync(`${bundleDir}/rootfs/app/dz-mcall`);
    const exec = launcher.split("\n").find((l) => l.startsWith("exec "))!;
    assert.match(exec, /^exec \/app\/deno run --cached-only --no-prompt /);
    assert.deepEqual(
      exec.split(/\s+/).filter((w) => w.startsWith("--allow-")),
      programPermissions(),
    );
    assert.match(launcher, /^export DENO_DIR=\/deno-dir DENO_NO_UPDATE_CHECK=1$/m);
  });

  const state = `${tmp}/runc`;
  const box = new Bundle(bundleDir, restricted(spec), state);

  await t.step("default CMD prints the help", async () => {
    const r = await box.ok();
    assert.match(r.stdout + r.stderr, new RegExp(`dz-mcall ${VERSION.replaceAll(".", "\\.")} `));
  });

  await t.step("--version, nothing on stderr (no cache warnings, no downloads)", async () => {
    started = Date.now();
    const r = await box.ok(["/app/dz-mcall", "--version"]);
    const versionMs = Date.now() - started;
    assert.equal(r.stdout, `dz-mcall ${VERSION}\n`);
    assert.equal(r.stderr, "");
    // Peak memory of the container's cgroup (v1 or v2) around one --version.
    const m = await box.ok([
      "/bin/sh",
      "-c",
      "/app/dz-mcall --version >/dev/null && " +
      "cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes /sys/fs/cgroup/memory.peak " +
      "2>/dev/null || true",
    ]);
    const peak = Number(m.stdout.trim().split("\n")[0]);
    console.log(`image timings: ${
      JSON.stringify({
        buildMs,
        versionInRuncMs: versionMs,
        versionPeakCgroupMiB: Number.isFinite(peak) ? +(peak / 2 ** 20).toFixed(1) : null,
      })
    }`);
  });

  await t.step("one-shot cmd task: a JSON result with hi", async () => {
    const r = await box.ok(["/app/dz-mcall", "-i", "echo hi"]);
    const results = JSON.parse(r.stdout);
    assert.equal(results.length, 1);
    assert.equal(results[0].result, "hi\n");
    assert.equal(results[0].errorCode, "0");
    assert.equal(r.stderr, "");
  });

  await t.step("tasks run as 65532 and reach busybox's sh through PATH", async () => {
    const r = await box.ok(["/app/dz-mcall", "-i", "id -u,sh -c 'echo from sh; id -g'"]);
    const [uid, shell] = JSON.parse(r.stdout);
    assert.equal(uid.result, "65532\n");
    assert.equal(shell.result, "from sh\n65532\n");
  });

  await t.step("sh -c, uid, capabilities, read-only paths, only lo", async () => {
    const script = [
      "id -u; id -g",
      "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status | tr -s '\\t ' ' '",
      "for p in / /app /deno-dir /deno-dir/npm /etc /tmp; do " +
      'if touch "$p/.w" 2>/dev/null; then echo "$p writable"; rm -f "$p/.w"; ' +
      'else echo "$p read-only"; fi; done',
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
    ].join("\n");
    const r = await box.ok(["/bin/sh", "-c", script]);
    assert.equal(
      r.stdout,
      [
        "65532",
        "65532",
        "CapEff: 0000000000000000",
        "NoNewPrivs: 1",
        "/ read-only",
        "/app read-only",
        "/deno-dir read-only",
        "/deno-dir/npm read-only",
        "/etc read-only",
        "/tmp writable",
        "lo",
        "",
      ].join("\n"),
    );
  });

  await t.step(
    "dz-mcall-setsid: root's, 0555, read-only; cmd tasks are spawned through it",
    async () => {
      const helper = "/usr/local/bin/dz-mcall-setsid";
      const info = Deno.statSync(`${bundleDir}/rootfs${helper}`);
      assert.equal(info.uid, 0);
      assert.equal(info.mode! & 0o7777, 0o555);
      // The bytes scripts/native.sh builds (from native/setsid.c), not a copy made for the test.
      const built = (await ok("bash", [`${ROOT}scripts/native.sh`, "path", "setsid"])).trim();
      assert.deepEqual(
        Deno.readFileSync(`${bundleDir}/rootfs${helper}`),
        Deno.readFileSync(built),
      );
      // As the pod's user: not writable, not replaceable; the program it runs leads a session
      // of its own (as PID 1, a session leader already, it would refuse: exit 126).
      const r = await box.ok([
        "/bin/sh",
        "-c",
        `if [ -w ${helper} ] || cp /bin/sh ${helper} 2>/dev/null; then echo writable; ` +
        `else echo read-only; fi; ${helper} /bin/sh -c ` +
        `'read -r pid comm state ppid pgrp sid rest </proc/$$/stat; [ $pid = $pgrp ] && ` +
        `[ $pid = $sid ] && echo own session'; echo "exit $?"`, // not last: sh would exec it
      ]);
      assert.equal(r.stdout, "read-only\nown session\nexit 0\n");
      // The engine's launcher names itself when it cannot exec a program (busybox's setsid would
      // say "setsid: can't execute"): a script whose interpreter does not exist.
      const bad = await box.run([
        "/bin/sh",
        "-c",
        "printf '#!/nonexistent\\n' >/tmp/bad && chmod 755 /tmp/bad && exec /app/dz-mcall -i /tmp/bad",
      ]);
      const [result] = JSON.parse(bad.stdout);
      assert.equal(result.exitCode, 127, bad.stdout);
      assert.match(
        result.result,
        /^dz-mcall-setsid: failed to execute \/tmp\/bad: No such file or directory\n$/,
      );
    },
  );

  await t.step(
    "SIGUSR1: no inspector behind the entrypoint; commands start unblocked",
    async () => {
      // A run that lives past the runtime's 500 ms grace (Deno installs its SIGUSR1 handler then),
      // signalled from inside the container. The same program without the launcher is the control:
      // it opens the inspector (only its banner shows: lo is down).
      const script = (entry: string) =>
        `${entry} -i 'sleep 3,grep SigBlk /proc/self/status' & pid=$!; sleep 2; ` +
        "grep SigBlk /proc/$pid/status; kill -USR1 $pid; wait $pid";
      for (
        const [entry, guarded] of [[IMAGE_ENTRYPOINT.join(" "), true], ["/app/dz-mcall", false]]
      ) {
        const r = await box.ok(["/bin/sh", "-c", script(entry as string)]);
        const [program, ...json] = r.stdout.split("\n");
        assert.equal(
          sigBlk(program!) & SIGUSR1_BIT,
          guarded ? SIGUSR1_BIT : 0n,
          `${entry}: ${program}`,
        );
        const results = JSON.parse(json.join("\n")) as { result: string }[];
        // dz-mcall-setsid empties the mask: a command never inherits the blocked SIGUSR1.
        assert.equal(sigBlk(results[1]!.result), 0n, results[1]!.result);
        if (guarded) assert.doesNotMatch(r.stderr, /Debugger listening/, r.stderr);
        else assert.match(r.stderr, /Debugger listening on ws:\/\/127\.0\.0\.1:9229\//, r.stderr);
      }
    },
  );

  await t.step("the chart's own mcall.yaml runs its tasks (one-shot, no election)", async () => {
    const objects = await render();
    const cm = find(objects, "ConfigMap", "dz-mcall-config") as unknown as {
      data: Record<string, string>;
    };
    const etc = `${tmp}/etc-dz-mcall`;
    await Deno.mkdir(etc);
    await Deno.writeTextFile(`${etc}/mcall.yaml`, cm.data["mcall.yaml"]!);
    const c = container(objects);
    const withConfig = structuredClone(box.spec);
    withConfig.mounts.push({
      destination: "/etc/dz-mcall",
      type: "bind",
      source: etc,
      options: ["rbind", "ro"],
    });
    const r = await new Bundle(bundleDir, withConfig, state).ok(
      ["/app/dz-mcall", ...(c.args as string[])],
      ["LEADER_ELECTION=false"],
    );
    const results = JSON.parse(r.stdout) as { name: string; result: string }[];
    assert.deepEqual(results.map((x) => [x.name, x.result]), [
      ["task1", "Hello from task 1\n"],
      ["task2", "Hello from task 2\n"],
    ]);
  });

  await t.step("an empty package cache fails at once: --cached-only, no fetch", async () => {
    const empty = `${tmp}/empty`;
    await Deno.mkdir(empty);
    const noPackages = structuredClone(box.spec);
    noPackages.mounts.push({
      destination: "/deno-dir/npm",
      type: "bind",
      source: empty,
      options: ["rbind", "ro"],
    });
    // A run (not --version, which imports no npm package since start-up is lazy) needs them.
    const r = await new Bundle(bundleDir, noPackages, state).run(["/app/dz-mcall", "-i", "true"]);
    assert.notEqual(r.code, 0);
    // Deno names the package it could not take from the cache (the wording depends on whether a
    // static or a dynamic import needed it); the container has only `lo`, so nothing is fetched.
    assert.match(r.stderr, /npm package (not found in cache|'[^']+') |Failed caching npm package/);
  });

  await t.step("a second build is a cache hit: the same archive, nothing rebuilt", async () => {
    const again = await run("bash", [IMAGE_SH, "build"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), archive);
    assert.match(again.stderr, /up to date/);
    assert.doesNotMatch(again.stderr, /building/);
  });

  await t.step("ctr imports the archive under the chart's image name", async () => {
    if (!onPath("containerd") || !onPath("ctr")) {
      if (e2eRequired()) throw new Error("REQUIRE_E2E=1 but containerd/ctr are missing");
      console.error("!! image test: containerd/ctr missing, import not checked");
      return;
    }
    const names = await importWithPrivateContainerd(`${tmp}/containerd`, archive);
    assert.ok(names.includes(name), `imported as ${JSON.stringify(names)}, want ${name}`);
  });
}
