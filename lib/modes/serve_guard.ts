/**
 * Who may drive serve mode, and what a remote caller may ask for: the rules behind docs/serve.md's
 * threat model, each a pure function.
 *
 * The mcall API runs commands. Bound to loopback without a token it trusts every local client
 * (curl, scripts), so it must tell those apart from a web page the user happens to have open: a
 * page can make the browser send requests to 127.0.0.1 (an `<img>`, a form, `fetch` in `no-cors`
 * mode) and, by DNS rebinding, even read the answers. The browser marks every such request:
 * - a rebound request carries the attacker's name in `Host` → {@linkcode hostRefusal};
 * - a cross-origin request carries `Origin` (POST, fetch) and/or `Sec-Fetch-Site` (every request
 *   of every current browser) → {@linkcode browserRefusal};
 * - the only bodies a page can POST without a CORS preflight are forms and `text/plain`, so POST
 *   takes `application/json` only → {@linkcode contentTypeRefusal}; a preflight is never answered
 *   (OPTIONS gets 405), so the browser never sends the JSON.
 *
 * @module
 */
import type { InputConfig } from "../config/schema.ts";
import { formatDurationMs } from "../time/duration.ts";

/**
 * True for an address only this machine can reach: an IPv4 literal in 127.0.0.0/8, the IPv6
 * literal ::1 (any spelling, bracketed or not), or the literal name `localhost`. Any other name is
 * false even when it starts with `127.`: a name is what DNS says it is, and no lookup is made.
 */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
  if (new RegExp(`^127(\\.${octet}){3}$`).test(host)) return true;
  const v6 = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (!/^[0-9a-fA-F:]+$/.test(v6) || !v6.includes(":")) return false;
  try {
    return new URL(`http://[${v6}]/`).hostname === "[::1]";
  } catch {
    return false;
  }
}

/**
 * Without a token, the `Host` header must name a loopback address (any port): a DNS-rebound
 * page's requests carry its own name there.
 *
 * @returns Null when allowed, else the one-line reason (answered 421 Misdirected Request).
 */
export function hostRefusal(hostHeader: string | null): string | null {
  if (hostHeader === null) return "Host: missing";
  // Only what a host[:port] can hold: no userinfo, path or spaces for the URL parser to reinterpret.
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(hostHeader);
  if (!m || !isLoopback(m[1]!)) {
    return `Host: ${JSON.stringify(hostHeader)} is not a loopback address; without a token ` +
      "serve mode answers only requests addressed to 127.0.0.1, [::1] or localhost";
  }
  return null;
}

/**
 * A request a web page made the browser send: it carries `Origin`, or `Sec-Fetch-Site` other than
 * `none` (`none` is the user typing the URL, which is as deliberate as running curl).
 *
 * @returns Null when allowed, else the one-line reason (answered 403).
 */
export function browserRefusal(headers: Headers): string | null {
  const origin = headers.get("origin");
  if (origin !== null) {
    return `Origin: ${JSON.stringify(origin)}: requests from web pages are refused ` +
      "(serve mode is for local clients such as curl)";
  }
  const site = headers.get("sec-fetch-site");
  if (site !== null && site !== "none") {
    return `Sec-Fetch-Site: ${JSON.stringify(site)}: requests a web page made are refused ` +
      "(serve mode is for local clients such as curl)";
  }
  return null;
}

/**
 * POST bodies are JSON only: a form or `text/plain` body is what any web page can send
 * cross-site without a preflight.
 *
 * @returns Null when allowed, else the one-line reason (answered 415).
 */
export function contentTypeRefusal(contentType: string | null): string | null {
  const media = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (media === "application/json") return null;
  return `Content-Type: ${JSON.stringify(contentType ?? "")}: POST /mcall takes ` +
    "application/json only (form and text bodies are what any web page can send)";
}

/** What the server's own configuration lets a remote caller ask for. */
export interface RemotePolicy {
  /** Inputs may ask for `shell: true` (the server was started with `--shell`). */
  readonly shell: boolean;
  /** Longest `timeout` an input may ask for: the server's `request.timeout`. */
  readonly maxTimeoutMs: number;
}

/**
 * Checks a request's inputs against the server's policy: `shell: true` only when the server runs
 * with `request.shell: true`, no `timeout` beyond the server's `request.timeout`.
 *
 * @returns Null when allowed, else the one-line reason naming the input (answered 400).
 */
export function policyRefusal(
  inputs: readonly InputConfig[],
  policy: RemotePolicy,
): string | null {
  for (const [i, input] of inputs.entries()) {
    if (input.shell === true && !policy.shell) {
      return `params.inputs[${i}].shell: true is refused: this server runs a shell only when ` +
        "started with --shell (request.shell: true)";
    }
    if (input.timeoutMs !== undefined && input.timeoutMs > policy.maxTimeoutMs) {
      return `params.inputs[${i}].timeout: ${formatDurationMs(input.timeoutMs)} is above this ` +
        `server's request.timeout of ${formatDurationMs(policy.maxTimeoutMs)}`;
    }
  }
  return null;
}
