/**
 * One try of a get/post input, over `node:http` / `node:https` rather than `fetch`: a probe tool
 * must reach any port and send the headers it is given, and the runtime's fetch refuses the Fetch
 * standard's "bad ports" (1, 25, 6000, 6667, …) and silently drops a `Host` header.
 *
 * Never follows redirects (a 3xx is what the server answered), reads the body up to the output
 * cap and then closes the connection, uses a fresh connection per try (no keep-alive pool, so
 * nothing outlives the input), and never throws: every failure is the attempt's one-line `error`.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { Attempt, Limits } from "./attempt.ts";
import { formatDurationMs } from "../time/duration.ts";
import { Capture } from "./capture.ts";
import { headersProblem } from "./http_headers.ts";
import type { InputSpec } from "./input.ts";

type Method = "GET" | "POST";

/** Content-Type for a POST body without one: JSON when it parses as JSON, else a form. */
function guessContentType(body: string): string {
  try {
    JSON.parse(body);
    return "application/json";
  } catch {
    return "application/x-www-form-urlencoded";
  }
}

/**
 * Runs one HTTP try of `spec` (type get or post).
 *
 * @returns The attempt: status and (capped) body, or an `error`; `final` when retrying cannot
 *   help (not a URL, not http/https, port 0, a GET body, an unsendable header).
 */
export function runHttp(spec: InputSpec, limits: Limits): Promise<Attempt> {
  const method = spec.type === "post" ? "POST" : "GET";
  const url = checkedUrl(spec, method);
  if (typeof url === "string") {
    return Promise.resolve({
      output: "",
      truncated: false,
      exitCode: null,
      status: null,
      error: url,
      final: true,
    });
  }
  const { headers, body } = requestOf(spec, method);
  return exchange(url, method, headers, body, spec.timeoutMs, limits);
}

/** The input's URL, or why it cannot be sent (port 0, a GET body, an unsendable header). */
function checkedUrl(spec: InputSpec, method: Method): URL | string {
  let url: URL;
  try {
    url = new URL(spec.input);
  } catch {
    return `${JSON.stringify(spec.input)} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `URL ${JSON.stringify(spec.input)} is not http or https`;
  }
  // node:http reads port 0 as "no port" and would probe the scheme's default (80/443) instead.
  if (url.port === "0") return `URL ${JSON.stringify(spec.input)} has port 0`;
  if (method === "GET" && spec.body) return "a get input cannot send a body; use type post";
  return headersProblem(spec.headers) ?? url;
}

/** The headers to send (the input's plus defaults it does not set) and the POST body. */
function requestOf(
  spec: InputSpec,
  method: Method,
): { headers: Record<string, string>; body: Uint8Array | undefined } {
  const headers: Record<string, string> = { ...spec.headers };
  const has = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  let body: Uint8Array | undefined;
  if (method === "POST") {
    body = new TextEncoder().encode(spec.body ?? "");
    if (spec.body !== undefined && !has("content-type")) {
      headers["content-type"] = guessContentType(spec.body);
    }
    if (!has("content-length")) headers["content-length"] = String(body.byteLength);
  }
  if (!has("accept")) headers["accept"] = "*/*";
  if (!has("user-agent")) headers["user-agent"] = "dz-mcall";
  return { headers, body };
}

/** The `node:http` request options for `url`: no agent (a fresh connection), auth from the URL. */
function requestOptions(
  url: URL,
  method: Method,
  headers: Record<string, string>,
): http.RequestOptions {
  return {
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname + url.search,
    method,
    headers,
    agent: false,
    ...(url.username
      ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` }
      : {}),
  };
}

/**
 * Sends the request and reads the response body up to the cap; settles once, on the end of the
 * body, a full capture, an error, the timeout or an abort, and then destroys the request.
 */
function exchange(
  url: URL,
  method: Method,
  headers: Record<string, string>,
  body: Uint8Array | undefined,
  timeoutMs: number,
  limits: Limits,
): Promise<Attempt> {
  const attempt: Attempt = { output: "", truncated: false, exitCode: null, status: null };
  return new Promise<Attempt>((resolve) => {
    const capture = new Capture(limits.maxOutputBytes, limits.keepBytes);
    const write = capture.stream();
    let settled = false;
    let req: http.ClientRequest | undefined;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      limits.clock.clearTimeout(timer);
      limits.signal?.removeEventListener("abort", onAbort);
      record(attempt, capture, write, error);
      req?.destroy();
      resolve(attempt);
    };
    const timer = limits.clock.setTimeout(
      () => finish(`timed out after ${formatDurationMs(timeoutMs, "single")}`),
      timeoutMs,
    );
    const onAbort = () => finish(limits.aborted());
    limits.signal?.addEventListener("abort", onAbort, { once: true });
    if (limits.signal?.aborted) return onAbort();
    let response: http.IncomingMessage | undefined;
    const failed = (err: unknown) => {
      // Invariant: a complete response counts whatever follows it on the connection (stray
      // bytes after a 204/304 fail the parser's next-message read; curl and Go count the
      // status); a response cut short says so, whatever name the parser gave it ("aborted").
      if (response?.complete) return finish();
      if (response !== undefined && !capture.truncated && isCutShort(err)) {
        return finish("the response ended early");
      }
      finish(
        `${method} ${url.href} failed: ${String((err as Error)?.message ?? err).split("\n")[0]}`,
      );
    };
    try {
      req = (url.protocol === "https:" ? https : http).request(
        requestOptions(url, method, headers),
        (res) => {
          response = res;
          attempt.status = res.statusCode ?? null;
          readBody(res, capture, write, finish, failed);
        },
      );
      req.on("error", failed);
      req.end(body);
    } catch (err) {
      failed(err);
    }
  });
}

/** True for the errors node:http gives a body the connection ended before it was complete. */
function isCutShort(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: string; message?: string };
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || message === "aborted";
}

/** Fills `attempt` from the capture once the exchange is over (ending the capture's stream). */
function record(
  attempt: Attempt,
  capture: Capture,
  write: (chunk?: Uint8Array) => void,
  error: string | undefined,
): void {
  write();
  attempt.output = capture.text();
  const bytes = capture.bytes();
  if (bytes !== undefined) attempt.bytes = bytes;
  attempt.truncated = capture.truncated;
  if (error !== undefined) attempt.error = error;
}

/**
 * Reads a response body into the capture; `finish`es at its end or as soon as the cap is reached,
 * and says "the response ended early" when the connection closes before a complete body.
 */
function readBody(
  res: http.IncomingMessage,
  capture: Capture,
  write: (chunk?: Uint8Array) => void,
  finish: (error?: string) => void,
  failed: (err: unknown) => void,
): void {
  res.on("data", (chunk: Uint8Array) => {
    write(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
    if (capture.truncated) finish();
  });
  res.on("end", () => finish());
  res.on("error", failed);
  res.on(
    "close",
    () => finish(res.complete || capture.truncated ? undefined : "the response ended early"),
  );
}
