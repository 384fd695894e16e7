/**
 * The client configuration and the namespace: what `loadKubeConfig` and `resolveNamespace` read,
 * and the one-line errors when something is missing.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { resolveNamespace } from "../../lib/kube/client.ts";
import { loadKubeConfig } from "../../lib/kube/kubeconfig.ts";

const config = (election: Record<string, unknown> = {}) =>
  loadConfig({ layers: [{ values: { election }, sources: new Map() }] });

Deno.test("resolveNamespace() prefers election.namespace, then the service-account file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/namespace`;
    await Deno.writeTextFile(file, "from-file\n");
    assert.equal(await resolveNamespace(config({ namespace: "ops" }), file), "ops");
    assert.equal(await resolveNamespace(config(), file), "from-file");
    await Deno.writeTextFile(file, "  ");
    await assert.rejects(
      () => resolveNamespace(config(), file),
      (err: Error) =>
        err instanceof ConfigError && /^election\.namespace: not set/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadKubeConfig() names what is missing or malformed in one line", async () => {
  const home = await Deno.makeTempDir();
  try {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { HOME: home },
        /^no Kubernetes credentials: not in a pod \(KUBERNETES_SERVICE_HOST is not set\) and no kubeconfig \(KUBECONFIG is not set and .*\/\.kube\/config does not exist\)$/,
      ],
      [{ HOME: home, KUBECONFIG: `${home}/none` }, /^KUBECONFIG: .*\/none does not exist/],
    ];
    await Deno.writeTextFile(`${home}/broken`, "apiVersion: v1\nclusters: [\n");
    cases.push([
      { HOME: home, KUBECONFIG: `${home}/broken` },
      /^KUBECONFIG: .*\/broken is not a valid kubeconfig: /,
    ]);
    await Deno.writeTextFile(`${home}/empty`, "apiVersion: v1\nkind: Config\n");
    cases.push([
      { HOME: home, KUBECONFIG: `${home}/empty` },
      /^KUBECONFIG: .*\/empty has no current context with a cluster server/,
    ]);
    for (const [env, pattern] of cases) {
      await assert.rejects(() => loadKubeConfig(env), (err: Error) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes("\n"));
        return true;
      }, JSON.stringify(env));
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
