/**
 * The pace of the floors measured at a round's tasks per second (bench/floor.ts): task i starts
 * no earlier than i/rate s after the first, the rule bench/gocreate's `-rate` follows too.
 *
 * @module
 */

/**
 * Waits until task `i` of a run started at `t0` (`performance.now()`) may start at `rate` tasks
 * per second; at once when `rate` is 0 (flat out) or the turn is already due.
 */
export async function startTurn(t0: number, i: number, rate: number): Promise<void> {
  if (!(rate > 0)) return;
  const wait = t0 + i / rate * 1000 - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
