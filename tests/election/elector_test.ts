/**
 * The elector's callbacks, accessors and health (`lib/election/elector.ts`, `callbacks.ts`,
 * `term.ts`).
 */
import assert from "node:assert/strict";
import { DEFAULT_HEALTHZ_TOLERANCE_MS } from "../../lib/election/term.ts";
import { held, scenario, wallAt } from "../fakes/election_world.ts";

// --- Callbacks, accessors, health ---------------------------------------------------------------

Deno.test("onNewLeader reports each change of observed holder, including to itself", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    const b = world.candidate("b");
    await world.clock.advance(0);
    a.shutdown.abort();
    await world.clock.advance(3000);
    assert.deepEqual(a.newLeaders, ["a"]);
    assert.deepEqual(b.newLeaders, ["a", "b"]);
  }));

Deno.test("onStoppedLeading is not called when leading never began", () =>
  scenario(async (world) => {
    world.put(held("stranger", 0));
    const a = world.candidate("a");
    await world.clock.advance(5000);
    a.shutdown.abort();
    await world.clock.advance(0);
    assert.equal(a.finished, true);
    assert.deepEqual(a.stopped, []);
    assert.equal(world.spec()?.holderIdentity, "stranger");
  }));

Deno.test("run() keeps leading when the leader work or a callback throws", () =>
  scenario(async (world) => {
    const a = world.candidate("a", {
      work: () => {
        throw new Error("planner crashed");
      },
      elector: {
        onNewLeader: () => {
          throw new Error("listener crashed");
        },
      },
    });
    await world.clock.advance(6000);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(world.spec()?.renewTime, wallAt(6000));
    assert.deepEqual(a.warnings, ["Callback onNewLeader threw", "Leader work failed"]);
  }));

Deno.test("checkHealthz() fails only for a leader whose renewal is stuck past lease + tolerance", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    const b = world.candidate("b");
    await world.clock.advance(0);
    assert.deepEqual(a.elector.checkHealthz(), { ok: true });
    world.clock.jump(15_000 + DEFAULT_HEALTHZ_TOLERANCE_MS);
    assert.deepEqual(a.elector.checkHealthz(), { ok: true });
    world.clock.jump(1);
    const result = a.elector.checkHealthz();
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : "", /default\/dz-mcall-leader/);
    assert.deepEqual(b.elector.checkHealthz(), { ok: true });
  }));

Deno.test("run() rejects a second call", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await assert.rejects(a.elector.run(new AbortController().signal), {
      message: "Cannot run the election for default/dz-mcall-leader twice",
    });
  }));
