/**
 * Temporary files for tests: a directory removed afterwards, pass or fail, and FIFOs in it.
 *
 * @module
 */

/** Runs `fn` with a fresh temporary directory and removes it afterwards, pass or fail. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `mkfifo PATH` (Deno has no call for it). */
export async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (code !== 0) throw new Error(`mkfifo ${path} failed`);
}
