#!/usr/bin/env bash
# First step of the README's test command (`scripts/deno task test`): makes the real-node, image
# and setsid tests runnable where that needs no question asked.
#
# - Root on Debian with packages missing: installs them with scripts/node-deps.sh, saying so in
#   one line first (apt-get: the Debian mirror is the only registry it talks to).
# - Anywhere else (not root, not Debian): installs nothing and says in one line what is missing;
#   the tests that need it skip loudly, and with REQUIRE_E2E=1 a skip is a failure.
# - DZ_TEST_NODE_DEPS=off: does nothing (a machine you do not want apt-get to touch).
#
# It never fails the test command: a failed install is one line, then the tests run and skip
# loudly (or fail under REQUIRE_E2E=1) as they would without it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ "${DZ_TEST_NODE_DEPS:-auto}" = off ] && exit 0
scripts/node-deps.sh check >/dev/null 2>&1 && exit 0

say() { echo "test-deps: $*" >&2; }

# Debian (or a derivative): what node-deps.sh uses, apt-get and dpkg-query, is on PATH.
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  say "not Debian: the real-node, image and setsid tests skip (they need the Debian packages of scripts/node-deps.sh)"
elif [ "$(id -u)" != 0 ]; then
  say "not root: the real-node, image and setsid tests skip until scripts/node-deps.sh runs as root"
else
  say "root on Debian: installing the real node's Debian packages first (scripts/node-deps.sh)"
  start=$SECONDS
  if scripts/node-deps.sh >&2; then
    say "installed in $((SECONDS - start))s"
  else
    say "scripts/node-deps.sh failed (exit $?): the real-node, image and setsid tests will skip"
  fi
fi
exit 0
