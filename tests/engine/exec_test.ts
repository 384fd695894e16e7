import assert from "node:assert/strict";
import { runInput } from "../../lib/engine/exec.ts";
import { cmdSpec } from "./cmd_spec.ts";
import { stillRunning } from "./processes.ts";

const spec = cmdSpec;

/** True once the process is gone or a zombie (killed, waiting to be reaped). */
async function gone(pid: number): Promise<boolean> {
  return (await stillRunning([pid])).length === 0;
}

Deno.test("runInput() runs a command with quoted arguments, without a shell", async () => {
  const fixed = new Date("2024-05-06T07:08:09.123Z");
  const result = await runInput(spec("echo 'a b'  \"c  d\""), { now: () => fixed });
  assert.deepEqual({ ...result, durationMs: 0 }, {
    errorCode: "0",
    input: "echo 'a b'  \"c  d\"",
    name: "echo 'a b'  \"c  d\"",
    result: "a b c  d\n",
    ts: "2024-05-06T07:08:09.123",
    type: "cmd",
    exitCode: 0,
    status: null,
    durationMs: 0,
    truncated: false,
  });
});

Deno.test("runInput() adds subject only when it is set", async () => {
  assert.equal((await runInput(spec("true"), { subject: "probe" })).subject, "probe");
  assert.equal("subject" in (await runInput(spec("true"), { subject: "" })), false);
});

Deno.test("runInput() fails on a non-zero exit code and reports it", async () => {
  const result = await runInput(spec("sh -c 'echo partial; exit 3'"));
  assert.equal(result.errorCode, "-1");
  assert.equal(result.exitCode, 3);
  assert.equal(result.error, "exit code 3");
  assert.equal(result.result, "partial\n");
});

Deno.test("runInput() captures stderr with stdout", async () => {
  const result = await runInput(spec("sh -c 'echo out; sleep 0.1; echo err >&2'"));
  assert.equal(result.result, "out\nerr\n");
});

Deno.test("runInput() reports a missing program without throwing", async () => {
  const result = await runInput(spec("nosuchprog --flag"));
  assert.equal(result.errorCode, "-1");
  assert.equal(result.error, 'program "nosuchprog" not found');
  assert.equal(result.exitCode, null);
  const path = await runInput(spec("/no/such/prog"));
  assert.equal(path.error, 'program "/no/such/prog" not found');
});

Deno.test("runInput() notices a program removed from PATH since the last lookup", async () => {
  const dir = await Deno.makeTempDir();
  const oldPath = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", `${dir}:${oldPath}`);
  try {
    await Deno.writeTextFile(`${dir}/dzprog`, "#!/bin/sh\necho here\n", { mode: 0o755 });
    assert.equal((await runInput(spec("dzprog"))).result, "here\n");
    await Deno.remove(`${dir}/dzprog`);
    const removed = await runInput(spec("dzprog"));
    assert.equal(removed.errorCode, "-1");
    assert.equal(removed.error, 'program "dzprog" not found');
  } finally {
    Deno.env.set("PATH", oldPath);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runInput() refuses shell syntax and never runs the command", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const line = `touch ${dir}/ran && echo hi`;
    const result = await runInput(spec(line));
    assert.equal(result.errorCode, "-1");
    assert.equal(
      result.error,
      `cmd ${
        JSON.stringify(line)
      } uses shell syntax "&&"; set shell: true to run it through /bin/sh`,
    );
    await assert.rejects(Deno.stat(`${dir}/ran`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runInput() runs pipes through /bin/sh with shell: true", async () => {
  const result = await runInput(spec("printf 'a\\nb\\nc\\n' | wc -l", { shell: true }));
  assert.equal(result.errorCode, "0");
  assert.equal(result.result.trim(), "3");
});

Deno.test("runInput() kills a command that ignores SIGTERM within timeout plus grace", async () => {
  const started = performance.now();
  const result = await runInput(spec("trap '' TERM; sleep 30", { shell: true, timeoutMs: 300 }), {
    killGraceMs: 300,
  });
  const elapsed = performance.now() - started;
  assert.equal(result.errorCode, "-1");
  assert.equal(result.error, "timed out after 300ms");
  assert.equal(result.exitCode, null);
  assert.ok(elapsed >= 550 && elapsed < 1500, `took ${elapsed} ms`);
});

Deno.test("runInput() kills the children of a timed-out command", async () => {
  const result = await runInput(spec("sleep 30 & echo $!; wait", { shell: true, timeoutMs: 500 }));
  assert.equal(result.error, "timed out after 500ms");
  const pid = Number(result.result.trim());
  assert.ok(pid > 0, `grandchild pid in ${JSON.stringify(result.result)}`);
  assert.ok(await gone(pid), `grandchild ${pid} still running`);
});

Deno.test("runInput() returns promptly when an orphan holds the output pipe", async () => {
  const started = performance.now();
  const result = await runInput(spec("sleep 30 & echo $!", { shell: true }));
  const elapsed = performance.now() - started;
  assert.equal(result.errorCode, "0");
  assert.ok(elapsed < 1500, `took ${elapsed} ms`);
  const pid = Number(result.result.trim());
  assert.ok(pid > 0);
  assert.ok(await gone(pid), `orphan ${pid} still running`);
});

Deno.test("runInput() caps 2 MB of output and marks it truncated", async () => {
  const result = await runInput(
    spec("head -c 2000000 /dev/zero | tr '\\0' a; echo done >&2", { shell: true }),
    { maxOutputBytes: 4096 },
  );
  assert.equal(result.errorCode, "0");
  assert.equal(result.truncated, true);
  assert.ok(result.result.length <= 4096 && result.result.length > 4000, `${result.result.length}`);
});

Deno.test("runInput() does not split a UTF-8 character at the cap", async () => {
  const result = await runInput(spec("yes é | head -n 2000", { shell: true }), {
    maxOutputBytes: 1024,
  });
  assert.equal(result.truncated, true);
  assert.ok(!result.result.includes("\uFFFD"));
  assert.equal(result.result, "é\n".repeat(341));
});

Deno.test("runInput() fails a bad expect without running the command", async () => {
  const result = await runInput(spec("echo hi", { expect: "$count ~ 3" }));
  assert.equal(result.errorCode, "-1");
  assert.match(result.error ?? "", /^expect "\$count ~ 3" is not a valid count check/);
  assert.equal(result.exitCode, null);
});

Deno.test("runInput() applies expect to command output", async () => {
  assert.equal((await runInput(spec("echo 4", { expect: "$count < 5" }))).errorCode, "0");
  const miss = await runInput(spec("echo 7", { expect: "$count < 5" }));
  assert.equal(miss.error, "count 7 is not < 5");
  assert.equal((await runInput(spec("sh -c 'exit 1'", { expect: "status=1" }))).errorCode, "0");
});

Deno.test("runInput() retries a failing check until it passes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const flaky = `test -e ${dir}/seen || { touch ${dir}/seen; exit 1; }`;
    const result = await runInput(spec(flaky, { shell: true, retries: 1 }), { retryDelayMs: 0 });
    assert.equal(result.errorCode, "0");
    const never = await runInput(spec("false", { retries: 2 }), { retryDelayMs: 0 });
    assert.equal(never.error, "exit code 1 (after 3 tries)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runInput() stops a command when the signal aborts", async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = performance.now();
  const result = await runInput(spec("sleep 30"), { signal: controller.signal });
  assert.equal(result.error, "aborted");
  assert.ok(performance.now() - started < 1500);
});

Deno.test("runInput() words an abort from its reason (describeAbort), on every path", async () => {
  class Stop extends Error {}
  const describeAbort = (reason: unknown) => reason instanceof Stop ? "stopped by test" : undefined;
  const running = new AbortController();
  setTimeout(() => running.abort(new Stop()), 200);
  const killed = await runInput(spec("sleep 30"), { signal: running.signal, describeAbort });
  assert.equal(killed.error, "stopped by test", "a running command");
  const before = AbortSignal.abort(new Stop());
  const unstarted = await runInput(spec("true"), { signal: before, describeAbort });
  assert.equal(unstarted.error, "stopped by test", "an input not started");
  const other = await runInput(spec("true"), { signal: AbortSignal.abort(), describeAbort });
  assert.equal(other.error, "aborted", "a reason it does not describe");
  const retried = new AbortController();
  setTimeout(() => retried.abort(new Stop()), 200);
  const again = await runInput(spec("sleep 30", { retries: 2 }), {
    signal: retried.signal,
    describeAbort,
  });
  assert.equal(again.error, "stopped by test", "an abort ends the retries");
});

Deno.test("runInput() validates its options", async () => {
  await assert.rejects(runInput(spec("true"), { maxOutputBytes: 0 }), {
    name: "RangeError",
    message:
      "Cannot run input as 'maxOutputBytes' must be an integer of at least 1: current value is 0",
  });
  await assert.rejects(runInput(spec("true"), { killGraceMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot run input as 'killGraceMs' must be an integer of at least 0: current value is -1",
  });
});

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** A real HTTP server on 127.0.0.1 recording what it receives. */
async function withServer(fn: (base: string, seen: Seen[]) => Promise<void>): Promise<void> {
  const seen: Seen[] = [];
  const release = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      method: req.method,
      path: url.pathname,
      headers: req.headers,
      body: await req.text(),
    });
    switch (url.pathname) {
      case "/ok":
        return new Response("ready\n");
      case "/missing":
        return new Response("Not Found", { status: 404 });
      case "/moved":
        return new Response(null, { status: 301, headers: { location: "/ok" } });
      case "/big":
        return new Response("x".repeat(1_000_000));
      case "/slow":
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 3000);
          release.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        return new Response("late");
      default:
        return new Response("echo");
    }
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    for (const done of release) done();
    await server.shutdown();
  }
}

Deno.test("runInput() GETs a URL, sends headers and records status and body", async () => {
  await withServer(async (base, seen) => {
    const result = await runInput(
      spec(`${base}/ok`, { type: "get", headers: { "X-Probe": "yes" }, expect: "ready" }),
    );
    assert.equal(result.errorCode, "0");
    assert.equal(result.status, 200);
    assert.equal(result.result, "ready\n");
    assert.equal(result.exitCode, null);
    assert.equal(seen[0]?.method, "GET");
    assert.equal(seen[0]?.headers.get("x-probe"), "yes");
  });
});

Deno.test("runInput() POSTs the body with a guessed or given Content-Type", async () => {
  await withServer(async (base, seen) => {
    await runInput(spec(`${base}/p`, { type: "post", body: '{"a":1}' }));
    await runInput(spec(`${base}/p`, { type: "post", body: "a=1&b=2" }));
    await runInput(
      spec(`${base}/p`, { type: "post", body: "raw", headers: { "Content-Type": "text/plain" } }),
    );
    assert.deepEqual(seen.map((s) => [s.method, s.body, s.headers.get("content-type")]), [
      ["POST", '{"a":1}', "application/json"],
      ["POST", "a=1&b=2", "application/x-www-form-urlencoded"],
      ["POST", "raw", "text/plain"],
    ]);
  });
});

Deno.test("runInput() fails a non-2xx status unless status= allows it", async () => {
  await withServer(async (base) => {
    const missing = await runInput(spec(`${base}/missing`, { type: "get" }));
    assert.equal(missing.errorCode, "-1");
    assert.equal(missing.status, 404);
    assert.equal(missing.result, "Not Found");
    assert.equal(missing.error, "HTTP status 404 is not 2xx");
    const allowed = await runInput(spec(`${base}/missing`, { type: "get", expect: "status=404" }));
    assert.equal(allowed.errorCode, "0");
  });
});

Deno.test("runInput() does not follow redirects", async () => {
  await withServer(async (base, seen) => {
    const result = await runInput(spec(`${base}/moved`, { type: "get", expect: "status=200|301" }));
    assert.equal(result.status, 301);
    assert.equal(result.errorCode, "0");
    assert.equal(seen.length, 1);
  });
});

Deno.test("runInput() fails a body that misses a content expect", async () => {
  await withServer(async (base) => {
    const result = await runInput(spec(`${base}/ok`, { type: "get", expect: "healthy|up" }));
    assert.equal(result.errorCode, "-1");
    assert.equal(result.error, 'output does not contain "healthy" or "up"');
  });
});

Deno.test("runInput() caps an HTTP body", async () => {
  await withServer(async (base) => {
    const result = await runInput(spec(`${base}/big`, { type: "get" }), { maxOutputBytes: 2048 });
    assert.equal(result.truncated, true);
    assert.equal(result.result, "x".repeat(2048));
  });
});

Deno.test("runInput() times out a slow HTTP request", async () => {
  await withServer(async (base) => {
    const started = performance.now();
    const result = await runInput(spec(`${base}/slow`, { type: "get", timeoutMs: 200 }));
    assert.equal(result.errorCode, "-1");
    assert.equal(result.error, "timed out after 200ms");
    assert.equal(result.status, null);
    assert.ok(performance.now() - started < 1500);
  });
});

Deno.test("runInput() reports a refused connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runInput(spec(`http://127.0.0.1:${port}/`, { type: "get" }));
  assert.equal(result.errorCode, "-1");
  assert.match(result.error ?? "", new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/ failed: .+`));
  assert.ok(!(result.error ?? "").includes("\n"));
});

Deno.test("runInput() refuses non-HTTP URLs and a GET body", async () => {
  const file = await runInput(spec("file:///etc/passwd", { type: "get" }));
  assert.equal(file.error, 'URL "file:///etc/passwd" is not http or https');
  assert.equal(file.result, "");
  const bad = await runInput(spec("not a url", { type: "get" }));
  assert.equal(bad.error, '"not a url" is not a URL');
  const body = await runInput(spec("http://127.0.0.1:9/", { type: "get", body: "x" }));
  assert.equal(body.error, "a get input cannot send a body; use type post");
});

Deno.test("runInput() turns an unsendable header into that input's failed result", async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ X: "a\r\nB: c" }, /^header "X": "a\\r\\nB: c" contains CR, LF, NUL/],
    [{ X: "\0" }, /^header "X": "\\u0000" contains CR, LF, NUL/],
    [{ "a b": "x" }, /^header "a b": "x" is not a valid header name/],
    [{ X: "\u20ac" }, /^header "X": "\u20ac" has a character beyond \\xff/],
  ];
  for (const [headers, pattern] of cases) {
    const result = await runInput(spec("http://127.0.0.1:9/", { type: "get", headers }));
    assert.equal(result.errorCode, "-1");
    assert.match(result.error ?? "", pattern);
    assert.ok(!result.error!.includes("\n"));
  }
});

Deno.test("runInput() bounds a catastrophic regex expect by the input's timeout, loop free", async () => {
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 20);
  const started = performance.now();
  try {
    const result = await runInput(
      spec(`echo ${"a".repeat(28)}b`, { expect: "/(a+)+$/", timeoutMs: 500 }),
    );
    const elapsed = performance.now() - started;
    assert.equal(result.errorCode, "-1");
    assert.match(result.error ?? "", /^expect \/\(a\+\)\+\$\/ did not finish within \d+ms/);
    assert.ok(elapsed < 3000, `returned after ${elapsed} ms`);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} ticks while the regex ran`);
  } finally {
    clearInterval(ticker);
  }
  const ok = await runInput(spec("echo ready", { expect: "/^rea+dy$/m" }));
  assert.equal(ok.errorCode, "0", ok.error ?? "");
  const miss = await runInput(spec("echo nope", { expect: "/^ready$/" }));
  assert.equal(miss.error, "output does not match /^ready$/");
});

Deno.test("runInput() probes a port on fetch's bad-port list and sends a given Host header", async () => {
  // Ports the Fetch standard blocks; the first one free on this machine is used.
  const badPorts = [6000, 6665, 6666, 6667, 6668, 6669, 6697, 10080, 5060, 5061, 4190];
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  const seen: string[] = [];
  for (const port of badPorts) {
    try {
      server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
        seen.push(req.headers.get("host") ?? "");
        return new Response("ready");
      });
      break;
    } catch {
      // taken: try the next one
    }
  }
  assert.ok(server, "no port of the list was free");
  try {
    const base = `http://127.0.0.1:${server.addr.port}/`;
    const plain = await runInput(spec(base, { type: "get" }));
    assert.equal(plain.errorCode, "0", plain.error ?? "");
    assert.equal(plain.result, "ready");
    const withHost = await runInput(
      spec(base, { type: "get", headers: { Host: "probe.example" }, expect: "ready" }),
    );
    assert.equal(withHost.errorCode, "0", withHost.error ?? "");
    assert.deepEqual(seen, [`127.0.0.1:${server.addr.port}`, "probe.example"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("runInput() says a program path is a directory or not executable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/script`, "#!/bin/sh\necho hi\n");
    const directory = await runInput(spec(dir));
    assert.equal(directory.error, `program ${JSON.stringify(dir)} is a directory`);
    const plain = await runInput(spec(`${dir}/script`));
    assert.equal(plain.error, `program ${JSON.stringify(`${dir}/script`)} is not executable`);
    const missing = await runInput(spec(`${dir}/none`));
    assert.equal(missing.error, `program ${JSON.stringify(`${dir}/none`)} not found`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
