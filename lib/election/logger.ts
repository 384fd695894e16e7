/**
 * The logging the elector does: the interface a `@logtape/logtape` logger fits, the silent default,
 * and how a failed lock call is described in log properties.
 *
 * @module
 */
import { KubeError } from "../apimachinery/errors.ts";

/** The logging the elector does; a `@logtape/logtape` logger fits. */
export interface ElectionLogger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: ElectionLogger = { debug() {}, info() {}, warn() {} };

/** Log properties describing a lock error. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof KubeError) {
    return { kind: err.kind, status: err.code, error: err.message };
  }
  return { error: err instanceof Error ? err.message : String(err) };
}
