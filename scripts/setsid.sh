#!/usr/bin/env bash
# Builds / locates dz-mcall-setsid, the session launcher every cmd input is spawned through
# (native/setsid.c, see native/README.md): static against musl, stripped, mode 0555.
#
#   scripts/setsid.sh build   build once (cached outside the repo), print the binary path (stdout)
#   scripts/setsid.sh path    print the binary path if already built (exit 1 if not)
#   scripts/setsid.sh check   exit 0 if the compiler is there, 3 if not
#
# The Dockerfile's setsid stage, scripts/image.sh and bench/engine.ts all take the binary from here,
# so the compiler flags live in this one place.
#
# Cache: ${DZ_SETSID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/setsid}/<key>/dz-mcall-setsid,
# where <key> = sha256 of native/setsid.c, the flags, the compiler's version and musl's libc.a.
#
# Exit codes: 0 ok, 1 build failed, 2 usage, 3 musl-gcc missing (Debian musl-tools: run
# scripts/node-deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${DZ_SETSID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/setsid}"
SRC="$ROOT/native/setsid.c"
NAME=dz-mcall-setsid
USAGE="usage: scripts/setsid.sh build|path|check"
# Static (no dynamic loader), musl (no CPU-feature probing at start-up), small, warnings fatal.
CFLAGS=(-static -Os -s -Wall -Wextra -Werror)

case "${1:-build}" in
build | path | check) ;;
*)
  echo "$USAGE" >&2
  exit 2
  ;;
esac

CC="$(command -v musl-gcc)" || {
  echo "setsid: musl-gcc missing (Debian musl-tools: run scripts/node-deps.sh)" >&2
  exit 3
}
[ "$1" = check ] && exit 0

KEY="$( (cat "$SRC"; echo "${CFLAGS[*]}"; "$CC" --version | head -1
  sha256sum "$("$CC" -print-file-name=libc.a)") | sha256sum | cut -c1-16)"
BIN="$CACHE_ROOT/$KEY/$NAME"

case "$1" in
build)
  if [ ! -x "$BIN" ]; then
    mkdir -p "$CACHE_ROOT/$KEY"
    tmp="$BIN.tmp.$$"
    if ! "$CC" "${CFLAGS[@]}" -o "$tmp" "$SRC" >&2; then
      rm -f "$tmp"
      echo "setsid: build failed" >&2
      exit 1
    fi
    chmod 0555 "$tmp"
    # It runs: without a program it prints its usage and exits 2.
    code=0
    "$tmp" 2>/dev/null || code=$?
    if [ "$code" != 2 ]; then
      rm -f "$tmp"
      echo "setsid: the built $NAME does not run (exit $code without arguments, want 2)" >&2
      exit 1
    fi
    mv -f "$tmp" "$BIN"
    echo "setsid: built $BIN ($(stat -c %s "$BIN") bytes)" >&2
  fi
  echo "$BIN"
  ;;
path)
  if [ -x "$BIN" ]; then echo "$BIN"; else
    echo "setsid: not built yet (run scripts/setsid.sh build)" >&2
    exit 1
  fi
  ;;
esac
