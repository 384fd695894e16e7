import assert from "node:assert/strict";
import { runInput } from "../../lib/engine/exec.ts";
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
