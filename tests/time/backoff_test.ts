import assert from "node:assert/strict";
import { Backoff } from "../../lib/time/backoff.ts";
import { FakeClock } from "../fakes/clock.ts";

Deno.test("Backoff: 800 ms doubling to 30 s, jitter up to 100 %, reset after 2 quiet minutes (client-go's reflector)", async () => {
  const clock = new FakeClock();
  const none = new Backoff(clock, {}, () => 0);
  const waits = Array.from({ length: 8 }, () => none.next());
  assert.deepEqual(waits, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
  const full = new Backoff(clock, {}, () => 0.999);
  assert.deepEqual([full.next(), full.next()], [1599, 3198]);
  await clock.advance(119_999);
  assert.equal(none.next(), 30000, "not quiet long enough");
  await clock.advance(120_000);
  assert.equal(none.next(), 800, "reset");
});
