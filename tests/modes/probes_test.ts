import assert from "node:assert/strict";
import { probeHandler, type Probes } from "../../lib/modes/probes.ts";

Deno.test("probeHandler() maps probe verdicts to status codes and serves metrics", async () => {
  let healthy = true;
  const probes: Probes = {
    healthz: () => ({ ok: healthy, reason: healthy ? "ok" : "lease not renewed for 40s" }),
    readyz: () => ({ ok: true, reason: "ready" }),
    metrics: () => Promise.resolve({ body: "mcall_leader 1\n", contentType: "text/plain" }),
  };
  const handler = probeHandler(probes);
  const ok = await handler(new Request("http://x/healthz"));
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  healthy = false;
  const bad = await handler(new Request("http://x/healthz"));
  assert.equal(bad.status, 503);
  assert.equal(await bad.text(), "lease not renewed for 40s\n");
  const metrics = await handler(new Request("http://x/metrics"));
  assert.equal(await metrics.text(), "mcall_leader 1\n");
});

Deno.test("probeHandler() answers HEAD like GET and 405 to other methods", async () => {
  const handler = probeHandler({
    healthz: () => ({ ok: true, reason: "ok" }),
    readyz: () => ({ ok: false, reason: "not ready" }),
    metrics: () => Promise.resolve({ body: "", contentType: "text/plain" }),
  });
  for (
    const [path, method, status] of [
      ["/healthz", "HEAD", 200],
      ["/readyz", "HEAD", 503],
      ["/healthz", "POST", 405],
    ] as const
  ) {
    const res = await handler(new Request(`http://x${path}`, { method }));
    assert.equal(res.status, status, `${method} ${path}`);
    await res.body?.cancel();
  }
});
