/**
 * `deno task bench election`: leader failover of the real program on the real kube-apiserver
 * (tests/testenv), with the DEFAULT timings (leaseDuration 15 s, renewDeadline 10 s, retryPeriod
 * 2 s). Three pods run as a ServiceAccount with the chart's Role; each trial signals the current
 * holder and measures, from the signal to the new holder's `started-leading` event (wall-clock
 * `at`), how long the release was without a leader. A replacement pod (new name, as a
 * ReplicaSet would make) is started after each trial so three candidates always campaign.
 *
 * - graceful: SIGTERM → the holder stops its work, releases the Lease, the next candidate takes it
 *   at its next retry (≤ retryPeriod × 2.2 after the release).
 * - crash: SIGKILL → nobody releases; candidates wait until the record has not changed for
 *   leaseDuration on their own clock.
 *
 * `BENCH_ELECTION_TRIALS` sets the trials per kind (default 5).
 *
 * @module
 */
import { WAKE_JITTER_FACTOR } from "../lib/election/lease_watch.ts";
import { withBenchPods } from "./pods.ts";
import type { Row } from "./table.ts";
import { type Leader, startPods, waitForLeader } from "../tests/e2e/cluster.ts";
import type { McallProcess } from "../tests/e2e/mcall_proc.ts";

const LEASE_DURATION_MS = 15_000;
const RETRY_PERIOD_MS = 2_000;
const JITTER_FACTOR = 1.2;
/** The original dz-mcall never released its lease: a rolling update waited out leaseDuration. */
const ORIGINAL_GRACEFUL_MS = 15_000;
/** Before each trial, let the replacement start and the standbys watch a few renewals. */
const SETTLE_MS = 3 * RETRY_PERIOD_MS;

const CONFIG = { request: { inputs: [{ name: "noop", input: "true" }] } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const seconds = (ms: number) => Math.round(ms / 10) / 100;

/** The p50 and max rows of one kind of failover, from its sorted samples (ms). */
function failoverRows(kind: string, sorted: readonly number[]): Row[] {
  return [
    {
      name: `${kind} failover p50`,
      value: seconds(quantile(sorted, 0.5)),
      unit: "s",
      note: "signal → new holder's started-leading",
    },
    { name: `${kind} failover max`, value: seconds(sorted.at(-1) ?? NaN), unit: "s" },
  ];
}

/** Runs the failover trials and returns the table rows. */
export async function benchElection(): Promise<Row[]> {
  const trials = Math.max(1, Number(Deno.env.get("BENCH_ELECTION_TRIALS") ?? "5") || 5);
  const graceful: number[] = [];
  const crash: number[] = [];
  await withBenchPods("election", async ({ kc, ns, env, sa }) => {
    const procs: McallProcess[] = [];
    let serial = 0;
    const start = async (count: number) => {
      const names = Array.from({ length: count }, () => `pod-${serial++}`);
      procs.push(...await startPods(env, { names, sa, config: CONFIG }));
    };
    await start(3);
    let leader: Leader = await waitForLeader(kc, ns, procs, { timeoutMs: 60_000 });

    const trial = async (signal: "SIGTERM" | "SIGKILL", into: number[]) => {
      await sleep(SETTLE_MS);
      const old = leader.proc;
      const signalledAt = Date.now();
      old.kill(signal);
      leader = await waitForLeader(kc, ns, procs, {
        timeoutMs: LEASE_DURATION_MS + 30_000,
        not: old.name,
      });
      const ms = (leader.started.properties.at as number) - signalledAt;
      into.push(ms);
      const status = await old.exited;
      console.error(
        `election bench: ${signal} ${old.name} -> ${leader.proc.name} in ${ms} ms ` +
          `(exit ${status.signal ?? status.code})`,
      );
      await start(1);
    };
    for (let i = 0; i < trials; i++) await trial("SIGTERM", graceful);
    for (let i = 0; i < trials; i++) await trial("SIGKILL", crash);
  });

  graceful.sort((a, b) => a - b);
  crash.sort((a, b) => a - b);
  const gracefulBound = RETRY_PERIOD_MS * (1 + JITTER_FACTOR);
  const crashIssueBound = LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS;
  const crashWatchBound = LEASE_DURATION_MS + RETRY_PERIOD_MS * WAKE_JITTER_FACTOR;
  const crashWorst = LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS * (1 + JITTER_FACTOR);
  const timings = "lease 15 s / renew 10 s / retry 2 s";
  return [
    { name: "trials per kind", value: trials, unit: "", note: `3 pods, ${timings}` },
    ...failoverRows("graceful (SIGTERM)", graceful),
    {
      name: "graceful bound without the lease watch: retryPeriod × 2.2",
      value: seconds(gracefulBound),
      unit: "s",
      note: "polling only; a watching standby takes a released lease at once",
    },
    {
      name: "original dz-mcall graceful handover",
      value: seconds(ORIGINAL_GRACEFUL_MS),
      unit: "s",
      note: "no release on shutdown: waited out leaseDuration",
    },
    ...failoverRows("crash (SIGKILL)", crash),
    {
      name: "crash bound asked by the issue: leaseDuration + 2 × retryPeriod",
      value: seconds(crashIssueBound),
      unit: "s",
    },
    {
      name: "crash bound with the lease watch: leaseDuration + 0.1 × retryPeriod",
      value: seconds(crashWatchBound),
      unit: "s",
      note: "wakes at the observed expiry plus a small jitter",
    },
    {
      name: "crash worst case polling only: leaseDuration + 2 × retryPeriod × 2.2",
      value: seconds(crashWorst),
      unit: "s",
      note: "client-go's behaviour (Role without watch on the lease)",
    },
    {
      name: "graceful samples",
      value: graceful.map(seconds).join(", "),
      unit: "s",
    },
    { name: "crash samples", value: crash.map(seconds).join(", "), unit: "s" },
  ];
}
