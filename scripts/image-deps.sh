#!/usr/bin/env bash
# Installs the Debian packages scripts/image.sh and tests/e2e/image_test.ts need, when missing:
# umoci (packs the OCI image), runc (runs it in the test), busybox-static (the image's /bin/sh
# and coreutils), ca-certificates (the image's CA bundle), jq (edits index.json/config.json).
# Needs root (apt-get). Idempotent: prints nothing to install when everything is there.
set -euo pipefail
pkgs=(umoci runc busybox-static ca-certificates jq containerd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "image-deps: all installed (${pkgs[*]})" >&2
  exit 0
fi
echo "image-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
