/**
 * The program's Deno permissions as `etc/deno-permissions` writes them (the one place they are
 * written), and its V8 flags as `etc/deno-v8-flags` does: the Dockerfile and scripts/image.sh read
 * those files, the e2e harness and the benchmarks run the program with {@link programPermissions}
 * and {@link programV8Flags}, and tests/permissions_test.ts checks the places that must restate
 * the flags (deno.json's tasks, the README).
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

/** Path of the V8 flags file. */
export const V8_FLAGS_FILE: string = new URL("../etc/deno-v8-flags", import.meta.url).pathname;

/**
 * Parses the V8 flags file's text: its one non-comment line, one `--v8-flags=…` word.
 *
 * @param text The file's content.
 * @returns The flag words (exactly one), as `deno run` / `deno compile` take them.
 * @throws {Error} When there is not exactly one line, or it is not one `--v8-flags=<flags>` word.
 */
export function parseV8Flags(text: string): string[] {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  if (lines.length !== 1) {
    throw new Error(`etc/deno-v8-flags: expected one line of flags, found ${lines.length}`);
  }
  const words = lines[0]!.split(/\s+/);
  if (
    words.length !== 1 ||
    !/^--v8-flags=--[a-z0-9-]+(=[^,\s]+)?(,--[a-z0-9-]+(=[^,\s]+)?)*$/.test(words[0]!)
  ) {
    throw new Error(`etc/deno-v8-flags: "${lines[0]}" is not one --v8-flags=--<flag>[,…] word`);
  }
  return words;
}

/**
 * Reads the program's V8 flags from `etc/deno-v8-flags`.
 *
 * @returns The `--v8-flags=…` word, as a one-element list.
 */
export function programV8Flags(): string[] {
  return parseV8Flags(Deno.readTextFileSync(V8_FLAGS_FILE));
}
