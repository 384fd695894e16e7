#!/usr/bin/env bash
# Build / locate promtool, which checks and unit-tests the chart's alert rules (tests/promtool: a
# go.mod whose `tool` line pins github.com/prometheus/prometheus/cmd/promtool; go.sum pins every module).
#
#   scripts/promtool.sh build   build once (cached outside the repo), print the binary path
#   scripts/promtool.sh path    print the binary path if already built (exit 1 if not)
#
# Cache: ${DZ_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/promtool}/<key>/promtool
# where <key> = sha256 of go.mod, go.sum and `go version`.
#
# Exit codes: 0 ok, 1 build failed, 3 Go toolchain missing (tests skip loudly unless
# REQUIRE_E2E=1), 2 usage. Only the Go module proxy is contacted (for the pinned modules).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/promtool"
CACHE_ROOT="${DZ_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/promtool}"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export CGO_ENABLED=0
# Rule checks and rule unit tests need no service discovery: leaving out every SD plugin (AWS,
# Azure, GCE, Kubernetes, …) cuts a cold build from about 24 minutes to a few on 2 cores.
TAGS=remove_all_sd

GO="$(command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; })" || {
  echo "promtool: Go toolchain not found (need go >= 1.26 on PATH or /usr/local/go/bin/go)" >&2
  exit 3
}

KEY="$( (cat "$SRC/go.mod" "$SRC/go.sum"; "$GO" version; echo "$GOFLAGS $CGO_ENABLED $TAGS") |
  sha256sum | cut -c1-16)"
BIN="$CACHE_ROOT/$KEY/promtool"

case "${1:-build}" in
build)
  if [ ! -x "$BIN" ]; then
    echo "promtool: building with $("$GO" version)..." >&2
    mkdir -p "$CACHE_ROOT/$KEY"
    tmp="$BIN.tmp.$$"
    start=$SECONDS
    if ! (cd "$SRC" && "$GO" build -trimpath -tags "$TAGS" -ldflags="-s -w" -o "$tmp" \
      github.com/prometheus/prometheus/cmd/promtool) >&2; then
      rm -f "$tmp"
      echo "promtool: build failed" >&2
      exit 1
    fi
    mv -f "$tmp" "$BIN"
    echo "promtool: built $BIN in $((SECONDS - start))s" >&2
  fi
  echo "$BIN"
  ;;
path)
  if [ -x "$BIN" ]; then echo "$BIN"; else
    echo "promtool: not built yet (run scripts/promtool.sh build)" >&2
    exit 1
  fi
  ;;
*)
  echo "usage: $0 build|path" >&2
  exit 2
  ;;
esac
