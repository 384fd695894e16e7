/**
 * Watches that last and resume (issue 20, item 1) on the real API server: a quiet watch lives on
 * the server's bookmarks (no 30 s cut, no LIST, no second WATCH) while the leader's pod watch of a
 * waiting round stays quiet too; a resourceVersion the server no longer has (410) costs exactly
 * one relist; after an API server restart the watch comes back and nothing written meanwhile is
 * missed. Requests are counted at the `TaskStore` / `PodLister` ports, one call per request.
 */
import assert from "node:assert/strict";
import { e2eTest, waitFor } from "./harness.ts";
import { KubeApi } from "../../lib/kube/api.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";
import { listWatch } from "../../lib/tasks/list_watch.ts";
import type { PodLister, TaskStore } from "../../lib/tasks/store.ts";
import { Planner } from "../../lib/planner/planner.ts";
import { setupLogging } from "../../lib/log/log.ts";
import { systemClock } from "../../lib/time/clock.ts";
import { isKubeError } from "../../lib/apimachinery/errors.ts";
import { instantSigner, specs, tasksConfig } from "../fakes/memory_store.ts";

/** Longer than two of the API server's bookmark periods (one a minute), far beyond 30 s. */
const QUIET_MS = 75_000;

interface Counted {
  lists: number;
  watches: number;
  bookmarks: number;
  gone: number;
  /** The resourceVersion the first list reports instead of its own (a stale one). */
  staleRv?: string;
}

/** `store` with its list and watch calls counted. */
function counted(store: TaskStore, c: Counted): TaskStore {
  return {
    ...store,
    list: async (selector, signal) => {
      c.lists++;
      const listed = await store.list(selector, signal);
      if (c.lists === 1 && c.staleRv) return { ...listed, resourceVersion: c.staleRv };
      return listed;
    },
    watch: async (selector, rv, onEvent, signal) => {
      c.watches++;
      try {
        await store.watch(selector, rv, (e) => {
          if (e.type === "BOOKMARK") c.bookmarks++;
          onEvent(e);
        }, signal);
      } catch (err) {
        if (isKubeError(err, "gone")) c.gone++;
        throw err;
      }
    },
  };
}

function follow(store: TaskStore, selector: string, signal: AbortSignal) {
  const names = new Set<string>();
  const errors: string[] = [];
  const running = listWatch({
    store,
    clock: systemClock,
    selector,
    onList: (items) => items.forEach((cm) => names.add(cm.metadata.name)),
    onEvent: (e) => e.type !== "DELETED" && names.add(e.object.metadata.name),
    onError: (err) => errors.push(String(err)),
  }, signal);
  return { names, errors, running };
}

e2eTest(
  "watch: a quiet watch lives on bookmarks for 75 s — no LIST, no re-watch; the leader's pod watch logs no failure",
  async (env) => {
    using conn = new KubeConnection(await loadKubeConfig({ KUBECONFIG: env.kubeconfigPath }));
    const api = new KubeApi(conn, env.ns);
    const c: Counted = { lists: 0, watches: 0, bookmarks: 0, gone: 0 };
    const stop = new AbortController();
    const f = follow(counted(api.taskStore(), c), "quiet=true", stop.signal);
    // The leader of a round that waits for workers (no ready pod matches) keeps its pod watch open.
    await env.startFakePod({ name: "lead", labels: { app: "nobody" } });
    const messages: string[] = [];
    setupLogging({ level: "info", sink: (record) => messages.push(String(record.rawMessage)) });
    let podWatches = 0;
    const podLister = api.podLister();
    const pods: PodLister = {
      listPods: (s, signal) => podLister.listPods(s, signal),
      watchPods: (s, onPod, signal) => (podWatches++, podLister.watchPods(s, onPod, signal)),
    };
    const planner = new Planner({
      store: api.taskStore(),
      pods,
      clock: systemClock,
      isLeader: () => true,
      epoch: () => 1,
      identity: "lead",
      tasks: tasksConfig({ round: "quiet", leaderRunsTasks: false, workerSelector: "app=worker" }),
      signer: instantSigner("key"),
      reconcileIntervalMs: 600_000,
    });
    const leading = planner.runLeader(specs(1), stop.signal);
    try {
      await new Promise((r) => setTimeout(r, QUIET_MS));
      assert.equal(c.lists, 1, "listed once");
      assert.equal(c.watches, 1, "one watch, never cut");
      assert.ok(c.bookmarks >= 1, `bookmarks: ${c.bookmarks}`);
      assert.deepEqual(f.errors, []);
      assert.ok(messages.some((m) => m.startsWith("No ready worker pod")), messages.join("\n"));
      assert.ok(
        !messages.some((m) => m.startsWith("Worker pod watch failed")),
        messages.join("\n"),
      );
      assert.equal(podWatches, 1, "one pod watch, never cut");
    } finally {
      stop.abort();
      await f.running;
      await leading;
      setupLogging({ level: "error" });
    }
  },
  { timeoutMs: 150_000 },
);

e2eTest(
  "watch: a resourceVersion the API server no longer has (410) costs exactly one relist",
  async (env) => {
    using conn = new KubeConnection(await loadKubeConfig({ KUBECONFIG: env.kubeconfigPath }));
    const store = new KubeApi(conn, env.ns).taskStore();
    const labels = { stale: "true" };
    // A version from before the API server's watch cache began: gone once it restarted with writes
    // in between.
    const { resourceVersion: staleRv } = await store.list("stale=true");
    await store.create({ metadata: { name: "before", labels } });
    await env.harness.stopApiServer();
    await env.harness.startApiServer();
    await store.create({ metadata: { name: "after-restart", labels } });
    const c: Counted = { lists: 0, watches: 0, bookmarks: 0, gone: 0, staleRv };
    const stop = new AbortController();
    const f = follow(counted(store, c), "stale=true", stop.signal);
    try {
      await waitFor(() => c.lists === 2 && c.watches >= 2, {
        timeoutMs: 30_000,
        message: "relist",
      });
      await store.create({ metadata: { name: "later", labels } });
      await waitFor(() => f.names.has("later"), { timeoutMs: 20_000, message: "later seen" });
      assert.equal(c.gone, 1, "the stale version got 410 Gone");
      assert.equal(c.lists, 2, "exactly one relist");
      assert.deepEqual([...f.names].sort(), ["after-restart", "before", "later"]);
    } finally {
      stop.abort();
      await f.running;
    }
  },
  { needsControl: true, timeoutMs: 180_000 },
);

e2eTest(
  "watch: after an API server restart the watch comes back and misses nothing",
  async (env) => {
    using conn = new KubeConnection(await loadKubeConfig({ KUBECONFIG: env.kubeconfigPath }));
    const store = new KubeApi(conn, env.ns).taskStore();
    const labels = { restart: "true" };
    const c: Counted = { lists: 0, watches: 0, bookmarks: 0, gone: 0 };
    const stop = new AbortController();
    const f = follow(counted(store, c), "restart=true", stop.signal);
    try {
      await store.create({ metadata: { name: "before", labels } });
      await waitFor(() => f.names.has("before"), { timeoutMs: 20_000, message: "before seen" });
      await env.harness.stopApiServer();
      await new Promise((r) => setTimeout(r, 3_000));
      await env.harness.startApiServer();
      await store.create({ metadata: { name: "after", labels } });
      await waitFor(() => f.names.has("after"), { timeoutMs: 60_000, message: "after seen" });
      // Resumed from its last version, or relisted once when the new watch cache says 410.
      assert.ok(c.lists <= 2 && c.lists - 1 === c.gone, JSON.stringify(c));
      // Backoff, not a tight loop, while the server was down (a few seconds).
      assert.ok(c.watches <= 8, JSON.stringify(c));
    } finally {
      stop.abort();
      await f.running;
    }
  },
  { needsControl: true, timeoutMs: 180_000 },
);
