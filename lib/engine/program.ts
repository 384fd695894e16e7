/**
 * Finds the program a command runs, as execvp(3) would: a name with a `/` is a path, any other
 * name is looked up on PATH. A PATH lookup (one stat per directory, most of them failing) is
 * reused for a second; a program removed since is looked up again (`fresh`).
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";

/** Whether `path` is a file someone may execute (any x bit; a file system without modes: yes). */
export function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

/** Why `name` cannot be run: "not found", or for a path, "is a directory" / "is not executable". */
export function whyNotRunnable(name: string): string {
  if (!name.includes("/")) return "not found";
  try {
    const info = Deno.statSync(name);
    return info.isDirectory ? "is a directory" : "is not executable";
  } catch {
    return "not found";
  }
}

/** How long a PATH lookup is reused before it is done again. */
const PROGRAM_CACHE_MS = 1000;
/** Successful PATH lookups by `PATH\0name`: the path found and when (the clock's `now()`). */
const programCache = new Map<string, { path: string; at: number }>();

/**
 * Finds a program as execvp(3) would: a path when it contains `/`, else the first on PATH. A
 * lookup on PATH is reused for `PROGRAM_CACHE_MS` of `clock` time; `fresh` skips the cache, for
 * when the cached path turned out to be gone.
 *
 * @param name The program's name or path (argv[0]).
 * @param clock Times the reuse of PATH lookups.
 * @param fresh Look on PATH again even when a recent lookup is cached.
 * @returns The path to run, or undefined when there is none.
 */
export function findProgram(name: string, clock: Clock, fresh = false): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  let path = "/usr/local/bin:/usr/bin:/bin";
  try {
    path = Deno.env.get("PATH") ?? path;
  } catch { /* no env permission: the default path */ }
  const key = `${path}\0${name}`;
  const now = clock.now();
  const cached = programCache.get(key);
  if (!fresh && cached !== undefined && now - cached.at < PROGRAM_CACHE_MS) return cached.path;
  programCache.delete(key);
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${name}`;
    if (isExecutable(candidate)) {
      if (programCache.size >= 256) programCache.clear();
      programCache.set(key, { path: candidate, at: now });
      return candidate;
    }
  }
  return undefined;
}
