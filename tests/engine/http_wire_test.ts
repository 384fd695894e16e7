/**
 * HTTP probes against a real local TCP server that writes raw bytes: what the probe makes of
 * responses a well-behaved server never sends (stray bytes after a bodiless status, a body cut
 * short), and URLs it must refuse (port 0).
 */
import assert from "node:assert/strict";
import { runInput } from "../../lib/engine/exec.ts";
import { cmdSpec } from "./cmd_spec.ts";

/**
 * Serves one connection: reads the request head, writes `raw`, then closes (or, with `hold`,
 * keeps the connection open until the test ends).
 */
async function rawServer(
  raw: string,
  fn: (url: string) => Promise<void>,
  hold = false,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const buf = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(raw));
      if (!hold) conn.close();
    }
  })();
  try {
    await fn(`http://127.0.0.1:${listener.addr.port}/`);
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // Closed already.
      }
    }
    await served.catch(() => {});
  }
}

for (const status of [204, 304]) {
  Deno.test(`runInput() counts a ${status} followed by stray bytes, as curl and Go do`, async () => {
    const raw = `HTTP/1.1 ${status} X\r\nConnection: close\r\n\r\ngarbage that is not HTTP\r\n`;
    await rawServer(raw, async (url) => {
      const result = await runInput(cmdSpec(url, { type: "get", expect: `status==${status}` }));
      assert.equal(result.error, undefined);
      assert.equal(result.status, status);
      assert.equal(result.errorCode, "0");
    });
  });
}

Deno.test("runInput() says a body cut short ended early (Content-Length)", async () => {
  const raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
  await rawServer(raw, async (url) => {
    const result = await runInput(cmdSpec(url, { type: "get" }));
    assert.equal(result.status, 200);
    assert.equal(result.errorCode, "-1");
    assert.equal(result.error, "the response ended early");
    assert.equal(result.result, "only this");
  });
});

Deno.test("runInput() says a chunked body cut short ended early", async () => {
  const raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
  await rawServer(raw, async (url) => {
    const result = await runInput(cmdSpec(url, { type: "get" }));
    assert.equal(result.error, "the response ended early");
    assert.equal(result.result, "hello");
  });
});

Deno.test("runInput() still names a response the parser cannot read", async () => {
  await rawServer("SSH-2.0-OpenSSH\r\n\r\n", async (url) => {
    const result = await runInput(cmdSpec(url, { type: "get" }));
    assert.equal(result.status, null);
    assert.match(result.error ?? "", /^GET http:\/\/127\.0\.0\.1:\d+\/ failed: Parse Error/);
  });
});

Deno.test("runInput() refuses port 0 instead of probing the default port", async () => {
  for (const url of ["http://127.0.0.1:0/", "https://127.0.0.1:0/x", "http://127.0.0.1:00/"]) {
    const result = await runInput(cmdSpec(url, { type: "get", retries: 3 }));
    assert.equal(result.error, `URL ${JSON.stringify(url)} has port 0`);
    assert.equal(result.errorCode, "-1");
  }
});
