/**
 * Serve mode as the program runs it (`main.ts -w` in a subprocess): out of file descriptors under
 * `prlimit --nofile=96`, and a real SIGTERM while a client holds a half-sent body.
 */
import assert from "node:assert/strict";
import { SERVE_LIMITS } from "../../lib/modes/http_listen.ts";
import { program } from "../cli/program.ts";

const encoder = new TextEncoder();

/**
 * Serve mode on `port` as the program runs (tests/cli/program.ts), behind `prefix` if given. The
 * environment is clean: the host's NODE_EXTRA_CA_CERTS & co. make the runtime load a CA file
 * lazily, and under the descriptor limit its "Ignoring extra certs" warning is not our log.
 */
function spawnServe(
  port: number,
  env: Record<string, string> = {},
  prefix: string[] = [],
  level = "error",
) {
  return program(["-w", "-p", String(port), "-l", level], env, prefix).spawn();
}

async function waitHealthy(port: number, tries = 150): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthcheck`, {
        signal: AbortSignal.timeout(2000),
      });
      if ((await res.text()) === "OK\n") return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}

const freePort = () => 20_000 + Math.floor(Math.random() * 20_000);

Deno.test("serve under prlimit --nofile=96 survives 200 half-open connections and serves after", async () => {
  const port = freePort();
  const child = spawnServe(port, {}, ["prlimit", "--nofile=96"], "warn");
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const conns: Deno.Conn[] = [];
  try {
    assert.ok(await waitHealthy(port), "the server came up");
    // Connect all at once: past the descriptor limit the kernel's backlog holds the rest.
    const attempts = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        Promise.race([
          Deno.connect({ hostname: "127.0.0.1", port }).then(async (conn) => {
            conns.push(conn);
            await conn.write(encoder.encode("GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
          }),
          new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), 3000)),
        ])),
    );
    assert.ok(attempts.filter((a) => a.status === "fulfilled").length > 96, "past the limit");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(exited, false, "the server exited while out of descriptors");
    for (const conn of conns.splice(0)) conn.close();
    assert.ok(await waitHealthy(port, 100), "the server serves again after the clients left");
    assert.equal(exited, false);
  } finally {
    for (const conn of conns) conn.close();
    if (!exited) child.kill("SIGTERM");
  }
  const { code } = await status;
  const stderr = new TextDecoder().decode((await child.output()).stderr);
  assert.equal(code, 0, stderr);
  // It did run out: one warning per streak of failed accepts, and nothing but JSON log lines.
  const lines = stderr.trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(
    lines.some((l) => /^accept failed, backing off: .*Too many open files/.test(l.message)),
    stderr,
  );
});

for (const token of [undefined, "s3cret-0123456789abcdef"]) {
  const what = token ? "a 401'd" : "an unauthenticated";
  Deno.test(`serve exits on SIGTERM within the drain deadline while ${what} client holds a half-sent body`, async () => {
    const port = freePort();
    const child = spawnServe(port, token ? { MCALL_WEBSERVER_TOKEN: token } : {});
    const conn = await (async () => {
      assert.ok(await waitHealthy(port), "the server came up");
      return await Deno.connect({ hostname: "127.0.0.1", port });
    })();
    try {
      await conn.write(encoder.encode(
        "POST /mcall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          'Content-Length: 100\r\n\r\n{"in',
      ));
      await new Promise((r) => setTimeout(r, 300));
      const start = performance.now();
      child.kill("SIGTERM");
      const out = await child.output();
      const took = performance.now() - start;
      assert.ok(took < SERVE_LIMITS.drainTimeoutMs + 3000, `exit after ${Math.round(took)} ms`);
      // Cut off at the deadline: interrupted (143). With a token the 401 was answered at once and
      // the connection closed, so the drain finishes cleanly (0).
      assert.equal(out.code, token ? 0 : 143, new TextDecoder().decode(out.stderr));
      if (!token) assert.ok(took >= SERVE_LIMITS.drainTimeoutMs - 500, `${took} ms`);
    } finally {
      conn.close();
    }
  });
}
