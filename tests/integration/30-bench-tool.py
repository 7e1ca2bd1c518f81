"""30: mqgate-bench, the load tool, against a real Mosquitto through mqgate.

Each scenario briefly (small counts, about a second each): conn (with
resumption, hold, MQTT 5 and empty IDs, TLS 1.2 with a verified server),
pub (QoS 0 and 1), sub (fan-out), latency (pairs) and idle (the proxy's
RSS per connection); its one JSON object on stdout is checked: counts,
no errors, ordered percentiles. Then the failures it must name: a device
of an unknown CA ("tls_alert:unknown_ca"), a broker refusing CONNECT
("connack:5", "connack:135"), a server certificate of another CA, a closed
port ("refused"), a server that never answers ("timeout", bounded by
--timeout), a target that is not loopback (refused before any
connection); and conn straight against Mosquitto's own TLS listener with
require_certificate."""
import json
import os
import socket
import subprocess
import time

from harness import (BUILD, CERTGEN, Mosquitto, Mqgate, Pki, Workdir, check, finish,
                     free_port, run)

BENCH = os.path.join(BUILD, "bench", "mqgate-bench")


def bench(scenario, port, *args, timeout=60):
    """Runs mqgate-bench; returns (exit code, parsed JSON or None, stderr)."""
    cmd = [BENCH, scenario, "--port", str(port), "--json"] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    if out is None or r.returncode not in (0, 1):
        print("command: %s\nexit %d\nstdout: %s\nstderr: %s" % (
            " ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r.returncode, out, r.stderr


def ordered(lat):
    return (lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
            and lat["max"] > 0)


def clean(out, ok, what):
    """The common checks of a run that should fully succeed."""
    if not check(out is not None, "%s: one JSON object on stdout" % what):
        return False
    for key in ("scenario", "target", "connections", "ok", "errors", "duration_s",
                "rate_per_s", "latency_us", "client_cpu_s", "resumed"):
        if key not in out:
            check(False, "%s: key %s present" % (what, key))
            return False
    check(ok(out["ok"]), "%s: ok count %d" % (what, out["ok"]))
    check(out["errors"] == {}, "%s: no errors (%s)" % (what, out["errors"]))
    check(ordered(out["latency_us"]), "%s: percentiles ordered and non-zero (%s)"
          % (what, out["latency_us"]))
    check(out["client_cpu_s"] > 0 and out["duration_s"] > 0 and out["rate_per_s"] > 0,
          "%s: CPU, duration and rate reported" % what)
    return True


wd = Workdir()
try:
    pki = Pki(wd)
    pool = wd.file("pool")
    run([CERTGEN, "pool", "--issuer-cert", pki.ca_cert, "--issuer-key", pki.ca_key,
         "--count", "30", "--out-dir", pool])
    for f in os.listdir(pool):
        os.chmod(os.path.join(pool, f), 0o644)
    other_cert, other_key = pki.other_ca()
    rogue_cert, rogue_key = pki.device("rogue", issuer=(other_cert, other_key))
    tls_port = free_port()
    broker = Mosquitto(wd, extra_conf=(
        "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
        "require_certificate true\n" % (tls_port, pki.ca_cert, pki.server_cert,
                                        pki.server_key)))
    gate = Mqgate(wd, pki, broker.port, args=["--log-level", "warn"])
    ids = ["--insecure", "--pool", pool]

    # conn: 20 devices, each twice, the second time resuming.
    rc, out, _ = bench("conn", gate.port, "--connections", 20, "--resume", *ids)
    if clean(out, lambda n: n == 40, "conn --resume"):
        check(rc == 0, "conn --resume: exit 0")
        check(out["scenario"] == "conn" and out["target"] == "127.0.0.1:%d" % gate.port
              and out["connections"] == 20, "conn: scenario, target, connections")
        check(out["resumed"] == 20 and out["handshakes"] == 40,
              "conn --resume: 20 of 40 handshakes resumed (%d)" % out["resumed"])

    # conn: MQTT 5, empty client IDs (mqgate fills in the CN), held open.
    rc, out, _ = bench("conn", gate.port, "--connections", 10, "--mqtt", 5, "--empty-id",
                       "--hold", "0.5", *ids)
    if clean(out, lambda n: n == 10, "conn --mqtt 5 --empty-id --hold"):
        check(out["max_open"] >= 2, "conn --hold: connections held at once (%d)"
              % out["max_open"])
        check("device-000001" in broker.client_ids(),
              "conn --empty-id: the broker saw the certificate CN as client ID")

    # conn: TLS 1.2, the server certificate verified, rate-limited, repeated.
    t0 = time.time()
    rc, out, _ = bench("conn", gate.port, "--connections", 5, "--repeat", 2, "--rate", 20,
                       "--tls", "1.2", "--ca", pki.ca_cert, "--pool", pool)
    if clean(out, lambda n: n == 15, "conn --tls 1.2 --ca --repeat 2 --rate 20"):
        check(out["tls"] == "1.2" and out["duration_s"] >= 0.6,
              "conn --rate 20: 15 connections take about 0.7 s (%.2f)" % out["duration_s"])

    # conn straight against Mosquitto's TLS listener, one identity.
    dev_cert, dev_key = pki.device("device-direct")
    rc, out, _ = bench("conn", tls_port, "--connections", 10, "--insecure",
                       "--cert", dev_cert, "--key", dev_key, "--client-id-prefix", "direct-")
    clean(out, lambda n: n == 10, "conn against Mosquitto's TLS listener")

    # pub: QoS 1 at 20 msg/s per device, PUBACK latency; and QoS 0, MQTT 3.1.
    rc, out, err = bench("pub", gate.port, "--connections", 5, "--qos", 1, "--msg-rate", 20,
                         "--duration", "1.5", "--payload", 100, *ids)
    if clean(out, lambda n: 120 <= n <= 160, "pub --qos 1"):
        check(out["msgs_per_s"] > 0 and out["bytes_per_s"] > 0,
              "pub: msgs_per_s %.0f, bytes_per_s %.0f" % (out["msgs_per_s"], out["bytes_per_s"]))
    check("] pub run: ok " in err, "pub: a progress line on stderr once a second")
    rc, out, _ = bench("pub", gate.port, "--connections", 5, "--qos", 0, "--total-rate", 200,
                       "--duration", 1, "--mqtt", 3, *ids)
    if check(out is not None, "pub --qos 0 --mqtt 3: JSON"):
        check(out["errors"] == {} and 180 <= out["ok"] <= 210,
              "pub --qos 0 --total-rate 200: ~200 messages, no errors (%d, %s)"
              % (out["ok"], out["errors"]))

    # A corked flood: bursts leave in full segments, every message still its
    # own record; a corked rate makes no sense and is refused.
    rc, out, _ = bench("pub", gate.port, "--connections", 2, "--qos", 0, "--msg-rate", 0,
                       "--total-rate", 0, "--cork", "--duration", 1, *ids)
    if check(out is not None, "pub flood --cork: JSON"):
        check(rc == 0 and out["errors"] == {} and out["ok"] > 1000,
              "pub flood --cork: %d messages, no errors (%s)" % (out["ok"], out["errors"]))
    rc, out, err = bench("pub", gate.port, "--connections", 2, "--msg-rate", 10, "--cork",
                         *ids)
    check(rc == 2 and "--cork applies to a pub flood" in err,
          "--cork with a rate: usage error, exit 2 (%d)" % rc)

    # sub: 10 subscribers, one publisher at 20 msg/s: every message 10 times.
    rc, out, _ = bench("sub", gate.port, "--subscribers", 10, "--msg-rate", 20,
                       "--duration", 1, *ids)
    if clean(out, lambda n: n >= 150, "sub"):
        check(out["ok"] == 10 * out["published"],
              "sub: each of %d messages delivered to all 10 subscribers (%d)"
              % (out["published"], out["ok"]))
        check(out["connections"] == 11, "sub: 10 subscribers + 1 publisher")

    # latency: 5 pairs through the proxy, QoS 1, MQTT 5.
    rc, out, _ = bench("latency", gate.port, "--connections", 5, "--msg-rate", 20, "--qos", 1,
                       "--mqtt", 5, "--duration", 1, *ids)
    if clean(out, lambda n: n >= 80, "latency"):
        check(out["ok"] == out["published"], "latency: every message received (%d of %d)"
              % (out["ok"], out["published"]))

    # idle: 50 connections held; mqgate's RSS before and after.
    rc, out, _ = bench("idle", gate.port, "--connections", 50, "--duration", 1, "--settle",
                       "0.5", "--pid", gate.proc.pid, *ids)
    if clean(out, lambda n: n == 50, "idle"):
        check(out["max_open"] == 50, "idle: 50 held at once (%d)" % out["max_open"])
        check(out["rss_before_kb"] > 0 and out["rss_after_kb"] >= out["rss_before_kb"]
              and out["bytes_per_conn"] is not None,
              "idle: mqgate RSS %s -> %s KiB, %s bytes per connection"
              % (out["rss_before_kb"], out["rss_after_kb"], out["bytes_per_conn"]))

    # storm: 60 devices connect, are dropped at once and come back with a
    # jittered backoff (base 0.2 s), resuming; mqgate's CPU over the storm.
    rc, out, _ = bench("storm", gate.port, "--connections", 60, "--resume", "--backoff",
                       "0.2", "--pid", gate.proc.pid, *ids)
    if clean(out, lambda n: n == 120, "storm"):
        st = out.get("storm") or {}
        check(st.get("back") == 60 and 0 <= st["back_50_s"] <= st["back_99_s"] <=
              st["back_100_s"] <= 5 and st["failed_attempts"] == 0,
              "storm: all 60 back, 50%% at %s s, 100%% at %s s" %
              (st.get("back_50_s"), st.get("back_100_s")))
        check(st.get("resumed") == 60 and st.get("resumed_share") == 1.0 and
              st.get("target_cpu_ms_per_reconnect", -1) >= 0,
              "storm: every reconnect resumed, mqgate CPU %s ms per reconnect" %
              st.get("target_cpu_ms_per_reconnect"))
    # --nagle: the device's own socket options; still connects.
    rc, out, _ = bench("conn", gate.port, "--connections", 5, "--concurrency", 1, "--nagle",
                       "--tls", "1.2", "--groups", "P-521:P-384:P-256:X25519", *ids)
    if clean(out, lambda n: n == 5, "conn --nagle, mbedTLS group order"):
        check(out.get("groups") == {"X25519": 5},
              "conn, TLS 1.2, mbedTLS group order: mqgate chose X25519 (%s)" % out.get("groups"))

    # A device of an unknown CA: every connection refused with that alert.
    rc, out, _ = bench("conn", gate.port, "--connections", 8, "--insecure",
                       "--cert", rogue_cert, "--key", rogue_key)
    if check(out is not None, "unknown CA: JSON"):
        check(out["errors"] == {"tls_alert:unknown_ca": 8} and out["ok"] == 0 and rc == 1,
              "unknown CA: 8 x tls_alert:unknown_ca, exit 1 (%s)" % out["errors"])
    rc, out, _ = bench("conn", tls_port, "--connections", 4, "--insecure",
                       "--cert", rogue_cert, "--key", rogue_key)
    check(out is not None and out["errors"].get("tls_alert:unknown_ca") == 4,
          "unknown CA against Mosquitto's TLS listener: tls_alert:unknown_ca (%s)"
          % (out and out["errors"]))

    # A broker that refuses every CONNECT: the CONNACK code, per level.
    strict = Mosquitto(wd, extra_conf="allow_anonymous false\n")
    strict_gate = Mqgate(wd, pki, strict.port, args=["--log-level", "error"])
    for level, code in ((4, 5), (5, 135)):
        rc, out, _ = bench("conn", strict_gate.port, "--connections", 3, "--mqtt", level, *ids)
        check(out is not None and out["errors"] == {"connack:%d" % code: 3},
              "broker refusing, MQTT level %d: 3 x connack:%d (%s)"
              % (level, code, out and out["errors"]))

    # A server certificate the given CA did not issue: refused by the bench.
    rc, out, _ = bench("conn", gate.port, "--connections", 3, "--ca", other_cert,
                       "--pool", pool)
    check(out is not None and out["errors"] == {"other": 3} and out["handshakes"] == 0,
          "--ca of another CA: the server certificate is refused (%s)"
          % (out and out["errors"]))

    # Nobody listening: refused.
    rc, out, _ = bench("conn", free_port(), "--connections", 3, *ids)
    check(out is not None and out["errors"] == {"refused": 3},
          "closed port: 3 x refused (%s)" % (out and out["errors"]))

    # A listener that never answers: per-connection timeouts, and the whole
    # run bounded by --timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    t0 = time.time()
    rc, out, _ = bench("conn", silent.getsockname()[1], "--connections", 3,
                       "--conn-timeout", "0.5", *ids)
    check(out is not None and out["errors"] == {"timeout": 3} and time.time() - t0 < 10,
          "silent server: 3 x timeout after --conn-timeout (%s)" % (out and out["errors"]))
    t0 = time.time()
    rc, out, _ = bench("idle", silent.getsockname()[1], "--connections", 3, "--timeout", 1,
                       *ids)
    check(out is not None and out["timed_out"] and out["errors"].get("timeout") == 3
          and time.time() - t0 < 10,
          "silent server: the run stops at --timeout 1 (%.1f s)" % (time.time() - t0))
    silent.close()

    # Loopback only.
    r = subprocess.run([BENCH, "conn", "--host", "10.1.2.3", "--port", "8883"] + ids,
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "loopback" in r.stderr,
          "a non-loopback --host is refused before any connection")
    check(gate.stop() == 0, "mqgate exits 0 after the runs")
finally:
    wd.cleanup()
finish()
