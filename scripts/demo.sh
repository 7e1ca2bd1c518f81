#!/usr/bin/env bash
# demo.sh: mqgate end to end on loopback, the "one device, one certificate"
# story. Starts its own redis-server and Mosquitto in a temp dir, makes a
# demo CA and device certificates, registers the CA and one device (with a
# registered client ID), lets a second device register itself on connect,
# shows both devices' client IDs as the broker sees them, revokes the first
# and shows its live session cut, starts mqgate-admin (the HTTPS API and
# web console) with a demo token and calls its API once, then keeps
# serving until Ctrl-C and removes everything it started.
#
# Usage: scripts/demo.sh [BUILD_DIR]   (MQG_DEMO_ONESHOT=1: stop after the show)
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
mqgate="$build/proxy/mqgate"
ctl="$build/policy/mqgatectl"
certgen="$build/bench/mqgate-certgen"
admin="$build/policy/mqgate-admin"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 never opened" >&2; return 1
}
wait_log() { # wait_log FILE PATTERN: up to 10 s
  for _ in $(seq 100); do grep -q -- "$2" "$1" && return 0; sleep 0.1; done
  echo "  (did not see \"$2\" in $1)" >&2; return 1
}

dir=$(mktemp -d /tmp/mqgate-demo.XXXXXX)
chmod 755 "$dir" # Mosquitto started as root drops to its own user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
  echo "demo stopped; $dir removed"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

redis_port=$(free_port)
broker_port=$(free_port)
gate_port=$(free_port)
admin_port=$(free_port)
export MQGATE_REDIS="redis://127.0.0.1:$redis_port/0" MQGATE_REDIS_PREFIX=demo

say "1. Redis (the registry) on 127.0.0.1:$redis_port, Mosquitto (the broker) on 127.0.0.1:$broker_port"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$dir" --logfile "$dir/redis.log" &
pids+=($!)
touch "$dir/mosquitto.log"; chmod 666 "$dir/mosquitto.log"
cat > "$dir/mosquitto.conf" <<CONF
listener $broker_port 127.0.0.1
allow_anonymous true
log_dest file $dir/mosquitto.log
log_type all
connection_messages true
CONF
mosquitto -c "$dir/mosquitto.conf" >/dev/null 2>&1 &
pids+=($!)
wait_port "$redis_port"
wait_port "$broker_port"

say "2. a demo CA and two device certificates (CN device-0001, device-0002)"
"$certgen" ca --cn "Demo Fleet CA" --out-cert "$dir/ca.crt" --out-key "$dir/ca.key"
"$certgen" server --cn localhost --issuer-cert "$dir/ca.crt" --issuer-key "$dir/ca.key" \
  --out-cert "$dir/server.crt" --out-key "$dir/server.key"
for dev in device-0001 device-0002; do
  "$certgen" device --cn "$dev" --ou sensors --issuer-cert "$dir/ca.crt" \
    --issuer-key "$dir/ca.key" --out-cert "$dir/$dev.crt" --out-key "$dir/$dev.key"
done
chmod 644 "$dir"/*.key

say "3. register the CA, and device-0001 by hand with the client ID sensor-kitchen"
echo "  \$ mqgatectl ca register ca.crt"
"$ctl" ca register "$dir/ca.crt" | sed 's/^/  /'
ca_id=$("$ctl" --json ca list | python3 -c 'import json,sys; print(json.load(sys.stdin)["cas"][0]["id"])')
echo "  \$ mqgatectl cert register device-0001.crt --ca ${ca_id:0:16} --client-id sensor-kitchen"
"$ctl" cert register "$dir/device-0001.crt" --ca "$ca_id" --client-id sensor-kitchen | sed 's/^/  /'

say "4. mqgate on 127.0.0.1:$gate_port: mutual TLS, certificates checked against the registry"
"$mqgate" --listen "127.0.0.1:$gate_port" --backend "127.0.0.1:$broker_port" \
  --cert "$dir/server.crt" --key "$dir/server.key" --auth registry \
  --state-dir "$dir/state" --workers 1 2> >(tee "$dir/mqgate.log" | sed 's/^/  [mqgate] /' >&2) &
pids+=($!)
wait_port "$gate_port"
wait_log "$dir/mqgate.log" "registry: connected"

dev() { echo -h 127.0.0.1 -p "$gate_port" --cafile "$dir/ca.crt" --cert "$dir/$1.crt" --key "$dir/$1.key"; }
say "5. device-0001 (mosquitto_sub, empty client ID) subscribes through mqgate"
mosquitto_sub $(dev device-0001) -V mqttv311 -t 'demo/#' -v > "$dir/sub.out" 2> "$dir/sub.err" &
sub=$!
pids+=($sub)
wait_log "$dir/mosquitto.log" "as sensor-kitchen"

say "6. automatic registration on, then device-0002 (never registered) publishes"
echo "  \$ mqgatectl settings set registration auto"
"$ctl" settings set registration auto | sed 's/^/  /'
sleep 0.3
mosquitto_pub $(dev device-0002) -V mqttv5 -t demo/hello -m "hello from device-0002" -d | sed 's/^/  /'
wait_log "$dir/sub.out" "hello from device-0002"
echo "  device-0001 received: $(cat "$dir/sub.out")"

say "7. what the broker saw, and the registry now"
grep "New client connected" "$dir/mosquitto.log" | sed 's/^[0-9]*: /  broker: /'
"$ctl" cert list | sed 's/^/  /'
grep -q "as sensor-kitchen " "$dir/mosquitto.log" && grep -q "as device-0002 " "$dir/mosquitto.log" || {
  echo "  -> the devices were NOT seen at the broker as expected" >&2; exit 1; }
echo "  -> device-0001 is known by its registered client ID, device-0002 by its CN"

say "8. revoke device-0001: its live session is cut at once"
fp1=$("$ctl" --json cert list --cn device-0001 | python3 -c 'import json,sys; print(json.load(sys.stdin)["certs"][0]["fp"])')
echo "  \$ mqgatectl cert revoke ${fp1:0:16}"
"$ctl" cert revoke "$fp1" | sed 's/^/  /'
wait_log "$dir/mqgate.log" "cut by a registry change"
wait_log "$dir/mosquitto.log" "Client sensor-kitchen closed its connection"
echo "  -> mqgate cut device-0001's session; its reconnects are now refused:"
sleep 1
grep "reason=cert_revoked" "$dir/mqgate.log" | tail -1 | sed 's/^/  /'
kill "$sub" 2>/dev/null || true

say "9. mqgate-admin: the HTTPS API and the web console, with a demo token"
echo "  \$ mqgatectl token create --role admin --name demo"
token=$("$ctl" token create --role admin --name demo 2>/dev/null)
echo "  $token"
"$admin" --listen "127.0.0.1:$admin_port" --redis "$MQGATE_REDIS" --redis-prefix demo \
  --state-dir "$dir/admin" 2> "$dir/admin.log" &
pids+=($!)
wait_port "$admin_port"
echo "  \$ curl --cacert admin.crt -H 'Authorization: Bearer <token>' https://localhost:$admin_port/api/v1/audit?limit=3"
out=$(curl -s --cacert "$dir/admin/admin.crt" -H "Authorization: Bearer $token" \
  "https://localhost:$admin_port/api/v1/audit?limit=3")
echo "  $out" | cut -c1-300
echo "$out" | grep -q '"token.create"' || { echo "  -> the API did not answer as expected" >&2; exit 1; }

[ "${MQG_DEMO_ONESHOT:-}" = 1 ] && exit 0

say "the web console: open https://localhost:$admin_port/ and paste the token"
echo "  token: $token"
echo "  (self-signed certificate: $dir/admin/admin.crt; the browser asks once)"

say "mqgate keeps serving. Paste these in another terminal (Ctrl-C here stops everything):"
echo "  export MQGATE_REDIS=$MQGATE_REDIS MQGATE_REDIS_PREFIX=$MQGATE_REDIS_PREFIX"
echo "  mosquitto_sub $(dev device-0002) -t 'demo/#' -v"
echo "  mosquitto_pub $(dev device-0002) -V mqttv5 -t demo/hello -m hi -d"
echo "  $ctl cert list"
while true; do sleep 3600; done
