/**
 * Why a request to the API server got no response, in its one-line message
 * ({@linkcode describeFetchFailure}): Deno's `fetch` throws `TypeError: fetch failed` and hides
 * the reason in its `cause` chain, and a connection refused by the pinned TLS transport
 * (`tls.ts`) reaches fetch only as a closed socket — the transport keeps the real reason.
 *
 * @module
 */

/** What a TLS or socket error code means, in the words client-go's users know. */
const HINTS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT: "certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "certificate signed by unknown authority",
  SELF_SIGNED_CERT_IN_CHAIN: "certificate signed by unknown authority",
  DEPTH_ZERO_SELF_SIGNED_CERT: "certificate signed by unknown authority",
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  ERR_TLS_CERT_ALTNAME_INVALID: "certificate is not valid for the server's name",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** Patterns of messages without a known code (rustls and hyper texts), and their meaning. */
const TEXTS: readonly (readonly [RegExp, string])[] = [
  [
    /UnknownIssuer|unknown ?issuer|unable to (verify|get).*(cert|issuer)/i,
    HINTS.UNABLE_TO_VERIFY_LEAF_SIGNATURE!,
  ],
  [
    /certificate ?required|CertificateRequired/i,
    "the server requires a client certificate (certificate required)",
  ],
  [
    /bad ?certificate|BadCertificate/i,
    "the server rejected the client certificate (bad certificate)",
  ],
  [
    /NotValidForName|not valid for|altname|Hostname\/IP does not match/i,
    HINTS.ERR_TLS_CERT_ALTNAME_INVALID!,
  ],
  [/expired/i, HINTS.CERT_HAS_EXPIRED!],
  [/connection refused|ECONNREFUSED/i, HINTS.ECONNREFUSED!],
  [/timed out|ETIMEDOUT/i, HINTS.ETIMEDOUT!],
];

/** The messages (and codes) of `err` and its `cause` chain, outermost first. */
function chain(err: unknown): string[] {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e);) {
    seen.add(e);
    if (e instanceof Error || (typeof e === "object" && "message" in e)) {
      const { message, code } = e as { message?: unknown; code?: unknown };
      const text = String(message ?? "").split("\n")[0]!;
      parts.push(typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.filter((p) => p !== "");
}

/** The meaning of a failure, from its code or its texts (`undefined`: none known). */
function meaning(err: unknown, texts: readonly string[]): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && HINTS[code] !== undefined) return HINTS[code];
  const all = texts.join(": ");
  return TEXTS.find(([pattern]) => pattern.test(all))?.[1];
}

/**
 * The error a failed request throws, its one-line message naming the cause: `connection
 * refused`, `certificate signed by unknown authority`, `the server requires a client certificate
 * (certificate required)`, … followed by the underlying texts. Errors that are not fetch's
 * network failures (an abort, a `TimeoutError`, an HTTP status) are returned unchanged.
 *
 * @param err What `fetch` (or reading the body) threw.
 * @param connectError Why the pinned transport's last connection failed, when it did: the
 *   request's socket was closed because of it.
 */
export function describeFetchFailure(err: unknown, connectError?: Error): unknown {
  if (!(err instanceof TypeError)) return err;
  const own = chain(err);
  const transport = connectError === undefined ? [] : chain(connectError);
  const primary = connectError ?? err;
  const texts = [...transport, ...own];
  const hint = meaning(primary, transport.length > 0 ? transport : own) ?? meaning(err, own);
  const detail = [...new Set(texts)].join(": ");
  return new Error(hint === undefined ? detail : `${hint}: ${detail}`, { cause: primary });
}
