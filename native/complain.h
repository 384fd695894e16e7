/*
 * complain(): the one-line error both native helpers write (native/README.md), included by each
 * helper's single source file; scripts/native.sh builds each file with this header beside it.
 */
#ifndef DZ_MCALL_COMPLAIN_H
#define DZ_MCALL_COMPLAIN_H

#include <string.h>
#include <unistd.h>

/*
 * Writes "NAME: WHAT SUBJECT: REASON\n" to stderr as one line, in one write (lines of concurrent
 * runs never mix); a very long subject is cut so the line still ends in a newline.
 */
static void complain(const char *name, const char *what, const char *subject, const char *reason) {
  char line[512];
  size_t n = 0;
  const char *parts[] = {name, ": ", what, subject, ": ", reason, "\n"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    size_t len = strlen(parts[i]);
    if (len > sizeof line - 1 - n) len = sizeof line - 1 - n;
    memcpy(line + n, parts[i], len);
    n += len;
  }
  if (n == sizeof line - 1) line[n - 1] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
}

#endif
