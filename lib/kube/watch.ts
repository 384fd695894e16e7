/**
 * Watches: one watch request as a promise ({@linkcode runWatch}), with a deadline
 * ({@linkcode watchDeadline}) so a watch cut by a control-plane restart never hangs. Both the
 * ConfigMap and the Lease watches go through here.
 *
 * @module
 */
import { failed, RequestTimer, send } from "./client.ts";
import { KubeError } from "../apimachinery/errors.ts";
import type { KubeConfig } from "./kubeconfig.ts";
import { systemClock } from "../time/clock.ts";
import { ApiError, readText } from "./requests.ts";

/**
 * Longest life of one watch request. The server is asked to end it (`timeoutSeconds`, spread
 * over [WATCH_TIMEOUT_S, 1.5 × WATCH_TIMEOUT_S) so pods don't re-watch in step) and the client
 * ends it a little later regardless: a connection to an API server that went away mid-watch
 * may not be noticed as dead, so without this deadline a watch cut by a control-plane restart would hang
 * forever and only the periodic resync would still see changes.
 */
export const WATCH_TIMEOUT_S = 60;
const WATCH_CLIENT_GRACE_MS = 5_000;

/** The `timeoutSeconds` for one watch request and the client-side deadline that backs it. */
export function watchDeadline(random: () => number = Math.random) {
  const timeoutSeconds = Math.floor(WATCH_TIMEOUT_S * (1 + random() / 2));
  return { timeoutSeconds, deadlineMs: timeoutSeconds * 1000 + WATCH_CLIENT_GRACE_MS };
}

/** A watch event that carries an object. */
type WatchedType = "ADDED" | "MODIFIED" | "DELETED";

/** How long a watch may stay silent (no event, no bookmark) before it is given up as dead. */
const WATCH_IDLE_MS = 30_000;

/**
 * Runs one watch request (`?watch=true`, one JSON event per line) over the API server's pool:
 * resolves when the watch ends (server timeout, the {@linkcode watchDeadline}, or `signal`),
 * rejects with `toError(...)` when the server sends an ERROR event (with its Status code: 410
 * means the resourceVersion is gone and the caller lists afresh), answers with an error status,
 * the request fails, or nothing arrives for 30 s (a `TimeoutError`, transient). BOOKMARK events
 * are read and dropped (they only keep the watch alive). Both the configmap and the lease
 * watches go through here.
 *
 * @param path The collection, from the server root.
 * @param query The watch's parameters (`labelSelector`, `resourceVersion`, …);
 *   `timeoutSeconds` is added.
 * @param toError Maps a failure (and the Status code of an ERROR event) to the caller's error.
 */
export async function runWatch(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean>,
  onObject: (type: WatchedType, obj: unknown) => void,
  toError: (err: unknown, code?: number) => Error,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  const { timeoutSeconds, deadlineMs } = watchDeadline();
  const params = new URLSearchParams({ watch: "true" });
  for (const [k, v] of Object.entries({ ...query, timeoutSeconds })) params.set(k, String(v));
  const timer = new RequestTimer(WATCH_IDLE_MS);
  let ended = false;
  let reader: ReadableStreamDefaultReader<string> | undefined;
  const end = () => {
    ended = true;
    timer.abort();
    // Aborting the request does not always end a pending read of its body: a busy HTTP/2 watch
    // stream was seen to leave `read()` pending after the abort until the process exited, which
    // kept a leader's term from ending (bench/tasks.ts, round 2). Cancelling the reader resolves
    // the pending read at once, whatever the body does.
    reader?.cancel().catch(() => {});
  };
  const deadline = systemClock.setTimeout(end, deadlineMs);
  signal.addEventListener("abort", end, { once: true });
  try {
    const response = await send(kc, "GET", `${path}?${params}`, undefined, timer.signal);
    if (response.status !== 200) {
      const text = await readText(response, timer);
      throw toError(new ApiError(response.status, "GET", path, text));
    }
    timer.reset();
    reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    if (ended) {
      await reader.cancel().catch(() => {});
      return;
    }
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      timer.reset();
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let event: { type?: string; object?: { code?: number; message?: string } };
        try {
          event = JSON.parse(line);
        } catch {
          continue; // not an event (an empty line)
        }
        const { type, object } = event;
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
          try {
            onObject(type, object);
          } catch {
            // As client-node's watch did: a failing handler does not end the watch.
          }
        } else if (type === "ERROR") {
          throw toError(new Error(object?.message ?? "watch error"), object?.code);
        }
      }
    }
  } catch (err) {
    if (ended || signal.aborted) return;
    if (err instanceof KubeError || err instanceof ApiError) throw err;
    throw toError(failed(kc, timer.signal, err));
  } finally {
    systemClock.clearTimeout(deadline);
    signal.removeEventListener("abort", end);
    timer.abort();
  }
}
