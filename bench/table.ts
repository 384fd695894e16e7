/** One measured value of a benchmark. */
export interface Row {
  name: string;
  value: number | string;
  unit: string;
  note?: string;
}

/** Renders rows as a Markdown table (printed and written to the results file). */
export function renderTable(title: string, rows: readonly Row[]): string {
  const cells = rows.map((r) => [
    r.name,
    typeof r.value === "number" ? formatNumber(r.value) : r.value,
    r.unit,
    r.note ?? "",
  ]);
  const header = ["measure", "value", "unit", "note"];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => "| " + c.map((x, i) => x.padEnd(widths[i]!)).join(" | ") + " |";
  return [
    `## ${title}`,
    "",
    line(header),
    "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |",
    ...cells.map(line),
    "",
  ].join("\n");
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2);
}
