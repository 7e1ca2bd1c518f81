"""67: --max-handshakes: at the bound, while the worker is busy, it stops
accepting; new connections wait in the listen backlog and accepting resumes
as handshakes end. A burst of 1,500 real handshakes at once against one
worker with a bound of 16 makes it pause (mqgate_accept_pauses_total) and
every device connects; with no bound it never pauses. Handshakes that only
wait for silent clients leave the worker idle: two of them filling a bound
of 2 do not lock a device out (test 41 has 10,000 slow clients)."""
import json
import os
import re
import socket
import subprocess
import time
import urllib.request

from harness import (BUILD, Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port)

BENCH = os.path.join(BUILD, "bench", "mqgate-bench")


def pauses(mport):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport).read().decode()
    return int(re.search(r"^mqgate_accept_pauses_total (\d+)", body, re.M).group(1))


def device_ms(port, ctx):
    t0 = time.perf_counter()
    c = Client(port, ctx, timeout=10)
    c.send(connect_packet(client_id="bounded"))
    p = c.recv_packet()
    c.close()
    return (time.perf_counter() - t0) * 1000, p is not None and p[0] == 0x20


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-bound")
    ctx = client_context(cert, key)
    broker = Mosquitto(wd)

    # Idle slots: two silent connections fill a bound of 2; the worker is
    # idle, so it keeps accepting.
    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--workers", "1", "--max-handshakes", "2",
                                         "--metrics", "127.0.0.1:%d" % mport])
    silent = [socket.create_connection(("127.0.0.1", gate.port)) for _ in range(2)]
    time.sleep(0.3)
    ms, ok = device_ms(gate.port, ctx)
    check(ok and ms < 700 and pauses(mport) == 0,
          "bound 2 held by two silent clients, worker idle: a device is served at once "
          "(%.0f ms, %d pauses)" % (ms, pauses(mport)))
    for s in silent:
        s.close()
    gate.stop()

    # A burst: 1,500 handshakes at once against one worker.
    for bound in ("16", "0"):
        mport = free_port()
        gate = Mqgate(wd, pki, broker.port, ["--workers", "1", "--max-handshakes", bound,
                                             "--metrics", "127.0.0.1:%d" % mport])
        r = subprocess.run([BENCH, "conn", "--port", str(gate.port), "--insecure",
                            "--cert", cert, "--key", key, "--connections", "1500",
                            "--concurrency", "1500", "--source-addrs", "4", "--json",
                            "--quiet", "--timeout", "60"],
                           capture_output=True, text=True, timeout=120)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            out = {}
        n = pauses(mport)
        lat = out.get("latency_us") or {}
        if bound == "16":
            check(out.get("ok") == 1500 and not out.get("errors") and n >= 1,
                  "bound 16, 1,500 handshakes at once: every device connected (%s, errors %s), "
                  "%d pauses, connect p50 %s us, p99 %s us" %
                  (out.get("ok"), out.get("errors"), n, lat.get("p50"), lat.get("p99")))
        else:
            check(out.get("ok") == 1500 and n == 0,
                  "no bound: never paused (%d), %s connected, connect p50 %s us, p99 %s us" %
                  (n, out.get("ok"), lat.get("p50"), lat.get("p99")))
        gate.stop()
finally:
    wd.cleanup()
finish()
