/**
 * Plain JSON requests to the API server ({@linkcode JsonApi}) and what a failed one means:
 * {@linkcode classify} reads client-node's `ApiException` (`statusOf`) and remembers
 * which calls this process was allowed ({@linkcode noteGranted}), then hands both to the one
 * classifier, `kubeErrorFromStatus` (`lib/kube/errors.ts`).
 *
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import { discardPool, poolConnections } from "./client.ts";
import { type HttpStatus, KubeError, kubeErrorFromStatus } from "./errors.ts";

/** Longest wait for a response's headers, and between two chunks of its body. */
const REQUEST_TIMEOUT_MS = 30_000;

/** An undici response as `Dispatcher.request` resolves it. */
interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: { text(): Promise<string> };
}

/**
 * Plain JSON requests to the API server, authenticated by client-node and sent over the pool of
 * {@linkcode poolConnections} with undici's `Dispatcher.request`. The task hot paths (create, claim,
 * record, list) use it instead of client-node's generated client, whose object (de)serialisers
 * and undici `fetch` layer cost twice the CPU per request (bench/api.ts); objects arrive as the
 * API server's JSON, which `toConfigMapLike` and `toPodInfo` read as they read watch events.
 * Errors are client-node's `ApiException` (HTTP status, Status body), as `classify` expects.
 */
export class JsonApi {
  readonly #kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.#kc = poolConnections(kc);
  }

  /**
   * @param path From the server root, query included (`/api/v1/...?labelSelector=...`).
   * @returns The parsed response body.
   * @throws {k8s.ApiException} For an HTTP error status; undici's errors for network failures.
   */
  async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown) {
    const server = this.#kc.getCurrentCluster()?.server ?? "";
    const context = new k8s.RequestContext(server + path, method as k8s.HttpMethod);
    await this.#kc.applySecurityAuthentication(context);
    const dispatcher = context.getDispatcher();
    if (dispatcher === undefined) throw new Error(`${method} ${path}: no HTTP client`);
    const url = new URL(context.getUrl());
    const headers: Record<string, string> = { ...context.getHeaders(), accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: RawResponse;
    let text: string;
    try {
      response = await (dispatcher as unknown as {
        request(o: object): Promise<RawResponse>;
      }).request({
        origin: url.origin,
        path: url.pathname + url.search,
        method,
        headers,
        // A request never waits forever: under Deno, undici can miss that a kept-alive
        // connection died, and such a request would otherwise hang for undici's default 300 s.
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      text = await response.body.text();
    } catch (err) {
      discardPool(this.#kc);
      throw err;
    }
    if (response.statusCode >= 400) {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.headers)) {
        if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
      }
      throw new k8s.ApiException(
        response.statusCode,
        `HTTP-Code: ${response.statusCode}\nMessage: ${method} ${url.pathname}\nBody: ${text}`,
        text,
        flat,
      );
    }
    return (text === "" ? {} : JSON.parse(text)) as T;
  }
}

/**
 * Reads the HTTP status of a failed client-node call: the code, and the `reason` and `message` of
 * the Kubernetes `Status` body when there is one.
 *
 * @param err What the call threw.
 * @returns The parts found; empty when the request never got a response.
 */
function statusOf(err: unknown): HttpStatus {
  if (err instanceof k8s.ApiException) {
    let body: unknown = err.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch { /* not JSON */ }
    }
    const status = (body ?? {}) as { reason?: string; message?: string };
    return {
      code: err.code,
      ...(typeof status.reason === "string" ? { reason: status.reason } : {}),
      ...(typeof status.message === "string" ? { message: status.message } : {}),
    };
  }
  const e = err as { statusCode?: unknown; code?: unknown } | null;
  if (typeof e?.statusCode === "number") return { code: e.statusCode };
  return {};
}

/** `verb resource` pairs this process has been allowed at least once. */
const granted = new Set<string>();

/**
 * Notes that a call of `verb` on `resource` succeeded, so a later 403 for it means the
 * permission was taken away (see `forbiddenHint` in `lib/kube/errors.ts`).
 */
export function noteGranted(verb: string, resource: string): void {
  granted.add(`${verb} ${resource}`);
}

/**
 * Classifies what a client-node call threw: its status (`statusOf`) and whether the
 * same call was allowed before ({@linkcode noteGranted}) go to `kubeErrorFromStatus`. An error
 * that is already a `KubeError` is returned as it is.
 *
 * @param err What the call threw (`ApiException`, a network error, …).
 * @param verb The RBAC verb of the call (`create`, `update`, `list`, …).
 * @param resource The resource (`configmaps`, `pods`, `leases`, `events`).
 * @param namespace The namespace, for the `forbidden` message.
 * @param code The status when the caller knows it (a watch's ERROR event) and `err` does not.
 *
 * @example Usage
 * ```ts
 * import { ApiException } from "@kubernetes/client-node";
 * import { classify } from "./requests.ts";
 * import assert from "node:assert/strict";
 * const err = classify(new ApiException(403, "Forbidden", "{}", {}), "list", "pods", "ns");
 * assert.equal(err.kind, "forbidden");
 * assert.match(err.message, /the Role needs verb list on pods/);
 * ```
 */
export function classify(
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
    decided !== undefined && decided >= 400 && decided < 500 && ![401, 403, 429].includes(decided)
  ) {
    noteGranted(verb, resource);
  }
  return kubeErrorFromStatus(
    code === undefined ? status : { ...status, code },
    { verb, resource, namespace, allowedBefore: granted.has(`${verb} ${resource}`) },
    err,
  );
}
