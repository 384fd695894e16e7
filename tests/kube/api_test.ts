import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { Grants } from "../../lib/kube/requests.ts";
import { MIN_WATCH_TIMEOUT_S, watchDeadline } from "../../lib/kube/watch.ts";

const classify = (...args: Parameters<Grants["classify"]>) => new Grants().classify(...args);
import { toPodInfo } from "../../lib/kube/convert.ts";

const apiError = (code: number, reason?: string) =>
  new k8s.ApiException(
    code,
    "Message",
    JSON.stringify({ kind: "Status", code, reason, message: "m" }),
    {},
  );

Deno.test("classify() maps API status codes to the kinds callers act on", () => {
  const cases: [unknown, string, string][] = [
    [apiError(409, "AlreadyExists"), "create", "alreadyExists"],
    [apiError(409, "Conflict"), "update", "conflict"],
    [apiError(404), "get", "notFound"],
    [apiError(410), "watch", "gone"],
    [apiError(403), "create", "forbidden"],
    [apiError(401), "list", "unauthorized"],
    [apiError(422), "create", "invalid"],
    [apiError(500), "update", "transient"],
    [apiError(429), "update", "transient"],
    [new TypeError("fetch failed: connection refused"), "list", "transient"],
  ];
  for (const [err, verb, kind] of cases) {
    const classified = classify(err, verb, "configmaps", "ops");
    assert.equal(classified.kind, kind, `${verb} ${String(err)}`);
  }
});

Deno.test("classify() names the missing verb and resource on 403", () => {
  const err = classify(apiError(403), "deletecollection", "configmaps", "ops");
  assert.equal(
    err.message,
    "forbidden: cannot deletecollection configmaps in namespace ops — the Role needs verb " +
      "deletecollection on configmaps",
  );
  assert.equal(err.code, 403);
});

Deno.test("watchDeadline() asks the server to end a watch in 5–10 min (client-go) and backs it with a later client deadline", () => {
  assert.equal(MIN_WATCH_TIMEOUT_S, 300);
  for (const r of [0, 0.5, 0.999]) {
    const { timeoutSeconds, deadlineMs } = watchDeadline(() => r);
    assert.ok(
      timeoutSeconds >= MIN_WATCH_TIMEOUT_S && timeoutSeconds < MIN_WATCH_TIMEOUT_S * 2,
      `${r}`,
    );
    assert.ok(deadlineMs > timeoutSeconds * 1000, "the client waits for the server first");
  }
});

Deno.test("classify() says what a 401 and a 403 most likely mean", () => {
  assert.equal(
    classify(apiError(401), "list", "configmaps", "ops").message,
    "unauthorized: cannot list configmaps in namespace ops — the ServiceAccount token was " +
      "rejected (the ServiceAccount was deleted, e.g. by helm uninstall, or the token expired)",
  );
  // A verb never allowed in this process: the Role lacks it.
  assert.match(
    classify(apiError(403), "escalate", "widgets", "ops").message,
    /^forbidden: cannot escalate widgets in namespace ops — the Role needs verb escalate on widgets$/,
  );
});

Deno.test("toPodInfo() reads readiness, started containers, deletion, phase and container restarts", () => {
  const pod = (status: k8s.V1PodStatus, deleting = false): k8s.V1Pod => ({
    metadata: {
      name: "p",
      labels: { app: "x" },
      ...(deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status,
  });
  const ready = [{ type: "Ready", status: "True" }];
  assert.deepEqual(
    toPodInfo(pod({
      phase: "Running",
      conditions: ready,
      containerStatuses: [
        { name: "a", image: "", imageID: "", ready: true, restartCount: 2 },
        { name: "b", image: "", imageID: "", ready: true, restartCount: 1 },
      ],
    })),
    {
      name: "p",
      ready: true,
      started: false,
      terminating: false,
      labels: { app: "x" },
      phase: "Running",
      restarts: 3,
    },
  );
  // Started before any readiness probe passed: every container started, no Ready condition.
  const started = (s: boolean[]) =>
    toPodInfo(pod({
      phase: "Running",
      containerStatuses: s.map((started, i) => ({
        name: `c${i}`,
        image: "",
        imageID: "",
        ready: false,
        restartCount: 0,
        started,
      })),
    }));
  assert.deepEqual([started([true]).started, started([true]).ready], [true, false]);
  assert.equal(started([true, false]).started, false);
  assert.equal(started([]).started, false);
  assert.deepEqual(toPodInfo(pod({ phase: "Succeeded", conditions: ready }, true)), {
    name: "p",
    ready: false,
    started: false,
    terminating: true,
    labels: { app: "x" },
    phase: "Succeeded",
  });
});
