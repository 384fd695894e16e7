/**
 * The capped reader against real files, devices and FIFOs (no fakes: the cap and the signal are
 * about what open(2) and read(2) do).
 */
import assert from "node:assert/strict";
import {
  CONFIG_FILE_CAP,
  FileTooLarge,
  formatCap,
  readTextCapped,
  readTextCappedSync,
} from "../../lib/files/bounded_read.ts";
import { mkfifo, withDir } from "../fakes/temp_dir.ts";

Deno.test("readTextCapped() reads a file of exactly the cap and refuses one byte more", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f`;
    await Deno.writeTextFile(path, "x".repeat(1000));
    assert.equal(await readTextCapped(path, 1000), "x".repeat(1000));
    assert.equal(readTextCappedSync(path, 1000), "x".repeat(1000));
    const err = await readTextCapped(path, 999).catch((e) => e);
    assert.ok(err instanceof FileTooLarge);
    assert.equal(err.message, `"${path}" is larger than the 999 bytes cap`);
    assert.throws(() => readTextCappedSync(path, 999), FileTooLarge);
  });
});

Deno.test("readTextCapped() stops /dev/zero at the cap instead of reading forever", async () => {
  const err = await readTextCapped("/dev/zero", CONFIG_FILE_CAP).catch((e) => e);
  assert.ok(err instanceof FileTooLarge, String(err));
  assert.equal(err.message, `"/dev/zero" is larger than the 4 MiB cap`);
  assert.throws(() => readTextCappedSync("/dev/zero", 64 * 1024), /64 KiB cap/);
});

Deno.test("readTextCapped() decodes UTF-8 split across read chunks, as readTextFile does", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f`;
    // 65535 ASCII bytes put the 3-byte "€" across the first 64 KiB read.
    const text = "\uFEFF" + "a".repeat(65532) + "€".repeat(30000) + "\n";
    await Deno.writeTextFile(path, text);
    assert.equal(await readTextCapped(path, CONFIG_FILE_CAP), await Deno.readTextFile(path));
    assert.equal(readTextCappedSync(path, CONFIG_FILE_CAP), Deno.readTextFileSync(path));
  });
});

Deno.test("readTextCapped() caps a FIFO whose writer never stops", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/fifo`;
    await mkfifo(path);
    const writer = new Deno.Command("sh", {
      args: ["-c", `cat /dev/zero > "${path}"`],
      stderr: "null",
    }).spawn();
    try {
      await assert.rejects(readTextCapped(path, 256 * 1024), FileTooLarge);
    } finally {
      writer.kill("SIGKILL");
      await writer.status;
    }
  });
});

Deno.test("readTextCapped() of a FIFO without a writer ends when its signal aborts", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/fifo`;
    await mkfifo(path);
    const controller = new AbortController();
    const reason = new Error("stop");
    const read = readTextCapped(path, 1024, controller.signal);
    let settled = false;
    read.catch(() => {}).finally(() => settled = true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, "open(2) of a FIFO without a writer blocks");
    controller.abort(reason);
    assert.equal(await read.catch((e) => e), reason);
    // Release the runtime thread still blocked in open(2), so the test leaks nothing.
    (await Deno.open(path, { write: true })).close();
  });
});

Deno.test("formatCap() prints whole and fractional sizes", () => {
  assert.deepEqual(
    [4 * 1024 * 1024, 64 * 1024, 1536 * 1024, 999, 1536].map(formatCap),
    ["4 MiB", "64 KiB", "1.5 MiB", "999 bytes", "1.5 KiB"],
  );
});

Deno.test("readTextCapped() reads a regular file whatever its signal says; a FIFO not once aborted", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "token");
    const aborted = AbortSignal.abort(new Error("stop"));
    assert.equal(await readTextCapped(`${dir}/f`, 100, aborted), "token");
    await mkfifo(`${dir}/fifo`);
    await assert.rejects(readTextCapped(`${dir}/fifo`, 100, aborted), /stop/);
  });
});

Deno.test("readTextCappedSync() refuses a FIFO instead of blocking the thread signals run on", async () => {
  await withDir(async (dir) => {
    await mkfifo(`${dir}/fifo`);
    assert.throws(
      () => readTextCappedSync(`${dir}/fifo`, 100),
      new Error(`"${dir}/fifo" is a FIFO: only a file that cannot block is read here`),
    );
  });
});
