/**
 * Serve mode (`-w`): the optional mcall API (`GET /healthcheck`, `GET /mcall/{type}/{params}`,
 * `POST /mcall`). Leader mode's probe endpoints are in `probes.ts`.
 *
 * The mcall API executes commands, so it binds 127.0.0.1 by default; bound anywhere else it
 * refuses to start without a bearer token and answers 401 to requests without it. Requests a web
 * page made the browser send are refused whatever the binding (`serve_guard.ts`).
 *
 * @module
 */
import { z } from "zod/mini";
import { ConfigError } from "../config/layer.ts";
import { describeIssue } from "../config/issues.ts";
import { type Config, INPUT_TYPES, InputSchema } from "../config/schema.ts";
import { resolveInputs } from "../engine/input.ts";
import { logger } from "../log/log.ts";
import { runAll } from "./once.ts";
import { OK, type Outcome } from "./outcome.ts";
import { HttpError, readBodyText } from "./http_body.ts";
import { bindServer, plainText } from "./http_server.ts";
import { SERVE_LIMITS, serveHttp1, type ServerLimits } from "./http_listen.ts";
import {
  browserRefusal,
  contentTypeRefusal,
  hostRefusal,
  isLoopback,
  policyRefusal,
} from "./serve_guard.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import { Semaphore } from "../engine/pool.ts";
import { formatResults } from "../engine/output.ts";
import { FileTooLarge, readTextCapped, TOKEN_FILE_CAP } from "../files/bounded_read.ts";

/** Largest request body the mcall API reads. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most inputs one API request may run. */
export const MAX_INPUTS_PER_REQUEST = 100;
/**
 * Most inputs admitted at once across all requests, running or queued. Inputs of all requests
 * share `worker.number` slots; a request that would push the total past this gets 503 with
 * `Retry-After`.
 */
export const MAX_QUEUED_INPUTS = 1000;
/** `Retry-After` seconds of a 503 when the queue is full. */
export const RETRY_AFTER_S = 1;

const RequestSchema = z.strictObject({
  inputs: z.array(InputSchema).check(z.minLength(1), z.maxLength(MAX_INPUTS_PER_REQUEST)),
});

/** Shortest bearer token serve mode accepts (after trimming whitespace). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Reads the bearer token from `MCALL_WEBSERVER_TOKEN` (when set at all, even blank) or
 * `webserver.tokenFile`.
 *
 * @returns The trimmed token, or undefined when neither is configured.
 * @throws {ConfigError} When the token is blank or shorter than {@linkcode MIN_TOKEN_LENGTH}
 *   (a blank token would otherwise match a request without an Authorization header), or the
 *   file cannot be read.
 */
export async function readToken(
  config: Config,
  env: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<string | undefined> {
  let token: string;
  let source: string;
  if (env.MCALL_WEBSERVER_TOKEN !== undefined) {
    token = env.MCALL_WEBSERVER_TOKEN.trim();
    source = "MCALL_WEBSERVER_TOKEN";
  } else if (config.webserver.tokenFile) {
    source = `webserver.tokenFile: ${config.webserver.tokenFile}`;
    try {
      // Capped, and ended by a signal (a FIFO with no writer): lib/files/bounded_read.ts.
      token = (await readTextCapped(config.webserver.tokenFile, TOKEN_FILE_CAP, signal)).trim();
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      throw new ConfigError(
        `webserver.tokenFile: cannot read ${config.webserver.tokenFile}: ${
          err instanceof FileTooLarge ? err.message : err
        }`,
      );
    }
  } else {
    return undefined;
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `${source}: the bearer token is ${token ? `${token.length} characters` : "blank"}; ` +
        `it must be at least ${MIN_TOKEN_LENGTH} characters`,
    );
  }
  return token;
}

/**
 * The mcall API as a plain request handler (tests call it without a socket).
 *
 * Every request's inputs share `worker.number` slots, so at most that many run at once whatever
 * the number of requests; at most `maxQueued` inputs are admitted (running or waiting), beyond
 * that a request gets 503 with `Retry-After`.
 *
 * Before anything runs, a request must pass `serve_guard.ts`: no `Origin` nor cross-site
 * `Sec-Fetch-Site` (403), without a token a loopback `Host` (421), a JSON body for POST (415), and
 * inputs within the server's own shell and timeout settings (400).
 *
 * @param config Supplies the defaults for inputs, the output format and `worker.number`.
 * @param token When set, every `/mcall` request needs `Authorization: Bearer <token>`.
 * @param maxQueued Most inputs admitted at once (default {@linkcode MAX_QUEUED_INPUTS}).
 */
export function mcallHandler(
  config: Config,
  token: string | undefined,
  maxQueued = MAX_QUEUED_INPUTS,
): (req: Request) => Promise<Response> {
  const log = logger("server");
  const slots = new Semaphore(config.worker.number);
  let admitted = 0;
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/healthcheck" && (req.method === "GET" || req.method === "HEAD")) {
      return plainText(200, "OK");
    }
    if (!url.pathname.startsWith("/mcall")) return plainText(404, "not found");
    const refused = browserRefusal(req.headers);
    if (refused !== null) return plainText(403, refused);
    const misdirected = token === undefined
      ? hostRefusal(req.headers.get("host") ?? url.host)
      : null;
    if (misdirected !== null) return plainText(421, misdirected);
    if (token !== undefined && !validBearer(req.headers.get("authorization"), token)) {
      return new Response("missing or wrong bearer token\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="dz-mcall"' },
      });
    }
    let request: { type: string; name?: string; params: string };
    try {
      request = await readRequest(req, url);
    } catch (err) {
      return err instanceof HttpError
        ? plainText(err.status, err.message, err.headers)
        : plainText(400, (err as Error).message);
    }
    if (!(INPUT_TYPES as readonly string[]).includes(request.type)) {
      return plainText(
        400,
        `type: ${JSON.stringify(request.type)} is not one of ${INPUT_TYPES.join(", ")}`,
      );
    }
    const parsed = parseParams(request.params);
    if (typeof parsed === "string") return plainText(400, parsed);
    const beyond = policyRefusal(parsed, {
      shell: config.request.shell,
      maxTimeoutMs: config.request.timeoutMs,
    });
    if (beyond !== null) return plainText(400, beyond);
    const inputs = resolveInputs(parsed, {
      ...config.request,
      type: request.type as typeof INPUT_TYPES[number],
      name: request.name ?? config.request.name,
    });
    if (admitted + inputs.length > maxQueued) {
      log.warn("api request refused: {admitted} inputs admitted already", { admitted });
      return plainText(
        503,
        `busy: ${admitted} inputs are running or queued (limit ${maxQueued}); retry later`,
        { "retry-after": String(RETRY_AFTER_S) },
      );
    }
    log.info("api request {count} inputs", { count: inputs.length, type: request.type });
    admitted += inputs.length;
    let results;
    try {
      results = await runAll(inputs, config, req.signal, slots);
    } finally {
      admitted -= inputs.length;
    }
    const body = formatResults(results, {
      format: config.response.format,
      encoding: config.response.encoding.type,
    });
    return new Response(body, {
      headers: {
        "content-type": config.response.format === "json" ? "application/json" : "text/plain",
      },
    });
  };
}

/**
 * True when the header carries exactly `token`. Compares in constant time over the longer length
 * (XOR of every byte, no early exit); an empty token never matches.
 */
export function validBearer(header: string | null, token: string): boolean {
  const given = header?.match(/^Bearer\s+(.+)$/i)?.[1] ?? "";
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0 && b.length > 0;
}

async function readRequest(req: Request, url: URL) {
  if (req.method !== "GET" && req.method !== "POST") {
    throw new HttpError(405, `method ${req.method} not allowed (use GET or POST)`, {
      allow: "GET, POST",
    });
  }
  if (req.method === "GET") {
    const m = /^\/mcall\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) throw new Error("expected GET /mcall/{type}/{params}");
    try {
      return { type: decodeURIComponent(m[1]!), params: decodeURIComponent(m[2]!) };
    } catch {
      throw new Error("path: malformed percent-encoding");
    }
  }
  if (req.method !== "POST" || url.pathname !== "/mcall") {
    throw new Error("expected GET /mcall/{type}/{params} or POST /mcall");
  }
  const unsupported = contentTypeRefusal(req.headers.get("content-type"));
  if (unsupported !== null) throw new HttpError(415, unsupported);
  const raw = await readBodyText(req, MAX_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    throw new Error(`body: invalid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== "object" || body === null) throw new Error("body: expected a JSON object");
  const b = body as Record<string, unknown>;
  const params = b.params ?? (b.inputs !== undefined ? { inputs: b.inputs } : undefined);
  if (params === undefined) throw new Error("body: expected params or inputs");
  return {
    type: typeof b.type === "string" ? b.type : "cmd",
    ...(typeof b.name === "string" ? { name: b.name } : {}),
    params: typeof params === "string" ? params : JSON.stringify(params),
  };
}

/** Params are raw JSON, or base64 (std or url alphabet) of it. Returns inputs or an error line. */
export function parseParams(params: string) {
  let json: unknown;
  const trimmed = params.trim();
  try {
    json = JSON.parse(trimmed.startsWith("{") ? trimmed : decodeBase64(trimmed));
  } catch {
    return 'params: expected JSON {"inputs":[...]} or its base64 (std or url)';
  }
  const parsed = RequestSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) return "params." + describeIssue(parsed.error.issues[0]!, new Map());
  return parsed.data.inputs;
}

function decodeBase64(text: string): string {
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = std + "=".repeat((4 - (std.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/**
 * Serve mode: runs the mcall API until `signal` aborts, then drains: requests in progress may
 * finish until `limits.drainTimeoutMs`; past it they are cut off (their commands killed).
 *
 * @returns OK after a complete drain; `interrupted` with the signal when requests were cut off.
 * @throws {ConfigError} when bound to a non-loopback address without a token.
 */
export async function serveMcall(
  config: Config,
  env: Readonly<Record<string, string>>,
  signal: AbortSignal,
  onListen?: (addr: Deno.NetAddr) => void,
  limits: ServerLimits = SERVE_LIMITS,
  clock: Clock = systemClock,
): Promise<Outcome> {
  const token = await readToken(config, env, signal);
  const { host, port } = config.webserver;
  if (!isLoopback(host) && token === undefined) {
    throw new ConfigError(
      `webserver.host: refusing to serve ${JSON.stringify(host)} without a bearer token ` +
        "(set MCALL_WEBSERVER_TOKEN or webserver.tokenFile, or bind 127.0.0.1, ::1 or localhost)",
    );
  }
  const log = logger("server");
  const listener = bindServer(
    "webserver",
    host,
    port,
    () => Deno.listen({ hostname: host, port, transport: "tcp" }),
  );
  const server = serveHttp1(listener, mcallHandler(config, token), limits, clock);
  log.info("serving mcall API on {host}:{port}", {
    host: server.addr.hostname,
    port: server.addr.port,
  });
  onListen?.(server.addr);
  if (!signal.aborted) {
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  }
  log.info("draining in-flight requests");
  const complete = await server.shutdown();
  log.info("server stopped");
  if (complete) return OK;
  log.warn("drain deadline passed: requests in progress were cut off");
  const sig = (signal.reason as { signal?: unknown } | undefined)?.signal;
  return { kind: "interrupted", signal: sig === "SIGINT" || sig === "SIGHUP" ? sig : "SIGTERM" };
}
