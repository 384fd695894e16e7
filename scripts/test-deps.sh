#!/usr/bin/env bash
# First step of the README's test command (`scripts/deno task test`): makes the tests that need
# Debian packages runnable where that needs no question asked. For each install script below
# whose `check` fails:
#
# - root on Debian: runs it, saying so in one line first (apt-get: the Debian mirror is the only
#   registry it talks to);
# - anywhere else (not root, not Debian): installs nothing and says in one line which tests skip;
#   they skip loudly, and with REQUIRE_E2E=1 a skip is a failure.
#
# DZ_TEST_NODE_DEPS=off does nothing (a machine you do not want apt-get to touch). It never fails
# the test command: a failed install is one line, then the tests run and skip loudly (or fail
# under REQUIRE_E2E=1) as they would without it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ "${DZ_TEST_NODE_DEPS:-auto}" = off ] && exit 0

# <install script>:<the tests that need what it installs>
DEPS=(
  "scripts/node-deps.sh:the real-node, image and setsid tests"
  "scripts/browser-deps.sh:the serve-mode browser test"
)

say() { echo "test-deps: $*" >&2; }

for dep in "${DEPS[@]}"; do
  script="${dep%%:*}" tests="${dep#*:}"
  "$script" check >/dev/null 2>&1 && continue
  # Debian (or a derivative): what the install scripts use, apt-get and dpkg-query, is on PATH.
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    say "not Debian: skipping $tests (they need the Debian packages of $script)"
  elif [ "$(id -u)" != 0 ]; then
    say "not root: skipping $tests until $script runs as root"
  else
    say "root on Debian: running $script first, for $tests"
    start=$SECONDS
    if "$script" >&2; then
      say "installed in $((SECONDS - start))s"
    else
      say "$script failed (exit $?): skipping $tests"
    fi
  fi
done
exit 0
