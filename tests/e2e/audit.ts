/**
 * Reads the API server's audit log (JSON lines of `audit.k8s.io/v1` Events) to compare what a
 * user really did with what its Role grants: the proof that the chart's Role is exactly what the
 * program needs.
 *
 * A verb is written `<apiGroup>/<resource>:<verb>` (the core group is empty:
 * `/configmaps:deletecollection`).
 *
 * @module
 */
/** Grants that a test may find unused: documented as optional in chart/templates/role.yaml. */
export const OPTIONAL_GRANTS: ReadonlySet<string> = new Set([
  // The lease watch only speeds up failover; polling is the fallback.
  "coordination.k8s.io/leases:watch",
]);

/** The verbs a Role's rules grant, as `<apiGroup>/<resource>:<verb>`. */
export function grantedVerbs(
  rules: readonly { apiGroups?: string[]; resources?: string[]; verbs: string[] }[],
): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) out.add(`${g}/${res}:${v}`);
      }
    }
  }
  return out;
}

/** One audit event, as far as this module reads it. */
interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string };
}

/**
 * The verbs `username` used, from the audit log at `path` (every request, allowed or not: a
 * request the Role forbids still counts as used).
 */
export async function auditedVerbs(path: string, username: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    if (!line.includes(username)) continue;
    const e = JSON.parse(line) as AuditEvent;
    if (e.user?.username !== username || !e.objectRef?.resource || !e.verb) continue;
    const res = e.objectRef.subresource
      ? `${e.objectRef.resource}/${e.objectRef.subresource}`
      : e.objectRef.resource;
    out.add(`${e.objectRef.apiGroup ?? ""}/${res}:${e.verb}`);
  }
  return out;
}
