/**
 * Request bodies for serve mode: read with a byte limit enforced while the body streams in, and
 * an error type that carries its own HTTP status.
 *
 * @module
 */

/** A request error with its own status (413, 405) and headers. */
export class HttpError extends Error {
  /**
   * @param status The HTTP status to answer.
   * @param message One line, the response body.
   * @param headers Extra response headers (e.g. `allow`).
   */
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Reads a body as UTF-8 text, at most `max` bytes: the count is checked as each chunk arrives,
 * so a chunked body without Content-Length never sits in memory beyond the limit.
 */
export async function readBodyText(req: Request, max: number): Promise<string> {
  const tooLarge = () => new HttpError(413, `body larger than ${max} bytes`);
  if (Number(req.headers.get("content-length") ?? "0") > max) throw tooLarge();
  if (req.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
