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
 *   help (not a URL, not http/https, a GET body, an unsendable header).
 */
export function runHttp(spec: InputSpec, limits: Limits): Promise<Attempt> {
  const attempt: Attempt = { output: "", truncated: false, exitCode: null, status: null };
  const method = spec.type === "post" ? "POST" : "GET";
  let url: URL;
  try {
    url = new URL(spec.input);
  } catch {
    return Promise.resolve({
      ...attempt,
      error: `${JSON.stringify(spec.input)} is not a URL`,
      final: true,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Promise.resolve({
      ...attempt,
      error: `URL ${JSON.stringify(spec.input)} is not http or https`,
      final: true,
    });
  }
  if (method === "GET" && spec.body) {
    return Promise.resolve({
      ...attempt,
      error: "a get input cannot send a body; use type post",
      final: true,
    });
  }
  const problem = headersProblem(spec.headers);
  if (problem !== undefined) return Promise.resolve({ ...attempt, error: problem, final: true });

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

  return new Promise<Attempt>((resolve) => {
    const capture = new Capture(limits.maxOutputBytes, limits.keepBytes);
    const write = capture.stream();
    let settled = false;
    let req: http.ClientRequest | undefined;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      limits.signal?.removeEventListener("abort", onAbort);
      write();
      attempt.output = capture.text();
      const bytes = capture.bytes();
      if (bytes !== undefined) attempt.bytes = bytes;
      attempt.truncated = capture.truncated;
      if (error !== undefined) attempt.error = error;
      req?.destroy();
      resolve(attempt);
    };
    const timer = setTimeout(
      () => finish(`timed out after ${formatDurationMs(spec.timeoutMs, "single")}`),
      spec.timeoutMs,
    );
    const onAbort = () => finish("aborted");
    limits.signal?.addEventListener("abort", onAbort, { once: true });
    if (limits.signal?.aborted) return onAbort();
    const failed = (err: unknown) =>
      finish(
        `${method} ${url.href} failed: ${String((err as Error)?.message ?? err).split("\n")[0]}`,
      );
    try {
      req = (url.protocol === "https:" ? https : http).request({
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
      }, (res) => {
        attempt.status = res.statusCode ?? null;
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
      });
      req.on("error", failed);
      req.end(body);
    } catch (err) {
      failed(err);
    }
  });
}
