/** Kubernetes credential files go through the capped reader (lib/files/bounded_read.ts). */
import assert from "node:assert/strict";
import { loadKubeConfig, tokenFromFile } from "../../lib/kube/kubeconfig.ts";
import { ConfigError } from "../../lib/config/layer.ts";
import { FileTooLarge } from "../../lib/files/bounded_read.ts";

Deno.test("kubeconfig: a token file is capped at 64 KiB (/dev/zero fails at once)", () => {
  assert.throws(() => tokenFromFile("/dev/zero"), FileTooLarge);
});

Deno.test("kubeconfig: a kubeconfig over 4 MiB is refused naming the file and the cap", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/config`;
    await Deno.writeTextFile(path, "#".repeat(4 * 1024 * 1024 + 1));
    await assert.rejects(
      () => loadKubeConfig({ KUBECONFIG: path, HOME: dir }, { serviceAccountDir: dir }),
      (err: Error) =>
        err instanceof ConfigError &&
        err.message.includes(`"${path}" is larger than the 4 MiB cap`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubeconfig: the in-cluster CA file is capped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, "t");
    await Deno.symlink("/dev/zero", `${dir}/ca.crt`);
    await assert.rejects(
      () => loadKubeConfig({ KUBERNETES_SERVICE_HOST: "127.0.0.1" }, { serviceAccountDir: dir }),
      (err: Error) => err instanceof ConfigError && /ca\.crt/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
