/**
 * Leader election, driven by a fake clock against an in-memory Lease API: nothing sleeps.
 * Default timings (15 s lease, 10 s renew deadline, 2 s retry) and no jitter unless a case says so.
 */
import assert from "node:assert/strict";
import { Elector } from "../../lib/election/elector.ts";
import { DEFAULT_HEALTHZ_TOLERANCE_MS } from "../../lib/election/term.ts";
import type { ElectorOptions } from "../../lib/election/options.ts";
import { LeadershipLostError, type StopReason } from "../../lib/election/leadership_lost.ts";
import type { LeaseLock } from "../../lib/election/lease_lock.ts";
import { type LeaseObject, LeaseObjectLock } from "../../lib/election/lease_object_lock.ts";
import {
  formatMicroTime,
  type LeaderElectionRecord,
  leaseSpecToRecord,
  parseMicroTime,
  recordToLeaseSpec,
} from "../../lib/election/lease_record.ts";
import { FakeClock, type FakeClockViewOptions } from "../fakes/clock.ts";
import { type MemoryLeaseClient, MemoryLeaseServer } from "../fakes/memory_lease.ts";

const NAME = "dz-mcall-leader";
const NS = "default";
const START = new Date("2025-01-01T00:00:00Z");

/** The wall time `ms` after the start, as MicroTime. */
function wallAt(ms: number, offsetMs = 0): string {
  return formatMicroTime(new Date(START.getTime() + ms + offsetMs));
}

/** The record `holder` writes acquiring at `atMs` and renewing at `renewMs`: a 15 s lease. */
function held(
  holder: string,
  transitions: number,
  atMs = 0,
  renewMs = atMs,
): LeaderElectionRecord {
  return {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: wallAt(atMs),
    renewTime: wallAt(renewMs),
    leaseTransitions: transitions,
  };
}

/** A lease released at `atMs`: no holder, a 1 s duration, the transitions kept. */
function released(transitions: number, atMs = 0): LeaderElectionRecord {
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: wallAt(atMs),
    renewTime: wallAt(atMs),
    leaseTransitions: transitions,
  };
}

class World {
  readonly clock = new FakeClock({ wallStart: START });
  readonly server = new MemoryLeaseServer();
  readonly candidates: Candidate[] = [];

  spec() {
    return this.server.lease(NAME, NS)?.spec;
  }

  /** Stores a lease as another process would have written it. */
  put(record: LeaderElectionRecord): void {
    const existing = this.server.lease(NAME, NS);
    this.server.put({
      ...existing,
      metadata: { name: NAME, namespace: NS },
      spec: recordToLeaseSpec(record),
    });
  }

  candidate(identity: string, options: CandidateOptions = {}): Candidate {
    const c = new Candidate(this, identity, options);
    this.candidates.push(c);
    return c;
  }

  leaders(): string[] {
    return this.candidates.filter((c) => c.elector.isLeader()).map((c) => c.identity);
  }

  /** Advances in small steps, asserting that no two candidates believe they lead at once. */
  async runSafely(ms: number, stepMs = 100): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      await this.clock.advance(stepMs);
      assert.ok(
        this.leaders().length <= 1,
        `two leaders at ${this.clock.now()}: ${this.leaders()}`,
      );
    }
  }

  async stopAll(): Promise<void> {
    for (const c of this.candidates) c.shutdown.abort();
    for (let i = 0; i < 100 && !this.candidates.every((c) => c.finished); i++) {
      await this.clock.advance(1000);
    }
    assert.ok(this.candidates.every((c) => c.finished), "a candidate did not stop");
  }
}

interface CandidateOptions {
  clock?: FakeClockViewOptions;
  random?: () => number;
  /** Leader work; by default waits for its signal. */
  work?: (signal: AbortSignal, epoch: number) => void | Promise<void>;
  elector?: Partial<ElectorOptions>;
  start?: boolean;
  /** Give the lock a client that can watch the lease. Default false (polling only). */
  watch?: boolean;
}

class Candidate {
  readonly client: MemoryLeaseClient;
  readonly elector: Elector;
  readonly shutdown = new AbortController();
  readonly started: number[] = [];
  readonly stopped: StopReason[] = [];
  readonly newLeaders: string[] = [];
  readonly termSignals: AbortSignal[] = [];
  readonly gauge: (0 | 1)[] = [];
  readonly transitions: number[] = [];
  readonly warnings: string[] = [];
  readonly debugs: string[] = [];
  renewFailures = 0;
  finished = false;
  done: Promise<void> | undefined;

  constructor(readonly world: World, readonly identity: string, options: CandidateOptions) {
    this.client = world.server.client({ watch: options.watch ?? false });
    const lock = new LeaseObjectLock({ client: this.client, namespace: NS, identity });
    const work = options.work ??
      ((signal: AbortSignal) =>
        new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())));
    this.elector = new Elector({
      lock,
      clock: world.clock.view(options.clock ?? {}),
      random: options.random ?? (() => 0),
      onStartedLeading: (signal, epoch) => {
        this.started.push(epoch);
        this.termSignals.push(signal);
        return work(signal, epoch);
      },
      onStoppedLeading: (reason) => this.stopped.push(reason),
      onNewLeader: (holder) => this.newLeaders.push(holder),
      events: {
        leader: (v) => this.gauge.push(v),
        transition: (epoch) => this.transitions.push(epoch),
        renewFailure: () => this.renewFailures++,
      },
      logger: {
        debug: (message) => this.debugs.push(message),
        info() {},
        warn: (message) => this.warnings.push(message),
      },
      ...options.elector,
    });
    if (options.start !== false) this.start();
  }

  start(): void {
    this.done = this.elector.run(this.shutdown.signal).finally(() => this.finished = true);
  }
}

async function scenario(fn: (world: World) => Promise<void>): Promise<void> {
  const world = new World();
  try {
    await fn(world);
  } finally {
    await world.stopAll();
  }
}

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

Deno.test("run() rejects a second call", () =>
  scenario(async (world) => {
    const a = world.candidate("a");
    await assert.rejects(a.elector.run(new AbortController().signal), {
      message: "Cannot run the election for default/dz-mcall-leader twice",
    });
  }));

// --- Configuration validation ---------------------------------------------------------------------

const stubLock = (identity: string): LeaseLock => ({
  identity: () => identity,
  describe: () => `${NS}/${NAME}`,
  get: () => Promise.resolve(null),
  create: () => Promise.resolve(),
  update: () => Promise.resolve(),
});

const validation: {
  name: string;
  options: Partial<ElectorOptions>;
  error: typeof RangeError | typeof TypeError;
  message: string;
}[] = [
  {
    name: "a leaseDurationMs that is not positive",
    options: { leaseDurationMs: 0 },
    error: RangeError,
    message:
      "Cannot start election as 'leaseDurationMs' must be a positive number: current value is 0",
  },
  {
    name: "a renewDeadlineMs that is not positive",
    options: { renewDeadlineMs: -1 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be a positive number: current value is -1",
  },
  {
    name: "a retryPeriodMs that is not a number",
    options: { retryPeriodMs: Number.NaN },
    error: RangeError,
    message:
      "Cannot start election as 'retryPeriodMs' must be a positive number: current value is NaN",
  },
  {
    name: "a leaseDurationMs that is not whole seconds",
    options: { leaseDurationMs: 15_500 },
    error: RangeError,
    message:
      "Cannot start election as 'leaseDurationMs' must be a whole number of seconds: current value is 15500",
  },
  {
    name: "a renewDeadlineMs longer than leaseDurationMs",
    options: { leaseDurationMs: 10_000, renewDeadlineMs: 15_000 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be less than 'leaseDurationMs': current values are 15000 and 10000",
  },
  {
    name: "a renewDeadlineMs equal to leaseDurationMs",
    options: { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be less than 'leaseDurationMs': current values are 10000 and 10000",
  },
  {
    name: "a renewDeadlineMs not above 1.2 × retryPeriodMs",
    options: { renewDeadlineMs: 2400, retryPeriodMs: 2000 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be greater than 1.2 × 'retryPeriodMs': current values are 2400 and 2000",
  },
  {
    name: "a lock with an empty identity",
    options: { lock: stubLock("") },
    error: TypeError,
    message:
      `Cannot start election as the lock's 'identity' must not be empty: current value is ""`,
  },
  {
    name: "a missing onStartedLeading",
    options: { onStartedLeading: undefined as unknown as ElectorOptions["onStartedLeading"] },
    error: TypeError,
    message:
      "Cannot start election as 'onStartedLeading' must be a function: current value is undefined",
  },
];

for (const { name, options, error, message } of validation) {
  Deno.test(`new Elector() rejects ${name}`, () => {
    assert.throws(
      () => new Elector({ lock: stubLock("a"), onStartedLeading: () => {}, ...options }),
      (err: unknown) => {
        assert.ok(err instanceof error, `expected ${error.name}, got ${err}`);
        assert.equal(err.message, message);
        return true;
      },
    );
  });
}

Deno.test("new Elector() accepts the defaults and the tightest valid timings", () => {
  new Elector({ lock: stubLock("a"), onStartedLeading: () => {} });
  new Elector({
    lock: stubLock("a"),
    onStartedLeading: () => {},
    leaseDurationMs: 3000,
    renewDeadlineMs: 2999,
    retryPeriodMs: 2000,
  });
});

Deno.test("new LeaseObjectLock() rejects an empty namespace", () => {
  const client = new MemoryLeaseServer().client();
  assert.throws(() => new LeaseObjectLock({ client, namespace: "", identity: "a" }), {
    name: "TypeError",
    message: "Cannot create lease lock as 'namespace' must not be empty",
  });
});

// --- Lease lock and conversions ------------------------------------------------------------------

Deno.test("LeaseObjectLock.update() sends the cached resourceVersion and fails on a stale one", async () => {
  const server = new MemoryLeaseServer();
  const a = new LeaseObjectLock({ client: server.client(), namespace: NS, identity: "a" });
  const b = new LeaseObjectLock({ client: server.client(), namespace: NS, identity: "b" });
  const record: LeaderElectionRecord = {
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: wallAt(0),
    renewTime: wallAt(0),
    leaseTransitions: 0,
  };
  assert.equal(await a.get(), null);
  await a.create(record);
  await assert.rejects(b.update(record), { name: "KubeError", kind: "conflict" });
  const seen = await b.get();
  assert.deepEqual(seen?.record, record);
  await a.update({ ...record, renewTime: wallAt(2000) });
  await assert.rejects(b.update({ ...record, holderIdentity: "b" }), { kind: "conflict" });
  server.delete(NAME, NS);
  await assert.rejects(a.update(record), { kind: "notFound" });
});

Deno.test("LeaseObjectLock.update() keeps metadata and spec fields it does not own", async () => {
  const server = new MemoryLeaseServer();
  const lease: LeaseObject = {
    metadata: { name: NAME, namespace: NS, labels: { app: "dz-mcall" } },
    spec: { holderIdentity: "x", strategy: "OldestEmulationVersion" },
  };
  server.put(lease);
  const lock = new LeaseObjectLock({ client: server.client(), namespace: NS, identity: "a" });
  await lock.get();
  await lock.update({
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: null,
    renewTime: wallAt(0),
    leaseTransitions: 1,
  });
  const stored = server.lease(NAME, NS);
  assert.deepEqual(stored?.metadata?.labels, { app: "dz-mcall" });
  assert.equal(stored?.spec?.strategy, "OldestEmulationVersion");
  assert.equal("acquireTime" in (stored?.spec ?? {}), false);
});

Deno.test("LeaseObjectLock puts its owner on the Lease it creates and on one it updates", async () => {
  const owner = { apiVersion: "v1", kind: "ConfigMap", name: "dz-mcall-config", uid: "u-1" };
  const record = {
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: wallAt(0),
    renewTime: wallAt(0),
    leaseTransitions: 0,
  };
  const server = new MemoryLeaseServer();
  const lock = (o = [owner]) =>
    new LeaseObjectLock({
      client: server.client(),
      namespace: NS,
      identity: "a",
      ownerReferences: o,
    });
  await lock().create(record);
  assert.deepEqual(server.lease(NAME, NS)?.metadata?.ownerReferences, [owner]);
  // A Lease of an older install, without owner: the next write adds it, keeping other owners.
  const other = { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "u-0" };
  server.put({ metadata: { name: NAME, namespace: NS, ownerReferences: [other] }, spec: {} });
  const l = lock();
  await l.get();
  await l.update(record);
  assert.deepEqual(server.lease(NAME, NS)?.metadata?.ownerReferences, [other, owner]);
  await l.update(record);
  assert.deepEqual(server.lease(NAME, NS)?.metadata?.ownerReferences, [other, owner], "once");
});

Deno.test("leaseSpecToRecord() reads client-node Dates and server text alike", () => {
  const date = new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 7));
  assert.deepEqual(
    leaseSpecToRecord({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: date,
      renewTime: "2006-01-02T15:04:05.123456Z",
      leaseTransitions: 2,
    }),
    {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: "2006-01-02T15:04:05.007000Z",
      renewTime: "2006-01-02T15:04:05.123456Z",
      leaseTransitions: 2,
    },
  );
  assert.deepEqual(leaseSpecToRecord(undefined), {
    holderIdentity: "",
    leaseDurationSeconds: 0,
    acquireTime: null,
    renewTime: null,
    leaseTransitions: 0,
  });
});

Deno.test("formatMicroTime() writes six fractional digits in UTC and parseMicroTime() reads it", () => {
  const text = formatMicroTime(new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 0)));
  assert.equal(text, "2006-01-02T15:04:05.000000Z");
  assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(parseMicroTime(text)?.getTime(), Date.UTC(2006, 0, 2, 15, 4, 5, 0));
  assert.equal(
    parseMicroTime("2006-01-02T17:04:05+02:00")?.getTime(),
    Date.UTC(2006, 0, 2, 15, 4, 5),
  );
  assert.equal(parseMicroTime("2006-01-02"), undefined);
});
