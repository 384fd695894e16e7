/**
 * Output capture for `runInput`: collects the chunks of one or more streams up to a byte cap,
 * decoding each stream as UTF-8 so the cut never splits a character. Bytes past the cap are
 * dropped (the caller keeps reading, so the child never blocks).
 *
 * Also the one rule for cutting UTF-8 at a byte cap ({@linkcode utf8CutAt}), which
 * {@linkcode capUtf8} applies to text (task ConfigMaps, log lines and Events cap theirs with it).
 *
 * @module
 */

/** Default cap on captured output per input (`maxOutputBytes`). */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * Where to cut `bytes` so that at most `maxBytes` remain and no UTF-8 character is split: all of
 * them when they fit, else `maxBytes` moved back to the start of the character it falls in.
 *
 * @param bytes UTF-8 bytes (they may start in the middle of a character).
 * @param maxBytes The cap, not negative.
 * @returns The number of bytes to keep.
 *
 * @example Usage
 * ```ts
 * import { utf8CutAt } from "./capture.ts";
 * import assert from "node:assert/strict";
 * assert.equal(utf8CutAt(new TextEncoder().encode("aé"), 2), 1);
 * ```
 */
export function utf8CutAt(bytes: Uint8Array, maxBytes: number): number {
  if (bytes.length <= maxBytes) return bytes.length;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return end;
}

/**
 * Cuts text to at most `maxBytes` of UTF-8 without splitting a character.
 *
 * @param text The text.
 * @param maxBytes The cap in bytes.
 * @returns The text kept, and whether anything was cut.
 *
 * @example Usage
 * ```ts
 * import { capUtf8 } from "./capture.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(capUtf8("aé", 2), { text: "a", cut: true });
 * ```
 */
export function capUtf8(text: string, maxBytes: number): { text: string; cut: boolean } {
  const bytes = new TextEncoder().encode(text);
  const end = utf8CutAt(bytes, maxBytes);
  if (end === bytes.length) return { text, cut: false };
  return { text: new TextDecoder().decode(bytes.subarray(0, end)), cut: true };
}

/** Collects output up to a byte cap, decoding each stream as UTF-8 without splitting characters. */
export class Capture {
  #remaining: number;
  #parts: string[] = [];
  /** The kept bytes, in arrival order, when asked for (for `-e std|url`). */
  #chunks: Uint8Array[] | undefined;
  truncated = false;
  /**
   * @param maxBytes The cap.
   * @param keepBytes Also keep the raw bytes (what `-e` encodes: binary output survives).
   */
  constructor(maxBytes: number, keepBytes = false) {
    this.#remaining = maxBytes;
    if (keepBytes) this.#chunks = [];
  }
  /** A writer for one stream; call the returned function with no chunk at end of stream. */
  stream(): (chunk?: Uint8Array) => void {
    // Made on the first chunk: most commands print nothing on one stream or both.
    let decoder: TextDecoder | undefined;
    return (chunk) => {
      if (chunk === undefined) {
        const rest = decoder?.decode();
        if (rest) this.#parts.push(rest);
        return;
      }
      decoder ??= new TextDecoder();
      if (this.truncated) return;
      const take = utf8CutAt(chunk, this.#remaining);
      if (take < chunk.length) {
        this.truncated = true;
        this.#remaining = 0;
      } else {
        this.#remaining -= take;
      }
      if (take > 0) this.#chunks?.push(chunk.slice(0, take));
      const text = decoder.decode(chunk.subarray(0, take), { stream: !this.truncated });
      if (text) this.#parts.push(text);
    };
  }
  text(): string {
    return this.#parts.join("");
  }
  /** The raw bytes kept, or undefined unless the capture was made with `keepBytes`. */
  bytes(): Uint8Array | undefined {
    if (this.#chunks === undefined) return undefined;
    const out = new Uint8Array(this.#chunks.reduce((n, c) => n + c.byteLength, 0));
    let offset = 0;
    for (const c of this.#chunks) {
      out.set(c, offset);
      offset += c.byteLength;
    }
    return out;
  }
}
