#!/usr/bin/env bash
# Build / locate the Prometheus Pushgateway the tests push to (tests/pushgateway: a go.mod whose
# `tool` line pins github.com/prometheus/pushgateway; go.sum pins every module).
#
#   scripts/pushgateway.sh build   build once (cached outside the repo), print the binary path
#   scripts/pushgateway.sh path    print the binary path if already built (exit 1 if not)
#
# Cache: ${DZ_PUSHGATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/pushgateway}/<key>/pushgateway
# where <key> = sha256 of go.mod, go.sum and `go version`.
#
# Exit codes: 0 ok, 1 build failed, 3 Go toolchain missing (tests skip loudly unless
# REQUIRE_E2E=1), 2 usage. Only the Go module proxy is contacted (for the pinned modules).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/pushgateway"
CACHE_ROOT="${DZ_PUSHGATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/pushgateway}"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export CGO_ENABLED=0

GO="$(command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; })" || {
  echo "pushgateway: Go toolchain not found (need go >= 1.26 on PATH or /usr/local/go/bin/go)" >&2
  exit 3
}

KEY="$( (cat "$SRC/go.mod" "$SRC/go.sum"; "$GO" version; echo "$GOFLAGS $CGO_ENABLED") |
  sha256sum | cut -c1-16)"
BIN="$CACHE_ROOT/$KEY/pushgateway"

case "${1:-build}" in
build)
  if [ ! -x "$BIN" ]; then
    echo "pushgateway: building with $("$GO" version)..." >&2
    mkdir -p "$CACHE_ROOT/$KEY"
    tmp="$BIN.tmp.$$"
    start=$SECONDS
    if ! (cd "$SRC" && "$GO" build -trimpath -ldflags="-s -w" -o "$tmp" \
      github.com/prometheus/pushgateway) >&2; then
      rm -f "$tmp"
      echo "pushgateway: build failed" >&2
      exit 1
    fi
    mv -f "$tmp" "$BIN"
    echo "pushgateway: built $BIN in $((SECONDS - start))s" >&2
  fi
  echo "$BIN"
  ;;
path)
  if [ -x "$BIN" ]; then echo "$BIN"; else
    echo "pushgateway: not built yet (run scripts/pushgateway.sh build)" >&2
    exit 1
  fi
  ;;
*)
  echo "usage: $0 build|path" >&2
  exit 2
  ;;
esac
