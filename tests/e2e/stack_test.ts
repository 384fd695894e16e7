/**
 * First e2e tests: prove the stack (real kube-apiserver from tests/testenv + client-node under
 * Deno) with the API features dz-mcall relies on.
 */

import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { apiErrorMessage, e2eTest, isApiException, rejection, waitFor } from "./harness.ts";

function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (msg === undefined) assert.deepStrictEqual(actual, expected);
  else assert.deepStrictEqual(actual, expected, msg);
}

e2eTest(
  "lease: replace with a stale resourceVersion is a 409 conflict",
  async ({ ns, coordination }) => {
    const created = await coordination.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: "leader" },
        spec: { holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: new k8s.V1MicroTime() },
      },
    });
    const staleRV = created.metadata?.resourceVersion;
    assert(staleRV, "created lease has a resourceVersion");

    const updated = await coordination.replaceNamespacedLease({
      name: "leader",
      namespace: ns,
      body: { ...created, spec: { ...created.spec, holderIdentity: "b" } },
    });
    assertEquals(updated.spec?.holderIdentity, "b");
    assert(updated.metadata?.resourceVersion !== staleRV, "resourceVersion moved on");

    const err = await rejection(() =>
      coordination.replaceNamespacedLease({
        name: "leader",
        namespace: ns,
        body: { ...created, spec: { ...created.spec, holderIdentity: "c" } },
      })
    );
    assert(isApiException(err, 409), `expected 409, got ${apiErrorMessage(err)}`);
    const now = await coordination.readNamespacedLease({ name: "leader", namespace: ns });
    assertEquals(now.spec?.holderIdentity, "b", "the stale write changed nothing");
  },
);

e2eTest(
  "configmaps: list by label selector returns exactly the matching set",
  async ({ ns, core }) => {
    const specs: Array<[string, Record<string, string>]> = [
      ["a1", { app: "mcall", tier: "web" }],
      ["a2", { app: "mcall", tier: "worker" }],
      ["a3", { app: "mcall", tier: "web" }],
      ["b1", { app: "other", tier: "web" }],
      ["c1", {}],
    ];
    for (const [name, labels] of specs) {
      await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name, labels }, data: { k: name } },
      });
    }
    const names = async (labelSelector: string) =>
      (await core.listNamespacedConfigMap({ namespace: ns, labelSelector })).items
        .map((c) => c.metadata?.name ?? "").sort();

    assertEquals(await names("app=mcall"), ["a1", "a2", "a3"]);
    assertEquals(await names("app=mcall,tier=web"), ["a1", "a3"]);
    assertEquals(await names("tier in (web),app!=mcall"), ["b1"]);
    // (a real cluster publishes kube-root-ca.crt in every namespace, without labels)
    assertEquals((await names("!app")).filter((n) => n !== "kube-root-ca.crt"), ["c1"]);
    assertEquals(await names("app=nothing"), []);
  },
);

e2eTest(
  "configmaps: a watch delivers the MODIFIED event with the new data",
  async ({ ns, core, kc }) => {
    const cm = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "watched", labels: { w: "1" } }, data: { v: "1" } },
    });
    const events: Array<{ type: string; obj: k8s.V1ConfigMap }> = [];
    let watchEnded: unknown = "not ended";
    const ctrl = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { resourceVersion: cm.metadata?.resourceVersion ?? "0", labelSelector: "w=1" },
      (type, obj) => void events.push({ type, obj: obj as k8s.V1ConfigMap }),
      (err) => void (watchEnded = err),
    );
    try {
      await core.replaceNamespacedConfigMap({
        name: "watched",
        namespace: ns,
        body: { ...cm, data: { v: "2", extra: "yes" } },
      });
      const ev = await waitFor(() => events.find((e) => e.type === "MODIFIED"), {
        timeoutMs: 10_000,
        message: `MODIFIED event (got ${
          JSON.stringify(events.map((e) => e.type))
        }, watch ended: ${watchEnded})`,
      });
      assertEquals(ev.obj.metadata?.name, "watched");
      assertEquals(ev.obj.data, { v: "2", extra: "yes" });
      assertEquals(
        events.filter((e) => e.type === "ADDED").length,
        0,
        "watch started after creation",
      );
    } finally {
      ctrl.abort();
    }
  },
);

e2eTest(
  "rbac: a get-only token is refused create with a clear 403",
  async ({ ns, core, withServiceAccount }) => {
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "readable" }, data: { x: "1" } },
    });
    const sa = await withServiceAccount("reader", [{
      apiGroups: [""],
      resources: ["configmaps"],
      verbs: ["get"],
    }]);
    assertEquals(sa.username, `system:serviceaccount:${ns}:reader`);
    const kubeconfig = await Deno.readTextFile(sa.kubeconfigPath);
    assert(
      kubeconfig.includes("token:") && !kubeconfig.includes("client-key-data"),
      "token-only kubeconfig",
    );

    const asSA = sa.kc.makeApiClient(k8s.CoreV1Api);
    const got = await asSA.readNamespacedConfigMap({ name: "readable", namespace: ns });
    assertEquals(got.data, { x: "1" }, "get is allowed");

    const err = await rejection(() =>
      asSA.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "nope" } } })
    );
    assert(isApiException(err, 403), `expected 403, got ${apiErrorMessage(err)}`);
    const msg = apiErrorMessage(err);
    assert(msg.includes(`cannot create resource "configmaps"`), msg);
    assert(msg.includes(sa.username), msg);

    const listErr = await rejection(() => asSA.listNamespacedConfigMap({ namespace: ns }));
    assert(isApiException(listErr, 403), "list is not granted either");
    assert(
      apiErrorMessage(listErr).includes(`cannot list resource "configmaps"`),
      apiErrorMessage(listErr),
    );
  },
);

e2eTest(
  "apiserver: stop, unreachable, start on the same port, same kubeconfig works",
  async (env) => {
    const { harness, ns, kc } = env;
    await env.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "survives" }, data: { a: "b" } },
    });

    await harness.stopApiServer();
    const fresh = harness.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const down = await rejection(() =>
      fresh.readNamespacedConfigMap({ name: "survives", namespace: ns })
    );
    assert(!isApiException(down), `expected a connection error, got ${apiErrorMessage(down)}`);

    await harness.startApiServer();
    assertEquals(
      harness.kubeConfig().getCurrentCluster()?.server,
      harness.server,
      "same server URL",
    );
    const again = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedConfigMap({
      name: "survives",
      namespace: ns,
    });
    assertEquals(again.data, { a: "b" }, "data kept in etcd across the restart");
  },
  { needsControl: true },
);

e2eTest("controllers: a Job creates a Pod", async ({ ns, batch, core }) => {
  await batch.createNamespacedJob({
    namespace: ns,
    body: {
      metadata: { name: "hello" },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { app: "hello" } },
          spec: {
            restartPolicy: "Never",
            containers: [{ name: "c", image: "busybox", command: ["true"] }],
          },
        },
      },
    },
  });
  const pod = await waitFor(async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=hello" });
    return pods.items[0];
  }, { timeoutMs: 30_000, message: "a Pod created by the Job controller" });
  assertEquals(pod.metadata?.ownerReferences?.[0]?.kind, "Job");
  assertEquals(pod.metadata?.ownerReferences?.[0]?.name, "hello");
  assertEquals(pod.spec?.containers[0]?.image, "busybox");
}, { controllers: true });

e2eTest(
  "fake kubelet: Ready pod, NotReady, Terminating, removed when the process exits",
  async (env) => {
    const { ns, core } = env;
    const child = new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" })
      .spawn();
    env.defer(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    });
    const pod = await env.startFakePod({
      name: "worker-0",
      labels: { app: "mcall", role: "worker" },
      child,
    });

    const ready = (p: k8s.V1Pod) => p.status?.conditions?.find((c) => c.type === "Ready")?.status;
    let p = await pod.get();
    assertEquals(p.status?.phase, "Running");
    assertEquals(ready(p), "True");
    assertEquals(p.spec?.nodeName, "dz-e2e-fake-node");
    assertEquals(p.metadata?.uid, pod.uid);
    const listed = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: "app=mcall,role=worker",
    });
    assertEquals(listed.items.map((i) => i.metadata?.name), ["worker-0"]);

    await pod.setReady(false);
    p = await pod.get();
    assertEquals(ready(p), "False");
    assertEquals(p.status?.phase, "Running");

    await pod.terminate({ gracePeriodSeconds: 30 });
    p = await pod.get();
    assert(p.metadata?.deletionTimestamp, "deletionTimestamp set");
    assertEquals(p.metadata?.deletionGracePeriodSeconds, 30);

    child.kill("SIGTERM");
    await pod.done;
    const gone = await rejection(() => pod.get());
    assert(
      isApiException(gone, 404),
      `pod deleted after the process exited: ${apiErrorMessage(gone)}`,
    );
  },
);
