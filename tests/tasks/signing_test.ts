import assert from "node:assert/strict";
import {
  HmacSigner,
  loadSigningKey,
  requireSigningKey,
  signatureProblem,
  signerFromConfig,
} from "../../lib/tasks/signing.ts";

const fields = { name: "dz-mcall-r-000", round: "r", epoch: 2, spec: '{"input":"x"}' };
const key = (text: string) => new TextEncoder().encode(text);

Deno.test("HmacSigner.sign() gives a stable hex HMAC-SHA256", async () => {
  const signer = await HmacSigner.fromKey(key("k"));
  const sig = await signer.sign(fields);
  assert.match(sig, /^[0-9a-f]{64}$/);
  assert.equal(await signer.sign({ ...fields }), sig);
});

Deno.test("HmacSigner.verify() rejects tampered fields, wrong keys and garbage", async () => {
  const signer = await HmacSigner.fromKey(key("k"));
  const sig = await signer.sign(fields);
  assert.equal(await signer.verify(fields, sig), true);
  assert.equal(await signer.verify({ ...fields, spec: '{"input":"y"}' }, sig), false);
  assert.equal(await signer.verify({ ...fields, epoch: 3 }, sig), false);
  assert.equal(await signer.verify({ ...fields, name: "other" }, sig), false);
  assert.equal(await (await HmacSigner.fromKey(key("other"))).verify(fields, sig), false);
  assert.equal(await signer.verify(fields, ""), false);
  assert.equal(await signer.verify(fields, "zz"), false);
});

Deno.test("HmacSigner.fromKey() refuses an empty key", async () => {
  await assert.rejects(() => HmacSigner.fromKey(new Uint8Array()), RangeError);
});

Deno.test("loadSigningKey() trims the file and explains a missing or empty one", async () => {
  assert.deepEqual(await loadSigningKey("k", () => Promise.resolve("secret\n")), key("secret"));
  await assert.rejects(() => loadSigningKey("/dev/null"), /the file is empty/);
  await assert.rejects(() => loadSigningKey("/nonexistent/key"), /does not exist/);
});

Deno.test("signerFromConfig() requires a key unless unsigned tasks are allowed", async () => {
  await assert.rejects(
    () => signerFromConfig({ signingKeyFile: "", insecureUnsignedTasks: false }),
    /tasks.signingKeyFile/,
  );
  assert.equal(
    await signerFromConfig({ signingKeyFile: "", insecureUnsignedTasks: true }),
    undefined,
  );
});

Deno.test("signatureProblem() names what is wrong with a task's signature", async () => {
  const signer = await HmacSigner.fromKey(key("k"));
  const task = { name: fields.name, round: fields.round, epoch: 2, specText: fields.spec };
  const signature = await signer.sign(fields);
  assert.equal(await signatureProblem(signer, { ...task, signature }), undefined);
  assert.equal(await signatureProblem(signer, { ...task, signature: "" }), "unsigned task");
  assert.equal(
    await signatureProblem(signer, { ...task, epoch: undefined, signature }),
    "missing or invalid leader-epoch annotation",
  );
  assert.equal(await signatureProblem(signer, { ...task, epoch: 3, signature }), "bad signature");
});

Deno.test("requireSigningKey() throws without a key unless unsigned tasks are allowed", () => {
  assert.throws(
    () => requireSigningKey(false, { insecureUnsignedTasks: false }),
    /^TypeError: Cannot run tasks without a signing key: set tasks\.signingKeyFile/,
  );
  requireSigningKey(false, { insecureUnsignedTasks: true });
  requireSigningKey(true, { insecureUnsignedTasks: false });
});
