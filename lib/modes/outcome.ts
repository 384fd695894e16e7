/**
 * How a run ends. Every mode returns an {@linkcode Outcome}; `main.ts` alone turns it into the
 * process exit code (its `EXIT_CODES` table, which the README's "Exit codes" section describes).
 *
 * @module
 */

/** How a run ended. */
export type Outcome =
  /** Every input succeeded; a clean shutdown; a one-shot round in which every task ran. */
  | { readonly kind: "ok" }
  /** An input failed; a one-shot round's task was dead or rejected; `status` is not ok. */
  | { readonly kind: "failed" }
  /** A one-shot round passed `tasks.roundDeadline`. */
  | { readonly kind: "roundDeadline" }
  /** A signal stopped a one-shot run (finished results are still printed). */
  | { readonly kind: "interrupted"; readonly signal: "SIGHUP" | "SIGINT" | "SIGTERM" };

/** The outcome `ok`. */
export const OK: Outcome = { kind: "ok" };
/** The outcome `failed`. */
export const FAILED: Outcome = { kind: "failed" };
