import assert from "node:assert/strict";
import { runInput } from "../../lib/engine/exec.ts";
import { testRegex } from "../../lib/engine/regex_check.ts";
import { cmdSpec } from "./cmd_spec.ts";
import { FakeClock } from "../fakes/clock.ts";

const spec = (input: string, retries = 0) => cmdSpec(input, { retries });

Deno.test("runInput() reads ts and durationMs from the clock it is given", async () => {
  const clock = new FakeClock({ wallStart: new Date("2030-02-03T04:05:06.789Z") });
  const result = await runInput(spec("true"), { clock });
  assert.equal(result.errorCode, "0");
  assert.equal(result.ts, "2030-02-03T04:05:06.789");
  assert.equal(result.durationMs, 0);
});

Deno.test("runInput() waits between tries on its clock", async () => {
  const clock = new FakeClock();
  let done = false;
  const running = runInput(spec("false", 1), { clock, retryDelayMs: 60_000 })
    .finally(() => done = true);
  // The first try runs a real process; then the retry waits on the fake clock only.
  for (let i = 0; i < 200 && clock.pendingSleepers === 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(clock.pendingSleepers, 1);
  await clock.advance(59_999);
  assert.equal(done, false);
  await clock.advance(1);
  const result = await running;
  assert.equal(result.error, "exit code 1 (after 2 tries)");
  assert.equal(result.durationMs, 60_000);
});

/** Polls (in real time, up to 10 s) until `clock` has `n` timers waiting. */
async function timersStarted(clock: FakeClock, n = 1): Promise<void> {
  for (let i = 0; i < 400 && clock.pendingTimers < n; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(clock.pendingTimers, n, "timers started on the fake clock");
}

Deno.test("runInput(): a command's timeout rings on its clock, not the runtime's", async () => {
  const clock = new FakeClock();
  const running = runInput(cmdSpec("sleep 30", { timeoutMs: 60_000 }), { clock });
  await timersStarted(clock);
  // SIGTERM ends sleep at once: the kill timer (on the same clock) never needs to ring.
  await clock.advance(60_000);
  const result = await running;
  assert.equal(result.error, "timed out after 60s");
  assert.equal(result.durationMs, 60_000);
});

Deno.test("runInput(): an HTTP probe's timeout rings on its clock", async () => {
  const never = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Promise<Response>((resolve) =>
        never.signal.addEventListener("abort", () => resolve(new Response("")))
      ),
  );
  try {
    const clock = new FakeClock();
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const running = runInput({ ...cmdSpec(url, { timeoutMs: 45_000 }), type: "get" }, { clock });
    await timersStarted(clock);
    await clock.advance(45_000);
    assert.equal((await running).error, "timed out after 45s");
  } finally {
    never.abort();
    await server.shutdown();
  }
});

Deno.test("testRegex(): a runaway pattern is given up on its clock", async () => {
  const clock = new FakeClock();
  const running = testRegex(/(a+)+$/, "a".repeat(40) + "b", 30_000, clock);
  await timersStarted(clock);
  await clock.advance(30_000);
  assert.equal(await running, "timeout");
});
