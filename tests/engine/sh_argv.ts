/**
 * What a real shell makes of a command line: `SHELL -c "printf '%s\0' LINE"` in an empty
 * directory with an empty PATH (nothing but builtins can run), under one of two environments
 * that give every variable a line could name a different value.
 */

/** The two environments: HOME, PWD-independent names, IFS and a few one-letter variables. */
const ENVS: Record<1 | 2, Record<string, string>> = {
  1: { HOME: "/home/one", A: "1", a: "x", b: "y", z: "z1", IFS: " \t\n" },
  2: { HOME: "/h2", A: "2 two", a: "*", b: "", z: "-n", IFS: ":" },
};

let emptyDir: string | undefined;

/**
 * The argv `shell` passes to printf for `line`, or `{exit, stderr}` when it does not exit 0 (a
 * second command that is not found, a syntax error).
 */
export async function shArgv(
  shell: "dash" | "bash" | "sh",
  line: string,
  env: 1 | 2,
): Promise<string[] | { exit: number; stderr: string }> {
  emptyDir ??= await Deno.makeTempDir({ prefix: "sh-argv-" });
  const out = await new Deno.Command(shell === "sh" ? "/bin/sh" : `/usr/bin/${shell}`, {
    args: ["-c", `printf '%s\\0' ${line}`],
    cwd: emptyDir,
    clearEnv: true,
    env: { ...ENVS[env], PATH: emptyDir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) return { exit: out.code, stderr: new TextDecoder().decode(out.stderr) };
  const text = new TextDecoder().decode(out.stdout);
  return text === "" ? [] : text.slice(0, -1).split("\0");
}
