#!/usr/bin/env bash
# Build / locate / run the e2e control plane (tests/testenv: etcd + real
# kube-apiserver [+ kube-controller-manager] [+ with -node, as root, a real node:
# containerd + kube-scheduler + kubelet + kube-proxy; packages: scripts/node-deps.sh]).
#
#   scripts/testenv.sh build      build once (cached outside the repo), print the binary path
#   scripts/testenv.sh path       print the binary path if already built (exit 1 if not)
#   scripts/testenv.sh run [ARGS] build if needed, then exec the binary with ARGS
#   scripts/testenv.sh check      exit 0 if a Go toolchain is there (3 if not)
#
# Cache: ${DZ_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/testenv}/<key>/testenv
# where <key> = sha256 of go.mod, go.sum, *.go and `go version`.
#
# Exit codes: 0 ok, 1 build failed, 3 Go toolchain missing (the e2e suite
# skips loudly on 3 unless REQUIRE_E2E=1), 2 usage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/testenv"
CACHE_ROOT="${DZ_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/testenv}"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export CGO_ENABLED=0

find_go() {
  if [ -n "${DZ_TESTENV_GO:-}" ]; then # explicit toolchain (also used to simulate "no Go")
    [ -x "$DZ_TESTENV_GO" ] && echo "$DZ_TESTENV_GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [ -x /usr/local/go/bin/go ]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

GO="$(find_go)" || {
  echo "testenv: Go toolchain not found (need go >= 1.26 on PATH or /usr/local/go/bin/go);" \
    "the e2e harness (real kube-apiserver) cannot be built" >&2
  exit 3
}

cache_key() {
  (
    cd "$SRC"
    cat go.mod go.sum
    for f in $(ls ./*.go | LC_ALL=C sort); do
      echo "== $f"
      cat "$f"
    done
    "$GO" version
    echo "$GOFLAGS $CGO_ENABLED"
  ) | sha256sum | cut -c1-16
}

KEY="$(cache_key)"
BIN="$CACHE_ROOT/$KEY/testenv"

build() {
  if [ -x "$BIN" ]; then
    echo "$BIN"
    return 0
  fi
  local kver
  kver="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$SRC/go.mod" | head -1)"
  local minor="${kver#v1.}"
  minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$kver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  echo "testenv: building $kver harness with $("$GO" version) (first build takes a few minutes)..." >&2
  mkdir -p "$CACHE_ROOT/$KEY"
  local tmp="$BIN.tmp.$$"
  local start=$SECONDS
  if ! (cd "$SRC" && "$GO" build -trimpath -ldflags="$ldflags" -o "$tmp" .) >&2; then
    rm -f "$tmp"
    echo "testenv: build failed" >&2
    exit 1
  fi
  mv -f "$tmp" "$BIN"
  echo "testenv: built $BIN in $((SECONDS - start))s" >&2
  # Keep the three most recent builds (~135 MB each). Everything in the cache
  # root counts: point DZ_TESTENV_CACHE at a directory of its own.
  (cd "$CACHE_ROOT" && ls -1t | tail -n +4 | while read -r old; do rm -rf -- "./$old"; done) || true
  echo "$BIN"
}

cmd="${1:-build}"
case "$cmd" in
build)
  build
  ;;
check)
  "$GO" version
  ;;
path)
  if [ -x "$BIN" ]; then echo "$BIN"; else
    echo "testenv: not built yet (run scripts/testenv.sh build)" >&2
    exit 1
  fi
  ;;
run)
  shift
  bin="$(build)"
  exec "$bin" "$@"
  ;;
*)
  echo "usage: $0 build|path|run [args...]" >&2
  exit 2
  ;;
esac
