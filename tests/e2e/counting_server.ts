/**
 * A local HTTP server for the task e2e tests and the tasks benchmark: it counts every request per
 * path (counted when the request arrives, before any delay), so a test can prove how often a task
 * was executed.
 *
 * - `GET /slow?ms=5000` answers after the given delay.
 * - `GET /big?bytes=2000000` answers with that many `b` characters.
 * - any other path answers `ok <path>`, or what {@linkcode CountingServer.setBody} set.
 *
 * Listens on a free port of 127.0.0.1, or of `hostname` (e.g. the real node's address, which pods
 * reach).
 *
 * @module
 */

/** A running counting server. */
export interface CountingServer {
  /** e.g. `http://127.0.0.1:40123` */
  readonly url: string;
  /** Requests seen for `path` (without the query). */
  count(path: string): number;
  /** Every path seen with its count. */
  counts(): Map<string, number>;
  /** All requests seen. */
  total(): number;
  /** Resolves once `path` was requested at least `n` times (default 1). */
  waitForHit(path: string, timeoutMs?: number, n?: number): Promise<void>;
  /** The body `GET path` answers with (`ok <path>` for a plain path). */
  bodyOf(path: string): string;
  /** From now on `path` answers `body` (undefined: back to `ok <path>`); it is still counted. */
  setBody(path: string, body: string | undefined): void;
  close(): Promise<void>;
}

/** Starts a {@linkcode CountingServer}. */
export function startCountingServer(
  { hostname = "127.0.0.1" }: { hostname?: string } = {},
): CountingServer {
  const hits = new Map<string, number>();
  const bodies = new Map<string, string>();
  let total = 0;
  const waiters = new Set<() => void>();
  const pending = new Set<AbortController>();
  const server = Deno.serve({
    hostname,
    port: 0,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    total++;
    for (const w of waiters) w();
    if (url.pathname === "/slow" || url.pathname.startsWith("/slow/")) {
      const ms = Number(url.searchParams.get("ms") ?? "1000");
      const ctrl = new AbortController();
      pending.add(ctrl);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        ctrl.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      pending.delete(ctrl);
      return new Response(`slow ${url.pathname} ${ms}`);
    }
    if (url.pathname === "/big" || url.pathname.startsWith("/big/")) {
      const bytes = Number(url.searchParams.get("bytes") ?? "1000000");
      return new Response("b".repeat(bytes));
    }
    return new Response(bodies.get(url.pathname) ?? `ok ${url.pathname}`);
  });
  const addr = server.addr as Deno.NetAddr;
  return {
    url: `http://${hostname}:${addr.port}`,
    count: (path) => hits.get(path) ?? 0,
    counts: () => new Map(hits),
    total: () => total,
    bodyOf: (path) => bodies.get(path) ?? `ok ${path}`,
    setBody: (path, body) =>
      void (body === undefined ? bodies.delete(path) : bodies.set(path, body)),
    waitForHit: (path, timeoutMs = 30_000, n = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if ((hits.get(path) ?? 0) >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`counting server: ${path} not requested ${n}x within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: async () => {
      for (const c of pending) c.abort();
      await server.shutdown();
    },
  };
}
