#!/usr/bin/env bash
# bench-deps.sh: the Debian packages bench/compare needs beyond the
# project's own (the peers it measures mqgate against, and bssl-tool for the
# crypto baseline), installed by scripts/deps.sh when missing.
exec "$(dirname "$0")/deps.sh" haproxy nginx libnginx-mod-stream hitch stunnel4 \
  android-boringssl
