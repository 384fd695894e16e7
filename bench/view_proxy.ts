/**
 * The API server's view of one client, for `bench/apiview.ts`: a plain-HTTP reverse proxy on
 * 127.0.0.1 in front of the API server (HTTPS, its CA) that counts what passes — requests as the
 * API server's audit log would name them (LIST, WATCH, other), response body bytes the API server
 * sent (uncompressed), and the watch streams open now. One proxy per client, so every figure is per
 * pod. The client's own `Authorization` goes through unchanged.
 *
 * @module
 */

/** What a {@linkcode ViewProxy} counted. */
export interface ViewCounts {
  list: number;
  watch: number;
  other: number;
  /** Response body bytes from the API server. */
  bytes: number;
}

/** A running proxy. */
export interface ViewProxy {
  /** `http://127.0.0.1:<port>`: the server a client's kubeconfig names. */
  readonly url: string;
  /** The counts so far (a copy). */
  counts(): ViewCounts;
  /** Watch streams open now. */
  openWatches(): number;
  close(): Promise<void>;
}

/** LIST, WATCH or another verb, from the method and the URL (a collection path has no name). */
export function verbOf(method: string, url: URL): "list" | "watch" | "other" {
  if (method !== "GET") return "other";
  if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
    return "watch";
  }
  const parts = url.pathname.split("/").filter((p) => p !== "");
  // /api/v1/namespaces/ns/res (5) or /apis/g/v/namespaces/ns/res (6): collections.
  const collection = parts[0] === "api" ? 5 : 6;
  return parts.length === collection && parts.at(-3) === "namespaces" ? "list" : "other";
}

/** Starts a proxy to `server` trusting `caCert` (PEM). */
export function startViewProxy(server: string, caCert: string): ViewProxy {
  const counts: ViewCounts = { list: 0, watch: 0, other: 0, bytes: 0 };
  let open = 0;
  const client = Deno.createHttpClient({ caCerts: [caCert], http2: false });
  const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const verb = verbOf(req.method, url);
    counts[verb]++;
    const headers = new Headers(req.headers);
    headers.delete("host");
    const upstream = await fetch(server + url.pathname + url.search, {
      method: req.method,
      headers,
      body: req.body,
      signal: req.signal,
      client,
    });
    if (upstream.body === null) return new Response(null, upstream);
    if (verb === "watch") open++;
    let closed = false;
    const done = () => {
      if (!closed && verb === "watch") open--;
      closed = true;
    };
    const body = upstream.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          counts.bytes += chunk.byteLength;
          c.enqueue(chunk);
        },
        flush: done,
      }),
    );
    req.signal.addEventListener("abort", done, { once: true });
    const out = new Headers(upstream.headers);
    out.delete("content-encoding"); // fetch decoded it
    out.delete("content-length");
    return new Response(body, { status: upstream.status, headers: out });
  });
  return {
    url: `http://127.0.0.1:${proxy.addr.port}`,
    counts: () => ({ ...counts }),
    openWatches: () => open,
    close: async () => {
      await proxy.shutdown();
      client.close();
    },
  };
}
