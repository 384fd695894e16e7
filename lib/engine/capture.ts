/**
 * Output capture for `runInput`: collects the chunks of one or more streams up to a byte cap,
 * decoding each stream as UTF-8 so the cut never splits a character. Bytes past the cap are
 * dropped (the caller keeps reading, so the child never blocks).
 *
 * @module
 */

/** Default cap on captured output per input (`maxOutputBytes`). */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

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
  get full(): boolean {
    return this.truncated;
  }
  /** A writer for one stream; call the returned function with no chunk at end of stream. */
  stream(): (chunk?: Uint8Array) => void {
    const decoder = new TextDecoder();
    return (chunk) => {
      if (chunk === undefined) {
        const rest = decoder.decode();
        if (rest) this.#parts.push(rest);
        return;
      }
      if (this.truncated) return;
      let take = chunk.length;
      if (take > this.#remaining) {
        take = this.#remaining;
        while (take > 0 && (chunk[take]! & 0xc0) === 0x80) take--;
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
