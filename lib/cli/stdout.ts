/**
 * Is stdout closed? A process started with `>&-` never sees a closed descriptor: the Rust runtime
 * under Deno reopens a closed fd 0–2 on `/dev/null` (read-write) before any code runs, so the
 * results would be written there without an error and the run would exit 0 with its results lost.
 *
 * Deno reads `/proc/self/fdinfo` only with `--allow-all`, so a child `/bin/sh` (which inherits the
 * descriptor) reads the open flags: `/dev/null` opened read-write on fd 1 is that substitute — a
 * shell's `>/dev/null` opens it write-only. (`1<>/dev/null`, or a parent that daemonised with
 * read-write `/dev/null`, reads the same and is taken as closed: their results are discarded too.)
 *
 * @module
 */

/** The one line a run whose stdout is closed ends with (exit 1). */
export const STDOUT_CLOSED = "stdout is closed: the results cannot be written";

/**
 * Starts the check; settles `true` when fd 1 is the runtime's stand-in for a closed stdout.
 * A terminal is never closed (no child is spawned); any failure of the check settles `false`.
 */
export function stdoutClosed(): Promise<boolean> {
  if (Deno.stdout.isTerminal()) return Promise.resolve(false);
  // `-ef`: the same file as /dev/null (dash's and busybox's test builtins); no other process.
  const script = "[ /proc/$$/fd/1 -ef /dev/null ] || exit 0; " +
    'while read -r k v; do [ "$k" = flags: ] && { echo "$v" >&2; exit 0; }; done ' +
    "</proc/self/fdinfo/1";
  return new Deno.Command("/bin/sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
    clearEnv: true,
  }).output().then(
    (out) => {
      const flags = new TextDecoder().decode(out.stderr).trim();
      // O_ACCMODE (3) is O_RDWR (2): the runtime's reopened descriptor.
      return /^[0-7]+$/.test(flags) && (parseInt(flags, 8) & 3) === 2;
    },
    () => false,
  );
}
