/**
 * Keeps many short commands from starving the event loop, which is what made fast commands look
 * timed out at high worker counts (5,000 × `true` at `-worker 1000`: 963 false "timed out after
 * 10s", the event loop blocked for up to 7.5 s at a time, ~1,000 exited children waiting).
 *
 * The cause: `Deno.Command#spawn()` is synchronous, 1–5 ms each on a loaded machine. A pool of
 * 1,000 workers spawns 1,000 children in one go, and each finished child's continuation spawns
 * the next one in the same turn, so the loop spends seconds spawning while the exit statuses of
 * children that already finished wait in the queue and their timeout timers fire first.
 *
 * The fix has two parts:
 * - {@linkcode spawnTurn}: at most {@linkcode SPAWN_BURST} spawns per event-loop turn; later
 *   callers wait for the next turn (a macrotask), so exits and timers are handled in between and
 *   the loop never blocks for more than a burst. An input's timeout starts after its spawn.
 * - {@linkcode hasExited}: when a timeout fires, a child that is already a zombie (exited, not yet
 *   reaped by the runtime) did not time out; its status is on the way.
 *
 * @module
 */

/** Most `spawn()` calls in one event-loop turn. */
const SPAWN_BURST = 16;

let burst = 0;
let nextTurn: Promise<void> | undefined;

/**
 * Resolves when the caller may spawn: at once for the first {@linkcode SPAWN_BURST} callers of a
 * turn, else on a later turn. Call it right before a synchronous `spawn()`.
 */
export async function spawnTurn(): Promise<void> {
  while (burst >= SPAWN_BURST) await nextTurn;
  if (burst++ === 0) {
    // The first spawn of a turn schedules the turn's end: then the count starts again.
    // setTimeout(…, 0) here marks an event-loop turn, not a span of time: it must run on the
    // real loop even under a fake clock (which would hold every later spawn until advanced), so
    // this is the one timer outside lib/time/ (tests/layout_test.ts allows exactly this file).
    nextTurn = new Promise<void>((resolve) =>
      setTimeout(() => {
        burst = 0;
        resolve();
      }, 0)
    );
  }
}

/**
 * True when `pid` has exited and waits to be reaped (a zombie), per `/proc/<pid>/stat`; false
 * when it still runs or `/proc` cannot tell.
 */
export function hasExited(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}
