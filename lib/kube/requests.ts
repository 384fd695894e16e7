/**
 * Plain JSON requests to the API server ({@linkcode JsonApi}) and what a failed one means:
 * {@linkcode Grants.classify} reads the HTTP status of an {@linkcode ApiError} (`statusOf`) and
 * what the adapter's calls were allowed ({@linkcode Grants}, owned by its `JsonApi`, not the
 * process), then hands both to the one classifier, `kubeErrorFromStatus`
 * (`lib/apimachinery/errors.ts`).
 *
 * @module
 */
import { type KubeConnection, RequestTimer } from "./client.ts";
import { type HttpStatus, KubeError, kubeErrorFromStatus } from "../apimachinery/errors.ts";
import { MAX_RETRIES, retriesAfterError, retryAfterMs } from "./retry.ts";
import { systemClock } from "../time/clock.ts";

/**
 * Longest wait for a response's headers, and between two chunks of its body, for a call that
 * names no other ({@linkcode CallOptions.timeoutMs}).
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The limit of a call that makes the API server work for long: a `deletecollection` of a big round
 * deletes object after object, which the API server itself allows 60 s (`--request-timeout`). Ours
 * is above the server's, so its answer (done, or a 504 saying it goes on) always arrives.
 */
export const LONG_REQUEST_TIMEOUT_MS = 120_000;

/** Per-call options of {@linkcode JsonApi}. */
export interface CallOptions {
  /** Aborts the call, a retry's wait included; the call then rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /** Longest silence (headers, then between body chunks); default {@linkcode REQUEST_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** An HTTP error status from the API server, with its body (a `Status` object, usually). */
export class ApiError extends Error {
  /** The HTTP status. */
  readonly code: number;
  /** The response body as text. */
  readonly body: string;

  constructor(code: number, method: string, path: string, body: string) {
    super(`HTTP-Code: ${code}\nMessage: ${method} ${path}\nBody: ${body}`);
    this.name = "ApiError";
    this.code = code;
    this.body = body;
  }
}

/**
 * The largest body (its `Content-Length`) read in one piece: one object's answer, which the API
 * server sends whole. The timer then runs from the headers to the body's end.
 */
const WHOLE_BODY_MAX = 64 * 1024;

/**
 * Reads a response body as text, re-arming `timer` on every chunk; a body of a declared length
 * up to {@linkcode WHOLE_BODY_MAX} is read in one piece (the runtime's own read, without a stream
 * pull per chunk in JavaScript), and must then arrive whole within the timer's wait.
 */
export async function readText(response: Response, timer: RequestTimer): Promise<string> {
  if (response.body === null) return "";
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (length <= WHOLE_BODY_MAX) return await response.text();
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of response.body) {
    timer.reset();
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * Plain JSON requests to the API server over its connection (`KubeConnection` in
 * `lib/kube/client.ts`, the one pool the caller shares): objects go and arrive as the API server's JSON, which `toConfigMapLike`
 * and `toPodInfo` read as they read watch events. A request gives up after its
 * {@linkcode CallOptions.timeoutMs} without its headers or a chunk of its body; it is sent again
 * as `retry.ts` says (429/5xx with `Retry-After`, a reset GET); an HTTP error status is an
 * {@linkcode ApiError}, as `classify` expects.
 */
export class JsonApi {
  readonly #conn: KubeConnection;
  /** What this adapter's calls were allowed (for the `forbidden` message). */
  readonly grants: Grants = new Grants();
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  /**
   * @param conn The connection to the API server (not closed here: its creator owns it).
   * @param sleep The wait before a retry (tests pass a recording one); rejects when `signal` aborts.
   */
  constructor(
    conn: KubeConnection,
    sleep: (ms: number, signal: AbortSignal) => Promise<void> = wait,
  ) {
    this.#conn = conn;
    this.#sleep = sleep;
  }

  /**
   * @param path From the server root, query included (`/api/v1/...?labelSelector=...`).
   * @param options The signal (it aborts the request; the call then throws `signal.reason`) and
   *   the timeout.
   * @returns The parsed response body.
   * @throws {ApiError} For an HTTP error status; `fetch`'s errors (or the timeout's
   *   `TimeoutError`) for network failures.
   */
  async request<T>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    const { signal } = options;
    const json = body === undefined ? undefined : JSON.stringify(body);
    const never = new AbortController().signal;
    for (let attempt = 0;; attempt++) {
      // Invariant: nothing is sent once the caller's signal aborted (a renewal the elector gave
      // up on must not land late).
      signal?.throwIfAborted();
      let response: Response;
      let text: string;
      try {
        ({ response, text } = await this.#once(method, path, json, options));
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (attempt >= MAX_RETRIES || !retriesAfterError(method, err)) throw err;
        continue;
      }
      if (response.status < 400) return (text === "" ? {} : JSON.parse(text)) as T;
      const pause = retryAfterMs(response.status, response.headers.get("retry-after"));
      if (pause === undefined || attempt >= MAX_RETRIES) {
        throw new ApiError(response.status, method, path.split("?")[0]!, text);
      }
      try {
        await this.#sleep(pause, signal ?? never);
      } catch {
        throw signal?.reason;
      }
    }
  }

  /** One attempt: the response and its whole body. */
  async #once(
    method: string,
    path: string,
    json: string | undefined,
    { signal, timeoutMs = REQUEST_TIMEOUT_MS }: CallOptions,
  ): Promise<{ response: Response; text: string }> {
    const timer = new RequestTimer(timeoutMs);
    const abort = () => timer.abort();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      const response = await this.#conn.send(method, path, json, timer.signal);
      timer.reset();
      return { response, text: await readText(response, timer) };
    } catch (err) {
      throw signal?.aborted ? signal.reason : this.#conn.failed(timer.signal, err);
    } finally {
      timer.clear();
      signal?.removeEventListener("abort", abort);
    }
  }

  /**
   * One API call as RBAC sees it: {@linkcode JsonApi.request}, then {@linkcode Grants.note} when
   * it succeeded; what it throws is {@linkcode Grants.classify}'d — but for the caller's abort, which
   * is thrown as `signal.reason`, as the ports promise (`lib/tasks/store.ts`).
   *
   * @param verb The RBAC verb (`get`, `create`, `update`, `list`, `delete`, …).
   * @param resource The resource (`configmaps`, `pods`, `leases`, `events`).
   * @param namespace The namespace, for the `forbidden` message.
   * @throws {KubeError} The classified failure.
   */
  async call<T>(
    verb: string,
    resource: string,
    namespace: string,
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    try {
      const result = await this.request<T>(method, path, body, options);
      this.grants.note(verb, resource);
      return result;
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.grants.classify(err, verb, resource, namespace);
    }
  }
}

/** The default wait before a retry: the system clock's (rejects with the signal's reason). */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return systemClock.sleep(ms, signal);
}

/**
 * Reads the HTTP status of a failed call: the code, and the `reason` and `message` of
 * the Kubernetes `Status` body when there is one.
 *
 * @param err What the call threw: an {@linkcode ApiError} (or any error with a numeric `code`
 *   and a `body`, as client-node's `ApiException`), or one with a numeric `statusCode`.
 * @returns The parts found; empty when the request never got a response.
 */
function statusOf(err: unknown): HttpStatus {
  const e = err as { code?: unknown; body?: unknown; statusCode?: unknown } | null;
  if (typeof e?.code === "number" && e !== null && "body" in e) {
    let body: unknown = e.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch { /* not JSON */ }
    }
    const status = (body ?? {}) as { reason?: string; message?: string };
    return {
      code: e.code,
      ...(typeof status.reason === "string" ? { reason: status.reason } : {}),
      ...(typeof status.message === "string" ? { message: status.message } : {}),
    };
  }
  if (typeof e?.statusCode === "number") return { code: e.statusCode };
  return {};
}

/**
 * What one adapter's calls were allowed: `verb resource` pairs that succeeded at least once, so a
 * later 403 for one means the permission was taken away (see `forbiddenHint` in
 * `lib/apimachinery/errors.ts`). Each {@linkcode JsonApi} owns one (its adapter is built when
 * `lib/modes/` wires `KubeApi`); nothing is kept per process.
 */
export class Grants {
  readonly #granted = new Set<string>();

  /** Notes that a call of `verb` on `resource` succeeded. */
  note(verb: string, resource: string): void {
    this.#granted.add(`${verb} ${resource}`);
  }

  /**
   * Classifies what a call threw: its status (`statusOf`) and whether the same call was allowed
   * before ({@linkcode Grants.note}) go to `kubeErrorFromStatus`. An error that is already a
   * `KubeError` is returned as it is.
   *
   * @param err What the call threw (`ApiError`, a network error, …).
   * @param verb The RBAC verb of the call (`create`, `update`, `list`, …).
   * @param resource The resource (`configmaps`, `pods`, `leases`, `events`).
   * @param namespace The namespace, for the `forbidden` message.
   * @param code The status when the caller knows it (a watch's ERROR event) and `err` does not.
   *
   * @example Usage
   * ```ts
   * import { ApiError, Grants } from "./requests.ts";
   * import assert from "node:assert/strict";
   * const err = new Grants().classify(
   *   new ApiError(403, "GET", "/api/v1/pods", "{}"),
   *   "list",
   *   "pods",
   *   "ns",
   * );
   * assert.equal(err.kind, "forbidden");
   * assert.match(err.message, /the Role needs verb list on pods/);
   * ```
   */
  classify(
    err: unknown,
    verb: string,
    resource: string,
    namespace = "",
    code?: number,
  ): KubeError {
    if (err instanceof KubeError) return err;
    const status = statusOf(err);
    // The API server authorizes a request before it looks at the object: a 404, 409, 410 or 422
    // proves the call is allowed as surely as a success (401, 403 and 429 are decided before).
    const decided = code ?? status.code;
    if (
      decided !== undefined && decided >= 400 && decided < 500 &&
      ![401, 403, 429].includes(decided)
    ) {
      this.note(verb, resource);
    }
    return kubeErrorFromStatus(
      code === undefined ? status : { ...status, code },
      { verb, resource, namespace, allowedBefore: this.#granted.has(`${verb} ${resource}`) },
      err,
    );
  }
}
