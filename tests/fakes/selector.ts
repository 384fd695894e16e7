/**
 * Label selectors as the API server reads them (`k=v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
 * `k`, `!k`), for the in-memory fakes.
 *
 * @module
 */
type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

/** Parses a label selector into a predicate. */
export function parseSelector(selector: string): Requirement {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  const reqs: Requirement[] = parts.map((p) => p.trim()).filter((p) => p !== "").map((p) => {
    let m = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(p);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(",").map((v) => v.trim());
      return (l) =>
        op === "in" ? values.includes(l[key] ?? "\0") : !values.includes(l[key] ?? "\0");
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(p);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    if (p.startsWith("!")) return (l) => !(p.slice(1) in l);
    return (l) => p in l;
  });
  return (labels) => reqs.every((r) => r(labels));
}
