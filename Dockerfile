# syntax=docker/dockerfile:1
#
# dz-mcall image: a `deno compile` binary on distroless, running as UID 65532.
#
#   docker build -t dz-mcall:0.1.0 .                        # default: with busybox (sh, echo, …)
#   docker build --target runtime-slim -t dz-mcall:0.1.0-slim .   # no shell, no coreutils
#
# The default target carries a static busybox so cmd tasks such as the chart's example
# `echo 'Hello from task 1'` and `shell: true` tasks (`/bin/sh -c`) work; see docs/kubernetes.md for
# the trade-off against the slim target.

ARG DENO_VERSION=2.9.6
ARG DISTROLESS=gcr.io/distroless/cc-debian12:nonroot

# --- build: resolve the locked dependencies and compile one self-contained binary -------------
FROM denoland/deno:${DENO_VERSION} AS build
WORKDIR /src
ENV DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1
# Dependencies first (the imports in deno.json, checked against the frozen lock), so source
# edits reuse this layer; then whatever the entry point reaches.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY lib/ ./lib/
RUN deno install --frozen --entrypoint main.ts
# Explicit permissions instead of -A, from etc/deno-permissions (the one place they are written;
# scripts/image.sh reads it too): read config/secrets/token, write only /tmp, env for the MCALL_*
# layer, net for the API server and HTTP probes, run for cmd tasks, sys for hostname and memory
# metrics. Nothing is read from the source tree at run time, so no --include.
COPY etc/deno-permissions ./
# The V8 flags the program runs with, from etc/deno-v8-flags (the one place they are written).
COPY etc/deno-v8-flags ./
RUN mkdir -p /out && deno compile --frozen \
      $(grep -v '^[[:space:]]*\(#\|$\)' deno-permissions) \
      $(grep -v '^[[:space:]]*\(#\|$\)' deno-v8-flags) \
      -o /out/dz-mcall main.ts \
 && /out/dz-mcall --version

# --- busybox: a static shell and coreutils as relative symlinks ----------------------------------
FROM debian:12-slim AS busybox
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static \
 && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /rootfs/usr/local/bin /rootfs/bin \
 && cp /bin/busybox /rootfs/usr/local/bin/busybox \
 && for applet in $(/bin/busybox --list); do \
      [ "$applet" = busybox ] || ln -s busybox "/rootfs/usr/local/bin/$applet"; \
    done \
 && ln -s /usr/local/bin/busybox /rootfs/bin/sh \
 && /rootfs/usr/local/bin/busybox echo "busybox: $(/bin/busybox --list | wc -l) applets"

# --- native: dz-mcall-setsid and dz-mcall-nosigusr1 (native/README.md) ---------------------------
# native/setsid.c (setsid(2), then exec in place: the session launcher every cmd task is spawned
# through) and native/nosigusr1.c (blocks SIGUSR1, then exec in place: the entrypoint's launcher,
# so the signal cannot open Deno's V8 inspector), built static against musl by scripts/native.sh
# (the flags live there): no dynamic loader and no CPU-feature probing, so each costs one tiny
# exec. Built here, never at run time.
FROM debian:12-slim AS native
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY native/complain.h native/setsid.c native/nosigusr1.c ./native/
COPY scripts/native.sh ./scripts/
RUN mkdir -p /out \
 && cp "$(DZ_NATIVE_CACHE=/tmp/native bash scripts/native.sh build setsid)" /out/dz-mcall-setsid \
 && cp "$(DZ_NATIVE_CACHE=/tmp/native bash scripts/native.sh build nosigusr1)" /out/dz-mcall-nosigusr1

# --- runtime-slim: the binary alone (cmd tasks can only run programs you add) -------------------
FROM ${DISTROLESS} AS runtime-slim
ARG DENO_VERSION
LABEL org.opencontainers.image.title="dz-mcall" \
      org.opencontainers.image.description="Kubernetes-native task runner (leader election, task ConfigMaps)" \
      org.opencontainers.image.version="0.1.0"
# /tmp is the only writable path (an emptyDir in the chart); the compiled binary's code cache
# and any temporary files go there.
ENV TMPDIR=/tmp HOME=/tmp
COPY --from=build --chown=0:0 --chmod=0755 /out/dz-mcall /app/dz-mcall
# Found on PATH before any `setsid` (lib/engine/command.ts); read-only, owned by root.
COPY --from=native --chown=0:0 --chmod=0555 /out/dz-mcall-setsid /usr/local/bin/dz-mcall-setsid
# The entrypoint's launcher: the program starts with SIGUSR1 blocked (native/nosigusr1.c).
COPY --from=native --chown=0:0 --chmod=0555 /out/dz-mcall-nosigusr1 /usr/local/bin/dz-mcall-nosigusr1
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
# SIGUSR1 blocked before the runtime starts: Deno would open an unauthenticated V8 inspector on
# it (docs/operations.md). A pod that sets `command:` keeps this launcher first.
ENTRYPOINT ["/usr/local/bin/dz-mcall-nosigusr1", "/app/dz-mcall"]
CMD ["--help"]

# --- runtime (default): slim + busybox ------------------------------------------------------------
# (busybox's tree adds applets next to the dz-mcall-* helpers in /usr/local/bin and keeps them.)
FROM runtime-slim AS runtime
COPY --from=busybox /rootfs/ /
