/**
 * Classification of `@kubernetes/client-node` errors: {@linkcode statusOf} reads the HTTP status
 * of a failed call and {@linkcode classify} turns it into a {@linkcode KubeError} kind. Pure; the
 * calls themselves are made in `lib/kube/api.ts`, which re-exports {@linkcode classify}.
 *
 * @module
 */
import { ApiException } from "@kubernetes/client-node";
import { KubeError, type KubeErrorKind } from "../tasks/contract.ts";

/**
 * Reads the HTTP status of a failed client-node call: the code, and the `reason` and `message` of
 * the Kubernetes `Status` body when there is one.
 *
 * @param err What the call threw.
 * @returns The parts found; empty when the request never got a response.
 */
export function statusOf(err: unknown): { code?: number; reason?: string; message?: string } {
  if (err instanceof ApiException) {
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
 * permission was taken away (see {@linkcode forbiddenHint}). Called by `lib/kube/api.ts`.
 */
export function noteGranted(verb: string, resource: string): void {
  granted.add(`${verb} ${resource}`);
}

/**
 * What a 403 for `verb` on `resource` most likely means: when this process was allowed that call
 * before, the Role or its RoleBinding was deleted or changed since (as `helm uninstall` does while
 * the pods still stop); otherwise the Role lacks the verb.
 *
 * @example Usage
 * ```ts
 * import { forbiddenHint, noteGranted } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.match(forbiddenHint("patch", "widgets"), /the Role needs verb patch on widgets/);
 * noteGranted("patch", "widgets");
 * assert.match(forbiddenHint("patch", "widgets"), /Role or RoleBinding .* deleted or changed/);
 * ```
 */
export function forbiddenHint(verb: string, resource: string): string {
  return granted.has(`${verb} ${resource}`)
    ? `this was allowed before, so the Role or RoleBinding was deleted or changed (helm uninstall?)`
    : `the Role needs verb ${verb} on ${resource}`;
}

/** What a 401 means for a pod: its ServiceAccount token is no longer accepted. */
export const UNAUTHORIZED_HINT =
  "the ServiceAccount token was rejected (the ServiceAccount was deleted, e.g. by helm uninstall, or the token expired)";

/**
 * Classifies a client-node error.
 *
 * @param err What the call threw (`ApiException`, a network error, …).
 * @param verb The RBAC verb of the call (`create`, `update`, `list`, …).
 * @param resource The resource (`configmaps`, `pods`, `leases`).
 * @param namespace The namespace, for the `forbidden` message.
 * @returns 409 → `alreadyExists` on create when the reason is AlreadyExists, else `conflict`;
 *   404 → `notFound`; 410 → `gone`; 403 → `forbidden` (the message names the missing Role verb);
 *   401 → `unauthorized`; 400/422 → `invalid`; 5xx, 429, network and unknown → `transient`.
 *
 * @example Usage
 * ```ts
 * import { ApiException } from "@kubernetes/client-node";
 * import { classify } from "./errors.ts";
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
): KubeError {
  if (err instanceof KubeError) return err;
  const { code, reason, message } = statusOf(err);
  let kind: KubeErrorKind;
  if (code === 409) {
    kind = verb === "create" && (reason === "AlreadyExists" || reason === undefined)
      ? "alreadyExists"
      : "conflict";
  } else if (code === 404) kind = "notFound";
  else if (code === 410) kind = "gone";
  else if (code === 403) kind = "forbidden";
  else if (code === 401) kind = "unauthorized";
  else if (code === 400 || code === 422) kind = "invalid";
  else kind = "transient";
  const detail = message ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
  const text = kind === "unauthorized"
    ? `unauthorized: cannot ${verb} ${resource} in namespace ${namespace} — ${UNAUTHORIZED_HINT}`
    : kind === "forbidden"
    ? `forbidden: cannot ${verb} ${resource} in namespace ${namespace} — ${
      forbiddenHint(verb, resource)
    }`
    : `${verb} ${resource}${code === undefined ? "" : ` (HTTP ${code})`}: ${detail}`;
  return new KubeError(kind, verb, resource, text, {
    ...(code === undefined ? {} : { code }),
    cause: err,
  });
}
