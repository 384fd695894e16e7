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
 *   - PROGRAM is looked up and run as glibc's execvp(3) does, a script without "#!" by /bin/sh
 *     (see run() below).
 * PROGRAM starts with an empty signal mask, as Rust's std::process starts the children it spawns
 * (and as util-linux `setsid` would pass it on from such a parent): the runtime runs with SIGUSR1
 * blocked (native/nosigusr1.c, the image's entrypoint) and Deno's own spawn passes that block
 * on, which a command that uses SIGUSR1 (dd's progress, a daemon's log reopen) must not inherit.
 * Signal dispositions, the environment and every open descriptor pass through untouched.
 *
 * Built static against musl (scripts/native.sh): no dynamic loader and no CPU-feature probing at
 * start-up, so the extra exec costs little more than the exec(2) itself.
 */
#define _GNU_SOURCE /* strchrnul */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME "dz-mcall-setsid"

#include "complain.h"

/*
 * Runs `file` with `argv` (argv[0] is file's name) as glibc's execvp(3) does, which util-linux
 * `setsid` calls: a name with a slash is a path, any other is looked up on PATH (default
 * "/bin:/usr/bin"; an empty entry is the current directory), and a file the kernel cannot run
 * (ENOEXEC: a script without "#!") is run by /bin/sh. musl's execvp has no /bin/sh fallback, hence
 * this loop. Returns only on failure, with errno set as execvp leaves it.
 */
static void run(const char *file, char *argv[], int argc) {
  char *script_argv[argc + 2]; /* "/bin/sh", the file, argv[1..], NULL */
  script_argv[0] = "/bin/sh";
  for (int i = 1; i <= argc; i++) script_argv[i + 1] = argv[i];
  if (file[0] == '\0') {
    errno = ENOENT;
    return;
  }
  if (strchr(file, '/') != NULL) {
    execv(file, argv);
    if (errno == ENOEXEC) {
      script_argv[1] = (char *)file;
      execv("/bin/sh", script_argv);
    }
    return;
  }
  const char *path = getenv("PATH");
  if (path == NULL) path = "/bin:/usr/bin";
  size_t file_len = strlen(file);
  int denied = 0;
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    size_t dir_len = (size_t)(end - dir);
    char candidate[PATH_MAX];
    if (dir_len + 1 + file_len + 1 > sizeof candidate) {
      errno = ENAMETOOLONG;
    } else {
      memcpy(candidate, dir, dir_len);
      size_t n = dir_len;
      if (n > 0) candidate[n++] = '/';
      memcpy(candidate + n, file, file_len + 1);
      execv(candidate, argv);
      if (errno == ENOEXEC) {
        script_argv[1] = candidate;
        execv("/bin/sh", script_argv);
      }
    }
    switch (errno) {
    case EACCES:
      denied = 1;
      /* fall through */
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ESTALE:
    case ENODEV:
    case ETIMEDOUT:
      break;
    default:
      return;
    }
    if (*end == '\0') break;
    dir = end;
  }
  if (denied) errno = EACCES;
}

int main(int argc, char *argv[]) {
  if (argc < 2) return usage(NAME);
  if (setsid() < 0) {
    complain(NAME, "setsid failed", "", strerror(errno));
    return 126;
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) {
    complain(NAME, "sigprocmask failed", "", strerror(errno));
    return 126;
  }
  run(argv[1], argv + 1, argc - 1);
  int err = errno;
  complain(NAME, "failed to execute ", argv[1], strerror(err));
  return err == ENOENT ? 127 : 126;
}
