/**
 * Campaigning over the Lease (`lib/election/campaign.ts`): acquire, renew, respect and take over
 * another holder, lose and regain leadership, release.
 */
import assert from "node:assert/strict";
import { LeadershipLostError } from "../../lib/election/leadership_lost.ts";
import { held, NAME, NS, released, scenario, wallAt } from "../fakes/election_world.ts";

// --- Acquiring -------------------------------------------------------------------------------

Deno.test("run() acquires a lease that does not exist by creating it at epoch 0", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(a.elector.epoch(), 0);
    assert.deepEqual(a.started, [0]);
    assert.deepEqual(world.spec(), held("a", 0));
    assert.deepEqual(a.gauge, [1]);
    assert.deepEqual(a.transitions, [0]);
  }));

Deno.test("run() acquires a released lease (empty holder) at once, one transition later", () =>
  scenario(async (world) => {
    world.put(released(4));
    const b = world.candidate("b");
    await world.clock.advance(0);
    assert.equal(b.elector.isLeader(), true);
    assert.deepEqual(b.started, [5]);
    assert.equal(world.spec()?.holderIdentity, "b");
    assert.equal(world.spec()?.leaseTransitions, 5);
  }));

Deno.test("run() never takes a released or missing lease while mayAcquire says no", () =>
  scenario(async (world) => {
    world.put(released(4));
    let allowed = false;
    let asked = 0;
    const b = world.candidate("b", {
      elector: {
        mayAcquire: () => {
          asked++;
          return Promise.resolve(allowed);
        },
      },
    });
    await world.clock.advance(30_000);
    assert.ok(asked >= 2, `asked at every attempt: ${asked}`);
    assert.equal(b.elector.isLeader(), false);
    assert.deepEqual(b.started, []);
    assert.equal(world.spec()?.holderIdentity, "", "the released lease stays free");
    assert.equal(world.spec()?.leaseTransitions, 4, "no transition");
    // A missing lease is not created either.
    world.server.delete(NAME, NS);
    await world.clock.advance(10_000);
    assert.equal(world.server.lease(NAME, NS), undefined);
    allowed = true;
    await world.clock.advance(5_000);
    assert.equal(b.elector.isLeader(), true);
    // A leader renews without asking.
    const before = asked;
    await world.clock.advance(10_000);
    assert.equal(asked, before, "renewals never ask");
    assert.equal(b.elector.isLeader(), true);
  }));

Deno.test("run() counts a throwing mayAcquire as yes", () =>
  scenario(async (world) => {
    const a = world.candidate("a", {
      elector: { mayAcquire: () => Promise.reject(new Error("API down")) },
    });
    await world.clock.advance(0);
    assert.equal(a.elector.isLeader(), true);
    assert.ok(a.warnings.some((w) => /mayAcquire/.test(w)), a.warnings.join("\n"));
  }));

Deno.test("run() retries acquisition after a network error, a 500 and a 403", () =>
  scenario(async (world) => {
    const a = world.candidate("a", { start: false });
    a.client.failNext(1, "network");
    a.client.failNext(1, "server");
    a.client.failNext(1, "forbidden");
    a.start();
    await world.clock.advance(0);
    assert.equal(a.elector.isLeader(), false);
    await world.clock.advance(4000);
    assert.equal(a.elector.isLeader(), false);
    await world.clock.advance(2000);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(a.warnings.length, 3);
  }));

Deno.test("run() waits retryPeriod plus up to 1.2 × retryPeriod of jitter between attempts", () =>
  scenario(async (world) => {
    world.put(held("stranger", 0));
    const a = world.candidate("a", { random: () => 0.5 });
    await world.clock.advance(0);
    assert.equal(a.client.calls.read, 1);
    await world.clock.advance(3199);
    assert.equal(a.client.calls.read, 1);
    await world.clock.advance(1);
    assert.equal(a.client.calls.read, 2);
    await world.clock.advance(3200);
    assert.equal(a.client.calls.read, 3);
  }));

// --- Renewing --------------------------------------------------------------------------------

Deno.test("run() renews every retryPeriod keeping leaseTransitions and acquireTime", () =>
  scenario(async (world) => {
    world.put(released(2));
    const a = world.candidate("a");
    await world.clock.advance(0);
    const version = world.server.lease(NAME, NS)?.metadata?.resourceVersion;
    await world.clock.advance(2000);
    const spec = world.spec();
    assert.equal(spec?.holderIdentity, "a");
    assert.equal(spec?.leaseTransitions, 3);
    assert.equal(spec?.acquireTime, wallAt(0));
    assert.equal(spec?.renewTime, wallAt(2000));
    assert.notEqual(world.server.lease(NAME, NS)?.metadata?.resourceVersion, version);
    assert.equal(a.elector.lastRenewAgeMs(), 0);
    assert.deepEqual(a.started, [3]);
  }));

Deno.test("run() renews on the fast path without reading the lease", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    const before = { ...a.client.calls };
    await world.clock.advance(20_000);
    assert.equal(a.client.calls.read, before.read);
    assert.equal(a.client.calls.replace, before.replace + 10);
    assert.equal(world.spec()?.renewTime, wallAt(20_000));
  }));

Deno.test("run() falls back to a read when the fast-path update conflicts, and keeps leading", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    a.client.failNext(1, "conflict");
    const reads = a.client.calls.read;
    await world.clock.advance(2000);
    assert.equal(a.client.calls.read, reads + 1);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(world.spec()?.renewTime, wallAt(2000));
    assert.deepEqual(a.started, [0]);
  }));

Deno.test("run() recreates a lease deleted while leading, in the same term", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    world.server.delete(NAME, NS);
    await world.clock.advance(2000);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(a.elector.epoch(), 0);
    assert.deepEqual(a.started, [0]);
    assert.equal(world.spec()?.holderIdentity, "a");
    assert.equal(world.spec()?.acquireTime, wallAt(0));
    assert.equal(world.spec()?.renewTime, wallAt(2000));
  }));

// --- Respecting and taking over another holder -------------------------------------------------

Deno.test("run() respects another holder until its record stops changing for the lease duration", () =>
  scenario(async (world) => {
    const stranger = (renewMs: number) => world.put(held("stranger", 7, 0, renewMs));
    stranger(0);
    const a = world.candidate("a");
    await world.clock.advance(10_000);
    stranger(10_000); // renewed: a sees the change at its next attempt (12 s)
    await world.clock.advance(14_000); // 24 s: 12 s since a saw it change
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.elector.holder(), "stranger");
    assert.deepEqual(a.newLeaders, ["stranger"]);
    await world.clock.advance(4000); // 28 s: unchanged since 12 s, expired at 27 s
    assert.equal(a.elector.isLeader(), true);
  }));

Deno.test("run() takes over an expired lease with leaseTransitions + 1 and a new acquireTime", () =>
  scenario(async (world) => {
    world.put(held("stranger", 7, -60_000, -30_000));
    const a = world.candidate("a");
    await world.clock.advance(14_000);
    assert.equal(a.elector.isLeader(), false, "remote timestamps must not shorten the wait");
    await world.clock.advance(2000);
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.started, [8]);
    assert.deepEqual(world.spec(), held("a", 8, 16_000));
  }));

Deno.test("run() lets exactly one of two candidates racing for the same version win", () =>
  scenario(async (world) => {
    world.put(released(1));
    const a = world.candidate("a");
    const b = world.candidate("b");
    await world.clock.advance(0);
    assert.equal(world.server.conflicts, 1);
    assert.deepEqual(world.leaders(), ["a"]);
    assert.deepEqual([...a.started, ...b.started], [2]);
    assert.deepEqual(b.warnings, [], "a lost race is not worth a warning");
    await world.runSafely(30_000);
    assert.deepEqual(world.leaders(), ["a"]);
    assert.equal(b.elector.holder(), "a");
  }));

Deno.test("run() with a wall clock an hour ahead neither steals nor loses the lease early", () =>
  scenario(async (world) => {
    const hourMs = 3_600_000;
    const a = world.candidate("a", { clock: { wallOffsetMs: hourMs, monoOffsetMs: 123_456 } });
    await world.clock.advance(0);
    const b = world.candidate("b", { clock: { wallOffsetMs: -hourMs, monoOffsetMs: 7 } });
    await world.runSafely(60_000);
    assert.deepEqual(world.leaders(), ["a"]);
    assert.equal(world.spec()?.renewTime, wallAt(60_000, hourMs));
    assert.deepEqual(b.started, []);

    const c = world.candidate("c", { clock: { wallOffsetMs: hourMs } });
    a.shutdown.abort();
    await world.runSafely(5000);
    assert.equal(world.leaders().length, 1);
    assert.notEqual(world.leaders()[0], "a");
    assert.equal(b.started.length + c.started.length, 1);
  }));

// --- Losing and regaining leadership ----------------------------------------------------------

Deno.test("run() stops leading when no renewal succeeds within renewDeadline", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    a.client.failNext(1000, "server");
    await world.clock.advance(9999);
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.stopped, []);
    await world.clock.advance(1);
    assert.equal(a.elector.isLeader(), false);
    assert.deepEqual(a.stopped, ["renewFailed"]);
    assert.equal(a.renewFailures, 4);
    assert.deepEqual(a.gauge, [1, 0]);
    const reason = a.termSignals[0]?.reason;
    assert.ok(reason instanceof LeadershipLostError);
    assert.equal(reason.reason, "renewFailed");
    assert.equal(a.elector.phase(), "campaigning");
  }));

Deno.test("isLeader() turns false on the clock alone, before the renewal loop runs", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(1000);
    world.clock.jump(9000); // frozen process: no timer has fired since 1 s
    assert.equal(a.elector.phase(), "leading");
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.elector.epoch(), undefined);
    await world.clock.advance(0);
    assert.deepEqual(a.stopped, ["renewFailed"]);
  }));

Deno.test("run() aborts the leader's signal at the renew deadline even when a renewal hangs", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    a.client.failNext(1, "hang");
    a.client.failNext(1000, "network");
    await world.clock.advance(9999);
    assert.equal(a.termSignals[0]?.aborted, false);
    await world.clock.advance(1);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.termSignals[0]?.aborted, true);
    assert.deepEqual(a.stopped, ["renewFailed"]);
  }));

Deno.test("run() campaigns again after losing the lease and re-acquires it with epoch + 1", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    a.client.failNext(12, "network");
    await world.clock.advance(10_000);
    assert.deepEqual(a.stopped, ["renewFailed"]);
    await world.clock.advance(10_000);
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.started, [0, 1]);
    assert.equal(world.spec()?.leaseTransitions, 1);
    assert.equal(a.termSignals[0]?.aborted, true);
    assert.equal(a.termSignals[1]?.aborted, false);
  }));

Deno.test("run() hands over from a cut-off leader without two leaders at any time", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    const b = world.candidate("b");
    await world.clock.advance(0);
    a.client.failNext(10_000, "network");
    await world.runSafely(20_000);
    assert.deepEqual(world.leaders(), ["b"]);
    assert.deepEqual(b.started, [1]);
    assert.deepEqual(a.stopped, ["renewFailed"]);
    a.client.heal();
    b.shutdown.abort();
    await world.runSafely(6000);
    assert.deepEqual(world.leaders(), ["a"]);
    assert.deepEqual(a.started, [0, 2]);
  }));

Deno.test("run() stops leading at once when the lease names another holder", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    world.put(held("intruder", 1, 1000));
    await world.clock.advance(2000);
    assert.equal(a.elector.isLeader(), false);
    assert.deepEqual(a.stopped, ["lost"]);
    assert.equal(a.elector.holder(), "intruder");
  }));

// --- Releasing ---------------------------------------------------------------------------------

Deno.test("run() releases the lease on cancel: empty holder, 1 s duration, transitions kept", () =>
  scenario(async (world) => {
    world.put(released(3));
    const a = world.candidate("a");
    await world.clock.advance(3000);
    a.shutdown.abort();
    await world.clock.advance(0);
    assert.equal(a.finished, true);
    assert.deepEqual(world.spec(), released(4, 3000));
    assert.deepEqual(a.stopped, ["cancelled"]);
    assert.equal(a.elector.phase(), "stopped");
    const reason = a.termSignals[0]?.reason;
    assert.ok(reason instanceof LeadershipLostError);
    assert.equal(reason.reason, "cancelled");
  }));

Deno.test("run() lets a standby take over a released lease within one retry period", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    const b = world.candidate("b", { random: () => 0.99 });
    await world.clock.advance(1000);
    a.shutdown.abort();
    await world.clock.advance(0);
    assert.equal(world.spec()?.holderIdentity, "");
    await world.clock.advance(2000 * (1 + 1.2 * 0.99));
    assert.equal(b.elector.isLeader(), true);
    assert.deepEqual(b.started, [1]);
  }));

Deno.test("run() keeps the lease until the leader work settles, then releases it", () =>
  scenario(async (world) => {
    let finished = false;
    const a = world.candidate("a", {
      work: async (signal) => {
        await new Promise((resolve) => signal.addEventListener("abort", resolve));
        await world.clock.sleep(3000);
        finished = true;
      },
    });
    await world.clock.advance(0);
    a.shutdown.abort();
    await world.clock.advance(2999);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(world.spec()?.holderIdentity, "a");
    await world.clock.advance(1);
    assert.equal(finished, true);
    assert.equal(world.spec()?.holderIdentity, "");
    assert.deepEqual(a.stopped, ["cancelled"]);
  }));

Deno.test("run() gives up waiting for leader work once the lease could pass to another", () =>
  scenario(async (world) => {
    const a = world.candidate("a", { work: () => new Promise(() => {}) });
    await world.clock.advance(4000); // last renewal at 4 s
    a.shutdown.abort();
    await world.clock.advance(14_999);
    assert.equal(a.finished, false);
    await world.clock.advance(1);
    assert.equal(a.finished, true);
    assert.ok(a.warnings.some((w) => w.includes("did not stop")));
  }));

Deno.test("run() does not release on cancel when releaseOnCancel is false", () =>
  scenario(async (world) => {
    const a = world.candidate("a", { elector: { releaseOnCancel: false } });
    await world.clock.advance(0);
    a.shutdown.abort();
    await world.clock.advance(0);
    assert.equal(world.spec()?.holderIdentity, "a");
    assert.deepEqual(a.stopped, ["cancelled"]);
  }));
