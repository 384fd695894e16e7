/**
 * Measures whole processes for the benchmarks: wall time (from spawn to exit, this process's
 * monotonic clock) and peak resident memory (GNU time's maximum RSS, when /usr/bin/time is
 * there), and helpers to compare a program with its reference pair by pair.
 *
 * @module
 */

/** One process run. */
export interface ProcessSample {
  wallMs: number;
  /** Peak RSS in MiB, or NaN without GNU time. */
  peakRssMiB: number;
  code: number;
  stdout: string;
}

const GNU_TIME = "/usr/bin/time";
let gnuTime: boolean | undefined;

function hasGnuTime(): boolean {
  if (gnuTime === undefined) {
    try {
      gnuTime = Deno.statSync(GNU_TIME).isFile;
    } catch {
      gnuTime = false;
    }
  }
  return gnuTime;
}

/** Options of {@linkcode measureProcess}. */
export interface MeasureOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Written to the child's stdin. */
  stdin?: string;
}

/**
 * Runs `argv` once and measures it. The child's stdout is kept (for checks), stderr inherited.
 *
 * @throws {Error} When the process exits non-zero.
 */
export async function measureProcess(
  argv: readonly string[],
  opts: MeasureOptions = {},
): Promise<ProcessSample> {
  const timed = hasGnuTime();
  const rssFile = timed ? await Deno.makeTempFile({ prefix: "dz-bench-rss-" }) : "";
  const [program, ...args] = timed ? [GNU_TIME, "-f", "%M", "-o", rssFile, ...argv] : argv;
  const started = performance.now();
  const child = new Deno.Command(program!, {
    args,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const out = await child.output();
  const wallMs = performance.now() - started;
  let peakRssMiB = NaN;
  if (timed) {
    const text = await Deno.readTextFile(rssFile);
    await Deno.remove(rssFile);
    peakRssMiB = Number(/(\d+)\s*$/.exec(text.trim())?.[1] ?? NaN) / 1024;
  }
  if (out.code !== 0) throw new Error(`${argv.join(" ")} exited with ${out.code}`);
  return { wallMs, peakRssMiB, code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Samples of several commands measured in turn, round after round, so load hits all alike. */
export async function interleaved(
  commands: Record<string, () => Promise<ProcessSample>>,
  runs: number,
): Promise<Record<string, ProcessSample[]>> {
  const out: Record<string, ProcessSample[]> = {};
  for (const name of Object.keys(commands)) out[name] = [];
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of Object.entries(commands)) out[name]!.push(await run());
  }
  return out;
}

/** Median of the ratios a[i] / b[i] of samples taken in the same round. */
export function pairedRatio(
  a: readonly ProcessSample[],
  b: readonly ProcessSample[],
  field: "wallMs" | "peakRssMiB" = "wallMs",
): number {
  return median(a.map((s, i) => s[field] / b[i]![field]));
}

/** Rounds for the tables. */
export const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** "PASS" or "MISS by …" against a goal `value ≤ limit`. */
export function verdict(value: number, limit: number, unit = ""): string {
  if (Number.isNaN(value)) return "not measured";
  return value <= limit
    ? `PASS (goal ≤ ${limit}${unit})`
    : `MISS by ${round(value - limit, 2)}${unit} (goal ≤ ${limit}${unit})`;
}

/** "PASS" or "MISS by …" against a goal `value ≥ limit`. */
export function verdictAtLeast(value: number, limit: number, unit = ""): string {
  if (Number.isNaN(value)) return "not measured";
  return value >= limit
    ? `PASS (goal ≥ ${limit}${unit})`
    : `MISS by ${round(limit - value, 2)}${unit} (goal ≥ ${limit}${unit})`;
}
