#!/usr/bin/env bash
# Installs Debian's Chromium for tests/modes/serve_browser_test.ts (a real browser proves that no
# web page can drive serve mode). Kept apart from scripts/node-deps.sh, whose `check` decides
# whether the real node can run: a missing browser must not skip the real-node tests.
#
#   scripts/browser-deps.sh          install chromium if missing (apt-get update first, only then)
#   scripts/browser-deps.sh check    exit 0 if /usr/bin/chromium exists, 3 if not
#
# The test starts Chromium with its background networking off and loads only 127.0.0.0/8 URLs.
set -euo pipefail

case "${1:-install}" in
check)
  [ -x /usr/bin/chromium ] || { echo "browser-deps: /usr/bin/chromium is missing (run scripts/browser-deps.sh)" >&2; exit 3; }
  ;;
install)
  if [ -x /usr/bin/chromium ]; then
    echo "browser-deps: chromium installed"
    exit 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "browser-deps: need root to install chromium" >&2
    exit 1
  fi
  start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "browser-deps: installed chromium in $((SECONDS - start))s"
  ;;
*)
  echo "usage: $0 [install|check]" >&2
  exit 2
  ;;
esac
