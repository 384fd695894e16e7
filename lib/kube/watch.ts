/**
 * Watches: one watch request as a promise ({@linkcode runWatch}), asked to last 5–10 minutes as
 * client-go's reflector asks ({@linkcode watchDeadline}), with bookmarks, and a client deadline
 * behind the server's so a watch cut by a control-plane restart never hangs. The ConfigMap, Pod and
 * Lease watches all go through here; resuming from the last resourceVersion is the caller's
 * (`lib/tasks/list_watch.ts`).
 *
 * @module
 */
import { type KubeConnection, RequestTimer } from "./client.ts";
import { KubeError } from "../apimachinery/errors.ts";
import { systemClock } from "../time/clock.ts";
import { ApiError, readText } from "./requests.ts";

/**
 * The shortest `timeoutSeconds` asked of the server: client-go's reflector asks a random value in
 * [MIN_WATCH_TIMEOUT_S, 2 × MIN_WATCH_TIMEOUT_S) (`minWatchTimeout`), so pods don't re-watch in
 * step, and a watch lives minutes, not seconds.
 */
export const MIN_WATCH_TIMEOUT_S = 300;
/** How long after the server's own timeout the client ends a watch regardless. */
const WATCH_CLIENT_GRACE_MS = 30_000;

/**
 * How often the API server sends a BOOKMARK to a quiet watch that asked for them (apiserver
 * `cacher.go`'s `bookmarkFrequency`, and 2 s before the watch's timeout).
 */
export const BOOKMARK_PERIOD_MS = 60_000;

/**
 * How long a watch may stay silent (no event, no bookmark) before it is ended. Deno's `fetch`
 * cannot ping an HTTP/2 connection as client-go's transport does (30 s read-idle, 15 s ping), so
 * silence is the only sign of a dead connection. Invariant: above two bookmark periods, so a quiet
 * but healthy watch (one bookmark a minute) is never cut; such an end is a normal end (the caller
 * watches again from its last resourceVersion; on a dead connection that request then fails and
 * drops the pool), not a failure.
 */
export const WATCH_SILENCE_MS = 2.5 * BOOKMARK_PERIOD_MS;

/** The `timeoutSeconds` for one watch request and the client-side deadline that backs it. */
export function watchDeadline(random: () => number = Math.random) {
  const timeoutSeconds = Math.floor(MIN_WATCH_TIMEOUT_S * (1 + random()));
  return { timeoutSeconds, deadlineMs: timeoutSeconds * 1000 + WATCH_CLIENT_GRACE_MS };
}

/** A watch event that carries an object. */
export type WatchedType = "ADDED" | "MODIFIED" | "DELETED";

/** What {@linkcode runWatch} watches and where each event goes. */
export interface WatchRequest {
  /** The collection, from the server root. */
  readonly path: string;
  /**
   * The watch's parameters (`labelSelector`, `resourceVersion`, …); `timeoutSeconds` and
   * `allowWatchBookmarks=true` are added.
   */
  readonly query: Record<string, string>;
  readonly onObject: (type: WatchedType, obj: unknown) => void;
  /** Every BOOKMARK's resourceVersion: where the next watch may resume. */
  readonly onBookmark?: (resourceVersion: string) => void;
  /** Maps a failure (and the Status code of an ERROR event) to the caller's error. */
  readonly toError: (err: unknown, code?: number) => Error;
  /** The longest silence; default {@linkcode WATCH_SILENCE_MS} (tests shorten it). */
  readonly silenceMs?: number;
}

/**
 * Runs one watch request (`?watch=true`, one JSON event per line) over `conn`, the API server's
 * pool: resolves when the watch ends (server timeout, the {@linkcode watchDeadline},
 * {@linkcode WATCH_SILENCE_MS} of silence, or `signal`); rejects with `toError(...)` when the
 * server sends an ERROR event (with its Status code: 410 means the resourceVersion is gone and the
 * caller lists afresh), answers with an error status, or the request fails.
 */
export async function runWatch(
  conn: KubeConnection,
  w: WatchRequest,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  const { timeoutSeconds, deadlineMs } = watchDeadline();
  const params = new URLSearchParams({ watch: "true" });
  const query = { ...w.query, allowWatchBookmarks: "true", timeoutSeconds: String(timeoutSeconds) };
  for (const [k, v] of Object.entries(query)) params.set(k, v);
  const timer = new RequestTimer(w.silenceMs ?? WATCH_SILENCE_MS);
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
  // The silence limit ends a pending read as `end` does.
  timer.signal.addEventListener("abort", () => reader?.cancel().catch(() => {}), { once: true });
  // A silent stream after the response started is a normal end (see WATCH_SILENCE_MS).
  let streaming = false;
  try {
    const response = await conn.send("GET", `${w.path}?${params}`, undefined, timer.signal);
    if (response.status !== 200) {
      const text = await readText(response, timer);
      throw w.toError(new ApiError(response.status, "GET", w.path, text));
    }
    timer.reset();
    streaming = true;
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
        let event: {
          type?: string;
          object?: { code?: number; message?: string; metadata?: { resourceVersion?: string } };
        };
        try {
          event = JSON.parse(line);
        } catch {
          continue; // not an event (an empty line)
        }
        const { type, object } = event;
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
          try {
            w.onObject(type, object);
          } catch {
            // As client-node's watch did: a failing handler does not end the watch.
          }
        } else if (type === "BOOKMARK") {
          const rv = object?.metadata?.resourceVersion;
          if (rv) w.onBookmark?.(rv);
        } else if (type === "ERROR") {
          throw w.toError(new Error(object?.message ?? "watch error"), object?.code);
        }
      }
    }
  } catch (err) {
    if (ended || signal.aborted) return;
    if (streaming && timer.signal.aborted) return; // silent for silenceMs: a normal end
    if (err instanceof KubeError || err instanceof ApiError) throw err;
    throw w.toError(conn.failed(timer.signal, err));
  } finally {
    systemClock.clearTimeout(deadline);
    signal.removeEventListener("abort", end);
    timer.abort();
  }
}
