/**
 * Leader election candidates on one fake clock against one in-memory Lease API, for the election's
 * tests: nothing sleeps. Default timings (15 s lease, 10 s renew deadline, 2 s retry) and no
 * jitter unless a case says so.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Elector } from "../../lib/election/elector.ts";
import type { ElectorOptions } from "../../lib/election/options.ts";
import type { StopReason } from "../../lib/election/leadership_lost.ts";
import { LeaseObjectLock } from "../../lib/election/lease_object_lock.ts";
import {
  formatMicroTime,
  type LeaderElectionRecord,
  recordToLeaseSpec,
} from "../../lib/election/lease_record.ts";
import { FakeClock, type FakeClockViewOptions } from "./clock.ts";
import { type MemoryLeaseClient, MemoryLeaseServer } from "./memory_lease.ts";

/** The Lease's name. */
export const NAME = "dz-mcall-leader";
/** The Lease's namespace. */
export const NS = "default";
/** The wall clock at the fake clock's start. */
export const START = new Date("2025-01-01T00:00:00Z");

/** The wall time `ms` after the start, as MicroTime. */
export function wallAt(ms: number, offsetMs = 0): string {
  return formatMicroTime(new Date(START.getTime() + ms + offsetMs));
}

/** The record `holder` writes acquiring at `atMs` and renewing at `renewMs`: a 15 s lease. */
export function held(
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
export function released(transitions: number, atMs = 0): LeaderElectionRecord {
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: wallAt(atMs),
    renewTime: wallAt(atMs),
    leaseTransitions: transitions,
  };
}

/** The shared clock and Lease API, and the candidates on them. */
export class World {
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

/** How a {@linkcode Candidate} is set up. */
export interface CandidateOptions {
  clock?: FakeClockViewOptions;
  random?: () => number;
  /** Leader work; by default waits for its signal. */
  work?: (signal: AbortSignal, epoch: number) => void | Promise<void>;
  elector?: Partial<ElectorOptions>;
  start?: boolean;
  /** Give the lock a client that can watch the lease. Default false (polling only). */
  watch?: boolean;
}

/** One elector on the world's clock and API, recording what its callbacks and hooks saw. */
export class Candidate {
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

/** Runs `fn` in a fresh world, stopping every candidate afterwards. */
export async function scenario(fn: (world: World) => Promise<void>): Promise<void> {
  const world = new World();
  try {
    await fn(world);
  } finally {
    await world.stopAll();
  }
}
