#!/usr/bin/env bash
# deps.sh: installs the Debian packages mqgate needs that are missing;
# a no-op when all are there. Usage: scripts/deps.sh [extra packages...]
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      android-libboringssl-dev android-boringssl
      libuv1-dev libhiredis-dev libinih-dev uthash-dev libjansson-dev libsystemd-dev
      libhttp-parser-dev
      redis-server mosquitto mosquitto-clients openssl python3 curl
      clang libclang-rt-14-dev
      help2man lintian mmdebstrap systemd strace  # packaging/ and its test (56)
      chromium chromium-driver python3-selenium python3-jsonschema  # the console's tests (60, 61)
      libmbedtls-dev libwolfssl-dev
      docker-compose python3-yaml   # tests/integration/53: compose.yaml, k8s-sidecar.yaml
      "$@")

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d 101: the packages' own services (mosquitto, redis, and for the
# bench nginx, haproxy, hitch) must not start on the system ports; tests and
# benchmarks start their own instances on free loopback ports.
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$prc" >/dev/null
  $sudo chmod 755 "$prc"
  made_prc=1
fi
trap '[ $made_prc -eq 1 ] && $sudo rm -f "$prc"' EXIT
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
