/**
 * Run by `session_test.ts` in a process of its own, with the PATH of one session launcher variant
 * (the launcher is looked up once per process, so each variant needs a fresh one). Runs the
 * scenarios through the real engine and prints what it saw as one JSON object; the test asserts.
 *
 * @module
 */
import { sessionLauncher } from "../../lib/engine/command.ts";
import { runInput } from "../../lib/engine/exec.ts";
import { systemClock } from "../../lib/time/clock.ts";
import { cmdSpec } from "./cmd_spec.ts";

/** What one probe saw; `session_test.ts` reads it. */
export interface Probe {
  /** The launcher the engine spawns through (null: `detached: true`). */
  launcher: string | null;
  /** `pid pgrp session` of a command's own process, from its /proc/<pid>/stat. */
  ids: string;
  /** A timed-out shell that started a background sleep: its error and output (pid, sleep's pid). */
  timedOut: { error?: string | undefined; result: string };
  /** The error of a program that is not on PATH. */
  missing?: string | undefined;
  /** A program run, removed from the first PATH directory and put in the second within a second. */
  moved: { errorCode: string; result: string; error?: string | undefined }[];
  /** The same, removed altogether: the second run's error. */
  removed?: string | undefined;
  /** The output of a script without "#!" (run by /bin/sh). */
  script: string;
}

const launcher = sessionLauncher(systemClock);
const ids = await runInput(
  cmdSpec(
    `sh -c 'read -r pid comm state ppid pgrp sid rest </proc/$$/stat; echo "$pid $pgrp $sid"'`,
  ),
);
const timedOut = await runInput(
  cmdSpec("echo $$; sleep 30 & echo $!; wait", { shell: true, timeoutMs: 500 }),
);
const missing = (await runInput(cmdSpec("nosuchprog --flag"))).error;

const dir = await Deno.makeTempDir({ prefix: "dz-session-" });
const path = Deno.env.get("PATH") ?? "";
try {
  await Deno.mkdir(`${dir}/a`);
  await Deno.mkdir(`${dir}/b`);
  Deno.env.set("PATH", `${dir}/a:${dir}/b:${path}`);
  const script = (text: string) => `#!/bin/sh\necho ${text}\n`;
  await Deno.writeTextFile(`${dir}/a/dzprog`, script("first"), { mode: 0o755 });
  const moved = [await runInput(cmdSpec("dzprog"))];
  // Within the second the lookup is reused: the launcher gets the stale path and exits 127.
  await Deno.remove(`${dir}/a/dzprog`);
  await Deno.writeTextFile(`${dir}/b/dzprog`, script("second"), { mode: 0o755 });
  moved.push(await runInput(cmdSpec("dzprog")));
  await Deno.remove(`${dir}/b/dzprog`);
  const removed = (await runInput(cmdSpec("dzprog"))).error;
  await Deno.writeTextFile(`${dir}/a/noshebang`, 'echo "no #! $1"\n', { mode: 0o755 });
  const noShebang = await runInput(cmdSpec("noshebang arg"));
  const probe: Probe = {
    launcher,
    ids: ids.result.trim(),
    timedOut: { error: timedOut.error, result: timedOut.result },
    missing,
    moved: moved.map(({ errorCode, result, error }) => ({ errorCode, result, error })),
    removed,
    script: noShebang.result,
  };
  console.log(JSON.stringify(probe));
} finally {
  Deno.env.set("PATH", path);
  await Deno.remove(dir, { recursive: true });
}
