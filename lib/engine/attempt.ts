/**
 * What one try of an input produced, and the limits it ran under: shared by the command runner
 * (`command.ts`), the HTTP probe (`http_probe.ts`) and the retry loop (`exec.ts`) in this folder.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";

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

/** The limits one try runs under, and the clock it reads. */
export interface Limits {
  readonly maxOutputBytes: number;
  readonly keepBytes: boolean;
  readonly killGraceMs: number;
  readonly drainMs: number;
  readonly signal: AbortSignal | undefined;
  /** Times PATH lookups and the rest of an input's timeout left for a regex `expect`. */
  readonly clock: Clock;
  /** The error of a try `signal` stopped, worded from its abort reason (a value, not text). */
  readonly aborted: () => string;
}
