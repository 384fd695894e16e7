/**
 * What one try of an input produced, and the limits it ran under: shared by the command runner
 * (`lib/engine/exec.ts`) and the HTTP probe (`lib/engine/http_probe.ts`).
 *
 * @module
 */

/** One try of an input. */
export interface Attempt {
  output: string;
  /** The raw output bytes, when `keepBytes` asked for them. */
  bytes?: Uint8Array;
  truncated: boolean;
  exitCode: number | null;
  status: number | null;
  /** Set when the run itself failed (timeout, not found, connection refused…). */
  error?: string;
  /** The failure cannot change on a retry. */
  final?: boolean;
}

/** The limits one try runs under. */
export interface Limits {
  readonly maxOutputBytes: number;
  readonly keepBytes: boolean;
  readonly killGraceMs: number;
  readonly drainMs: number;
  readonly signal: AbortSignal | undefined;
}
