/**
 * Watches: one client-node watch as a promise ({@linkcode runWatch}), with a deadline
 * ({@linkcode watchDeadline}) so a watch cut by a control-plane restart never hangs. Both the
 * ConfigMap and the Lease watches go through here.
 *
 * @module
 */
import type * as k8s from "@kubernetes/client-node";
import { discardPool } from "./client.ts";

/**
 * Longest life of one watch request. The server is asked to end it (`timeoutSeconds`, spread
 * over [WATCH_TIMEOUT_S, 1.5 × WATCH_TIMEOUT_S) so pods don't re-watch in step) and the client
 * ends it a little later regardless: under Deno, undici does not notice when the API server goes
 * away mid-watch, so without this deadline a watch cut by a control-plane restart would hang
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

/**
 * Runs one client-node watch as a promise: resolves when the watch ends (server timeout, the
 * {@linkcode watchDeadline}, or `signal`), rejects with `toError(...)` when the server sends an
 * ERROR event or the request fails. Both the configmap and the lease watches go through here.
 *
 * @param toError Maps a failure (and the Status code of an ERROR event) to the caller's error.
 */
export function runWatch(
  watch: k8s.Watch,
  path: string,
  query: Record<string, string | number | boolean>,
  onObject: (type: WatchedType, obj: unknown) => void,
  toError: (err: unknown, code?: number) => Error,
  signal: AbortSignal,
  kc: k8s.KubeConfig,
): Promise<void> {
  const { timeoutSeconds, deadlineMs } = watchDeadline();
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return resolve();
    let controller: AbortController | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal.removeEventListener("abort", onAbort);
      controller?.abort();
      if (err && !signal.aborted) reject(err);
      else resolve();
    };
    const deadline = setTimeout(() => finish(), deadlineMs);
    const onAbort = () => finish();
    signal.addEventListener("abort", onAbort, { once: true });
    watch.watch(path, { ...query, timeoutSeconds }, (phase, obj) => {
      if (settled) return;
      if (phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED") {
        onObject(phase, obj);
      } else if (phase === "ERROR") {
        const status = obj as { code?: number; message?: string };
        finish(toError(new Error(status.message ?? "watch error"), status.code));
      }
    }, (err) => {
      if (err) discardPool(kc);
      finish(err ? toError(err) : undefined);
    }).then((c) => {
      controller = c;
      if (settled) c.abort();
    }, (err) => {
      discardPool(kc);
      finish(toError(err));
    });
  });
}
