"""24: bounded attacker-controlled state (issue 12, point 7): what devices
choose (client IDs) is stored bounded; associated-client records do not
pile up while Redis is slow (dropped and counted); concurrent connections
per source address are capped (--source-connections)."""
import json
import socket
import threading
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Redis, Workdir, check, client_context,
                     closed_within, connect_packet, ctl, finish, free_port, scrape, wait_for)
from harness_registry import Layout

P = "t24"
wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)
    lay = Layout(redis, P)

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    ca_id = json.loads(c("--json", "ca", "register", pki.ca_cert).stdout)["id"]
    dev = pki.device("dev-1")
    r = c("--json", "cert", "register", dev[0], "--ca", ca_id)
    fp = json.loads(r.stdout)["results"][0]["fp"]
    metrics = free_port()
    gate = Mqgate(wd, pki, broker.port, [
        "--auth", "registry", "--redis", redis.url, "--redis-prefix", P,
        "--metrics", "127.0.0.1:%d" % metrics, "--max-connect-size", "80k",
        "--max-pending-records", "16", "--workers", "1"])
    check(wait_for(lambda: "serving: every worker is ready" in gate.text()), "proxy reaches Redis")
    ctx = client_context(dev[0], dev[1], pki.ca_cert)

    def session(client_id):
        cl = Client(gate.port, ctx)
        cl.send(connect_packet(4, client_id))
        pkt = cl.recv_packet()
        cl.close()
        return pkt is not None and pkt[1][1] == 0

    # --- device-chosen client IDs, bounded ---------------------------------
    check(session("x" * 60000), "a device connects with a 60,000-byte client ID")
    check(wait_for(lambda: any(k.startswith("@x") for k in lay.record(fp))),
          "it is recorded as an associated client")
    kept = [k for k in lay.record(fp) if k.startswith("@x")]
    check(kept == ["@" + "x" * 125 + "..."], "... cut to 128 bytes (%d stored)" %
          max(len(k) for k in kept))
    for i in range(30):
        session("id-%02d" % i)
    check(wait_for(lambda: len([k for k in lay.record(fp) if k.startswith("@")]) == 20),
          "30 more client IDs: the newest 20 kept")

    # --- touches while Redis is slow ---------------------------------------
    dropped = scrape(metrics).get("mqgate_registry_touch_dropped_total", 0)
    check(redis.cli("CLIENT", "PAUSE", "9000", "WRITE") == "OK", "Redis paused for writes")
    count = [0]
    t0 = time.time()

    lock = threading.Lock()

    def burst(k):
        # cached: the handshakes need no Redis read
        while time.time() - t0 < 6 and count[0] < 120:
            ok = session("burst-%d-%d" % (k, count[0]))
            with lock:
                count[0] += ok

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n = count[0]
    got = scrape(metrics).get("mqgate_registry_touch_dropped_total", 0) - dropped
    check(n >= 40, "devices keep connecting while Redis is slow (%d sessions)" % n)
    check(got == n - 16,
          "at most 16 records wait (--max-pending-records); the rest dropped and "
          "counted (%d dropped of %d)" % (got, n))
    time.sleep(max(0, 9.5 - (time.time() - t0)))
    check(session("after") and gate.proc.poll() is None,
          "Redis back: devices connect, nothing broke")

    # --- connections per source ----------------------------------------------
    gate2 = Mqgate(wd, pki, broker.port, [
        "--auth", "registry", "--redis", redis.url, "--redis-prefix", P,
        "--source-connections", "2", "--metrics", "127.0.0.1:%d" % free_port()])
    check(wait_for(lambda: "serving: every worker is ready" in gate2.text()), "second proxy up")

    def hold():
        cl = Client(gate2.port, ctx)
        cl.send(connect_packet(4, "held"))
        return cl if cl.recv_packet() is not None else None

    a, b = hold(), hold()
    check(a is not None and b is not None, "two connections from 127.0.0.1")
    s = socket.create_connection(("127.0.0.1", gate2.port), timeout=5)
    third = closed_within(s, 1)
    s.close()
    check(third is not None, "a third one is closed at once")
    check(wait_for(lambda: scrape(int(gate2.cmd[gate2.cmd.index("--metrics") + 1]
                                      .split(":")[1])).get(
        'mqgate_refusals_total{reason="source_connections"}', 0) >= 1),
        "counted as source_connections")
    a.close()
    time.sleep(0.3)
    c3 = hold()
    check(c3 is not None, "once one closes, another gets in")
    for x in (b, c3):
        x.close()
finally:
    wd.cleanup()
finish()
