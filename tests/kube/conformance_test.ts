/**
 * Conformance against kubectl: every kubeconfig variant of conformance_cases.ts is loaded by our
 * loader and by `kubectl config view --minify --flatten`, then both send a live request (ours:
 * `JsonApi`; kubectl: `get configmaps`) to recording HTTPS servers on 127.0.0.1 / ::1
 * (tests/kube/recorder). The observations — server, CA, client certificate, namespace, and what
 * the server saw: which server, path, SNI, client certificate subject, Authorization,
 * Impersonate-* and proxy tunnels — must be equal, or match the case's documented difference.
 * Prints the table of cases (ours / kubectl).
 */
import assert from "node:assert/strict";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";
import { JsonApi } from "../../lib/kube/requests.ts";
import { KubeConnection } from "../../lib/kube/client.ts";
import { CASES } from "./conformance_cases.ts";
import { makeSuitePki, type Observation, recording, type Suite } from "./conformance_fixture.ts";
import { Recorder } from "./recorder.ts";

/** kubectl from scripts/k8s-tools.sh (the pinned version the chart tests use). */
async function kubectlPath(): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [new URL("../../scripts/k8s-tools.sh", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return `${new TextDecoder().decode(out.stdout).trim()}/kubectl`;
}

const decode = (data: unknown) =>
  typeof data === "string"
    ? new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)))
    : undefined;

/** Drops what is undefined, so the two sides compare on what they have. */
function clean(o: Observation): Observation {
  return JSON.parse(JSON.stringify(o));
}

Deno.test("conformance: our kubeconfig loader and client against kubectl on ≥ 40 variants", async () => {
  const root = await Deno.makeTempDir({ prefix: "kubeconformance-" });
  const pki = await makeSuitePki(root);
  const main = await Recorder.start({
    cert: pki.server.certFile,
    key: pki.server.keyFile,
    proxy: true,
  });
  const v6 = await Recorder.start({
    cert: pki.server.certFile,
    key: pki.server.keyFile,
    listen: "[::1]:0",
  });
  const named = await Recorder.start({ cert: pki.named.certFile, key: pki.named.keyFile });
  const recorders = { main, v6, named };
  const kubectl = await kubectlPath();
  const table: string[] = [];
  const failures: string[] = [];
  try {
    assert.ok(CASES.length >= 40, `${CASES.length} cases`);
    for (const c of CASES) {
      const dir = `${root}/${c.name}`;
      const suite: Suite = {
        pki,
        main: main.url,
        v6: `https://${v6.listen}`,
        named: named.url,
        proxy: `http://${main.proxy}`,
        dir,
      };
      await Deno.mkdir(dir, { recursive: true });
      for (const [name, file] of Object.entries(c.files(suite))) {
        await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]*$/, ""), { recursive: true });
        const text = typeof file === "string" ? file : file.text;
        await Deno.writeTextFile(
          `${dir}/${name}`,
          text,
          typeof file === "string" ? {} : { mode: 0o755 },
        );
      }
      const env: Record<string, string> = { HOME: dir, PATH: Deno.env.get("PATH") ?? "" };
      const listed = c.kubeconfig ?? ["config"];
      Object.assign(env, c.env?.(suite) ?? {});
      if (listed.length > 0) env.KUBECONFIG = listed.map((f) => `${dir}/${f}`).join(":");
      const saDir = `${dir}/serviceaccount`;
      if (c.pod) {
        await Deno.mkdir(saDir);
        await Deno.writeTextFile(`${saDir}/token`, "sa-token");
        await Deno.writeTextFile(`${saDir}/ca.crt`, pki.ca.cert);
        env.KUBERNETES_SERVICE_HOST = "127.0.0.1";
        env.KUBERNETES_SERVICE_PORT = new URL(main.url).port;
      }

      // Ours.
      const ours: Observation = { ok: false };
      let ourError = "";
      const oursSeen = await recording(recorders, async () => {
        try {
          const kc = await loadKubeConfig(env, { serviceAccountDir: saDir });
          Object.assign(ours, {
            server: kc.server,
            ca: kc.caCerts[0],
            cert: kc.cert,
            namespace: kc.namespace ?? "default",
          });
          using conn = new KubeConnection(kc);
          await new JsonApi(conn).request(
            "GET",
            `/api/v1/namespaces/${kc.namespace ?? "default"}/configmaps?limit=500`,
          );
          ours.ok = true;
        } catch (err) {
          ourError = (err as Error).message;
        }
      });
      Object.assign(ours, oursSeen);

      // kubectl.
      const theirs: Observation = { ok: false };
      let theirError = "";
      const run = (args: string[]) =>
        new Deno.Command(kubectl, { args, env, clearEnv: true, stdout: "piped", stderr: "piped" })
          .output();
      const theirsSeen = await recording(recorders, async () => {
        const view = await run(["config", "view", "--minify", "--flatten", "-o", "json"]);
        if (view.success) {
          const doc = JSON.parse(new TextDecoder().decode(view.stdout));
          const cluster = doc.clusters?.[0]?.cluster ?? {};
          const user = doc.users?.[0]?.user ?? {};
          Object.assign(theirs, {
            server: String(cluster.server ?? "").replace(/\/+$/, ""),
            ca: decode(cluster["certificate-authority-data"]),
            cert: decode(user["client-certificate-data"]),
            namespace: doc.contexts?.[0]?.context?.namespace ?? "default",
          });
        }
        const get = await run([
          "get",
          "configmaps",
          "-o",
          "name",
          "--request-timeout=10s",
          `--cache-dir=${dir}/.kube-cache`,
        ]);
        theirs.ok = get.success;
        if (!get.success) {
          theirError = new TextDecoder().decode(get.stderr).trim().split("\n").at(-1)!;
        }
      });
      Object.assign(theirs, theirsSeen);

      const a = clean(ours);
      const b = clean(theirs);
      // A side that failed is compared on failing: what it loaded before failing differs in
      // detail (kubectl views a broken config partially) and is not the contract.
      const same = a.ok === b.ok && (!a.ok || JSON.stringify(a) === JSON.stringify(b));
      let verdict: string;
      if (c.differs === undefined) {
        verdict = same ? "same" : "DIFFERENT";
        if (!same) {
          failures.push(
            `${c.name}:\n  ours    ${JSON.stringify(a)} ${ourError}\n  kubectl ${
              JSON.stringify(b)
            } ${theirError}`,
          );
        }
      } else {
        const match = (o: Observation, want: Partial<Observation>) =>
          Object.entries(want).every(([k, v]) =>
            JSON.stringify(o[k as keyof Observation]) === JSON.stringify(v)
          );
        const ok = match(a, c.differs.ours) && match(b, c.differs.kubectl);
        verdict = ok ? `differs as documented: ${c.differs.why}` : "UNEXPECTED";
        if (!ok) {
          failures.push(
            `${c.name} (documented difference not seen): ours ${
              JSON.stringify(a)
            } ${ourError}; kubectl ${JSON.stringify(b)} ${theirError}`,
          );
        }
      }
      const side = (o: Observation, err: string) =>
        o.ok
          ? `ok ${o.request?.target ?? "-"} ${o.request?.authorization.join(",") || "no auth"}${
            o.request?.client ? ` cert ${o.request.client}` : ""
          }`
          : `refused (${err.slice(0, 60)})`;
      table.push(`| ${c.name} | ${side(a, ourError)} | ${side(b, theirError)} | ${verdict} |`);
    }
    console.log(["| case | ours | kubectl | |", "|---|---|---|---|", ...table].join("\n"));
    assert.deepEqual(failures, []);
  } finally {
    await main.close();
    await v6.close();
    await named.close();
    await Deno.remove(root, { recursive: true });
  }
});
