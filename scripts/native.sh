#!/usr/bin/env bash
# Builds / locates the native helpers the images ship (native/*.c, see native/README.md): static
# against musl, stripped, mode 0555.
#
#   scripts/native.sh build NAME   build once (cached outside the repo), print the binary path (stdout)
#   scripts/native.sh path NAME    print the binary path if already built (exit 1 if not)
#   scripts/native.sh check        exit 0 if the compiler is there, 3 if not
#
# NAME is `setsid` (dz-mcall-setsid, the session launcher every cmd input is spawned through) or
# `nosigusr1` (dz-mcall-nosigusr1, the entrypoint's launcher that blocks SIGUSR1).
#
# The Dockerfile's native stage, scripts/image.sh, bench/engine.ts and the tests all take the
# binaries from here, so the compiler flags live in this one place.
#
# Cache: ${DZ_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/native}/<key>/dz-mcall-NAME,
# where <key> = sha256 of native/NAME.c and native/complain.h, the flags, the compiler's version and musl's libc.a.
#
# Exit codes: 0 ok, 1 build failed, 2 usage, 3 musl-gcc missing (Debian musl-tools: run
# scripts/node-deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${DZ_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/native}"
USAGE="usage: scripts/native.sh build|path NAME, or scripts/native.sh check (NAME: setsid, nosigusr1)"
# Static (no dynamic loader), musl (no CPU-feature probing at start-up), small, warnings fatal.
CFLAGS=(-static -Os -s -Wall -Wextra -Werror)

case "${1:-}:${2:-}" in
build:setsid | build:nosigusr1 | path:setsid | path:nosigusr1 | check:) ;;
*)
  echo "$USAGE" >&2
  exit 2
  ;;
esac
SRC="$ROOT/native/${2:-}.c"
NAME="dz-mcall-${2:-}"

CC="$(command -v musl-gcc)" || {
  echo "native: musl-gcc missing (Debian musl-tools: run scripts/node-deps.sh)" >&2
  exit 3
}
[ "$1" = check ] && exit 0

KEY="$( (cat "$SRC" "$ROOT/native/complain.h"; echo "${CFLAGS[*]}"; "$CC" --version | head -1
  sha256sum "$("$CC" -print-file-name=libc.a)") | sha256sum | cut -c1-16)"
BIN="$CACHE_ROOT/$KEY/$NAME"

case "$1" in
build)
  if [ ! -x "$BIN" ]; then
    mkdir -p "$CACHE_ROOT/$KEY"
    tmp="$BIN.tmp.$$"
    if ! "$CC" "${CFLAGS[@]}" -o "$tmp" "$SRC" >&2; then
      rm -f "$tmp"
      echo "native: building $NAME failed" >&2
      exit 1
    fi
    chmod 0555 "$tmp"
    # It runs: without a program it prints its usage and exits 2.
    code=0
    "$tmp" 2>/dev/null || code=$?
    if [ "$code" != 2 ]; then
      rm -f "$tmp"
      echo "native: the built $NAME does not run (exit $code without arguments, want 2)" >&2
      exit 1
    fi
    mv -f "$tmp" "$BIN"
    echo "native: built $BIN ($(stat -c %s "$BIN") bytes)" >&2
  fi
  echo "$BIN"
  ;;
path)
  if [ -x "$BIN" ]; then echo "$BIN"; else
    echo "native: $NAME not built yet (run scripts/native.sh build ${2})" >&2
    exit 1
  fi
  ;;
esac
