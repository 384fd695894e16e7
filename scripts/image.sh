#!/usr/bin/env bash
# Builds the program's OCI image without `deno compile` (no denort on the registries we reach)
# and without a container engine: files assembled here, packed with umoci, archived as an OCI
# image layout tar that `ctr -n k8s.io images import` names docker.io/library/dz-mcall:<version>
# (what the chart's `image: dz-mcall:<appVersion>` normalizes to).
#
#   scripts/image.sh [build]   build if the inputs changed, print the archive path (stdout)
#   scripts/image.sh name      print the image name containerd gives it on import
#   scripts/image.sh launcher  print /app/dz-mcall as the image gets it
#   scripts/image.sh check     exit 0 if the tools are there, 3 if not (scripts/node-deps.sh)
#
# Same runtime contract as the Dockerfile's default target (`runtime`): entrypoint
# /usr/local/bin/dz-mcall-nosigusr1 /app/dz-mcall (SIGUSR1 blocked from exec on), CMD --help, user 65532:65532 (in /etc/passwd and /etc/group), workdir /tmp, TMPDIR=HOME=/tmp,
# read-only root, busybox-static for /bin/sh and the coreutils (/usr/local/bin),
# /usr/local/bin/dz-mcall-setsid and dz-mcall-nosigusr1 (scripts/native.sh; root, 0555), the Debian CA bundle, and the
# permissions of etc/deno-permissions. /app/dz-mcall is a sh launcher exec'ing
# the pinned deno (busybox's sh passes the signal mask on; tests/e2e/image_test.ts checks it) (scripts/deno) on /app/main.ts with --cached-only against /deno-dir, filled at
# build time and read-only at run time.
#
# Cache: ${DZ_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/image}/<key>/ where <key> =
# sha256 of this script, the program's files, the permissions, the deno binary, the native helpers
# and the Debian package versions copied in. A hit rebuilds nothing; older keys are removed after
# a build.
#
# Exit codes: 0 ok, 1 build failed, 2 usage, 3 tools missing (umoci, jq, busybox-static,
# ca-certificates, unshare, musl-tools: run scripts/node-deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${DZ_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall/image}"
REPO=dz-mcall
# Where things live in the image (the launcher and tests/e2e/image_test.ts rely on these).
APP=/app
DENO_DIR_IN_IMAGE=/deno-dir

die() {
  echo "image: $*" >&2
  exit 1
}

version() { jq -r .version "$ROOT/deno.json"; }
image_name() { echo "docker.io/library/$REPO:$(version)"; }

# The permission flags, one line of etc/deno-permissions (comments skipped).
permissions() { grep -v '^[[:space:]]*\(#\|$\)' "$ROOT/etc/deno-permissions"; }
# The V8 flags, one line of etc/deno-v8-flags (comments skipped).
v8_flags() { grep -v '^[[:space:]]*\(#\|$\)' "$ROOT/etc/deno-v8-flags"; }

check_tools() {
  local missing=()
  for t in umoci jq unshare chroot ldd gzip tar flock; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ -x "$(busybox_path)" ] || missing+=(busybox-static)
  [ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  "$ROOT/scripts/native.sh" check 2>/dev/null || missing+=(musl-tools)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "image: missing ${missing[*]} (run scripts/node-deps.sh)" >&2
    return 3
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "image: building needs root (umoci, a chroot in private namespaces)" >&2
    return 3
  fi
}

# The static busybox from Debian's busybox-static (not a dynamic busybox from another package).
busybox_path() {
  dpkg-query -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -1 || true
}

# The real deno binary behind scripts/deno (node_modules/.bin/deno is a symlink to it).
deno_binary() {
  "$ROOT/scripts/deno" --version >/dev/null # installs it on first use
  local prefix
  prefix="${DZ_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dz-mcall}"
  prefix="$prefix/deno-$(sed -n 's/^DENO_VERSION=//p' "$ROOT/scripts/deno")"
  readlink -f "$prefix/node_modules/.bin/deno"
}

# Program files that go into /app: what .dockerignore admits (tests excluded).
app_files() {
  (cd "$ROOT" && {
    printf '%s\n' main.ts deno.json deno.lock
    find lib -type f -name '*.ts' ! -name '*_test.ts'
  } | LC_ALL=C sort)
}

# Shared objects deno needs: each path `ldd` prints, the loader included.
deno_libs() {
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u
}

cache_key() {
  local deno="$1" setsid="$2" nosigusr1="$3"
  {
    cat "$ROOT/scripts/image.sh"
    permissions
    v8_flags
    while read -r f; do
      echo "== $f"
      cat "$ROOT/$f"
    done < <(app_files)
    "$deno" --version
    sha256sum <"$setsid"
    sha256sum <"$nosigusr1"
    dpkg-query -W busybox-static ca-certificates libc6 libgcc-s1 umoci 2>/dev/null
  } | sha256sum | cut -c1-16
}

launcher() {
  cat <<EOF
#!/bin/sh
# dz-mcall (written by scripts/image.sh): the pinned Deno runs $APP/main.ts with the project's
# permissions (etc/deno-permissions) and V8 flags (etc/deno-v8-flags), from a read-only,
# pre-filled DENO_DIR; --cached-only: modules are never fetched at run time.
export DENO_DIR=$DENO_DIR_IN_IMAGE DENO_NO_UPDATE_CHECK=1
exec $APP/deno run --cached-only --no-prompt --config $APP/deno.json $(v8_flags) $(permissions) $APP/main.ts "\$@"
EOF
}

# Lays out the image's root file system in $1 (a fresh directory).
assemble() {
  local rootfs="$1" deno="$2" setsid="$3" nosigusr1="$4"
  mkdir -p "$rootfs"/{app,etc/ssl/certs,proc,dev,sys,usr/local/bin,bin,deno-dir}
  install -d -m 1777 "$rootfs/tmp"

  # Users: root and 65532 (nonroot), as distroless has them.
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin' >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

  # busybox as the Dockerfile's busybox stage lays it out.
  local bb
  bb="$(busybox_path)"
  cp "$bb" "$rootfs/usr/local/bin/busybox"
  local applet
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/usr/local/bin/$applet"
  done
  ln -s /usr/local/bin/busybox "$rootfs/bin/sh"

  # The session launcher and the entrypoint's launcher, as the Dockerfile's runtime-slim stage
  # copies them (modes set below).
  cp "$setsid" "$rootfs/usr/local/bin/dz-mcall-setsid"
  cp "$nosigusr1" "$rootfs/usr/local/bin/dz-mcall-nosigusr1"

  # deno and the glibc/libgcc files it links, at the paths ldd resolves them to.
  cp "$deno" "$rootfs$APP/deno"
  local lib
  for lib in $(deno_libs "$deno"); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done

  # The program.
  while read -r f; do
    mkdir -p "$rootfs$APP/$(dirname "$f")"
    cp "$ROOT/$f" "$rootfs$APP/$f"
  done < <(app_files)
  launcher >"$rootfs$APP/dz-mcall"

  # DENO_DIR: npm packages from the registry (the lock is frozen), then, inside the image tree
  # (chroot, private mount namespace, no network), the transpiled sources under their /app paths
  # so a container starts without transpiling. Only npm/ and gen/ are kept: the SQLite caches
  # cannot be used read-only (deno falls back to memory), so they would be dead weight.
  (cd "$rootfs$APP" && DENO_DIR="$rootfs$DENO_DIR_IN_IMAGE" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \
    "$deno" install --frozen --quiet --entrypoint main.ts) >&2
  rm -rf "${rootfs:?}$DENO_DIR_IN_IMAGE/gen"
  unshare --mount --pid --fork --net sh -c '
    set -e
    mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"
    exec chroot "$1" /bin/sh -c "cd $2 && exec env -i DENO_DIR=$3 DENO_NO_UPDATE_CHECK=1 \
      NO_COLOR=1 HOME=/tmp $2/deno install --cached-only --frozen --quiet --entrypoint main.ts"
  ' sh "$rootfs" "$APP" "$DENO_DIR_IN_IMAGE" >&2
  find "$rootfs$DENO_DIR_IN_IMAGE" -maxdepth 1 -mindepth 1 ! -name npm ! -name gen \
    -exec rm -rf {} +
  [ -d "$rootfs$DENO_DIR_IN_IMAGE/gen/file$APP" ] || die "deno cache left no $APP sources in gen/"

  # Owned by root, read-only for everyone else; the launcher and deno executable.
  chown -R 0:0 "$rootfs"
  chmod -R u+rwX,go+rX,go-w "$rootfs"
  chmod 1777 "$rootfs/tmp"
  chmod 0755 "$rootfs$APP/dz-mcall" "$rootfs$APP/deno"
  chmod 0555 "$rootfs/usr/local/bin/dz-mcall-setsid" "$rootfs/usr/local/bin/dz-mcall-nosigusr1"
}

# Packs $1 (root file system) into an OCI layout tar at $2.
pack() {
  local rootfs="$1" out="$2" layout tag
  tag="$(version)"
  layout="$(dirname "$out")/layout"
  rm -rf "$layout"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci insert --image "$layout:$tag" --history.created_by "scripts/image.sh" \
    --history.comment "deno, glibc, busybox, dz-mcall-setsid, dz-mcall-nosigusr1, CA bundle, /app, /deno-dir" \
    "$rootfs" / >/dev/null
  umoci config --image "$layout:$tag" --no-history \
    --config.entrypoint /usr/local/bin/dz-mcall-nosigusr1 --config.entrypoint "$APP/dz-mcall" \
    --config.cmd --help \
    --config.user 65532:65532 --config.workingdir /tmp \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --config.env TMPDIR=/tmp --config.env HOME=/tmp \
    --config.exposedports 8080/tcp \
    --config.label org.opencontainers.image.title=$REPO \
    --config.label "org.opencontainers.image.description=Kubernetes-native task runner (leader election, task ConfigMaps)" \
    --config.label "org.opencontainers.image.version=$tag"
  umoci gc --layout "$layout"
  # containerd names an imported image after io.containerd.image.name when the index has it
  # (else after org.opencontainers.image.ref.name, which is only the tag here).
  local name
  name="$(image_name)"
  jq --arg name "$name" '.manifests |= map(.annotations["io.containerd.image.name"] = $name)' \
    "$layout/index.json" >"$layout/index.json.new"
  mv "$layout/index.json.new" "$layout/index.json"
  tar -C "$layout" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$layout"
}

# Writes sizes: uncompressed (the layer's tar) and gzipped (the layer blob, what a pull moves).
sizes() {
  local out="$1" dir
  dir="$(mktemp -d)"
  tar -C "$dir" -xf "$out"
  local manifest layer
  manifest="$(jq -r '.manifests[0].digest' "$dir/index.json" | sed 's/sha256://')"
  local gz=0 raw=0 sz
  for layer in $(jq -r '.layers[].digest' "$dir/blobs/sha256/$manifest" | sed 's/sha256://'); do
    sz=$(stat -c %s "$dir/blobs/sha256/$layer")
    gz=$((gz + sz))
    sz=$(gzip -dc "$dir/blobs/sha256/$layer" | wc -c)
    raw=$((raw + sz))
  done
  rm -rf "$dir"
  echo "uncompressed=$raw gzipped=$gz archive=$(stat -c %s "$out")"
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

build() {
  check_tools || exit $?
  local deno setsid nosigusr1 key dir out
  deno="$(deno_binary)"
  setsid="$("$ROOT/scripts/native.sh" build setsid)" || die "building dz-mcall-setsid failed"
  nosigusr1="$("$ROOT/scripts/native.sh" build nosigusr1)" || die "building dz-mcall-nosigusr1 failed"
  key="$(cache_key "$deno" "$setsid" "$nosigusr1")"
  dir="$CACHE_ROOT/$key"
  out="$dir/$REPO-$(version).oci.tar"
  local start=$SECONDS
  # One build at a time (tests in parallel processes may ask at once); the rest wait and hit.
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
  if [ -f "$out" ] && [ -f "$dir/sizes" ]; then
    echo "image: $(image_name) up to date (key $key)" >&2
  else
    echo "image: building $(image_name) (key $key)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    assemble "$dir/rootfs" "$deno" "$setsid" "$nosigusr1" || die "assembling the root file system failed"
    pack "$dir/rootfs" "$out" || die "packing with umoci failed"
    rm -rf "$dir/rootfs"
    sizes "$out" >"$dir/sizes"
    # Only the current build is kept.
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
  fi
  local raw gz
  raw="$(sed -E 's/.*uncompressed=([0-9]+).*/\1/' "$dir/sizes")"
  gz="$(sed -E 's/.*gzipped=([0-9]+).*/\1/' "$dir/sizes")"
  echo "image: $(image_name): $(mib "$raw") uncompressed, $(mib "$gz") gzipped ($((SECONDS - start)) s)" >&2
  echo "$out"
}

case "${1:-build}" in
build) build ;;
name) image_name ;;
launcher) launcher ;;
check) check_tools ;;
*)
  echo "usage: scripts/image.sh [build|name|launcher|check]" >&2
  exit 2
  ;;
esac
