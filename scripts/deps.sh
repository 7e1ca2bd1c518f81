#!/usr/bin/env bash
# deps.sh: installs the Debian packages mqgate needs that are missing;
# a no-op when all are there. Usage: scripts/deps.sh [extra packages...]
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      android-libboringssl-dev android-boringssl
      libuv1-dev libhiredis-dev libinih-dev uthash-dev
      redis-server mosquitto mosquitto-clients openssl python3
      clang libclang-rt-14-dev
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
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
