import assert from "node:assert/strict";
import { collectStderr, firstLine } from "./child_output.ts";

function sh(script: string): Deno.ChildProcess {
  return new Deno.Command("sh", { args: ["-c", script], stdout: "piped", stderr: "piped" })
    .spawn();
}

Deno.test("firstLine() returns the first line, undefined when stdout ends or the time is up", async () => {
  const two = sh("echo oops >&2; printf 'ready {\"a\":1}\\n'; echo later");
  const stderr = collectStderr(two, 3);
  assert.equal(await firstLine(two, 10_000), 'ready {"a":1}');
  await two.status;
  await stderr.done;
  assert.equal(stderr.text(), "ps\n", "the tail of stderr");
  const none = sh("printf 'no newline'");
  collectStderr(none, 10);
  assert.equal(await firstLine(none, 10_000), undefined);
  await none.status;
  const silent = sh("exec sleep 30");
  collectStderr(silent, 10);
  const started = performance.now();
  assert.equal(await firstLine(silent, 200), undefined);
  assert.equal((await silent.status).signal, "SIGTERM");
  assert.ok(performance.now() - started < 10_000);
});
