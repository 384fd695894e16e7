/**
 * kubeconfig impersonation (`as`, `as-uid`, `as-groups`, `as-user-extra`) as the headers client-go
 * sends on every request and watch ({@linkcode impersonationHeaders}; client-go
 * `transport/round_trippers.go`, `ImpersonatingRoundTripper`).
 *
 * @module
 */

/** Bytes allowed in a header name as they are (RFC 7230 `tchar`), except `%`. */
const TOKEN = /^[!#$&'*+\-.^_`|~0-9A-Za-z]$/;

/**
 * An `Impersonate-Extra-` key as client-go writes it: every byte that is not a header-name token
 * character, and `%`, is percent-encoded (`%2F` for `/`), so the API server can decode it.
 */
export function escapeExtraKey(key: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(key)) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && TOKEN.test(ch)
      ? ch
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * The Impersonate-* headers of a kubeconfig user, in client-go's order: `Impersonate-User`,
 * `Impersonate-Uid`, one `Impersonate-Group` per group, one `Impersonate-Extra-<key>` per value.
 *
 * @param user The user's map from the kubeconfig.
 * @returns The headers (empty: no impersonation).
 * @throws {Error} One line when a field has the wrong shape, or groups, uid or extras are set
 *   without `as` (client-go refuses to impersonate without a user name).
 */
export function impersonationHeaders(user: Record<string, unknown>): [string, string][] {
  const as = user.as ?? "";
  const uid = user["as-uid"] ?? "";
  const groups = user["as-groups"] ?? [];
  const extra = user["as-user-extra"] ?? {};
  if (typeof as !== "string") throw new Error("as is not a string");
  if (typeof uid !== "string") throw new Error("as-uid is not a string");
  if (!Array.isArray(groups)) throw new Error("as-groups is not a list");
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
    throw new Error("as-user-extra is not a map");
  }
  const headers: [string, string][] = [];
  if (as !== "") headers.push(["Impersonate-User", as]);
  if (uid !== "") headers.push(["Impersonate-Uid", uid]);
  for (const group of groups) headers.push(["Impersonate-Group", String(group)]);
  for (const [key, values] of Object.entries(extra as Record<string, unknown>)) {
    for (const value of Array.isArray(values) ? values : [values]) {
      headers.push([`Impersonate-Extra-${escapeExtraKey(key)}`, String(value)]);
    }
  }
  if (as === "" && headers.length > 0) {
    throw new Error("as-groups, as-uid or as-user-extra need as (the user to impersonate)");
  }
  return headers;
}
