/**
 * Whether processes still run, for the engine's kill tests. Reads /proc/<pid>/stat through `cat`:
 * Deno refuses /proc reads without --allow-all (NotCapable), which a check catching every error
 * would take for "gone".
 *
 * @module
 */

/** Which of `pids` still run (zombies, killed and waiting to be reaped, count as gone). */
export async function running(pids: readonly number[]): Promise<number[]> {
  const left: number[] = [];
  for (const pid of pids) {
    const r = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stderr: "null" })
      .output();
    if (!r.success) continue; // no such process
    const stat = new TextDecoder().decode(r.stdout);
    if (!stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) left.push(pid);
  }
  return left;
}

/**
 * Waits up to `withinMs` for every one of `pids` to be gone.
 *
 * @returns Those still running then (empty when all are gone).
 */
export async function stillRunning(pids: readonly number[], withinMs = 2000): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  let left = await running(pids);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = await running(left);
  }
  return left;
}
