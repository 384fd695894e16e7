/**
 * Running an OCI image without Kubernetes, for tests: `runc` on a bundle made by `umoci unpack`,
 * restricted as a pod under Pod Security `restricted` would be, and `ctr images import` into a
 * containerd of the test's own (never the node's).
 *
 * @module
 */
import assert from "node:assert/strict";

const dec = new TextDecoder();

/** The parts of an OCI runtime spec (config.json) the tests read or change. */
export interface Spec {
  process: {
    args: string[];
    env: string[];
    user: { uid: number; gid: number };
    cwd: string;
    terminal?: boolean;
    noNewPrivileges?: boolean;
    capabilities?: Record<string, string[]>;
  };
  root: { path: string; readonly?: boolean };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: { namespaces: { type: string; path?: string }[] };
}

/** Exit code and decoded output of a finished command. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (stdin closed), killed when `signal` aborts. */
export async function run(
  cmd: string,
  args: readonly string[],
  signal?: AbortSignal,
): Promise<Ran> {
  const out = await new Deno.Command(cmd, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(signal ? { signal } : {}),
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command, asserts exit 0, returns its stdout. */
export async function ok(cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** True when an executable file `name` is in a `$PATH` directory. */
export function onPath(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((d) => {
    try {
      return Deno.statSync(`${d}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

let containers = 0;

/** An OCI runtime bundle, run with runc under a private state directory. */
export class Bundle {
  constructor(
    readonly dir: string,
    readonly spec: Spec,
    readonly state: string,
  ) {}

  /** Runs the container with `args` (the image's entrypoint + cmd when omitted). */
  async run(args?: readonly string[], env: readonly string[] = []): Promise<Ran> {
    const id = `dz-mcall-test-${Deno.pid}-${++containers}`;
    const spec = structuredClone(this.spec);
    if (args) spec.process.args = [...args];
    spec.process.env = [...spec.process.env, ...env];
    await Deno.writeTextFile(`${this.dir}/config.json`, JSON.stringify(spec, null, 2));
    try {
      return await run(
        "runc",
        ["--root", this.state, "run", "--bundle", this.dir, id],
        AbortSignal.timeout(60_000),
      );
    } finally {
      await run("runc", ["--root", this.state, "delete", "--force", id]);
    }
  }

  /** Runs and asserts exit 0. */
  async ok(args?: readonly string[], env: readonly string[] = []): Promise<Ran> {
    const r = await this.run(args, env);
    assert.equal(r.code, 0, `${JSON.stringify(args)} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r;
  }
}

/** The image's runtime spec made into what a restricted pod gets (see the module doc). */
export function restricted(spec: Spec): Spec {
  const s = structuredClone(spec);
  s.process.terminal = false;
  s.process.noNewPrivileges = true;
  s.process.capabilities = { bounding: [], effective: [], inheritable: [], permitted: [] };
  s.root.readonly = true;
  s.mounts.push({
    destination: "/tmp",
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", "nodev", "mode=1777", "size=64m"],
  });
  return s;
}

/**
 * Starts a containerd of its own (root, state, socket under `dir`; no CRI), imports the archive
 * into the k8s.io namespace as the node setup does, and returns the image names it holds.
 */
export async function importWithPrivateContainerd(dir: string, archive: string): Promise<string[]> {
  await Deno.mkdir(dir);
  const sock = `${dir}/containerd.sock`;
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
      `[grpc]\n  address = "${sock}"`,
      `[ttrpc]\n  address = "${sock}.ttrpc"`,
      `[plugins."io.containerd.internal.v1.opt"]\n  path = "${dir}/opt"`,
      "",
    ].join("\n"),
  );
  const log = await Deno.open(`${dir}/log`, { write: true, create: true });
  const daemon = new Deno.Command("containerd", {
    args: ["--config", `${dir}/config.toml`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logging = daemon.stderr.pipeTo(log.writable);
  try {
    const ctr = (args: string[]) => run("ctr", ["--address", sock, "-n", "k8s.io", ...args]);
    for (let i = 0;; i++) {
      if ((await ctr(["version"])).code === 0) break;
      if (i >= 100) {
        throw new Error(`containerd did not start: ${await Deno.readTextFile(`${dir}/log`)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const imported = await ctr(["images", "import", archive]);
    assert.equal(imported.code, 0, imported.stderr);
    const ls = await ctr(["images", "ls", "-q"]);
    assert.equal(ls.code, 0, ls.stderr);
    return ls.stdout.trim().split("\n");
  } finally {
    daemon.kill("SIGTERM");
    await daemon.status;
    await logging.catch(() => {});
  }
}
