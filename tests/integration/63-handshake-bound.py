"""63: --max-handshakes: at the bound a worker stops accepting, new
connections wait in the listen backlog, and accepting resumes as
handshakes end. Two silent connections fill a bound of 2 (one worker); a
real device then waits until they time out (--handshake-timeout 1s) and
is served right after; without the bound it is served at once."""
import re
import socket
import time
import urllib.request

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port)


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
    for bound in ("2", "0"):
        mport = free_port()
        gate = Mqgate(wd, pki, broker.port, ["--workers", "1", "--max-handshakes", bound,
                                             "--handshake-timeout", "1s",
                                             "--metrics", "127.0.0.1:%d" % mport])
        silent = [socket.create_connection(("127.0.0.1", gate.port)) for _ in range(2)]
        time.sleep(0.2)
        ms, ok = device_ms(gate.port, ctx)
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport).read().decode()
        pauses = int(re.search(r"^mqgate_accept_pauses_total (\d+)", body, re.M).group(1))
        if bound == "2":
            check(ok and 500 <= ms <= 5000 and pauses >= 1,
                  "bound 2, two handshakes in progress: the device waits in the backlog "
                  "until they end, then gets its CONNACK (%.0f ms, %d pauses)" % (ms, pauses))
        else:
            check(ok and ms < 700 and pauses == 0,
                  "no bound: the device is served at once (%.0f ms)" % ms)
        for s in silent:
            s.close()
        gate.stop()
finally:
    wd.cleanup()
finish()
