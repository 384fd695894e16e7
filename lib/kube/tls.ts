/**
 * The pinned TLS connector of one API server ({@linkcode PinnedTransport}): the kubeconfig's CA
 * is the ONLY trust for that server, as in client-go — which `Deno.createHttpClient` cannot do
 * (its `caCerts` are added to the default roots and `DENO_CERT`, and no option drops them).
 *
 * How: the pool's `Deno.HttpClient` speaks plain HTTP (HTTP/2 with prior knowledge, so still one
 * multiplexed connection per server) to a Unix socket in a private temporary directory (mode
 * 0700, so only this user can connect); every connection accepted there is one `node:tls`
 * connection to the API server, whose `ca` option REPLACES the root store (measured on Deno
 * 2.9.6: a server chaining to a CA in `DENO_CERT` is refused). The request's headers — the bearer
 * token among them — are written into the socket only after that TLS handshake verified the
 * server (the first byte fetch writes is relayed after `secureConnect`), so a server that fails
 * verification never sees them. The same connection carries the client certificate, the
 * `tls-server-name` (SNI and the name checked) and, for `insecure-skip-tls-verify`, no check.
 *
 * @module
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { systemClock } from "../time/clock.ts";

/** The longest wait for a connection and its TLS handshake (client-go: 10 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Where and how to reach one API server over TLS. */
export interface TlsTarget {
  /** Host name or IP address (no brackets) and port of the API server. */
  readonly host: string;
  readonly port: number;
  /** PEM CA certificates: the only trust. Empty: the default roots (client-go: the system's). */
  readonly caCerts: readonly string[];
  /** PEM client certificate and key (mutual TLS), both or neither. */
  readonly cert?: string;
  readonly key?: string;
  /** The name sent as SNI and checked in the server's certificate (`tls-server-name`). */
  readonly serverName?: string;
  /** `insecure-skip-tls-verify`: the server's certificate is not checked at all. */
  readonly insecure?: boolean;
  /** An `http://` proxy reached with `CONNECT` (`proxy-url`). */
  readonly proxy?: string;
  /** The one ALPN protocol offered: the pool speaks only that one. */
  readonly alpn: "h2" | "http/1.1";
}

/** Waits for `event` (or `error`) once. */
function once(emitter: net.Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      emitter.off(event, onEvent);
      reject(err);
    };
    const onEvent = () => {
      emitter.off("error", onError);
      resolve();
    };
    emitter.once(event, onEvent);
    emitter.once("error", onError);
  });
}

/** A TCP connection through an HTTP proxy's `CONNECT` tunnel to `host:port`. */
async function tunnel(proxy: string, host: string, port: number): Promise<net.Socket> {
  const url = new URL(proxy);
  const socket = net.connect({
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 80),
  });
  await once(socket, "connect");
  const authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const auth = url.username
    ? `Proxy-Authorization: Basic ${
      btoa(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`)
    }\r\n`
    : "";
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const chunk = await new Promise<Uint8Array | null>((resolve, reject) => {
      const onData = (data: Uint8Array) => {
        cleanup();
        resolve(data);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        socket.off("data", onData).off("end", onEnd).off("error", onError);
        socket.pause();
      };
      socket.on("data", onData).once("end", onEnd).once("error", onError);
      socket.resume();
    });
    if (chunk === null) throw new Error(`proxy ${url.host} closed the connection on CONNECT`);
    // The proxy answers CONNECT with its head only; the TLS bytes come after our ClientHello.
    head += new TextDecoder().decode(chunk);
  }
  const status = head.slice(0, head.indexOf("\r\n"));
  if (!/^HTTP\/1\.[01] 200/.test(status)) {
    socket.destroy();
    throw new Error(`proxy ${url.host} refused CONNECT ${authority}: ${status}`);
  }
  return socket;
}

/**
 * A verified TLS connection to `target` (the `node:tls` socket, after `secureConnect`).
 *
 * @throws {Error} The handshake's failure (`code` as in Node: `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 *   `ERR_TLS_CERT_ALTNAME_INVALID`, `ECONNREFUSED`, …), or the ALPN mismatch.
 */
export async function connectPinned(
  target: TlsTarget,
  onError: (err: Error) => void,
): Promise<tls.TLSSocket> {
  const base = target.proxy === undefined
    ? { host: target.host, port: target.port }
    : { socket: await tunnel(target.proxy, target.host, target.port) };
  const isIp = net.isIP(target.host) !== 0;
  const socket = tls.connect({
    ...base,
    ...(target.serverName ? { servername: target.serverName } : isIp ? {} : {
      servername: target.host,
    }),
    // The kubeconfig's CA replaces the root store here (client-go's contract); none given: the
    // runtime's default roots, as client-go uses the system's.
    ...(target.caCerts.length > 0 ? { ca: [...target.caCerts] } : {}),
    ...(target.cert !== undefined && target.key !== undefined
      ? { cert: target.cert, key: target.key }
      : {}),
    rejectUnauthorized: target.insecure !== true,
    ALPNProtocols: [target.alpn],
  });
  // Attached before the handshake: in TLS 1.3 the server's alert (certificate required) can
  // arrive right after it, before the caller would have attached its own.
  socket.on("error", onError);
  // A server that accepts the connection and never completes the handshake must not hold it
  // (and the request waiting on it) forever.
  const timer = systemClock.setTimeout(() => {
    socket.destroy(Object.assign(new Error("TLS handshake timed out"), { code: "ETIMEDOUT" }));
  }, HANDSHAKE_TIMEOUT_MS);
  try {
    await once(socket, "secureConnect");
  } finally {
    systemClock.clearTimeout(timer);
  }
  if (socket.alpnProtocol !== target.alpn) {
    socket.destroy();
    throw new Error(
      `the API server did not accept ALPN ${target.alpn} (got ${socket.alpnProtocol || "none"})`,
    );
  }
  return socket;
}

/** Writes all of `data` (`Conn.write` may write only part of it). */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

/**
 * A Unix socket that fetch's pool connects to; each connection is relayed to one verified TLS
 * connection to the API server ({@linkcode connectPinned}). Keeps the last connection failure
 * for the error message of the request that failed with it ({@linkcode lastError}).
 */
export class PinnedTransport {
  /** The socket path the pool's `Deno.HttpClient` connects to (`proxy.transport: "unix"`). */
  readonly path: string;
  readonly #dir: string;
  readonly #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  readonly #target: TlsTarget;
  readonly #open = new Set<{ close(): void }>();
  #lastError: Error | undefined;
  #closed = false;

  constructor(target: TlsTarget) {
    this.#target = target;
    // makeTempDir creates the directory with mode 0700: no other user can reach the socket,
    // which carries this process's client certificate. Under /tmp: the program may write only
    // there (etc/deno-permissions; the chart mounts an emptyDir there under a read-only root).
    this.#dir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "dz-mcall-kube-" });
    this.path = `${this.#dir}/api.sock`;
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    globalThis.addEventListener("unload", this.#onUnload);
    this.#accept();
  }

  /** Why the last connection to the API server failed (`undefined`: none failed). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#relay(conn);
    } catch {
      // The listener was closed.
    }
  }

  async #relay(local: Deno.UnixConn): Promise<void> {
    let remote: tls.TLSSocket;
    const pending = { close: () => local.close() };
    this.#open.add(pending);
    try {
      // Cleared first: a TLS 1.3 alert (certificate required) can come during connectPinned.
      this.#lastError = undefined;
      remote = await connectPinned(this.#target, (err) => this.#lastError = err);
    } catch (err) {
      this.#lastError = err instanceof Error ? err : new Error(String(err));
      this.#open.delete(pending);
      // Nothing of the request was read from `local`: its headers never left this process.
      try {
        local.close();
      } catch { /* already closed */ }
      return;
    }
    this.#open.delete(pending);
    const entry = {
      close: () => {
        remote.destroy();
        try {
          local.close();
        } catch { /* already closed */ }
      },
    };
    this.#open.add(entry);
    // HTTP/2 frames are small and each is awaited by the API server or fetch: no Nagle delay.
    remote.setNoDelay(true);
    const buf = new Uint8Array(64 * 1024);
    const up = (async () => {
      for (;;) {
        const n = await local.read(buf);
        if (n === null) break;
        if (!remote.write(buf.slice(0, n))) await once(remote, "drain");
      }
      remote.end();
    })();
    const down = new Promise<void>((resolve) => {
      remote.on("data", (chunk: Uint8Array) => {
        remote.pause();
        writeAll(local, chunk).then(() => remote.resume(), () => remote.destroy());
      });
      remote.on("error", (err: Error) => {
        this.#lastError ??= err;
      });
      remote.on("close", () => resolve());
    });
    up.catch(() => remote.destroy());
    // The server's side ended (or failed): nothing more can come, so fetch must see the
    // connection close now rather than wait on it.
    await down;
    this.#open.delete(entry);
    entry.close();
  }

  /** The process exits: the directory goes with it. */
  readonly #onUnload = () => this.close();

  /** Closes the socket and every relayed connection; removes the directory. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const conn of this.#open) conn.close();
    this.#open.clear();
    try {
      Deno.removeSync(this.#dir, { recursive: true });
    } catch { /* already gone */ }
  }
}
