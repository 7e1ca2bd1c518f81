#!/usr/bin/env bash
# bench-deps.sh: installs the Debian packages bench/compare needs beyond
# scripts/deps.sh (the peers it measures mqgate against, and bssl-tool for
# the crypto baseline) when missing; a no-op when all are there.
set -euo pipefail

pkgs=(haproxy nginx libnginx-mod-stream hitch stunnel4
      mosquitto redis-server android-boringssl python3)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bench-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d 101: the packages' own services (nginx, haproxy, hitch,
# mosquitto, redis) must not start on the system ports; the bench starts
# its own instances on free loopback ports.
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$prc" >/dev/null
  $sudo chmod 755 "$prc"
  made_prc=1
fi
trap '[ $made_prc -eq 1 ] && $sudo rm -f "$prc"' EXIT
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
