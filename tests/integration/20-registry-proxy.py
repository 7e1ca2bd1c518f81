"""20: mqgate in auth mode registry against a real Redis, with mqgatectl as
the console and real Mosquitto behind: manual and automatic registration,
the client-ID rule (registered ID > CN) and strict mode, revocation and
deactivation cutting live sessions on two proxies, the TLS window changed
from the CLI, associated clients, Redis outages (stale cache bounded,
unknown devices refused, cache dropped on reconnect, a missed invalidation
caught after the reconnect)."""
import json
import os
import ssl
import subprocess
import time

from harness import (MQGATECTL, Client, Mosquitto, Mqgate, Pki, Redis, Workdir, cert_fp, check,
                     client_context, connect_packet, finish, free_port, handshake_error,
                     http_get, scrape, subscribe_packet, wait_for)

PREFIX = "fleet1"


wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd, persist=True)
    broker = Mosquitto(wd)
    env = dict(os.environ, MQGATE_REDIS=redis.url, MQGATE_REDIS_PREFIX=PREFIX)

    def ctl(*args):
        return subprocess.run([MQGATECTL] + list(args), capture_output=True, text=True,
                              env=env, timeout=20)

    r = ctl("ca", "register", pki.ca_cert)
    check(r.returncode == 0, "CA registered (%s)" % (r.stderr.strip() or "ok"))
    ca_id = cert_fp(pki.ca_cert)
    devs = {n: pki.device(n) for n in ("device-0001", "device-0002", "device-0003",
                                       "device-0004", "device-0005")}
    fp = {n: cert_fp(c) for n, (c, k) in devs.items()}
    ctx = {n: client_context(c, k, pki.ca_cert) for n, (c, k) in devs.items()}

    args = ["--auth", "registry", "--redis", redis.url, "--redis-prefix", PREFIX,
            "--redis-stale", "3s"]
    metrics_port = free_port()
    gate = Mqgate(wd, pki, broker.port, args + ["--metrics", "127.0.0.1:%d" % metrics_port])
    gate2 = Mqgate(wd, pki, broker.port, args)
    check(wait_for(lambda: "serving: every worker is ready" in gate.text() and
                   "serving: every worker is ready" in gate2.text()),
          "both proxies reach Redis (every worker has read the CAs)")

    def connect(port, name, client_id="", level=4):
        c = Client(port, ctx[name])
        c.send(connect_packet(level, client_id))
        return c, c.recv_packet()

    # Manual mode: an unregistered certificate is refused.
    got = handshake_error(gate.port, ctx["device-0001"])
    check(got == "certificate unknown", "manual mode, unregistered: alert certificate_unknown "
          "(got %s)" % got)
    check(wait_for(lambda: "reason=cert_unregistered" in gate.text()),
          "logged as cert_unregistered")

    # Registration (invalidating the cached refusal); registered ID > CN.
    r = ctl("cert", "register", devs["device-0001"][0], "--ca", ca_id, "--client-id", "sensor-A")
    check(r.returncode == 0, "device-0001 registered with client ID sensor-A")
    r = ctl("cert", "register", devs["device-0002"][0], "--ca", ca_id)
    check(r.returncode == 0, "device-0002 registered without a client ID")
    c, pkt = connect(gate.port, "device-0001")
    check(pkt is not None and pkt[1][1] == 0, "device-0001 connects once registered")
    check(wait_for(lambda: broker.client_ids()[-1:] == ["sensor-A"]),
          "empty client ID -> the registered client ID sensor-A")
    c.close()
    c, pkt = connect(gate.port, "device-0002")
    check(wait_for(lambda: broker.client_ids()[-1:] == ["device-0002"]),
          "empty client ID, no registered ID -> the CN device-0002")
    c.close()
    r = ctl("cert", "register", devs["device-0003"][0], "--ca", ca_id, "--client-id", "sensor-A")
    check(r.returncode == 1, "a duplicate registered client ID is refused (exit 1)")

    # Heartbeats: each proxy says who it is and what it did in the last minute.
    def heartbeats():
        ids = redis.cli("ZRANGE", PREFIX + ":proxies", 0, -1).split()
        docs = [redis.cli("GET", PREFIX + ":proxy:" + i) for i in ids]
        return [json.loads(d) for d in docs if d]

    check(wait_for(lambda: len(heartbeats()) == 2, 15), "both proxies publish a heartbeat")
    hb = {d["listen"]: d for d in heartbeats()}
    mine = hb.get("127.0.0.1:%d" % gate.port, {})
    check(mine.get("pid") == gate.proc.pid and mine.get("version") and
          "BoringSSL" in mine.get("boringssl", "") and mine.get("connections_open", -1) >= 0,
          "heartbeat: pid, version, BoringSSL, connections (%s)" % mine)
    check(wait_for(lambda: any(d.get("handshakes_1m", 0) >= 2 and
                               d.get("refusals_1m", {}).get("cert_unregistered", 0) >= 1
                               for d in heartbeats()), 15),
          "heartbeat: the last minute's handshakes and refusals by reason")
    ttl = int(redis.cli("TTL", PREFIX + ":proxy:" + mine.get("id", "?")))
    check(0 < ttl <= 30, "a heartbeat expires unless renewed (TTL %d s)" % ttl)

    # Associated clients.
    r = ctl("--json", "cert", "show", fp["device-0001"])
    check(r.returncode == 0 and "sensor-A" in r.stdout,
          "cert show lists sensor-A among the associated clients")

    # Strict client IDs, switched from the CLI.
    check(ctl("settings", "set", "client-id-mode", "strict").returncode == 0, "strict mode set")
    check(wait_for(lambda: "client IDs strict" in gate.text()), "proxy applies strict mode")
    for level, code in ((4, 0x02), (5, 0x85)):
        c, pkt = connect(gate.port, "device-0002", "someone-else", level)
        check(pkt is not None and pkt[1][1] == code,
              "strict, MQTT %d, foreign ID: CONNACK 0x%02x" % (level, code))
        c.close()
    c, pkt = connect(gate.port, "device-0001", "sensor-A")
    check(pkt is not None and pkt[1][1] == 0, "strict, its own registered ID: accepted")
    c.close()
    c, pkt = connect(gate.port, "device-0002", "device-0002")
    check(pkt is not None and pkt[1][1] == 0, "strict, its CN (no registered ID): accepted")
    c.close()
    ctl("settings", "set", "client-id-mode", "default")
    check(wait_for(lambda: "client IDs default" in gate.text()), "back to default mode")

    # Revocation and deactivation cut live sessions, on both proxies.
    def live(port, name, cid):
        c, pkt = connect(port, name, cid)
        c.send(subscribe_packet("t/" + cid, 0))
        c.recv_packet()
        c.sock.settimeout(5)
        return c

    subs = [live(gate.port, "device-0001", "sensor-A-1"), live(gate2.port, "device-0001",
                                                              "sensor-A-2")]
    r = ctl("cert", "revoke", fp["device-0001"])
    t_ret = time.time()
    check(r.returncode == 0, "revoke device-0001")
    lat = []
    for s in subs:
        ended = s.closed_within(5) is not None
        lat.append(time.time() - t_ret)
        check(ended, "revocation cut a live session")
    check(max(lat) < 0.5, "both proxies cut within %.0f ms of the CLI returning" %
          (max(lat) * 1000))
    got = handshake_error(gate.port, ctx["device-0001"])
    check(got == "certificate revoked", "revoked device: alert certificate_revoked (got %s)" % got)
    check(ctl("cert", "activate", fp["device-0001"]).returncode == 1, "revoked is final")

    s = live(gate2.port, "device-0002", "d2")
    check(ctl("cert", "deactivate", fp["device-0002"]).returncode == 0, "deactivate device-0002")
    check(s.closed_within(5) is not None, "deactivation cut the live session")
    # The other proxy: the event reaches it about when it reached gate2.
    got = []
    wait_for(lambda: got.append(handshake_error(gate.port, ctx["device-0002"])) or
             got[-1] == "access denied", 2)
    check(got[-1] == "access denied",
          "inactive device: alert access_denied on the other proxy too (got %s)" % got)
    ctl("cert", "activate", fp["device-0002"])

    # TLS session resumption: works for an active certificate, and a
    # resumed session is checked again, so deactivation also stops it.
    c, pkt = connect(gate.port, "device-0002", "resume-1")
    sess = c.sock.session
    c.close()
    c = Client(gate.port, ctx["device-0002"], session=sess)
    c.send(connect_packet(4, "resume-2"))
    pkt = c.recv_packet()
    if not check(pkt is not None and pkt[1][1] == 0 and c.sock.session_reused,
                 "an active device resumes its TLS session"):
        print("CONNACK %r, session %r, reused %r" % (pkt, sess, c.sock.session_reused))
        print(gate.text()[-2500:])
    sess = c.sock.session
    c.close()
    check(ctl("cert", "deactivate", fp["device-0002"]).returncode == 0, "deactivate it again")
    # The change reaches the proxy by pub/sub within milliseconds of the CLI
    # returning; a resumed session is refused from then on.
    got = wait_for(lambda: handshake_error(gate.port, ctx["device-0002"], session=sess)
                   == "access denied", 2)
    check(got, "a resumed session of an inactive certificate is refused")
    ctl("cert", "activate", fp["device-0002"])

    # TLS window from the CLI: both proxies, next handshake.
    check(ctl("settings", "set", "tls-min", "1.3").returncode == 0, "tls-min 1.3 set")
    check(wait_for(lambda: gate2.text().count("TLS window 1.3..1.3") >= 1), "proxy applies it")
    c12 = client_context(*devs["device-0002"], ca=pki.ca_cert)
    c12.maximum_version = ssl.TLSVersion.TLSv1_2
    for g in (gate, gate2):
        got = handshake_error(g.port, c12)
        check(got == "protocol version", "TLS 1.2 refused by the proxy on %d (got %s)" %
              (g.port, got))
    ctl("settings", "set", "tls-min", "1.0")
    check(wait_for(lambda: handshake_error(gate2.port, c12) == ""), "TLS 1.2 accepted again")

    # Automatic registration.
    check(ctl("settings", "set", "registration", "auto").returncode == 0, "automatic mode set")
    time.sleep(0.2)
    c, pkt = connect(gate.port, "device-0004")
    check(pkt is not None and pkt[1][1] == 0, "automatic mode: an unknown device of the CA connects")
    c.close()
    r = ctl("--json", "cert", "list")
    rows = json.loads(r.stdout) if r.returncode == 0 else {}
    rows = rows.get("certs", []) if isinstance(rows, dict) else rows
    mine = [x for x in rows if x.get("fp") == fp["device-0004"]]
    check(len(mine) == 1 and mine[0].get("status") == "active" and mine[0].get("source") == "auto",
          "it is listed as active, source auto")
    other_ca = pki.other_ca()
    stranger = pki.device("stranger", issuer=other_ca)
    got = handshake_error(gate.port, client_context(*stranger, ca=pki.ca_cert))
    check(got == "unknown ca", "automatic mode, unregistered CA: unknown_ca (got %s)" % got)
    # A CA registered takes no live session's standing away: the proxies
    # read the CAs again without asking about each session.
    held = [live(gate.port, "device-0004", "d4-%d" % i) for i in range(30)]

    def fcall_ro():
        line = [x for x in redis.cli("INFO", "commandstats").splitlines()
                if x.startswith("cmdstat_fcall_ro:")]
        return int(line[0].split("calls=")[1].split(",")[0]) if line else 0
    n0 = fcall_ro()
    check(ctl("ca", "register", other_ca[0], "--inactive").returncode == 0,
          "other CA registered inactive")
    got = wait_for(lambda: handshake_error(gate.port, client_context(*stranger, ca=pki.ca_cert))
                   == "access denied")
    check(got, "automatic mode, inactive CA: access_denied")
    sent = fcall_ro() - n0
    check(sent < len(held), "a CA registered: %d read-only calls to Redis with %d live sessions "
          "(the CAs and the lookups, no session asked about)" % (sent, len(held)))
    for s in held:
        s.close()

    # Readiness: Redis and the broker both reachable.
    check(http_get(metrics_port, "/readyz") == (200, "ready\n"), "/readyz: 200 ready")
    check(http_get(metrics_port, "/healthz")[0] == 200, "/healthz: 200")
    broker.stop()
    code, body = http_get(metrics_port, "/readyz")
    check(code == 503 and "broker unreachable" in body, "/readyz with the broker down: 503 (%s)"
          % body.strip())
    broker.start()

    # Redis down: cached active device in, unknown device out, bounded.
    c, pkt = connect(gate.port, "device-0004")  # warm the cache
    c.close()
    connects = gate.text().count("registry: connected")
    redis.stop()
    check(wait_for(lambda: "unreachable" in gate.text()), "proxy notices Redis is gone")
    c, pkt = connect(gate.port, "device-0004")
    check(pkt is not None and pkt[1][1] == 0, "Redis down: a cached active device connects")
    c.close()
    got = handshake_error(gate.port, ctx["device-0005"])
    check(got == "internal error", "Redis down: an unknown device gets internal_error (got %s)" % got)
    time.sleep(3.5)
    got = handshake_error(gate.port, ctx["device-0004"])
    check(got == "internal error", "after --redis-stale, the cached device is refused too (%s)" % got)
    check(gate.proc.poll() is None and gate2.proc.poll() is None, "no proxy crashed")
    code, body = http_get(metrics_port, "/readyz")
    check(code == 503 and "registry" in body, "/readyz with Redis down: 503 (%s)" % body.strip())
    redis.start()
    # One line per worker (two) and per connect.
    check(wait_for(lambda: gate.text().count("registry: connected") >= connects + 2, 15),
          "proxy reconnects to Redis")
    c, pkt = connect(gate.port, "device-0004")
    if not check(pkt is not None and pkt[1][1] == 0, "after the reconnect the device connects again"):
        print(gate.text()[-3000:])

    # A revocation the proxies miss (their connections killed just before):
    # caught after the reconnect, live session included.
    s = live(gate.port, "device-0004", "d4")
    out = subprocess.run(["redis-cli", "-p", str(redis.port)], input=(
        "CLIENT KILL TYPE pubsub\nCLIENT KILL TYPE normal\n"
        "FCALL mqgate_cert_set 0 %s %s revoke test\n" % (PREFIX, fp["device-0004"])),
        capture_output=True, text=True).stdout
    # redis-cli prints one reply a line: the two kill counts, then the FCALL's.
    check(out.strip().split("\n")[-1] == "revoked",
          "revoked behind the proxies' back (%s)" % out.strip().replace("\n", " / "))
    check(s.closed_within(5) is not None, "the missed revocation still cut the live session")
    got = wait_for(lambda: handshake_error(gate.port, ctx["device-0004"]) == "certificate revoked")
    check(got, "and the device is refused after the reconnect")
    # Every refusal reason seen above has its own counter.
    m = scrape(metrics_port)
    for reason in ("cert_unregistered", "cert_revoked", "cert_inactive", "ca_inactive",
                   "unknown_ca", "client_id_rejected", "registry_unavailable", "tls_version"):
        check(m.get('mqgate_refusals_total{reason="%s"}' % reason, 0) >= 1,
              "counter mqgate_refusals_total{reason=\"%s\"} moved" % reason)
    check(m.get("mqgate_registry_cuts_total", 0) >= 2, "revocation cuts counted")
    check(m.get("mqgate_registry_cache_hits_total", 0) >= 1 and
          m.get("mqgate_registry_cache_misses_total", 0) >= 1, "cache hits and misses counted")
    check(m.get("mqgate_handshakes_resumed_total", 0) >= 1, "resumed handshakes counted")
    check(m.get('mqgate_handshakes_by_version_total{version="TLSv1.3"}', 0) >= 1 and
          'mqgate_handshakes_by_version_total{version="TLSv1.0"}' in m,
          "handshakes counted by TLS version")
    check(m.get("mqgate_registry_round_trip_seconds_count", 0) >= 1 and
          m.get('mqgate_registry_round_trip_seconds_bucket{le="+Inf"}') ==
          m.get("mqgate_registry_round_trip_seconds_count"),
          "Redis round trips in a histogram (%d)" % m.get("mqgate_registry_round_trip_seconds_count", 0))
    check(m.get("mqgate_registry_links") == 2 and m.get("mqgate_registry_links_up") == 2,
          "Redis link state: 2 of 2 up")
    check("mqgate_registry_cache_entries" in m, "cache size gauge present")
    check(gate.stop() == 0 and gate2.stop() == 0, "both proxies exit 0")
finally:
    wd.cleanup()
finish()
