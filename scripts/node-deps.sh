#!/usr/bin/env bash
# Installs what the real-node mode of the e2e harness (tests/testenv -node) needs, from Debian:
# containerd (CRI plugin) + runc + the CNI plugins (bridge, host-local, loopback), umoci and
# busybox-static (to pack images without a registry), gcc + libc6-dev (the static pause binary),
# iptables + conntrack (kube-proxy), nftables (to drop the empty tables iptables-nft leaves), iproute2,
# and for our image (scripts/image.sh): jq, the CA bundle (ca-certificates) and musl-tools (musl-gcc
# for dz-mcall-setsid, scripts/native.sh, which the engine tests build too).
#
#   scripts/node-deps.sh           install what is missing (apt-get update first, only if needed)
#   scripts/node-deps.sh check     exit 0 if everything is installed, 3 (and list it) if not
#
# Nothing is started: the harness runs containerd itself with its own config, root, state dir
# and socket. Debian's containerd.service is not enabled here (no init system starts it); if
# one is running anyway it is left alone.
set -euo pipefail

PKGS=(containerd runc containernetworking-plugins umoci busybox-static gcc libc6-dev iptables nftables
  conntrack iproute2 jq ca-certificates musl-tools)

# Prints the packages that are not installed. One dpkg-query for all of them (it runs first in
# every `scripts/deno task test`); a package dpkg does not know, or no dpkg at all, is missing.
missing() {
  local out p status have=" "
  out="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)"
  while read -r p status; do
    if [ "$status" = installed ]; then have+="$p "; fi
  done <<<"$out"
  for p in "${PKGS[@]}"; do
    case "$have" in *" $p "*) ;; *) echo "$p" ;; esac
  done
}

case "${1:-install}" in
check)
  m="$(missing)"
  if [ -n "$m" ]; then
    echo "node-deps: missing Debian packages:" $m "(run scripts/node-deps.sh)" >&2
    exit 3
  fi
  ;;
install)
  m="$(missing)"
  if [ -z "$m" ]; then
    echo "node-deps: all installed"
    exit 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "node-deps: need root to install:" $m >&2
    exit 1
  fi
  start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $m >/dev/null
  echo "node-deps: installed" $m "in $((SECONDS - start))s"
  ;;
*)
  echo "usage: $0 [install|check]" >&2
  exit 2
  ;;
esac
