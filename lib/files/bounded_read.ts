/**
 * Reads a text file with a size cap, and — for the async form — an end on a signal.
 *
 * Every file the program reads because configuration named it goes through here: `-c`, the
 * bearer-token file, the service-account files, kubeconfig files and the files they name. Without
 * a cap `-c /dev/zero` grows memory by ~1 GiB/s; without a signal a FIFO with no writer blocks
 * `open(2)` in a runtime thread that SIGTERM never reaches.
 *
 * @module
 */

/** Bytes in a mebibyte. */
const MiB = 1024 * 1024;

/** Cap of the config file (`-c`, `MCALL_CONFIG`): 4 MiB is ~100,000 inputs of 40 bytes. */
export const CONFIG_FILE_CAP: number = 4 * MiB;

/**
 * Cap of a kubeconfig file and of the CA, certificate and key files it names: a CA bundle is
 * ~250 KiB, a kubeconfig with a few dozen contexts and embedded certificates well under 1 MiB.
 */
export const KUBE_FILE_CAP: number = 4 * MiB;

/** Cap of a bearer-token or service-account file (a projected token is ~1 KiB). */
export const TOKEN_FILE_CAP: number = 64 * 1024;

/** Read size: a 4 MiB file is 64 reads; each read's bytes are copied out at their length. */
const CHUNK = 64 * 1024;

/** A file longer than its cap; nothing of it is returned. */
export class FileTooLarge extends Error {
  /**
   * @param path The file.
   * @param capBytes The cap it went over.
   */
  constructor(readonly path: string, readonly capBytes: number) {
    super(`${JSON.stringify(path)} is larger than the ${formatCap(capBytes)} cap`);
    this.name = "FileTooLarge";
  }
}

/** A size for messages: `4 MiB`, `64 KiB`, `1.5 MiB`, or bytes below 1 KiB. */
export function formatCap(bytes: number): string {
  if (bytes >= MiB) return `${Number((bytes / MiB).toFixed(1))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads `path` as UTF-8 (invalid sequences replaced, a leading BOM kept), as
 * `Deno.readTextFile` does, but never more than `capBytes + 1` bytes.
 *
 * Invariant: memory held is at most the file's bytes plus one chunk (a regular file larger than
 * the cap is refused from its `stat` size before any read), and a read that can block (a FIFO,
 * a device, a socket: anything but a regular file) settles as soon as `signal` aborts, even while
 * `open(2)` or `read(2)` blocks (the blocked runtime thread is abandoned; the process exits soon
 * after). A regular file is read in full whatever the signal says: its reads do not block.
 *
 * @throws {FileTooLarge} When the file holds more than `capBytes` bytes.
 * @throws {unknown} `signal.reason` when `signal` aborts first (not for a regular file); the
 *   `Deno.errors` of stat/open/read.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileTooLarge, readTextCapped } from "./bounded_read.ts";
 * await assert.rejects(readTextCapped("/dev/zero", 1024), FileTooLarge);
 * ```
 */
export async function readTextCapped(
  path: string,
  capBytes: number,
  signal?: AbortSignal,
): Promise<string> {
  // stat(2) never blocks on a FIFO. A regular file is read in full whatever the signal says
  // (its reads cannot block); anything else (FIFO, device, socket) is raced against the signal.
  const info = await Deno.stat(path);
  if (info.isFile && info.size > capBytes) throw new FileTooLarge(path, capBytes);
  const guard = info.isFile ? undefined : signal;
  guard?.throwIfAborted();
  let file: Deno.FsFile | undefined;
  let aborted = false;
  let onAbort: (() => void) | undefined;
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => {
      aborted = true;
      reject(guard!.reason);
    };
    guard?.addEventListener("abort", onAbort, { once: true });
  });
  // Keep an unobserved rejection from counting as unhandled when the read wins.
  abort.catch(() => {});
  const race = <T>(op: Promise<T>): Promise<T> => {
    // A late result of an abandoned op is dropped (and a late file closed below).
    op.catch(() => {});
    return guard ? Promise.race([op, abort]) : op;
  };
  try {
    const opening = Deno.open(path, { read: true });
    opening.then((f) => {
      if (aborted) f.close();
    }, () => {});
    file = await race(opening);
    const read = new CappedChunks(path, capBytes);
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      const n = await race(file.read(buf));
      if (n === null) break;
      read.add(buf, n);
    }
    return read.text();
  } finally {
    if (onAbort) guard?.removeEventListener("abort", onAbort);
    if (!aborted) file?.close();
  }
}

/**
 * {@linkcode readTextCapped} without a signal, for synchronous callers (kubeconfig loading).
 *
 * Invariant: a synchronous read blocks the only thread signal listeners run on, so a FIFO or a
 * socket — whose open or read can wait for ever — is refused before it is opened.
 *
 * @throws {FileTooLarge} When the file holds more than `capBytes` bytes.
 * @throws {Error} When `path` is a FIFO or a socket; the `Deno.errors` of stat/open/read.
 */
export function readTextCappedSync(path: string, capBytes: number): string {
  const kind = Deno.statSync(path);
  if (kind.isFifo || kind.isSocket) {
    throw new Error(
      `${JSON.stringify(path)} is a ${kind.isFifo ? "FIFO" : "socket"}: only a file that cannot ` +
        "block is read here",
    );
  }
  const file = Deno.openSync(path, { read: true });
  try {
    const info = file.statSync();
    if (info.isFile && info.size > capBytes) throw new FileTooLarge(path, capBytes);
    const read = new CappedChunks(path, capBytes);
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      const n = file.readSync(buf);
      if (n === null) break;
      read.add(buf, n);
    }
    return read.text();
  } finally {
    file.close();
  }
}

/** What the async and the sync reader collected, refused as soon as it passes the cap. */
class CappedChunks {
  readonly #path: string;
  readonly #capBytes: number;
  readonly #chunks: Uint8Array[] = [];
  #total = 0;

  constructor(path: string, capBytes: number) {
    this.#path = path;
    this.#capBytes = capBytes;
  }

  /** Keeps the first `n` bytes of `buf` (a copy: `buf` is reused for the next read). */
  add(buf: Uint8Array, n: number): void {
    this.#total += n;
    if (this.#total > this.#capBytes) throw new FileTooLarge(this.#path, this.#capBytes);
    this.#chunks.push(buf.slice(0, n));
  }

  /** Everything kept, as one UTF-8 string. */
  text(): string {
    return decode(this.#chunks, this.#total);
  }
}

/** The chunks as one UTF-8 string. */
function decode(chunks: readonly Uint8Array[], total: number): string {
  if (chunks.length === 1) return new TextDecoder("utf-8", { ignoreBOM: true }).decode(chunks[0]);
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(all);
}
