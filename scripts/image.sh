#!/usr/bin/env bash
# image.sh: builds and runs mqgate's container image (docker/Dockerfile) with
# whichever engine this machine has: Docker when an engine answers, else
# podman, else buildah.
#
#   scripts/image.sh engine   print docker, podman, buildah or none (and why)
#   scripts/image.sh base     debian:bookworm and debian:bookworm-slim: there
#                             already, or pulled, or else (no registry
#                             reachable) made here with mmdebstrap from the
#                             machine's Debian mirror and imported
#   scripts/image.sh build    base, then the image; prints its size
#   scripts/image.sh size     the image's size (uncompressed and gzipped)
#   scripts/image.sh test     the sidecar story with the image's programs
#                             (tests/image/sidecar.py; needs buildah)
#
# IMAGE names the image (default mqgate:local; podman stores it as
# localhost/mqgate:local). MQG_IMAGE_ENGINE forces an engine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${IMAGE:-mqgate:local}
log() { echo "image: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- the engine ----------------------------------------------------------------
# Sets ENGINE and, in words, why (engine_why).
pick_engine() {
  engine_why=""
  if [ -n "${MQG_IMAGE_ENGINE:-}" ]; then
    ENGINE=$MQG_IMAGE_ENGINE engine_why="MQG_IMAGE_ENGINE"; return
  fi
  if command -v docker >/dev/null 2>&1; then
    if timeout 15 docker info >/dev/null 2>&1; then
      ENGINE=docker engine_why="a Docker engine answers"; return
    fi
    engine_why="docker is installed but no Docker engine answers, so "
  fi
  for e in podman buildah; do
    if command -v $e >/dev/null 2>&1; then
      ENGINE=$e engine_why+="$e is used"; return
    fi
  done
  ENGINE=none engine_why+="neither podman nor buildah is installed (make image-deps)"
}
pick_engine
# podman and buildah: the full name of a local image.
case $IMAGE in
  */*) FULL_IMAGE=$IMAGE ;;
  *) FULL_IMAGE=localhost/$IMAGE ;;
esac
[ "$ENGINE" = docker ] && FULL_IMAGE=$IMAGE

have_image() {
  case $ENGINE in
    docker) docker image inspect "$1" ;;
    podman) podman image exists "$1" ;;
    buildah) buildah inspect --type image "$1" ;;
  esac >/dev/null 2>&1
}

# --- base images -----------------------------------------------------------------
# mmdebstrap options per tag: both merged-/usr without the usrmerge package
# (which pulls in perl), as Debian's official images are; -slim also leaves
# out documentation, manuals and translations (and keeps leaving them out
# for what the Dockerfile installs: the options stay in the image's dpkg
# configuration), as debian:*-slim does.
slim_opts=(--dpkgopt='path-exclude=/usr/share/man/*'
           --dpkgopt='path-exclude=/usr/share/doc/*'
           --dpkgopt='path-include=/usr/share/doc/*/copyright'
           --dpkgopt='path-exclude=/usr/share/info/*'
           --dpkgopt='path-exclude=/usr/share/locale/*'
           --dpkgopt='path-include=/usr/share/locale/locale.alias'
           --dpkgopt='path-exclude=/usr/share/lintian/*')

make_base() { # TAG
  local tag=$1 ref=docker.io/library/debian:$1 opts=()
  [ "$ENGINE" = docker ] && ref=debian:$1
  if have_image "$ref"; then return 0; fi
  log "pulling $ref"
  if timeout 300 "$ENGINE" pull "$ref" >/dev/null 2>&1; then return 0; fi
  command -v mmdebstrap >/dev/null 2>&1 ||
    die "$ref cannot be pulled and mmdebstrap is missing (make image-deps)"
  [ "$tag" = bookworm-slim ] && opts=("${slim_opts[@]}")
  local tmp
  tmp=$(mktemp -d)
  log "$ref cannot be pulled: making it with mmdebstrap (minbase)"
  if ! mmdebstrap --variant=minbase --format=tar \
       --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr "${opts[@]}" \
       bookworm "$tmp/base.tar" >"$tmp/mmdebstrap.log" 2>&1; then
    tail -n 20 "$tmp/mmdebstrap.log" >&2; rm -rf "$tmp"; die "mmdebstrap failed"
  fi
  case $ENGINE in
    docker|podman) "$ENGINE" import "$tmp/base.tar" "$ref" >/dev/null ;;
    buildah)
      local c
      c=$(buildah from scratch)
      buildah add "$c" "$tmp/base.tar" / >/dev/null
      buildah commit --rm "$c" "$ref" >/dev/null ;;
  esac
  rm -rf "$tmp"
  log "$ref imported"
}

# --- build, size ---------------------------------------------------------------------
build() {
  [ "$ENGINE" != none ] || die "no container engine: $engine_why"
  log "engine: $ENGINE ($engine_why)"
  make_base bookworm
  make_base bookworm-slim
  local t0=$SECONDS
  log "building $FULL_IMAGE"
  cd "$root"
  case $ENGINE in
    docker) docker build -f docker/Dockerfile -t "$FULL_IMAGE" . ;;
    # chroot isolation and the host's network: what works in sandboxes
    # without user namespaces too. The docker format keeps the HEALTHCHECK.
    podman) podman build --network host --isolation chroot --format docker --layers \
              -f docker/Dockerfile -t "$FULL_IMAGE" . ;;
    buildah) buildah bud --network host --isolation chroot --format docker --layers \
               -f docker/Dockerfile -t "$FULL_IMAGE" . ;;
  esac
  log "built $FULL_IMAGE in $((SECONDS - t0)) s"
  size
}

size() {
  have_image "$FULL_IMAGE" || die "no image $FULL_IMAGE (make image)"
  local bytes gz
  case $ENGINE in
    docker|podman) bytes=$("$ENGINE" image inspect --format '{{.Size}}' "$FULL_IMAGE") ;;
    buildah) bytes=$(buildah images --json "$FULL_IMAGE" |
                       sed -n 's/.*"size": *\([0-9]*\).*/\1/p' | head -1) ;;
  esac
  case $ENGINE in
    docker|podman) gz=$("$ENGINE" save "$FULL_IMAGE" 2>/dev/null | gzip -6 | wc -c) ;;
    buildah) gz="" ;;
  esac
  printf 'image %s: %s MB uncompressed%s\n' "$FULL_IMAGE" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')" \
    "${gz:+, $(awk -v b="$gz" 'BEGIN { printf "%.1f", b / 1e6 }') MB gzipped (what a registry transfers)}"
}

# --- test ------------------------------------------------------------------------------
run_test() {
  command -v buildah >/dev/null 2>&1 || die "the image test runs the image with buildah (make image-deps)"
  local ref=$FULL_IMAGE
  if [ "$ENGINE" = docker ]; then
    # One way to run the image's programs everywhere: buildah's, from the
    # image copied out of Docker.
    # (Written as on podman, where the same steps were tried; no Docker
    # engine was at hand to run them against.)
    ref=localhost/mqgate-from-docker:test
    log "copying $FULL_IMAGE from Docker to buildah's store as $ref"
    local tmp id
    tmp=$(mktemp -d)
    docker save -o "$tmp/image.tar" "$FULL_IMAGE"
    id=$(buildah pull -q "docker-archive:$tmp/image.tar")
    rm -rf "$tmp"
    buildah tag "$id" "$ref"
  fi
  MQG_IMAGE=$ref python3 "$root/tests/image/sidecar.py"
}

case "${1:-}" in
  engine) echo "$ENGINE"; log "$engine_why" ;;
  base) [ "$ENGINE" != none ] || die "no container engine: $engine_why"
        make_base bookworm; make_base bookworm-slim ;;
  build) build ;;
  size) size ;;
  test) run_test ;;
  *) echo "usage: scripts/image.sh engine|base|build|size|test" >&2; exit 2 ;;
esac
