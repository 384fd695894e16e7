/**
 * A graceful API server restart end to end: kube-apiserver stopped with SIGTERM sends HTTP/2
 * GOAWAY to its clients, which crashed Deno 2.9.6 (segfault / nghttp2 assertion) while
 * client-node talked HTTP/2 over `node:http2`. The program now uses Deno's native `fetch` over
 * HTTP/2 (`HTTP2` in lib/kube/client.ts): it must survive several graceful restarts, keep its
 * process, and lead again.
 */
import assert from "node:assert/strict";
import { e2eTest, waitFor } from "./harness.ts";
import { chartRoleRules } from "../chart/helpers.ts";
import { DEFAULT_LEASE_NAME, startPods, waitForLeader } from "./cluster.ts";

/** Cycles of graceful stop + start. Before the fix the program crashed in the first or second. */
const CYCLES = 5;

/**
 * The crash needs HTTP/2 streams in flight when the GOAWAY arrives, so the program is kept busy
 * as under load: two pods, the leader renews every 100 ms, plans a round of 5 tasks every second and the
 * worker resyncs every 100 ms. (With the default timings and one pod it survived over HTTP/2.)
 */
const TIMINGS = {
  MCALL_ELECTION_LEASE_DURATION: "6s",
  MCALL_ELECTION_RENEW_DEADLINE: "4s",
  MCALL_ELECTION_RETRY_PERIOD: "100ms",
};
const CONFIG = {
  request: { inputs: Array.from({ length: 5 }, (_, i) => ({ name: `noop-${i}`, input: "true" })) },
  tasks: { interval: "1s", pollInterval: "100ms" },
};

e2eTest(
  "graceful API server restarts (HTTP/2 GOAWAY) do not crash the program; it leads again",
  async (env) => {
    const sa = await env.withServiceAccount("dz-mcall", await chartRoleRules());
    const procs = await startPods(env, { count: 2, sa, config: CONFIG, extraEnv: TIMINGS });
    const exits = new Map<string, Deno.CommandStatus>();
    for (const p of procs) p.exited.then((s) => exits.set(p.name, s));
    const alive = (when: string) => {
      for (const p of procs) {
        const exit = exits.get(p.name);
        assert.equal(
          exit,
          undefined,
          `${p.name} exited ${when}: ${JSON.stringify(exit)}\n${p.tail(20)}`,
        );
      }
    };

    await waitForLeader(env.kc, env.ns, procs);
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      await env.harness.stopApiServer({ graceful: true });
      // Let the programs hit the stopped server (their retries fail) before it comes back.
      await new Promise((r) => setTimeout(r, 1_000));
      alive(`while the API server was down (cycle ${cycle})`);
      await env.harness.startApiServer();
      const back = new Date();
      // One of them holds the Lease and renewed it after the restart: requests work again.
      await waitFor(async () => {
        alive(`after the API server came back (cycle ${cycle})`);
        const lease = await env.coordination.readNamespacedLease({
          name: DEFAULT_LEASE_NAME,
          namespace: env.ns,
        });
        const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined;
        return procs.some((p) => p.name === lease.spec?.holderIdentity) &&
          renewed !== undefined && renewed >= back;
      }, { timeoutMs: 30_000, intervalMs: 200, message: `a leader after cycle ${cycle}` });
      await waitForLeader(env.kc, env.ns, procs);
    }
    alive("at the end");
    for (const p of procs) {
      const crash = p.rawErrors.find((l) => /nghttp2|Segmentation|panic|double free/i.test(l));
      assert.equal(crash, undefined, `${p.name} reported a crash: ${crash}`);
    }
  },
  { needsControl: true, timeoutMs: 240_000 },
);
