/**
 * The real program as a subprocess, for the CLI tests that need signals, FIFOs and closed stdio:
 * its permissions and V8 flags as the image runs it.
 */
import { fileURLToPath } from "node:url";
import { PROGRAM_PERMISSIONS, PROGRAM_V8_FLAGS } from "../e2e/mcall_proc.ts";

export const MAIN: string = fileURLToPath(new URL("../../main.ts", import.meta.url));
export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A `deno run` of the program with `args`, stdout and stderr piped, stdin closed, in a clean
 * environment (plus `env`); behind `prefix` if given (a command that execs its arguments: the
 * image's `dz-mcall-nosigusr1`, `prlimit --nofile=96`).
 */
export function program(
  args: readonly string[],
  env: Record<string, string> = {},
  prefix: readonly string[] = [],
): Deno.Command {
  const [cmd, ...rest] = [
    ...prefix,
    Deno.execPath(),
    "run",
    ...PROGRAM_V8_FLAGS,
    ...PROGRAM_PERMISSIONS,
    MAIN,
    ...args,
  ];
  return new Deno.Command(cmd!, {
    args: rest,
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      ...env,
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the program to its end. */
export async function mcall(args: readonly string[], env: Record<string, string> = {}) {
  const out = await program(args, env).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Waits until `check` is true, polling every 20 ms for at most `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids of processes whose command line holds `needle` (`pgrep -f`: Deno reads /proc only with -A). */
export async function pidsRunning(needle: string): Promise<number[]> {
  const out = await new Deno.Command("pgrep", { args: ["-f", "--", needle], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map(Number);
}

/** The kernel functions the threads of `pid` sleep in (`ps -L -o wchan`). */
export async function waitChannels(pid: number): Promise<string[]> {
  const out = await new Deno.Command("ps", {
    args: ["-L", "-o", "wchan:40=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter(Boolean);
}
