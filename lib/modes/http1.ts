/**
 * One HTTP/1.1 exchange on one connection, for serve mode's own server (`http_listen.ts`): read
 * the request head within a deadline, hand the body out as a stream, write the response, close.
 *
 * The parser is strict on purpose: whatever a lenient server would have to guess at (a bare LF, a
 * folded header, Content-Length beside Transfer-Encoding, two Content-Lengths, a transfer coding
 * other than `chunked`, a target that is not a path) is answered 400 and the connection closed.
 * Every connection carries exactly one request (`connection: close` on every response), so there is
 * no keep-alive state to time out and no pipelined request to misread.
 *
 * @module
 */
import { HttpError } from "./http_body.ts";

/** A parsed request head. */
export interface RequestHead {
  readonly method: string;
  /** The request target exactly as sent (origin-form: starts with `/`). */
  readonly target: string;
  readonly headers: Headers;
  /** Body framing: a byte count, chunked, or none. */
  readonly body:
    | { readonly kind: "none" }
    | { readonly kind: "length"; readonly length: number }
    | {
      readonly kind: "chunked";
    };
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, space and tab (no CR, LF, NUL or other controls).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Parses a request head (request line and header lines, without the blank line that ends it).
 * The bytes are read as Latin-1, so each byte is one character; the target is re-read as UTF-8.
 *
 * @throws {HttpError} 400 (or 505 for another HTTP version) naming what is wrong.
 */
export function parseHead(head: Uint8Array): RequestHead {
  const text = latin1(head);
  const lines = text.split("\r\n");
  for (const line of lines) {
    if (line.includes("\r") || line.includes("\n")) bad("a bare CR or LF inside the head");
  }
  const m = /^([^ ]+) ([^ ]+) (HTTP\/\d\.\d)$/.exec(lines[0]!);
  if (!m || !TOKEN.test(m[1]!)) bad("request line: expected METHOD SP /path SP HTTP/1.1");
  const [, method, rawTarget, version] = m;
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new HttpError(505, `request line: ${version} is not supported (use HTTP/1.1)`);
  }
  if (!rawTarget!.startsWith("/")) bad("request target: expected a path starting with /");
  let target: string;
  try {
    target = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(rawTarget!, (c) => c.charCodeAt(0)),
    );
  } catch {
    bad("request target: not UTF-8");
  }
  const headers = new Headers();
  const contentLengths: string[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(" ") || line.startsWith("\t")) bad("header: folded lines are refused");
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      bad(`header: malformed line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) bad(`header ${name}: control characters in the value`);
    if (name.toLowerCase() === "content-length") contentLengths.push(value);
    headers.append(name, value);
  }
  if (!headers.has("host")) bad("header Host: required by HTTP/1.1");
  if (contentLengths.length > 1 || headers.get("host")!.includes(",")) {
    bad("header: Content-Length or Host given more than once");
  }
  const te = headers.get("transfer-encoding");
  if (te !== null) {
    // A body framed two ways is how requests are smuggled past a proxy: refuse, never pick one.
    if (contentLengths.length) bad("header: both Transfer-Encoding and Content-Length");
    if (te.toLowerCase() !== "chunked" || version === "HTTP/1.0") {
      bad(`header Transfer-Encoding: ${JSON.stringify(te)} (only chunked is accepted)`);
    }
    return { method: method!, target: target!, headers, body: { kind: "chunked" } };
  }
  if (contentLengths.length) {
    if (!/^\d{1,15}$/.test(contentLengths[0]!)) {
      bad(`header Content-Length: ${JSON.stringify(contentLengths[0])} is not a byte count`);
    }
    const length = Number(contentLengths[0]);
    if (length > 0) {
      return { method: method!, target: target!, headers, body: { kind: "length", length } };
    }
  }
  return { method: method!, target: target!, headers, body: { kind: "none" } };
}

function bad(message: string): never {
  throw new HttpError(400, message);
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/**
 * Buffered reads from a connection. Every read goes through {@linkcode ConnReader.read}, which
 * rejects once the connection is closed (that is how a deadline ends a read: by closing).
 */
export class ConnReader {
  #buf = new Uint8Array(0);
  #scratch = new Uint8Array(16 * 1024);
  constructor(private readonly conn: Deno.Conn) {}

  /** Buffered bytes not yet consumed. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Reads more bytes into the buffer; false at end of stream. */
  async fill(): Promise<boolean> {
    const n = await this.conn.read(this.#scratch);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(this.#scratch.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** Takes up to `max` buffered bytes (reading once if none are buffered); null at the end. */
  async take(max: number): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.fill())) return null;
    const out = this.#buf.slice(0, max);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /**
   * Reads up to and including the first `delimiter`, returning what precedes it.
   *
   * @throws {HttpError} 431 (400 for a body part) when more than `max` bytes arrive without it;
   *   400 when the stream ends first.
   */
  async until(
    delimiter: "\r\n\r\n" | "\r\n",
    max: number,
    what = "request head",
  ): Promise<Uint8Array> {
    const d = new TextEncoder().encode(delimiter);
    for (;;) {
      const at = indexOf(this.#buf, d);
      if (at > max) {
        throw new HttpError(
          what === "request head" ? 431 : 400,
          `${what} larger than ${max} bytes`,
        );
      }
      if (at >= 0) {
        const out = this.#buf.slice(0, at);
        this.#buf = this.#buf.subarray(at + d.length);
        return out;
      }
      if (this.#buf.length > max) {
        throw new HttpError(
          what === "request head" ? 431 : 400,
          `${what} larger than ${max} bytes`,
        );
      }
      if (!(await this.fill())) throw new HttpError(400, "connection ended inside the request");
    }
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The request body as a stream of the bytes its framing says (chunked decoded). Pulling the first
 * chunk calls `onFirstPull` (to send `100 Continue`); the end of the body calls `onEnd`.
 *
 * @param maxChunkLine Longest chunk-size line or trailer section.
 */
export function bodyStream(
  reader: ConnReader,
  framing: RequestHead["body"],
  hooks: { onFirstPull(): Promise<void>; onEnd(): void },
  maxChunkLine = 4096,
): ReadableStream<Uint8Array> | null {
  if (framing.kind === "none") {
    hooks.onEnd();
    return null;
  }
  let pulled = false;
  let left = framing.kind === "length" ? framing.length : 0;
  let finished = false;
  const end = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    finished = true;
    controller.close();
    hooks.onEnd();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      if (!pulled) {
        pulled = true;
        await hooks.onFirstPull();
      }
      if (framing.kind === "chunked" && left === 0) {
        const line = latin1(await reader.until("\r\n", maxChunkLine, "chunk size line"));
        const size = /^([0-9a-fA-F]{1,8})(?:[ \t]*;.*)?$/.exec(line);
        if (!size) throw new HttpError(400, `body: malformed chunk size ${JSON.stringify(line)}`);
        left = parseInt(size[1]!, 16);
        if (left === 0) {
          // Trailer lines, then the empty line that ends the body; trailers are read and dropped.
          for (let seen = 0;;) {
            const trailer = await reader.until("\r\n", maxChunkLine, "chunked trailer");
            if (trailer.length === 0) break;
            seen += trailer.length;
            if (seen > maxChunkLine) throw new HttpError(431, "body: chunked trailer too large");
          }
          return end(controller);
        }
      }
      const bytes = await reader.take(left);
      if (bytes === null) {
        throw new HttpError(400, "body: the connection ended before the body did");
      }
      left -= bytes.length;
      controller.enqueue(bytes);
      if (left === 0 && framing.kind === "length") return end(controller);
      if (left === 0 && framing.kind === "chunked") {
        const crlf = await reader.until("\r\n", 2, "chunk end");
        if (crlf.length !== 0) throw new HttpError(400, "body: chunk not followed by CRLF");
      }
    },
  });
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/**
 * The bytes of a complete response: status line, headers, `content-length`, `connection: close`,
 * and the body unless `head` (a HEAD request gets the headers a GET would, and no body).
 */
export async function responseBytes(res: Response, head: boolean): Promise<Uint8Array> {
  const body = new Uint8Array(await res.arrayBuffer());
  let text = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
  for (const [name, value] of res.headers) {
    if (name === "content-length" || name === "connection" || name === "transfer-encoding") {
      continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  text += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const start = new TextEncoder().encode(text);
  if (head) return start;
  const out = new Uint8Array(start.length + body.length);
  out.set(start);
  out.set(body, start.length);
  return out;
}

/** Writes all of `bytes` (a closed connection rejects). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
