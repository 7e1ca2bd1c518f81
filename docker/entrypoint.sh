#!/usr/bin/env bash
# entrypoint.sh: what the mqgate image runs. Also usable outside a
# container (the tests run it so): every program is looked up on PATH.
#
#   entrypoint.sh [mqgate flags...]   run mqgate (the default)
#   entrypoint.sh check               mqgate --check-config, exit 0 or 2
#   entrypoint.sh healthcheck         GET /healthz on $MQGATE_METRICS
#   entrypoint.sh demo-pki DIR        a demo CA, server and two device
#                                     certificates in DIR; with
#                                     $MQGATE_REDIS set, the CA and
#                                     device-0001 are registered too
#   entrypoint.sh mqgatectl ...       the registry console
#   entrypoint.sh mqgate-certgen ...  the certificate generator
#
# Configuration: flags, MQGATE_* variables, or an INI file: $MQGATE_CONFIG,
# else /etc/mqgate/mqgate.ini when it exists.
set -euo pipefail

conf=${MQGATE_CONFIG:-}
if [ -z "$conf" ] && [ -f /etc/mqgate/mqgate.ini ]; then
  conf=/etc/mqgate/mqgate.ini
fi
[ -n "$conf" ] && export MQGATE_CONFIG="$conf"

healthcheck() {
  local addr=${MQGATE_METRICS:-}
  [ -n "$addr" ] || { echo "healthcheck: MQGATE_METRICS is not set" >&2; return 1; }
  local host=${addr%:*} port=${addr##*:}
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  local status
  IFS= read -r -t 3 status <&3 || return 1
  exec 3<&-
  [[ $status == *" 200 "* ]]
}

demo_pki() {
  local dir=$1
  mkdir -p "$dir"
  [ -f "$dir/ca.crt" ] || mqgate-certgen ca --cn "Demo Fleet CA" \
    --out-cert "$dir/ca.crt" --out-key "$dir/ca.key"
  [ -f "$dir/server.crt" ] || mqgate-certgen server --cn localhost \
    --issuer-cert "$dir/ca.crt" --issuer-key "$dir/ca.key" \
    --out-cert "$dir/server.crt" --out-key "$dir/server.key"
  for dev in device-0001 device-0002; do
    [ -f "$dir/$dev.crt" ] || mqgate-certgen device --cn "$dev" \
      --issuer-cert "$dir/ca.crt" --issuer-key "$dir/ca.key" \
      --out-cert "$dir/$dev.crt" --out-key "$dir/$dev.key"
  done
  chmod 644 "$dir"/*.crt "$dir"/*.key
  if [ -n "${MQGATE_REDIS:-}" ]; then
    # Idempotent: "already registered" (exit 1) is fine on a restart.
    mqgatectl ca register "$dir/ca.crt" || [ $? -eq 1 ]
    local ca
    ca=$(mqgatectl --json ca list | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' | head -1)
    mqgatectl cert register "$dir/device-0001.crt" --ca "$ca" || [ $? -eq 1 ]
    mqgatectl settings set registration auto
  fi
}

case "${1:-}" in
  check) shift; exec mqgate --check-config "$@" ;;
  healthcheck) healthcheck ;;
  demo-pki) demo_pki "${2:?usage: demo-pki DIR}" ;;
  mqgatectl|mqgate-certgen) exec "$@" ;;
  *) exec mqgate "$@" ;;
esac
