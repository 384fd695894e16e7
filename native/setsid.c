/*
 * dz-mcall-setsid PROGRAM [ARGS...]
 *
 * Runs PROGRAM in a session (and process group) of its own: setsid(2), then execvp(3) in place.
 * There is no fork, so the pid the caller spawned is PROGRAM's pid, its process-group id and its
 * session id, and the caller can stop PROGRAM and everything it starts with kill(-pid, signal).
 * That is what lib/engine/command.ts spawns every cmd input through; see native/README.md.
 *
 * It does what util-linux `setsid PROGRAM ARGS...` does in that case (the caller is a freshly
 * spawned child, never a group leader), minus the option parsing and the dynamic glibc start-up
 * that made the exec of `setsid` most of the engine's cost per command:
 *   - exec failure: "dz-mcall-setsid: failed to execute PROGRAM: REASON" on stderr, exit 127 when
 *     PROGRAM does not exist (ENOENT), 126 otherwise. lib/engine/command.ts relies on the 127 to
 *     retry a PATH lookup that named a program removed since.
 *   - setsid(2) failure (the caller is already a group leader): a one-line error, exit 126 and
 *     PROGRAM never runs. util-linux forks in that case; forking would break the pid contract.
 *   - no PROGRAM: a usage line, exit 2.
 * Signal dispositions, the signal mask, the environment and every open descriptor pass through
 * to PROGRAM untouched.
 *
 * Built static against musl (scripts/setsid.sh): no dynamic loader and no CPU-feature probing at
 * start-up, so the extra exec costs little more than the exec(2) itself.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define NAME "dz-mcall-setsid"

/* Writes the pieces to stderr as one line (a single write, so lines of concurrent runs never mix). */
static void complain(const char *what, const char *subject, int err) {
  char line[512];
  size_t n = 0;
  const char *parts[] = {NAME ": ", what, subject, ": ", strerror(err), "\n"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    size_t len = strlen(parts[i]);
    if (len > sizeof line - 1 - n) len = sizeof line - 1 - n; /* cut a very long name */
    memcpy(line + n, parts[i], len);
    n += len;
  }
  if (n == sizeof line - 1) line[n - 1] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
}

int main(int argc, char *argv[]) {
  if (argc < 2) {
    static const char usage[] = "usage: " NAME " PROGRAM [ARGS...]\n";
    ssize_t ignored = write(STDERR_FILENO, usage, sizeof usage - 1);
    (void)ignored;
    return 2;
  }
  if (setsid() < 0) {
    complain("setsid failed", "", errno);
    return 126;
  }
  execvp(argv[1], argv + 1);
  int err = errno;
  complain("failed to execute ", argv[1], err);
  return err == ENOENT ? 127 : 126;
}
