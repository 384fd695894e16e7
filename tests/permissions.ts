/**
 * The program's Deno permissions as `etc/deno-permissions` writes them (the one place they are
 * written): the Dockerfile and scripts/image.sh read that file, the e2e harness runs the program
 * with {@link programPermissions}, and tests/permissions_test.ts checks the places that must
 * restate the flags (deno.json's tasks, the README).
 *
 * @module
 */

/** Path of the permissions file. */
export const PERMISSIONS_FILE: string =
  new URL("../etc/deno-permissions", import.meta.url).pathname;

/**
 * Parses the permissions file's text: the flags of its one non-comment line.
 *
 * @param text The file's content.
 * @returns The flags, in file order.
 * @throws {Error} When there is not exactly one flag line, or a flag is not an explicit
 *   `--allow-*` (no `-A`, no `--allow-all`).
 */
export function parsePermissions(text: string): string[] {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  if (lines.length !== 1) {
    throw new Error(`etc/deno-permissions: expected one line of flags, found ${lines.length}`);
  }
  const flags = lines[0]!.split(/\s+/);
  for (const f of flags) {
    if (!/^--allow-[a-z]+(=\S+)?$/.test(f) || f === "--allow-all") {
      throw new Error(`etc/deno-permissions: "${f}" is not an explicit --allow-<name> flag`);
    }
  }
  return flags;
}

/**
 * Reads the program's permissions from `etc/deno-permissions`.
 *
 * @returns The flags, in file order.
 */
export function programPermissions(): string[] {
  return parsePermissions(Deno.readTextFileSync(PERMISSIONS_FILE));
}
