/**
 * The Helm chart end to end on a real kube-apiserver (issue 6): `helm install` into a fresh
 * namespace, the real CronJob → Job → Pod path (kube-controller-manager's job and cronjob
 * controllers create the Pods; this test plays their kubelet and runs each Pod's container as the
 * real program, `main.ts`, with the Pod's env resolved as the kubelet would and a token of the
 * chart's ServiceAccount), the Role's sufficiency and minimality, the guide's kubectl commands,
 * `helm upgrade`, and the `helm test` pod's command.
 *
 * No image runs here: the container command is the image's ENTRYPOINT (`/app/dz-mcall`), and
 * `scripts/deno run main.ts` stands in for it.
 */
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { roundName } from "../../lib/tasks/contract.ts";
import {
  apiErrorMessage,
  createNamespace,
  deleteNamespace,
  e2eTest,
  isApiException,
  rejection,
  setPodReady,
  waitFor,
} from "./harness.ts";
import type { McallProcess } from "./mcall_proc.ts";
import {
  bindPod,
  helmAt,
  kubectlAt,
  ok,
  prepareContainer,
  serviceAccountKubeconfig,
  setPodTerminated,
  startLocal,
} from "./release_pods.ts";
import {
  APP,
  EXTERNAL_CLUSTER,
  helmInstall,
  helmUpgrade,
  LEASE,
  LOCAL_OVERRIDES,
  RELEASE,
} from "./chart_release.ts";

const REPLICAS = 3;
if (EXTERNAL_CLUSTER) {
  console.error(
    "chart e2e: the CronJob → Job → Pod test plays kubelet; skipped on DZ_E2E_KUBECONFIG",
  );
}

type StepFn = () => Promise<void>;
/** A test step without the op/resource sanitizers (client-node keeps connections open). */
function step(t: Deno.TestContext, name: string, fn: StepFn): Promise<boolean> {
  return t.step({ name, fn, sanitizeOps: false, sanitizeResources: false, sanitizeExit: false });
}

async function assertForbidden(what: string, fn: () => Promise<unknown>): Promise<void> {
  const err = await rejection(fn);
  assert(isApiException(err, 403), `${what}: expected 403, got ${apiErrorMessage(err)}`);
}

/** The test pod of `helm test`, from the release's hooks. */
async function helmTestPod(kubeconfig: string, ns: string): Promise<k8s.V1Pod> {
  const out = ok("helm get hooks", await helmAt(kubeconfig, ["get", "hooks", RELEASE, "-n", ns]));
  const pod = parseAllDocuments(out).map((d) => d.toJS() as k8s.V1Pod & { kind?: string })
    .find((o) => o?.kind === "Pod");
  assert(pod, `no test Pod among the hooks:\n${out}`);
  assert.equal(pod.metadata?.annotations?.["helm.sh/hook"], "test");
  return pod;
}

/** Runs the `helm test` pod's container locally (`dz-mcall status -c …`). */
async function runHelmTestCommand(
  kc: k8s.KubeConfig,
  pod: k8s.V1Pod,
  dir: string,
): Promise<{ code: number; stdout: string; proc: McallProcess }> {
  const c = await prepareContainer(kc, pod, dir, LOCAL_OVERRIDES);
  assert.deepEqual(c.args, ["status", "-c", c.localPath("/etc/dz-mcall/mcall.yaml")]);
  const proc = startLocal("helm-test", c);
  const status = await proc.exited;
  return { code: status.code, stdout: proc.stdout, proc };
}

/**
 * The real `helm test`, with this test as the kubelet of its Pod: waits for the Pod helm creates
 * (a new uid: `before-hook-creation` deletes an older one first), binds it, reports it Running,
 * runs its container locally and reports the exit code, which helm turns into its verdict.
 */
async function helmTestAsKubelet(
  kc: k8s.KubeConfig,
  kubeconfigPath: string,
  ns: string,
  dir: string,
  seenUids: Set<string>,
) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${RELEASE}-test-status`;
  const helmRun = helmAt(kubeconfigPath, ["test", RELEASE, "-n", ns, "--timeout", "60s"]);
  let helmDone = false;
  helmRun.finally(() => helmDone = true);
  const pod = await waitFor(async () => {
    if (helmDone) {
      throw new Error(
        `helm test ended before its Pod appeared: ${await helmRun.then((r) => r.stderr)}`,
      );
    }
    try {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      const uid = p.metadata?.uid ?? "";
      return !seenUids.has(uid) && !p.metadata?.deletionTimestamp && p;
    } catch (e) {
      if (isApiException(e, 404)) return undefined;
      throw e;
    }
  }, { timeoutMs: 30_000, message: "the helm test Pod" });
  seenUids.add(pod.metadata?.uid ?? "");
  await bindPod(kc, ns, name);
  await setPodReady(kc, ns, name, false);
  const local = await runHelmTestCommand(kc, pod, dir);
  await setPodTerminated(kc, ns, name, local.code);
  return { ...local, helm: await helmRun };
}

/** Parses kubectl's default table output into its NAME column. */
function tableNames(stdout: string): string[] {
  return stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0] ?? "").filter(Boolean);
}

function forbiddenLines(p: McallProcess): string[] {
  return [
    ...p.lines.map((l) => `${l.message} ${JSON.stringify(l.properties)}`),
    ...p.rawErrors,
  ].filter((l) => /forbidden/i.test(l));
}

e2eTest(
  "chart: helm install, a real CronJob → Job → Pod round as the chart's ServiceAccount, guide commands, upgrade",
  async ({ ns, kc, kubeconfigPath, core, rbac, batch, coordination, t, defer, tempDir }) => {
    const started = Date.now();
    const timings: Record<string, number> = {};
    const mark = (what: string, since: number) => timings[what] = Date.now() - since;

    // A local HTTP endpoint for the GET task: counts hits and holds each response until the gate
    // opens, which keeps the round running while the guide's commands look at it.
    let hits = 0;
    let openGate!: () => void;
    const gate = new Promise<void>((r) => openGate = r);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async () => {
        hits++;
        await gate;
        return new Response("pong\n");
      },
    );
    defer(async () => {
      openGate();
      await server.shutdown();
    });
    const pingUrl = `http://127.0.0.1:${server.addr.port}/ping`;
    const tasks = [
      { name: "hello-1", type: "cmd", input: "echo 'Hello from task 1'" },
      { name: "hello-2", type: "cmd", input: "echo 'Hello from task 2'" },
      { name: "ping", type: "get", input: pingUrl, expect: "pong", timeout: "30s" },
    ];

    let t0 = Date.now();
    await helmInstall(kubeconfigPath, ns, [
      `replicas=${REPLICAS}`,
      // Far from now, so the real cronjob controller never starts a round of its own here.
      "schedule=0 0 1 1 *",
    ], tasks);
    mark("helm install", t0);

    const signingKey = async () =>
      (await core.readNamespacedSecret({ name: `${RELEASE}-signing-key`, namespace: ns }))
        .data?.["signing-key"];
    const keyAtInstall = await signingKey();

    await step(
      t,
      "the release's objects exist; the Role has no secrets; no cluster RBAC",
      async () => {
        const sa = await core.readNamespacedServiceAccount({ name: RELEASE, namespace: ns });
        assert.equal(sa.metadata?.annotations?.["meta.helm.sh/release-name"], RELEASE);

        const role = await rbac.readNamespacedRole({ name: RELEASE, namespace: ns });
        const rules = role.rules ?? [];
        assert(rules.length > 0, "the Role has rules");
        for (const r of rules) {
          assert(!(r.resources ?? []).some((x) => x === "secrets" || x === "*"), JSON.stringify(r));
          assert(!(r.verbs ?? []).includes("*"), JSON.stringify(r));
          assert(!(r.apiGroups ?? []).includes("*"), JSON.stringify(r));
        }
        const binding = await rbac.readNamespacedRoleBinding({ name: RELEASE, namespace: ns });
        assert.deepEqual({ ...binding.roleRef }, {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "Role",
          name: RELEASE,
        });
        assert.deepEqual(binding.subjects?.map((s) => [s.kind, s.name, s.namespace]), [
          ["ServiceAccount", RELEASE, ns],
        ]);

        assert.match(keyAtInstall ?? "", /^[A-Za-z0-9+/=]+$/);
        assert.equal(
          atob(atob(keyAtInstall ?? "")).length,
          32,
          "32 random bytes, base64 in the file",
        );

        const cm = await core.readNamespacedConfigMap({ name: `${RELEASE}-config`, namespace: ns });
        const mcall = parse(cm.data?.["mcall.yaml"] ?? "");
        assert.equal(mcall.tasks.app, APP);
        assert.equal(mcall.election.leaseName, LEASE);
        assert.deepEqual(
          mcall.request.inputs.map((i: { name: string }) => i.name),
          ["hello-1", "hello-2", "ping"],
        );

        const cj = await batch.readNamespacedCronJob({ name: RELEASE, namespace: ns });
        assert.equal(cj.spec?.schedule, "0 0 1 1 *");
        assert.equal(cj.spec?.jobTemplate.spec?.parallelism, REPLICAS);

        const manifest = ok(
          "helm get manifest",
          await helmAt(kubeconfigPath, ["get", "manifest", RELEASE, "-n", ns]),
        );
        const kinds = parseAllDocuments(manifest).map((d) => (d.toJS() as { kind?: string })?.kind)
          .filter(Boolean).sort();
        assert.deepEqual(kinds, [
          "ConfigMap",
          "CronJob",
          "Role",
          "RoleBinding",
          "Secret",
          "ServiceAccount",
        ]);
        const fromRelease = (o: k8s.V1ObjectMeta | undefined) =>
          o?.annotations?.["meta.helm.sh/release-namespace"] === ns;
        const crs = (await rbac.listClusterRole()).items.filter((r) => fromRelease(r.metadata));
        const crbs = (await rbac.listClusterRoleBinding()).items.filter((r) =>
          fromRelease(r.metadata) || r.subjects?.some((s) => s.namespace === ns)
        );
        assert.deepEqual([...crs, ...crbs].map((o) => o.metadata?.name), []);
      },
    );

    // The chart's ServiceAccount, with a token of its own (as the pods get).
    const saDir = await tempDir();
    const sa = await serviceAccountKubeconfig(kc, ns, RELEASE, `${saDir}/sa.kubeconfig`);

    await step(
      t,
      "the chart's token cannot read Secrets nor act in another namespace",
      async () => {
        const saCore = sa.kc.makeApiClient(k8s.CoreV1Api);
        const saLeases = sa.kc.makeApiClient(k8s.CoordinationV1Api);
        // Control: the token itself is valid (a 403 below is RBAC, not a bad token's 401).
        await saCore.listNamespacedConfigMap({ namespace: ns });
        await assertForbidden(
          "get secret",
          () => saCore.readNamespacedSecret({ name: `${RELEASE}-signing-key`, namespace: ns }),
        );
        await assertForbidden("list secrets", () => saCore.listNamespacedSecret({ namespace: ns }));

        const other = await createNamespace(kc, "chart-other");
        defer(() => deleteNamespace(kc, other));
        await core.createNamespacedConfigMap({
          namespace: other,
          body: { metadata: { name: "x" }, data: { a: "b" } },
        });
        await assertForbidden(
          "list configmaps elsewhere",
          () => saCore.listNamespacedConfigMap({ namespace: other }),
        );
        await assertForbidden(
          "get configmap elsewhere",
          () => saCore.readNamespacedConfigMap({ name: "x", namespace: other }),
        );
        await assertForbidden("create configmap elsewhere", () =>
          saCore.createNamespacedConfigMap({
            namespace: other,
            body: { metadata: { name: "y" } },
          }));
        await assertForbidden(
          "get lease elsewhere",
          () => saLeases.readNamespacedLease({ name: LEASE, namespace: other }),
        );
        await assertForbidden("create lease elsewhere", () =>
          saLeases.createNamespacedLease({
            namespace: other,
            body: { metadata: { name: LEASE }, spec: { holderIdentity: "x" } },
          }));
        await assertForbidden(
          "list pods elsewhere",
          () => saCore.listNamespacedPod({ namespace: other }),
        );
      },
    );

    const testPod = await helmTestPod(kubeconfigPath, ns);
    const testPodUids = new Set<string>();
    /** `helm test`, with this test as its Pod's kubelet, the Pod's files under `dir`. */
    const helmTest = async (dir: string) =>
      await helmTestAsKubelet(kc, kubeconfigPath, ns, `${await tempDir()}/${dir}`, testPodUids);
    await step(
      t,
      "helm test fails before any round (no holder, no summary)",
      async () => {
        const r = await helmTest("before");
        assert.equal(r.code, 1, `${r.stdout}\n${r.proc.tail()}`);
        assert.match(r.stdout, /^unhealthy: .*holder "", 0 round summaries/);
        assert.notEqual(r.helm.code, 0, `helm test must fail:\n${r.helm.stdout}`);
      },
    );

    const job = `${RELEASE}-m${Math.floor(Date.now() / 1000)}`;
    const procs: McallProcess[] = [];
    const podNames: string[] = [];
    defer(async () => {
      openGate();
      await Promise.all(procs.map((p) => p.stop()));
    });

    await step(
      t,
      "kubectl create job --from=cronjob: the Job controller creates the Pods",
      async () => {
        t0 = Date.now();
        // The guide's command (README "Install the chart"), verbatim but for the name.
        ok(
          "kubectl create job",
          await kubectlAt(kubeconfigPath, ns, ["create", "job", `--from=cronjob/${RELEASE}`, job]),
        );
        const j = await batch.readNamespacedJob({ name: job, namespace: ns });
        assert.equal(j.metadata?.ownerReferences?.[0]?.kind, "CronJob");
        assert.equal(j.metadata?.ownerReferences?.[0]?.name, RELEASE);
        const pods = await waitFor(async () => {
          const l = await core.listNamespacedPod({
            namespace: ns,
            labelSelector: `batch.kubernetes.io/job-name=${job}`,
          });
          return l.items.length === REPLICAS && l.items;
        }, { timeoutMs: 30_000, message: `${REPLICAS} Pods of Job ${job}` });
        mark("job → pods", t0);
        for (const p of pods) {
          assert.equal(p.metadata?.ownerReferences?.[0]?.kind, "Job");
          assert.equal(p.spec?.serviceAccountName, RELEASE);
          podNames.push(p.metadata?.name ?? "");
        }
        podNames.sort();
        assert.deepEqual(
          pods.map((p) => p.metadata?.labels?.["batch.kubernetes.io/job-completion-index"]).sort(),
          ["0", "1", "2"],
        );
      },
    );

    await step(
      t,
      "as their kubelet: Running + Ready, one program per Pod; the round completes",
      async () => {
        t0 = Date.now();
        for (const name of podNames) {
          await bindPod(kc, ns, name);
          await setPodReady(kc, ns, name, true);
        }
        const dir = await tempDir();
        for (const name of podNames) {
          const pod = await core.readNamespacedPod({ name, namespace: ns });
          const c = await prepareContainer(kc, pod, `${dir}/${name}`, LOCAL_OVERRIDES);
          // The env the kubelet resolves from the chart's fieldRefs and $(VAR) expansion.
          assert.equal(c.env.NAMESPACE, ns);
          assert.equal(c.env.HOSTNAME, name);
          assert.equal(c.env.LEADER_ELECTION, "true");
          assert.equal(c.env.MCALL_TASKS_ROUND, job);
          assert.equal(
            c.env.MCALL_TASKS_WORKER_SELECTOR,
            `app.kubernetes.io/name=${APP},app.kubernetes.io/instance=${RELEASE},` +
              `batch.kubernetes.io/job-name=${job}`,
          );
          assert.deepEqual(c.args, ["-c", c.localPath("/etc/dz-mcall/mcall.yaml")]);
          assert.equal(
            await Deno.readTextFile(c.env.MCALL_TASKS_SIGNING_KEY_FILE ?? ""),
            atob(keyAtInstall ?? ""),
          );
          procs.push(startLocal(name, c));
        }

        // The GET task has reached the endpoint: the round is running.
        await waitFor(() => hits > 0, { timeoutMs: 45_000, message: "the GET task to run" })
          .catch((e) => {
            const tails = procs.map((p) => `${p.name}:\n${p.tail()}`).join("\n");
            throw new Error(`${(e as Error).message}\n${tails}`);
          });
        mark("pods ready → GET task running", t0);
        const leaderLine = procs.flatMap((p) => p.events("started-leading"));
        assert.equal(leaderLine.length, 1, "exactly one pod started leading");
        const leader = String(leaderLine[0]?.properties.identity);
        assert(podNames.includes(leader), `${leader} is one of the Pods`);

        await step(t, "guide commands while the round runs", async () => {
          const holder = await leaseHolder();
          assert.equal(holder, leader);
          const rows = await taskRows();
          assert.equal(rows.length, tasks.length, JSON.stringify(rows));
          const ping = rows.find((r) => r.name.endsWith("-002"));
          assert.equal(ping?.processed, "false", "the held GET task is not processed yet");
          await assertAssignments();
        });

        openGate();
        t0 = Date.now();
        const codes = await Promise.all(procs.map(async (p) => (await p.exited).code));
        mark("gate open → all programs exited", t0);
        for (const [i, p] of procs.entries()) {
          assert.equal(codes[i], 0, `${p.name} exit code\n${p.tail()}`);
          assert.deepEqual(forbiddenLines(p), [], `${p.name} logged a forbidden request`);
          assert(p.lines.some((l) => /^Round .* is over: "?ok"?$/.test(l.message)), p.tail());
        }
        // The kubelet reports the containers' exits; the Job controller counts them.
        for (const [i, name] of podNames.entries()) {
          await setPodTerminated(kc, ns, name, codes[i] ?? -1);
        }

        const summary = await core.readNamespacedConfigMap({
          name: roundName(APP, job),
          namespace: ns,
        });
        assert.equal(summary.data?.phase, "complete");
        assert.equal(summary.data?.total, String(tasks.length));
        assert.equal(summary.data?.succeeded, String(tasks.length));
        assert.equal(summary.data?.leader, leader);
        const cms = (await core.listNamespacedConfigMap({
          namespace: ns,
          labelSelector: `app=${APP},task=true,round-id=${job}`,
        })).items;
        assert.equal(cms.length, tasks.length);
        // The Job's name already starts with the fullname: it is not repeated (issue 9).
        assert.deepEqual(
          cms.map((c) => c.metadata?.name).sort(),
          tasks.map((_, i) => `${job}-00${i}`),
        );
        assert.equal(summary.metadata?.name, `${job.replace(`${APP}-`, `${APP}-round-`)}`);
        for (const cm of cms) {
          assert.equal(cm.metadata?.labels?.state, "succeeded", String(cm.metadata?.name));
          assert.equal(cm.data?.errorCode, "0", String(cm.metadata?.name));
          assert.notEqual(
            cm.metadata?.labels?.["assigned-to"],
            leader,
            "3 ready pods: leader keeps none",
          );
        }
        assert.equal(hits, 1, "the GET task ran exactly once");
      },
    );

    await step(t, "the Job completes and the CronJob records it", async () => {
      t0 = Date.now();
      await waitFor(async () => {
        const j = await batch.readNamespacedJob({ name: job, namespace: ns });
        return j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True");
      }, { timeoutMs: 30_000, message: `Job ${job} Complete` });
      const j = await batch.readNamespacedJob({ name: job, namespace: ns });
      assert.equal(j.status?.succeeded, REPLICAS);
      assert.equal(j.status?.failed ?? 0, 0);
      mark("pods terminated → Job Complete", t0);
      await waitFor(async () => {
        const cj = await batch.readNamespacedCronJob({ name: RELEASE, namespace: ns });
        return cj.status?.lastSuccessfulTime !== undefined && (cj.status.active ?? []).length === 0;
      }, { timeoutMs: 30_000, message: "CronJob status.lastSuccessfulTime" });
      mark("Job Complete → CronJob lastSuccessfulTime", t0);
    });

    await step(t, "guide commands after the round", async () => {
      const holder = await leaseHolder();
      // Every pod exited and the leader released the Lease (releaseOnCancel).
      assert.equal(holder, "");
      const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: ns });
      assert.equal(lease.spec?.holderIdentity ?? "", "");
      const rows = await taskRows();
      assert.equal(rows.length, tasks.length);
      for (const r of rows) {
        assert.equal(r.processed, "true", r.name);
        assert(!Number.isNaN(Date.parse(r.processedAt)), `${r.name} processed-at ${r.processedAt}`);
      }
      await assertAssignments();
    });

    await step(t, "helm test (dz-mcall status) passes after the round", async () => {
      const r = await helmTest("after");
      assert.equal(r.code, 0, `${r.stdout}\n${r.proc.tail()}`);
      assert.match(r.stdout, /^ok: .*holder "", 1 round summaries/);
      assert.equal(r.helm.code, 0, `helm test:\n${r.helm.stderr}\n${r.helm.stdout}`);
      assert.match(r.helm.stdout, /Phase:\s+Succeeded/);
      // The same command straight from the rendered hook (no helm involved) agrees.
      const direct = await runHelmTestCommand(kc, testPod, `${await tempDir()}/direct`);
      assert.equal(direct.code, 0, direct.stdout);
    });

    await step(
      t,
      "helm upgrade of schedule changes the CronJob, keeps the signing key",
      async () => {
        t0 = Date.now();
        await helmUpgrade(kubeconfigPath, ns, ["schedule=*/7 * * * *"]);
        mark("helm upgrade", t0);
        const cj = await batch.readNamespacedCronJob({ name: RELEASE, namespace: ns });
        assert.equal(cj.spec?.schedule, "*/7 * * * *");
        assert.equal(await signingKey(), keyAtInstall, "the signing key survives the upgrade");
      },
    );

    await step(
      t,
      "helm uninstall leaves none of our objects (owned by the release's config ConfigMap)",
      async () => {
        const configName = `${RELEASE}-config`;
        const configUid = (await core.readNamespacedConfigMap({ name: configName, namespace: ns }))
          .metadata?.uid;
        const owners = (o: k8s.V1ObjectMeta | undefined) =>
          (o?.ownerReferences ?? []).map((r) => `${r.kind}/${r.name}/${r.uid}`);
        const ours = (await core.listNamespacedConfigMap({
          namespace: ns,
          labelSelector: `app=${APP}`,
        })).items;
        assert.equal(ours.length, tasks.length + 1, "the round's tasks and its summary");
        for (const cm of ours) {
          assert.deepEqual(owners(cm.metadata), [`ConfigMap/${configName}/${configUid}`]);
        }
        const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: ns });
        assert.deepEqual(owners(lease.metadata), [`ConfigMap/${configName}/${configUid}`]);

        t0 = Date.now();
        ok("helm uninstall", await helmAt(kubeconfigPath, ["uninstall", RELEASE, "-n", ns]));
        // The garbage collector deletes what the owner's deletion left behind.
        await waitFor(async () => {
          const left = (await core.listNamespacedConfigMap({
            namespace: ns,
            labelSelector: `app=${APP}`,
          })).items.map((c) => c.metadata?.name);
          const leases = (await coordination.listNamespacedLease({ namespace: ns })).items
            .map((l) => l.metadata?.name);
          return left.length === 0 && leases.length === 0;
        }, { timeoutMs: 60_000, message: "no ConfigMap or Lease of ours left after uninstall" });
        mark("helm uninstall → our objects gone", t0);
      },
    );

    console.error(
      `chart e2e timings (ms): ${JSON.stringify({ ...timings, total: Date.now() - started })}`,
    );

    // ----- helpers over this test's state
    /** The guide's `kubectl get lease … -o jsonpath={.spec.holderIdentity}`. */
    async function leaseHolder() {
      return ok(
        "kubectl get lease",
        await kubectlAt(kubeconfigPath, ns, [
          "get",
          "lease",
          LEASE,
          "-o",
          "jsonpath={.spec.holderIdentity}",
        ]),
      );
    }

    async function taskRows() {
      const out = ok(
        "kubectl get configmaps (processed)",
        await kubectlAt(kubeconfigPath, ns, [
          "get",
          "configmaps",
          "-l",
          "app=dz-mcall,task=true",
          "-o",
          'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.metadata.annotations.processed}{"\\t"}{.metadata.annotations.processed-at}{"\\n"}{end}',
        ]),
      );
      return out.split("\n").filter(Boolean).map((l) => {
        const [name = "", processed = "", processedAt = ""] = l.split("\t");
        return { name, processed, processedAt };
      });
    }

    /** `kubectl get configmaps -l app=dz-mcall,task=true,assigned-to=<pod>` for every pod. */
    async function assertAssignments() {
      const all = (await core.listNamespacedConfigMap({
        namespace: ns,
        labelSelector: "app=dz-mcall,task=true",
      })).items;
      const seen: string[] = [];
      for (const pod of podNames) {
        const names = tableNames(ok(
          "kubectl get configmaps (assigned-to)",
          await kubectlAt(kubeconfigPath, ns, [
            "get",
            "configmaps",
            "-l",
            `app=dz-mcall,task=true,assigned-to=${pod}`,
          ]),
        ));
        const expected = all.filter((c) => c.metadata?.labels?.["assigned-to"] === pod)
          .map((c) => c.metadata?.name ?? "");
        assert.deepEqual(names.sort(), expected.sort(), `tasks of ${pod}`);
        seen.push(...names);
      }
      assert.deepEqual(seen.sort(), all.map((c) => c.metadata?.name ?? "").sort());
    }
  },
  // This test is the kubelet of the release's Pods: on a real cluster (DZ_E2E_KUBECONFIG) the
  // real kubelet would fight it over their status, so it does not run there.
  { controllers: true, timeoutMs: 150_000, ignore: EXTERNAL_CLUSTER },
);

e2eTest(
  "chart: mode=deployment, helm upgrade of interval rolls the pod template and the config",
  async ({ ns, kubeconfigPath, core, kc }) => {
    const deployments = kc.makeApiClient(k8s.AppsV1Api);
    await helmInstall(kubeconfigPath, ns, ["mode=deployment", "interval=5m"]);
    const read = async () => {
      const d = await deployments.readNamespacedDeployment({ name: RELEASE, namespace: ns });
      const cm = await core.readNamespacedConfigMap({ name: `${RELEASE}-config`, namespace: ns });
      return {
        checksum: d.spec?.template.metadata?.annotations?.["checksum/config"],
        replicas: d.spec?.replicas,
        interval: parse(cm.data?.["mcall.yaml"] ?? "").tasks.interval,
      };
    };
    const before = await read();
    assert.match(before.checksum ?? "", /^[0-9a-f]{64}$/);
    assert.equal(before.interval, "5m");
    assert.equal(before.replicas, REPLICAS);
    await assert.rejects(
      () =>
        kc.makeApiClient(k8s.BatchV1Api).readNamespacedCronJob({ name: RELEASE, namespace: ns }),
      (e) => isApiException(e, 404),
    );

    await helmUpgrade(kubeconfigPath, ns, ["interval=7m"]);
    const after = await read();
    assert.equal(after.interval, "7m");
    assert.match(after.checksum ?? "", /^[0-9a-f]{64}$/);
    assert.notEqual(after.checksum, before.checksum, "the pod template's config checksum changed");
    assert.equal(after.replicas, REPLICAS);
  },
);
