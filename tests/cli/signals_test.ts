/**
 * Signals against the real program: a read blocked on a FIFO ends on SIGTERM/SIGINT with
 * 143/130; SIGHUP ends a run as SIGTERM does (129), leaving no command behind.
 */
import assert from "node:assert/strict";
import { pidsRunning, program, until, waitChannels } from "./program.ts";
import { mkfifo, withDir } from "../fakes/temp_dir.ts";

/** True once a thread of `pid` sleeps in a FIFO's open(2) (the kernel's `wait_for_partner`). */
async function blockedOnFifo(pid: number): Promise<boolean> {
  return (await waitChannels(pid)).some((w) => /wait_for_partner|fifo|pipe/.test(w));
}

const blocking: [string, (fifo: string) => string[]][] = [
  ["-c FIFO", (fifo) => ["-c", fifo, "-i", "true"]],
  ["--token-file FIFO", (fifo) => ["-w", "-p", "0", "--token-file", fifo]],
];

for (const [what, args] of blocking) {
  for (const [sig, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    Deno.test(`main: ${what} with no writer ends on ${sig} with ${code}`, async () => {
      await withDir(async (dir) => {
        const fifo = `${dir}/fifo`;
        await mkfifo(fifo);
        const child = program(args(fifo)).spawn();
        try {
          await until(() => blockedOnFifo(child.pid), 20_000);
          child.kill(sig);
          const out = await Promise.race([
            child.output(),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error(`still running 10 s after ${sig}`)), 10_000)
            ),
          ]);
          assert.equal(out.code, code, new TextDecoder().decode(out.stderr));
          assert.equal(new TextDecoder().decode(out.stdout), "");
          assert.equal(new TextDecoder().decode(out.stderr), "");
        } finally {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
        }
      });
    });
  }
}

Deno.test("main: SIGHUP during a run kills the command's group, prints the result, exits 129", async () => {
  // A duration no other process on the machine uses, to find the sleep by its command line.
  const marker = `sleep 300.${Deno.pid}`;
  // The sleep itself, by path or name (not its launcher, `setsid /usr/bin/sleep …`, before exec).
  const sleeping = `^(/[^ ]*/)?sleep 300\\.${Deno.pid}$`;
  // One worker: echo has finished when the sleep starts.
  const child = program(["-l", "error", "-worker", "1", "-i", `echo done,${marker}`]).spawn();
  try {
    // The sleep itself (exec'd, in its own session), not the launcher that is about to become it.
    await until(async () => (await pidsRunning(sleeping)).length > 0, 20_000);
    child.kill("SIGHUP");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 129, stderr);
    assert.equal(stderr, "");
    const results = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(
      results.map((r: { errorCode: string; error?: string }) => [r.errorCode, r.error]),
      [["0", undefined], ["-1", "interrupted by SIGHUP"]],
    );
    await until(async () => (await pidsRunning(sleeping)).length === 0, 5_000);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    // A failed run leaves its sleep behind: end it, by pid.
    for (const pid of await pidsRunning(sleeping)) Deno.kill(pid, "SIGKILL");
  }
});
