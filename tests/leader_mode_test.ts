import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { resolveIdentity, resolveNamespace } from "../lib/leader_mode.ts";

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

Deno.test("resolveIdentity() requires a non-empty identity", () => {
  assert.equal(resolveIdentity(config({ identity: "pod-a" })), "pod-a");
  assert.throws(() => resolveIdentity(config()), /^ConfigError: election\.identity: not set/);
});
