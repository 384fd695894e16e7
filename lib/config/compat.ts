/**
 * Compatibility with the original mcall's users: the nearest known name for a typo, and the
 * original's keys that are accepted but do nothing here.
 *
 * @module
 */

/** A partial configuration tree (as `lib/config/load.ts` merges it). */
type RawLayer = Record<string, unknown>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The closest of `candidates` to `name` by edit distance (ties: the first). */
export function nearest(name: string, candidates: readonly string[]): string {
  let best = candidates[0] ?? "";
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * Keys the original mcall accepted that do nothing here: removed before validation, each named
 * in a warning, so an original `mcall.yaml` runs unchanged. Keys it never had stay errors.
 */
export function dropOriginalKeys(merged: RawLayer, warn: (message: string) => void): RawLayer {
  const out = { ...merged };
  if (isRecord(out.response) && out.response.es !== undefined) {
    const { es: _es, ...response } = out.response;
    out.response = response;
    warn("response.es: the original's Elasticsearch output is not supported; ignored");
  }
  const inputs = isRecord(out.request) ? out.request.inputs : undefined;
  if (Array.isArray(inputs)) {
    const paths = inputs.flatMap((input, i) =>
      isRecord(input) ? ["id", "pswd"].filter((k) => k in input).map((k) => `[${i}].${k}`) : []
    );
    if (paths.length > 0) {
      const shown = paths.slice(0, 5).join(", ") + (paths.length > 5 ? ", …" : "");
      warn(`request.inputs${shown}: the original's id/pswd do nothing here; ignored`);
    }
  }
  return out;
}
