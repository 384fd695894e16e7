/**
 * The one classifier of failed API calls (`kubeErrorFromStatus`): one table of HTTP status, reason
 * and verb → kind and message, and `isKubeError`, the one way callers ask.
 */
import assert from "node:assert/strict";
import {
  isKubeError,
  KubeError,
  kubeErrorFromStatus,
  type KubeErrorKind,
} from "../../lib/apimachinery/errors.ts";

const UNAUTHORIZED = "the ServiceAccount token was rejected (the ServiceAccount was deleted, " +
  "e.g. by helm uninstall, or the token expired)";

Deno.test("kubeErrorFromStatus() maps status, reason and verb to the kind and the message", () => {
  const cases: [
    { code?: number; reason?: string; message?: string },
    string,
    string,
    KubeErrorKind,
    string,
  ][] = [
    [
      { code: 409, reason: "AlreadyExists", message: "exists" },
      "create",
      "configmaps",
      "alreadyExists",
      "create configmaps (HTTP 409): exists",
    ],
    [{ code: 409 }, "create", "leases", "alreadyExists", "create leases (HTTP 409): boom"],
    [
      { code: 409, reason: "Conflict", message: "modified" },
      "create",
      "configmaps",
      "conflict",
      "create configmaps (HTTP 409): modified",
    ],
    [
      { code: 409, reason: "Conflict", message: "modified" },
      "update",
      "leases",
      "conflict",
      "update leases (HTTP 409): modified",
    ],
    [
      { code: 409, reason: "AlreadyExists" },
      "update",
      "configmaps",
      "conflict",
      "update configmaps (HTTP 409): boom",
    ],
    [
      { code: 404, message: "not found" },
      "get",
      "leases",
      "notFound",
      "get leases (HTTP 404): not found",
    ],
    [
      { code: 410, message: "too old resource version" },
      "watch",
      "configmaps",
      "gone",
      "watch configmaps (HTTP 410): too old resource version",
    ],
    [
      { code: 403 },
      "update",
      "leases",
      "forbidden",
      "forbidden: cannot update leases in namespace ops — the Role needs verb update on leases",
    ],
    [
      { code: 401 },
      "get",
      "leases",
      "unauthorized",
      `unauthorized: cannot get leases in namespace ops — ${UNAUTHORIZED}`,
    ],
    [{ code: 400, message: "bad" }, "create", "events", "invalid", "create events (HTTP 400): bad"],
    [
      { code: 422, message: "invalid name" },
      "create",
      "configmaps",
      "invalid",
      "create configmaps (HTTP 422): invalid name",
    ],
    [
      { code: 500, message: "etcd down" },
      "update",
      "leases",
      "transient",
      "update leases (HTTP 500): etcd down",
    ],
    [{ code: 429 }, "list", "pods", "transient", "list pods (HTTP 429): boom"],
    [{}, "get", "leases", "transient", "get leases: boom"],
  ];
  for (const [status, verb, resource, kind, message] of cases) {
    const cause = new Error("boom\nsecond line");
    const err = kubeErrorFromStatus(status, { verb, resource, namespace: "ops" }, cause);
    const what = `${status.code} ${status.reason} ${verb}`;
    assert.ok(err instanceof KubeError, what);
    assert.equal(err.kind, kind, what);
    assert.equal(err.message, message, what);
    assert.equal(err.code, status.code, what);
    assert.equal(err.verb, verb, what);
    assert.equal(err.resource, resource, what);
    assert.equal(err.cause, cause, what);
  }
});

Deno.test("kubeErrorFromStatus() says a 403 for a call allowed before means the Role changed", () => {
  const err = kubeErrorFromStatus({ code: 403 }, {
    verb: "update",
    resource: "leases",
    namespace: "ops",
    allowedBefore: true,
  });
  assert.equal(
    err.message,
    "forbidden: cannot update leases in namespace ops — this was allowed before, so the Role or " +
      "RoleBinding was deleted or changed (helm uninstall?)",
  );
  assert.equal(err.cause, undefined);
});

Deno.test("isKubeError() asks for any kind, or for one of several", () => {
  const conflict = new KubeError("conflict", "update", "leases", "modified", { code: 409 });
  assert.equal(isKubeError(conflict), true);
  assert.equal(isKubeError(conflict, "conflict"), true);
  assert.equal(isKubeError(conflict, "alreadyExists", "conflict"), true);
  assert.equal(isKubeError(conflict, "notFound"), false);
  assert.equal(isKubeError(new Error("modified"), "conflict"), false);
  assert.equal(isKubeError(undefined), false);
});
