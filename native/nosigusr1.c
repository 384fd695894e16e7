/*
 * dz-mcall-nosigusr1 PROGRAM [ARGS...]
 *
 * Runs PROGRAM with SIGUSR1 blocked: sigprocmask(2), then execv(2) in place (no fork, same pid).
 * The image's entrypoint runs the program through it (Dockerfile, scripts/image.sh).
 *
 * Why: Deno >= 2.9.2 starts the V8 inspector on 127.0.0.1:9229, unauthenticated, when the process
 * receives SIGUSR1 (as Node does); any local process that may signal ours could then run code in
 * it. Deno installs that handler itself 500 ms after start, over any disposition we set; neither a
 * signal listener, a V8 flag, NODE_OPTIONS nor --deny-net stops it. A signal blocked in every
 * thread is never delivered, and the mask is inherited across exec and by every thread the runtime
 * starts, so blocking it here, before the runtime exists, is what closes it.
 *
 * Invariant: PROGRAM starts with SIGUSR1 blocked and everything else as the caller left it (other
 * signals in the mask, dispositions, environment, descriptors). The commands the program runs do
 * not inherit the block: Deno (Rust's std::process) empties the signal mask of every child it
 * spawns (tests/e2e/image_test.ts checks both in the image).
 *
 * PROGRAM must be a path (a name without a slash is refused: the entrypoint names its program, so
 * no PATH lookup can pick another one). Exit codes as util-linux tools that exec: 127 when
 * PROGRAM does not exist, 126 when it cannot be run, 2 for usage. Built static against musl
 * (scripts/native.sh), like dz-mcall-setsid.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define NAME "dz-mcall-nosigusr1"

#include "complain.h"

int main(int argc, char *argv[]) {
  if (argc < 2) return usage(NAME);
  if (strchr(argv[1], '/') == NULL) {
    complain(NAME, "refusing to look up ", argv[1], "PROGRAM must be a path");
    return 2;
  }
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  if (sigprocmask(SIG_BLOCK, &usr1, NULL) != 0) {
    complain(NAME, "sigprocmask failed", "", strerror(errno));
    return 126;
  }
  execv(argv[1], argv + 1);
  int err = errno;
  complain(NAME, "failed to execute ", argv[1], strerror(err));
  return err == ENOENT ? 127 : 126;
}
