/*
 * complain() and usage(): the one-line error and the usage line both native helpers write
 * (native/README.md), included by each helper's single source file; scripts/native.sh builds
 * each file with this header beside it.
 */
#ifndef DZ_MCALL_COMPLAIN_H
#define DZ_MCALL_COMPLAIN_H

#include <string.h>
#include <unistd.h>

/* Writes the parts as one line to stderr, in one write (lines of concurrent runs never mix). */
static void write_line(const char *const parts[], size_t count) {
  char line[512];
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    size_t len = strlen(parts[i]);
    if (len > sizeof line - 1 - n) len = sizeof line - 1 - n;
    memcpy(line + n, parts[i], len);
    n += len;
  }
  /* A very long part is cut so the line still ends in a newline. */
  if (n == sizeof line - 1) line[n - 1] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
}

/* Writes "NAME: WHAT SUBJECT: REASON\n" to stderr as one line. */
static void complain(const char *name, const char *what, const char *subject, const char *reason) {
  const char *parts[] = {name, ": ", what, subject, ": ", reason, "\n"};
  write_line(parts, sizeof parts / sizeof parts[0]);
}

/* Writes both helpers' usage line, "usage: NAME PROGRAM [ARGS...]\n"; returns its exit code, 2. */
static int usage(const char *name) {
  const char *parts[] = {"usage: ", name, " PROGRAM [ARGS...]\n"};
  write_line(parts, sizeof parts / sizeof parts[0]);
  return 2;
}

#endif
