/**
 * Following the Lease with a watch (`lib/election/lease_watch.ts`): standbys wake at expiry,
 * fall back to polling when the watch is refused or fails.
 */
import assert from "node:assert/strict";
import { held, NAME, NS, scenario, wallAt, type World } from "../fakes/election_world.ts";

// --- Watching the lease ------------------------------------------------------------------------

/** A stranger's record renewed at `renewMs` (wall time), as another process would write it. */
function strangerAt(world: World, renewMs: number): void {
  world.put(held("stranger", 7, 0, renewMs));
}

Deno.test("run() with a watch: a standby takes over at leaseDuration after the last renewal, not a poll later", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    // random 0.5: polls every 3.2 s, and a wake jitter of 0.5 × 10 % × 2 s = 100 ms.
    const b = world.candidate("b", { watch: true, random: () => 0.5 });
    await world.runSafely(10_000); // a renews at 2, 4, 6, 8 and 10 s; b sees each at once
    a.client.failNext(10_000, "hang"); // a is cut off right after its 10 s renewal
    await world.runSafely(14_900); // 24.9 s: b has not seen the lease unchanged for 15 s yet
    assert.deepEqual(world.leaders(), []);
    assert.equal(a.elector.isLeader(), false, "a stepped down at 10 + 10 s");
    await world.clock.advance(200); // 25.1 s: expiry (25 s) + 100 ms of jitter
    assert.deepEqual(world.leaders(), ["b"]);
    assert.deepEqual(b.started, [1]);
    assert.equal(world.spec()?.acquireTime, wallAt(25_100));
    assert.deepEqual(a.stopped, ["renewFailed"]);
  }));

Deno.test("run() without a watch: the same standby takes over only at its next poll", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    const b = world.candidate("b", { random: () => 0.5 });
    await world.runSafely(10_000);
    a.client.failNext(10_000, "hang");
    // b polls every 3.2 s: at 12.8 s it first sees a's 10 s renewal, so the lease expires for it
    // at 27.8 s and it takes over at its next poll, 28.8 s (vs 25.1 s with the watch).
    await world.runSafely(18_700); // 28.7 s
    assert.deepEqual(world.leaders(), []);
    await world.runSafely(200); // 28.9 s
    assert.deepEqual(world.leaders(), ["b"]);
    assert.deepEqual(b.started, [1]);
    assert.equal(world.spec()?.acquireTime, wallAt(28_800));
  }));

Deno.test("run() with a watch: a released lease is taken at once by a watching standby", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await world.clock.advance(0);
    const b = world.candidate("b", { watch: true, random: () => 0.99 });
    await world.clock.advance(1000);
    a.shutdown.abort();
    await world.clock.advance(0);
    assert.equal(b.elector.isLeader(), true, "taken at the release, not at the next poll");
    assert.deepEqual(b.started, [1]);
    assert.equal(world.spec()?.acquireTime, wallAt(1000));
    assert.equal(world.spec()?.holderIdentity, "b");
  }));

Deno.test("run() with a watch: a deleted lease is recreated at once by a watching standby", () =>
  scenario(async (world) => {
    strangerAt(world, 0);
    const a = world.candidate("a", { watch: true, random: () => 0.99 });
    await world.clock.advance(1000);
    assert.equal(a.elector.isLeader(), false);
    world.server.delete(NAME, NS);
    await world.clock.advance(0);
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.started, [8]);
  }));

Deno.test("run() with a watch: a watched renewal pushes expiry out", () =>
  scenario(async (world) => {
    strangerAt(world, 0);
    const a = world.candidate("a", { watch: true });
    await world.clock.advance(10_000);
    strangerAt(world, 10_000); // seen at once through the watch, not at a's poll (12 s)
    await world.clock.advance(0);
    assert.equal(a.elector.observedRecord()?.renewTime, wallAt(10_000));
    await world.clock.advance(14_999); // 24.999 s
    assert.equal(a.elector.isLeader(), false, "the renewal restarted the 15 s countdown");
    await world.clock.advance(1); // 25 s: expiry, no jitter (random 0)
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.started, [8]);
    assert.equal(world.spec()?.acquireTime, wallAt(25_000));
  }));

Deno.test("run() with a watch forbidden falls back to polling, with the same safety", () =>
  scenario(async (world) => {
    strangerAt(world, 0);
    const a = world.candidate("a", { watch: true, start: false });
    a.client.failNextWatches(100, "forbidden");
    a.start();
    await world.clock.advance(10_000);
    strangerAt(world, 10_000); // a sees the change at its next poll (12 s)
    await world.clock.advance(14_000); // 24 s: 12 s since a saw it change
    assert.equal(a.elector.isLeader(), false);
    await world.clock.advance(2999); // 26.999 s: expired at 27 s, but a polls (28 s)
    assert.equal(a.elector.isLeader(), false);
    await world.clock.advance(1001); // 28 s
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.started, [8]);
    assert.equal(world.spec()?.acquireTime, wallAt(28_000));
    // retried with backoff (0, 2, 6, 14 s), warned once, then debug
    assert.equal(a.client.calls.watch, 4);
    assert.deepEqual(a.warnings.filter((w) => /watch/.test(w)).length, 1);
    assert.match(a.warnings.find((w) => /watch/.test(w)) ?? "", /the Role needs verb watch/);
    assert.equal(a.debugs.filter((d) => /Failed to watch lease/.test(d)).length, 3);
  }));

Deno.test("run() with a watch refused with 401 warns as for a 403 and falls back to polling", () =>
  scenario(async (world) => {
    strangerAt(world, 0);
    const a = world.candidate("a", { watch: true, start: false });
    a.client.failNextWatches(100, "unauthorized");
    a.start();
    await world.clock.advance(28_000);
    assert.equal(a.elector.isLeader(), true, "took the expired lease by polling");
    assert.equal(a.client.calls.watch, 4);
    assert.deepEqual(a.warnings.filter((w) => /watch/.test(w)), [
      "Failed to watch lease; polling it meanwhile (the Role needs verb watch on leases; failover is slower without it)",
    ]);
  }));

Deno.test("run() lets one of two candidates creating a missing lease win, the other without a warning", () =>
  scenario(async (world) => {
    world.candidate("a");
    const b = world.candidate("b");
    await world.clock.advance(0);
    assert.equal(world.server.conflicts, 1, "the second create found the lease");
    assert.deepEqual(world.leaders(), ["a"]);
    assert.deepEqual(b.warnings, [], "a lost race is not worth a warning");
    assert.ok(b.debugs.includes("Failed to create lease: another candidate wrote first"));
  }));

Deno.test("run() with a watch that fails later falls back to polling and watches again", () =>
  scenario(async (world) => {
    strangerAt(world, 0);
    const a = world.candidate("a", { watch: true });
    await world.clock.advance(1000);
    assert.equal(world.server.openWatches, 1);
    a.client.failNextWatches(1, "network");
    world.server.endWatches(); // lasted ≥ retryPeriod: reopened at once, and that one fails
    await world.clock.advance(0);
    assert.equal(a.client.calls.watch, 2);
    assert.equal(world.server.openWatches, 0);
    assert.equal(a.warnings.length, 1);
    await world.clock.advance(2000); // backoff of one retry period
    assert.equal(world.server.openWatches, 1);
    assert.equal(a.client.calls.watch, 3);
    // and it is live again: a renewal is seen at once and expiry follows it
    strangerAt(world, 3000);
    await world.clock.advance(14_999);
    assert.equal(a.elector.isLeader(), false);
    await world.clock.advance(1);
    assert.equal(a.elector.isLeader(), true);
  }));

Deno.test("run() with a watch: a leader that sees another holder never overwrites it on the fast path", () =>
  scenario(async (world) => {
    const a = world.candidate("a", { watch: true });
    await world.clock.advance(1000);
    assert.equal(a.elector.isLeader(), true);
    // Another writer takes the lease; a's watch caches that object (a CAS against it would pass).
    strangerAt(world, 1000);
    await world.clock.advance(0);
    assert.equal(a.elector.holder(), "stranger");
    await world.clock.advance(1000); // a's renewal at 2 s
    assert.equal(world.spec()?.holderIdentity, "stranger");
    assert.deepEqual(a.stopped, ["lost"]);
    assert.equal(a.elector.isLeader(), false);
  }));

Deno.test("run() with a watch closes it when the election ends", () =>
  scenario(async (world) => {
    const a = world.candidate("a", { watch: true });
    const b = world.candidate("b", { watch: true });
    await world.clock.advance(0);
    assert.equal(world.server.openWatches, 2);
    a.shutdown.abort();
    b.shutdown.abort();
    await world.clock.advance(0);
    assert.ok(a.finished && b.finished);
    assert.equal(world.server.openWatches, 0);
  }));
