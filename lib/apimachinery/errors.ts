/**
 * The one error type of a failed Kubernetes API call, {@linkcode KubeError}, and the one rule that
 * classifies a call's HTTP status into its {@linkcode KubeErrorKind}
 * ({@linkcode kubeErrorFromStatus}). Every adapter in `lib/kube/` throws it, and the ports it
 * implements (`TaskStore`, `PodLister`, `LeaseLock`, `EventSink`) promise it; callers ask
 * {@linkcode isKubeError} which kind it is.
 *
 * Pure: no imports, no I/O, so any folder may import it. Reading a failed request's `ApiError` and
 * remembering which calls were allowed before happen in `lib/kube/requests.ts`.
 *
 * @module
 */

/** Why an API call failed, which decides how the caller reacts. */
export type KubeErrorKind =
  | "conflict"
  | "notFound"
  | "alreadyExists"
  | "gone"
  | "forbidden"
  | "unauthorized"
  | "invalid"
  | "transient";

/**
 * A failed API call, classified.
 *
 * @example Usage
 * ```ts
 * import { KubeError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const err = new KubeError("conflict", "update", "configmaps", "object changed", { code: 409 });
 * assert.equal(err.kind, "conflict");
 * assert.equal(err.name, "KubeError");
 * ```
 */
export class KubeError extends Error {
  /** What the caller reacts to; see {@linkcode kubeErrorFromStatus}. */
  readonly kind: KubeErrorKind;
  /** The API verb (`create`, `update`, `list`, …); empty when the failure was not one call. */
  readonly verb: string;
  /** The resource (`configmaps`, `pods`, `leases`, `events`). */
  readonly resource: string;
  /** The HTTP status, when there was a response. */
  readonly code: number | undefined;

  /**
   * @param kind The category.
   * @param verb The API verb (`create`, `update`, `list`, …).
   * @param resource The resource (`configmaps`, `pods`, `leases`).
   * @param message One line.
   * @param options HTTP status and underlying cause.
   */
  constructor(
    kind: KubeErrorKind,
    verb: string,
    resource: string,
    message: string,
    options: { code?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KubeError";
    this.kind = kind;
    this.verb = verb;
    this.resource = resource;
    this.code = options.code;
  }
}

/**
 * Whether `err` is a {@linkcode KubeError} of one of `kinds` (of any kind when none is given): the
 * one way callers ask why a call failed.
 *
 * @example Usage
 * ```ts
 * import { isKubeError, KubeError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const err = new KubeError("notFound", "get", "leases", "gone");
 * assert.equal(isKubeError(err, "notFound"), true);
 * assert.equal(isKubeError(err, "conflict", "alreadyExists"), false);
 * assert.equal(isKubeError(new Error("x")), false);
 * ```
 */
export function isKubeError(err: unknown, ...kinds: KubeErrorKind[]): err is KubeError {
  return err instanceof KubeError && (kinds.length === 0 || kinds.includes(err.kind));
}

/** What a 401 means for a pod: its ServiceAccount token is no longer accepted. */
const UNAUTHORIZED_HINT =
  "the ServiceAccount token was rejected (the ServiceAccount was deleted, e.g. by helm uninstall, or the token expired)";

/**
 * What a 403 for `verb` on `resource` most likely means: when this process was allowed that call
 * before, the Role or its RoleBinding was deleted or changed since (as `helm uninstall` does while
 * the pods still stop); otherwise the Role lacks the verb.
 *
 * @example Usage
 * ```ts
 * import { forbiddenHint } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.match(forbiddenHint("patch", "widgets", false), /the Role needs verb patch on widgets/);
 * assert.match(forbiddenHint("patch", "widgets", true), /Role or RoleBinding .* deleted or changed/);
 * ```
 */
export function forbiddenHint(verb: string, resource: string, allowedBefore: boolean): string {
  return allowedBefore
    ? `this was allowed before, so the Role or RoleBinding was deleted or changed (helm uninstall?)`
    : `the Role needs verb ${verb} on ${resource}`;
}

/** The HTTP status of a failed call: the code, and the `Status` body's `reason` and `message`. */
export interface HttpStatus {
  /** Absent when the request never got a response. */
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** The call that failed. */
export interface FailedCall {
  /** The RBAC verb (`create`, `update`, `list`, `watch`, …). */
  readonly verb: string;
  /** The resource (`configmaps`, `pods`, `leases`, `events`). */
  readonly resource: string;
  /** The namespace, for the `forbidden` and `unauthorized` messages. */
  readonly namespace: string;
  /** Whether this process was allowed the same verb on the resource before (a 403 then means
   * the Role or RoleBinding changed). Default false. */
  readonly allowedBefore?: boolean;
}

/**
 * The one classifier: turns a failed call's HTTP status into a {@linkcode KubeError}.
 *
 * @param status What the response said (empty when there was none).
 * @param call The verb, resource and namespace of the call.
 * @param cause What the call threw; its first line is the detail when the status has no message.
 * @returns 409 → `alreadyExists` on create when the reason is AlreadyExists (or absent), else
 *   `conflict`; 404 → `notFound`; 410 → `gone`; 403 → `forbidden` (the message says what most
 *   likely lacks, see {@linkcode forbiddenHint}); 401 → `unauthorized`; 400/422 → `invalid`;
 *   5xx, 429, no response and anything else → `transient`.
 *
 * @example Usage
 * ```ts
 * import { kubeErrorFromStatus } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const err = kubeErrorFromStatus({ code: 403 }, { verb: "list", resource: "pods", namespace: "ns" });
 * assert.equal(err.kind, "forbidden");
 * assert.equal(err.message, "forbidden: cannot list pods in namespace ns — the Role needs verb list on pods");
 * ```
 */
export function kubeErrorFromStatus(
  status: HttpStatus,
  call: FailedCall,
  cause?: unknown,
): KubeError {
  const { code, reason, message } = status;
  const { verb, resource, namespace } = call;
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
  const detail = message ??
    (cause instanceof Error ? cause.message.split("\n")[0] : String(cause ?? "no response"));
  const text = kind === "unauthorized"
    ? `unauthorized: cannot ${verb} ${resource} in namespace ${namespace} — ${UNAUTHORIZED_HINT}`
    : kind === "forbidden"
    ? `forbidden: cannot ${verb} ${resource} in namespace ${namespace} — ${
      forbiddenHint(verb, resource, call.allowedBefore ?? false)
    }`
    : `${verb} ${resource}${code === undefined ? "" : ` (HTTP ${code})`}: ${detail}`;
  return new KubeError(kind, verb, resource, text, {
    ...(code === undefined ? {} : { code }),
    ...(cause === undefined ? {} : { cause }),
  });
}
