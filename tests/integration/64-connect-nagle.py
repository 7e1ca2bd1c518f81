"""64: no connect stall for a device that leaves Nagle on.

A client like most device SDKs: Python's ssl over a socket with its default
options (Nagle ON), the CONNECT written after the handshake as a write of its
own. It measures TCP connect -> CONNACK through mqgate and, in the same run,
straight to Mosquitto's own TLS listener (with set_tcp_nodelay, so that the
broker's own Nagle does not stall the baseline), alternating, over several
attempts; the medians must be within a few ms. Before mqgate flushed
BoringSSL's TLS 1.3 NewSessionTicket at the end of the handshake, the
device's kernel held the CONNECT for mqgate's delayed ACK: ~40 ms more
through mqgate, which this test fails on. TLS 1.2 (whose tickets are part of
the handshake's last flight) is measured too."""
import socket
import ssl
import statistics
import time

from harness import (Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port, wait_port)

ATTEMPTS = 15
# "Within a few ms": far below the ~40 ms of a delayed ACK, with room for a
# loaded 2-core machine (both sides see the same load; medians of 15).
SLACK_MS = 12.0


def connect_ms(port, ctx, cid):
    """TCP connect -> CONNACK in ms, Nagle left on."""
    t0 = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    nagle_on = raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    s = ctx.wrap_socket(raw)
    s.sendall(connect_packet(client_id=cid))
    buf = b""
    while len(buf) < 4:
        d = s.recv(64)
        if not d:
            break
        buf += d
    t = (time.perf_counter() - t0) * 1000
    s.close()
    if not nagle_on or buf[:1] != b"\x20" or buf[3:4] != b"\x00":
        return None
    return t


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-nagle")
    tls_port = free_port()
    broker = Mosquitto(wd, extra_conf=(
        "set_tcp_nodelay true\n"
        "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
        "require_certificate true\n" % (tls_port, pki.ca_cert, pki.server_cert,
                                        pki.server_key)))
    wait_port(tls_port)
    gate = Mqgate(wd, pki, broker.port)
    for name, ver in (("1.3", ssl.TLSVersion.TLSv1_3), ("1.2", ssl.TLSVersion.TLSv1_2)):
        ctx = client_context(cert, key)
        ctx.minimum_version = ctx.maximum_version = ver
        via_gate, direct = [], []
        connect_ms(gate.port, ctx, "warm-g")
        connect_ms(tls_port, ctx, "warm-m")
        for i in range(ATTEMPTS):
            via_gate.append(connect_ms(gate.port, ctx, "g%d" % i))
            direct.append(connect_ms(tls_port, ctx, "m%d" % i))
        ok = None not in via_gate and None not in direct
        check(ok, "TLS %s: every attempt got CONNACK 0 with Nagle on" % name)
        if not ok:
            continue
        mg, mm = statistics.median(via_gate), statistics.median(direct)
        print("TLS %s connect -> CONNACK, Nagle on, median of %d: mqgate %.1f ms, "
              "Mosquitto TLS %.1f ms" % (name, ATTEMPTS, mg, mm))
        check(mg <= mm + SLACK_MS,
              "TLS %s: via mqgate (%.1f ms) within %.0f ms of Mosquitto's TLS listener "
              "(%.1f ms)" % (name, mg, SLACK_MS, mm))
    gate.stop()
finally:
    wd.cleanup()
finish()
