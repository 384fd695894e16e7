/**
 * Serve mode's HTTP server: our own accept loop over `Deno.listen`, one request per connection
 * (`http1.ts`). `Deno.serve` offers no header-read timeout, no connection cap, and its accept
 * loop dies on EMFILE (the server's `finished` rejects: exit 1); this server has all three, like
 * Go's `http.Server` with `ReadHeaderTimeout`, `ReadTimeout`, `WriteTimeout` and a limit listener.
 *
 * Invariants:
 * - A connection waits at most `headerTimeoutMs` for its request head, `bodyTimeoutMs` for the
 *   body after it, and `writeTimeoutMs` for the response to be taken; a deadline closes it.
 * - At most `maxConnections` are open; one more is answered 503 and closed at once.
 * - An accept error (EMFILE, ENFILE, ENOBUFS…) never ends the loop: it backs off (5 ms doubling to
 *   1 s, as Go's `Serve`) and accepts again once descriptors are free.
 * - `shutdown()` returns within `drainTimeoutMs` plus one second: connections waiting for a
 *   request are closed at once, the others may finish until the deadline, then they are closed and
 *   their requests' signals abort (so the commands they run are killed); a handler that ignores
 *   its signal is not waited for.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";
import { logger } from "../log/log.ts";
import { HttpError } from "./http_body.ts";
import { plainText } from "./http_server.ts";
import { bodyStream, ConnReader, parseHead, responseBytes, writeAll } from "./http1.ts";

/** The server's deadlines and caps. */
export interface ServerLimits {
  /** From accept to the end of the request head (Go's `ReadHeaderTimeout`). */
  readonly headerTimeoutMs: number;
  /** From the end of the head to the end of the body. */
  readonly bodyTimeoutMs: number;
  /** From the handler's response to the last byte written. */
  readonly writeTimeoutMs: number;
  /** Open connections at most; beyond it a connection gets 503 and is closed. */
  readonly maxConnections: number;
  /** Largest request line plus headers. */
  readonly maxHeaderBytes: number;
  /** How long `shutdown()` lets requests in progress finish. */
  readonly drainTimeoutMs: number;
}

/** Serve mode's limits (docs/serve.md lists them). */
export const SERVE_LIMITS: ServerLimits = {
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  writeTimeoutMs: 30_000,
  maxConnections: 256,
  maxHeaderBytes: 64 * 1024,
  drainTimeoutMs: 10_000,
};

/** After a response, how long unread request bytes are drained before closing (avoids an RST). */
const LINGER_MS = 500;
const MAX_BACKOFF_MS = 1000;
/** After the drain deadline, how long shutdown waits for cut-off handlers to return. */
const CUT_GRACE_MS = 1000;

/** A running server. */
export interface Http1Server {
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting and drains (see the module's invariants).
   *
   * @returns True when every request finished before the deadline, false when some were cut off.
   */
  shutdown(): Promise<boolean>;
}

interface Tracked {
  readonly conn: Deno.Conn;
  /** Waiting for a request head: closed at once on shutdown. */
  idle: boolean;
  /** The request's signal. */
  readonly request: AbortController;
}

// Abort reasons made once: `abort()` without a reason builds a DOMException with a stack each
// time, which was the largest cost per connection after the socket operations.
const CANCELLED = new Error("deadline cancelled");
const CLIENT_GONE = new Error("the client closed the connection");
const DRAIN_PASSED = new Error("server shut down: drain deadline passed");

/** Calls `fn` after `ms` unless the returned function is called first. */
function after(clock: Clock, ms: number, fn: () => void): () => void {
  const cancel = new AbortController();
  clock.sleep(ms, cancel.signal).then(fn, () => {});
  return () => cancel.abort(CANCELLED);
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * Serves `handler` on `listener` until `shutdown()`.
 *
 * @param handler Gets a Request whose URL's path decodes to what the client sent (a target that
 *   URL parsing would rewrite — `.`/`..` segments, backslashes — is answered 400 before it).
 */
export function serveHttp1(
  listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
  handler: (req: Request) => Promise<Response>,
  limits: ServerLimits,
  clock: Clock,
): Http1Server {
  const log = logger("server");
  const open = new Set<Tracked>();
  let stopping = false;
  let cutOff = false;
  const { promise: drained, resolve: allClosed } = Promise.withResolvers<void>();
  const forget = (t: Tracked) => {
    open.delete(t);
    if (stopping && open.size === 0) allClosed();
  };

  const accepting = (async () => {
    let backoff = 0;
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
        backoff = 0;
      } catch (err) {
        if (stopping || err instanceof Deno.errors.BadResource) return;
        if (backoff === 0) log.warn("accept failed, backing off: {error}", { error: String(err) });
        backoff = Math.min(backoff ? backoff * 2 : 5, MAX_BACKOFF_MS);
        await clock.sleep(backoff);
        continue;
      }
      if (open.size >= limits.maxConnections) {
        refuse(conn, limits.maxConnections);
        continue;
      }
      const t: Tracked = { conn, idle: true, request: new AbortController() };
      open.add(t);
      exchange(t, handler, limits, clock, () => cutOff).catch((err) =>
        log.debug("connection error: {error}", { error: String(err) })
      ).finally(() => {
        closeQuietly(conn);
        forget(t);
      });
    }
  })();

  return {
    addr: listener.addr,
    get connections() {
      return open.size;
    },
    async shutdown() {
      stopping = true;
      closeQuietly(listener);
      await accepting;
      for (const t of open) if (t.idle) closeQuietly(t.conn);
      const { promise: cut, resolve: cutDone } = Promise.withResolvers<void>();
      const cancel = after(clock, limits.drainTimeoutMs, () => {
        cutOff = true;
        for (const t of open) {
          t.request.abort(DRAIN_PASSED);
          closeQuietly(t.conn);
        }
        cutDone();
      });
      // Cut off, a handler has CUT_GRACE_MS to notice its aborted signal; one that does not is
      // left behind rather than keeping shutdown (and the process) waiting.
      if (open.size > 0) await Promise.race([drained, cut.then(() => clock.sleep(CUT_GRACE_MS))]);
      cancel();
      return !cutOff;
    },
  };
}

function refuse(conn: Deno.Conn, max: number): void {
  const body = `busy: ${max} connections are open; retry later\n`;
  const text = `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `retry-after: 1\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
  conn.write(new TextEncoder().encode(text)).catch(() => {}).finally(() => closeQuietly(conn));
}

async function exchange(
  t: Tracked,
  handler: (req: Request) => Promise<Response>,
  limits: ServerLimits,
  clock: Clock,
  shutDown: () => boolean,
): Promise<void> {
  const { conn } = t;
  const reader = new ConnReader(conn);
  let response: Response;
  let head = false;
  // Reads after the body (or after the response) only watch for the client leaving, and drain.
  let watching: Promise<void> | undefined;
  const watch = () =>
    watching ??= (async () => {
      try {
        while ((await reader.take(64 * 1024)) !== null) { /* discard */ }
      } catch { /* closed */ }
      t.request.abort(CLIENT_GONE);
    })();
  const headDeadline = after(clock, limits.headerTimeoutMs, () => closeQuietly(conn));
  let bodyDeadline = () => {};
  try {
    await respond();
  } finally {
    headDeadline();
    bodyDeadline();
  }

  async function respond() {
    try {
      const parsed = parseHead(await reader.until("\r\n\r\n", limits.maxHeaderBytes));
      headDeadline();
      t.idle = false;
      head = parsed.method === "HEAD";
      const url = new URL("http://localhost" + parsed.target);
      if (decoded(url.pathname) !== decoded(parsed.target.replace(/\?.*$/s, ""))) {
        throw new HttpError(
          400,
          "request target: the path would be rewritten (. or .. segments, backslashes); " +
            "percent-encode / inside params",
        );
      }
      if ((parsed.method === "GET" || head) && parsed.body.kind !== "none") {
        throw new HttpError(400, `body: ${parsed.method} carries no body`);
      }
      bodyDeadline = after(clock, limits.bodyTimeoutMs, () => closeQuietly(conn));
      const body = bodyStream(reader, parsed.body, {
        onFirstPull: async () => {
          if (parsed.headers.get("expect")?.toLowerCase() === "100-continue") {
            await writeAll(conn, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
          }
        },
        onEnd: () => {
          bodyDeadline();
          watch();
        },
      });
      let req: Request;
      try {
        req = new Request(url, {
          method: parsed.method,
          headers: parsed.headers,
          body,
          signal: t.request.signal,
        });
      } catch (err) {
        throw new HttpError(405, `method ${parsed.method} not allowed: ${(err as Error).message}`);
      }
      // A handler that throws is a bug: one line, 500, never the stack (connection errors while it
      // read the body come back as its own 400/408 answers, which the closed socket then drops).
      response = await handler(req).catch((err) =>
        plainText(500, `internal error: ${String(err?.message ?? err).split("\n")[0]}`)
      );
    } catch (err) {
      headDeadline();
      if (!(err instanceof HttpError)) return; // the connection closed (a deadline, the client)
      response = plainText(err.status, err.message, err.headers);
    }
    if (shutDown()) return;
    const writeDeadline = after(clock, limits.writeTimeoutMs, () => closeQuietly(conn));
    try {
      await writeAll(conn, await responseBytes(response, head));
      await conn.closeWrite();
    } finally {
      writeDeadline();
    }
    // Lingering close: read what the client still sends for a moment, so closing with unread bytes
    // does not reset the connection before the client has read the response.
    const linger = after(clock, LINGER_MS, () => closeQuietly(conn));
    await watch();
    linger();
  }
}

function decoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
