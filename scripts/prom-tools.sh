#!/usr/bin/env bash
# Build / locate the two Prometheus tools the tests run, each from a go.mod whose `tool` line pins
# it (go.sum pins every module):
#
#   promtool      checks and unit-tests the chart's alert rules
#                 (tests/promtool: github.com/prometheus/prometheus/cmd/promtool)
#   pushgateway   the Pushgateway the tests push to (tests/pushgateway: github.com/prometheus/pushgateway)
#
#   scripts/prom-tools.sh TOOL build   build once (cached outside the repo), print the binary path
#   scripts/prom-tools.sh TOOL path    print the binary path if already built (exit 1 if not)
#
# Cache: ${DZ_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/promtool}/<key>/promtool, and
# likewise DZ_PUSHGATEWAY_CACHE and dz-mcall/pushgateway/<key>/pushgateway, where <key> = sha256 of
# the tool's go.mod, go.sum, `go version` and the build flags.
#
# Exit codes: 0 ok, 1 build failed, 3 Go toolchain missing (tests skip loudly unless
# REQUIRE_E2E=1), 2 usage. Only the Go module proxy is contacted (for the pinned modules).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall"
USAGE="usage: $0 promtool|pushgateway build|path"

TOOL="${1:-}"
case "$TOOL" in
promtool)
  PKG=github.com/prometheus/prometheus/cmd/promtool
  CACHE_ROOT="${DZ_PROMTOOL_CACHE:-$CACHE_HOME/promtool}"
  # Rule checks and rule unit tests need no service discovery: leaving out every SD plugin (AWS,
  # Azure, GCE, Kubernetes, …) cuts a cold build from about 24 minutes to a few on 2 cores.
  TAGS=remove_all_sd
  ;;
pushgateway)
  PKG=github.com/prometheus/pushgateway
  CACHE_ROOT="${DZ_PUSHGATEWAY_CACHE:-$CACHE_HOME/pushgateway}"
  TAGS=
  ;;
*)
  echo "$USAGE" >&2
  exit 2
  ;;
esac
SRC="$ROOT/tests/$TOOL"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export CGO_ENABLED=0

GO="$(command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; })" || {
  echo "$TOOL: Go toolchain not found (need go >= 1.26 on PATH or /usr/local/go/bin/go)" >&2
  exit 3
}

# The key's last line is "$GOFLAGS $CGO_ENABLED", plus " $TAGS" when there are tags (the same
# bytes the two scripts this one replaced hashed, so their caches stay warm).
KEY="$( (cat "$SRC/go.mod" "$SRC/go.sum"; "$GO" version; echo "$GOFLAGS $CGO_ENABLED${TAGS:+ $TAGS}") |
  sha256sum | cut -c1-16)"
BIN="$CACHE_ROOT/$KEY/$TOOL"

case "${2:-build}" in
build)
  if [ ! -x "$BIN" ]; then
    echo "$TOOL: building with $("$GO" version)..." >&2
    mkdir -p "$CACHE_ROOT/$KEY"
    tmp="$BIN.tmp.$$"
    start=$SECONDS
    if ! (cd "$SRC" && "$GO" build -trimpath ${TAGS:+-tags "$TAGS"} -ldflags="-s -w" -o "$tmp" \
      "$PKG") >&2; then
      rm -f "$tmp"
      echo "$TOOL: build failed" >&2
      exit 1
    fi
    mv -f "$tmp" "$BIN"
    echo "$TOOL: built $BIN in $((SECONDS - start))s" >&2
  fi
  echo "$BIN"
  ;;
path)
  if [ -x "$BIN" ]; then echo "$BIN"; else
    echo "$TOOL: not built yet (run scripts/prom-tools.sh $TOOL build)" >&2
    exit 1
  fi
  ;;
*)
  echo "$USAGE" >&2
  exit 2
  ;;
esac
