import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { ConfigSchema } from "../../lib/config/schema.ts";
import { groupUrl, pushRound, pushText } from "../../lib/observe/pushgateway.ts";
import { newRoundSummary } from "../../lib/planner/round_summary.ts";
import { newTaskConfigMap, patched, rfc3339 } from "../../lib/tasks/contract.ts";
import { MemoryStore, specs } from "../fakes/memory_store.ts";
import { FakeClock } from "../fakes/clock.ts";

/** A local HTTP server recording each request; `answer` decides the response. */
function server(answer: (req: Request) => Response | Promise<Response>) {
  const seen: { method: string; path: string; body: string; type: string }[] = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push({
      method: req.method,
      path: new URL(req.url).pathname,
      body: await req.text(),
      type: req.headers.get("content-type") ?? "",
    });
    return await answer(req);
  });
  return { url: `http://127.0.0.1:${s.addr.port}`, seen, close: () => s.shutdown() };
}

/** A logger that keeps warnings. */
function captureLog() {
  const warnings: string[] = [];
  const log = {
    info: () => {},
    warn: (msg: string, props: Record<string, unknown>) =>
      warnings.push(msg.replace(/\{(\w+)\}/g, (_, k) => String(props[k]))),
  } as unknown as Logger;
  return { log, warnings };
}

Deno.test("groupUrl(): job and labels as path segments; '/' and empty values base64url", () => {
  assert.equal(
    groupUrl("http://pg:9091", "dz-mcall", { namespace: "ops", app: "dz-mcall" }),
    "http://pg:9091/metrics/job/dz-mcall/namespace/ops/app/dz-mcall",
  );
  assert.equal(
    groupUrl("http://pg:9091//", "j", { path: "a/b", empty: "" }),
    "http://pg:9091/metrics/job/j/path@base64/YS9i/empty@base64/=",
  );
});

Deno.test("pushText(): PUT with the text format; non-2xx and timeouts are one-line errors", async () => {
  const ok = server(() => new Response(null, { status: 200 }));
  try {
    await pushText(`${ok.url}/metrics/job/x`, "a 1\n", 2000);
    assert.deepEqual(ok.seen, [{
      method: "PUT",
      path: "/metrics/job/x",
      body: "a 1\n",
      type: "text/plain; version=0.0.4; charset=utf-8",
    }]);
  } finally {
    await ok.close();
  }
  const bad = server(() => new Response("pushed metrics are invalid\nmore", { status: 400 }));
  try {
    await assert.rejects(
      pushText(`${bad.url}/metrics/job/x`, "a 1\n", 2000),
      { message: "HTTP 400: pushed metrics are invalid" },
    );
  } finally {
    await bad.close();
  }
  const never = new AbortController();
  const slow = server(() =>
    new Promise<Response>((resolve) =>
      never.signal.addEventListener("abort", () => resolve(new Response("")))
    )
  );
  try {
    await assert.rejects(pushText(`${slow.url}/x`, "", 150), {
      message: "no answer within 150 ms",
    });
  } finally {
    never.abort();
    await slow.close();
  }
});

async function roundStore() {
  const store = new MemoryStore({ wallNow: () => new Date() });
  const now = new Date();
  await store.create(newRoundSummary({
    app: "dz-mcall",
    round: "r1",
    total: 2,
    epoch: 1,
    leader: "l",
    start: now,
  }));
  for (const [i, state] of [[0, "succeeded"], [1, "failed"]] as const) {
    const cm = newTaskConfigMap({
      app: "dz-mcall",
      round: "r1",
      spec: specs(2)[i]!,
      assignedTo: "p",
      epoch: 1,
      signature: "",
    });
    await store.create(patched(cm, {
      labels: { state },
      annotations: { processed: "true", "processed-at": rfc3339(now) },
      data: { durationMs: "1500" },
    }));
  }
  return store;
}

function config(url: string, timeout = "2s") {
  return ConfigSchema.parse({ metrics: { pushgateway: { url, timeout } } });
}

Deno.test("pushRound(): PUTs the per-check series to the release's group", async () => {
  const pg = server(() => new Response(null, { status: 202 }));
  const { log, warnings } = captureLog();
  try {
    const pushed = await pushRound({
      config: config(pg.url),
      store: await roundStore(),
      inputs: specs(2),
      namespace: "ops",
      log,
    });
    assert.equal(pushed, true);
    assert.deepEqual(warnings, []);
    assert.equal(pg.seen.length, 1);
    assert.equal(pg.seen[0]!.path, "/metrics/job/dz-mcall/namespace/ops/app/dz-mcall");
    assert.match(pg.seen[0]!.body, /^mcall_check_success\{check="t0"\} 1$/m);
    assert.match(pg.seen[0]!.body, /^mcall_check_success\{check="t1"\} 0$/m);
    assert.match(pg.seen[0]!.body, /^mcall_check_duration_seconds\{check="t1"\} 1.5$/m);
  } finally {
    await pg.close();
  }
});

Deno.test("pushRound(): off without a URL; a failed push is a warning, not an error", async () => {
  const { log, warnings } = captureLog();
  const store = await roundStore();
  assert.equal(
    await pushRound({ config: config(""), store, inputs: specs(2), namespace: "n", log }),
    false,
  );
  assert.deepEqual(warnings, []);
  const down = server(() => new Response("no", { status: 503 }));
  try {
    const r = await pushRound({
      config: config(down.url),
      store,
      inputs: specs(2),
      namespace: "n",
      log,
    });
    assert.equal(r, false);
    assert.deepEqual(warnings, [
      `Could not push the round's series to ${down.url}/metrics/job/dz-mcall/namespace/n/app/dz-mcall: HTTP 503: no`,
    ]);
  } finally {
    await down.close();
  }
});

Deno.test("config: metrics.pushgateway.url must be an http(s) URL; timeout bounded", () => {
  assert.equal(config("").metrics.pushgateway.timeoutMs, 2000);
  assert.equal(ConfigSchema.parse({}).metrics.pushgateway.job, "dz-mcall");
  for (const url of ["pushgateway:9091", "ftp://x", "http://"]) {
    const r = ConfigSchema.safeParse({ metrics: { pushgateway: { url } } });
    assert.equal(r.success, false, url);
    assert.deepEqual(r.error!.issues[0]!.path, ["metrics", "pushgateway", "url"]);
  }
  assert.equal(
    ConfigSchema.safeParse({ metrics: { pushgateway: { timeout: "5m" } } }).success,
    false,
  );
});

Deno.test("pushText(): the timeout rings on the clock it is given", async () => {
  const never = new AbortController();
  const slow = server(() =>
    new Promise<Response>((resolve) =>
      never.signal.addEventListener("abort", () => resolve(new Response("")))
    )
  );
  try {
    const clock = new FakeClock();
    const pushing = pushText(`${slow.url}/x`, "", 60_000, clock);
    assert.equal(clock.pendingTimers, 1);
    const rejected = assert.rejects(pushing, { message: "no answer within 60000 ms" });
    await clock.advance(60_000);
    await rejected;
  } finally {
    never.abort();
    await slow.close();
  }
});
