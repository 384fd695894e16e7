/**
 * When a request is sent again, as client-go's `rest.Request` decides it (`request.go`,
 * `with_retry.go`): a 429 or 5xx response with a `Retry-After` header, for every verb (the API
 * server sends it when it did not do the work: priority and fairness rejections, a server
 * shutting down), after the seconds it names; and a connection reset or an early EOF on a GET, at
 * once. At most {@linkcode MAX_RETRIES} times per call, and never after the caller's signal
 * aborted. A 5xx without `Retry-After` is not retried (the write may have happened; the caller's
 * loop decides), nor is a refused connection (nothing listens: the callers back off).
 *
 * @module
 */

/** Retries per call after the first attempt (client-go's `maxRetries` default). */
export const MAX_RETRIES = 10;

/**
 * The wait a response asks for before the same request is sent again, or `undefined` when it is
 * not to be retried: 429 or ≥ 500 with `Retry-After: <seconds>` (an HTTP date is not retried, as
 * in client-go).
 */
export function retryAfterMs(status: number, retryAfter: string | null): number | undefined {
  if (status !== 429 && status < 500) return undefined;
  if (retryAfter === null || !/^\s*\d+\s*$/.test(retryAfter)) return undefined;
  return Number(retryAfter) * 1000;
}

/**
 * Whether a request that got no response is sent again: a GET whose connection was reset or
 * closed before the response (client-go: `IsConnectionReset`, `IsProbableEOF`).
 */
export function retriesAfterError(method: string, err: unknown): boolean {
  if (method !== "GET") return false;
  if (err instanceof DOMException) return false; // a timeout or an abort
  const text = `${err instanceof Error ? err.message : String(err)} ${
    err instanceof Error && err.cause !== undefined ? String(err.cause) : ""
  }`;
  return /connection reset|reset by peer|connection closed|unexpected eof|broken pipe/i.test(text);
}
