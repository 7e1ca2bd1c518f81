"""25: a revocation burst at scale (issue 13): 30,000 revocations in a row
reach every proxy and cut every live session of a revoked certificate; a
proxy whose subscription falls behind while the burst passes is
disconnected by Redis (client-output-buffer-limit pubsub), notices,
reconnects, drops its cache and re-checks its live sessions, which are cut
too. (30,000 rather than 10,000: on loopback the kernel's socket buffers
hold the first ~3 MB of events, some 25,000, before Redis's own output
buffer, the one the limit watches, grows at all.)"""
import hashlib
import json
import os
import time

from harness import (CERTGEN, Client, Mosquitto, Mqgate, Pki, Redis, Resp, Workdir, check,
                     client_context, connect_packet, ctl, finish, free_port, run, scrape,
                     subscribe_packet, wait_for)
from harness_registry import HoldRelay

P = "t25"
BURST = 30000
LIVE = 40  # live sessions per proxy
wd = Workdir()
try:
    pki = Pki(wd)
    # A subscriber more than 256 kB behind is disconnected at once.
    redis = Redis(wd, extra=["--client-output-buffer-limit", "pubsub 64kb 32kb 1"])
    broker = Mosquitto(wd)

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    ca_id = json.loads(c("--json", "ca", "register", pki.ca_cert).stdout)["id"]
    pool = wd.file("pool")
    run([CERTGEN, "pool", "--issuer-cert", pki.ca_cert, "--issuer-key", pki.ca_key,
         "--count", str(2 * LIVE), "--out-dir", pool])
    r = c("cert", "register", "--ca", ca_id, "--from-index", os.path.join(pool, "index.tsv"),
          "--unsafe-bypass-rate-limit-for-test-setup")
    check(r.returncode == 0, "%d real devices registered" % (2 * LIVE))
    rows = [line.split("\t") for line in open(os.path.join(pool, "index.tsv")).read().split("\n")
            if line]
    real_fps = [row[2] for row in rows]

    # The rest of the burst: certificates no device holds, bulk-loaded.
    conn = Resp(redis.port)
    synthetic = [hashlib.sha256(b"t25-%d" % i).hexdigest() for i in range(BURST - 2 * LIVE)]
    for start in range(0, len(synthetic), 1000):
        reps = conn.pipeline([("FCALL", "mqgate_cert_register_unlimited_test_setup", 0, P, fp,
                               "%08X" % (0x10000000 + start + i), "syn-%d" % (start + i),
                               "", ca_id, 1700000000, 1900000000, "", 1, "manual", "", "t25")
                              for i, fp in enumerate(synthetic[start:start + 1000])])
        assert all(x == "active" for x in reps), reps[:3]
    check(json.loads(c("--json", "cert", "list", "--limit", "1").stdout)["total"] == BURST,
          "%d certificates registered" % BURST)

    args = ["--auth", "registry", "--redis", redis.url, "--redis-prefix", P, "--workers", "1"]
    ma, mb = free_port(), free_port()
    gate_a = Mqgate(wd, pki, broker.port, args + ["--metrics", "127.0.0.1:%d" % ma])
    # B reaches Redis through a relay that can stop reading B's events.
    relay = HoldRelay(redis.port, "sub")
    args_b = [a if a != redis.url else "redis://127.0.0.1:%d/0" % relay.port for a in args]
    gate_b = Mqgate(wd, pki, broker.port, args_b + ["--metrics", "127.0.0.1:%d" % mb])
    check(wait_for(lambda: "serving: every worker is ready" in gate_a.text() and
                   "serving: every worker is ready" in gate_b.text()), "two proxies reach Redis")

    def live(port, row, n):
        """A session with a subscription, or None unless CONNACK 0 and SUBACK."""
        cl = Client(port, client_context(row[3], row[4], pki.ca_cert))
        cl.send(connect_packet(4, "live-%d" % n))
        pkt = cl.recv_packet()
        if pkt is None or pkt[0] != 0x20 or pkt[1][1] != 0:
            cl.close()
            return None
        cl.send(subscribe_packet("t25/%d" % n))
        pkt = cl.recv_packet()
        if pkt is None or pkt[0] != 0x90:
            cl.close()
            return None
        cl.sock.settimeout(0.05)
        return cl

    sessions_a = [live(gate_a.port, rows[i], i) for i in range(LIVE)]
    sessions_b = [live(gate_b.port, rows[LIVE + i], LIVE + i) for i in range(LIVE)]
    up = sum(1 for s in sessions_a + sessions_b if s is not None)
    if not check(all(sessions_a) and all(sessions_b),
                 "%d live sessions on each proxy (%d of %d up)" % (LIVE, up, 2 * LIVE)):
        finish()  # exits: what follows needs every session

    def ended(cl):
        return cl.closed_within(0.05) is not None

    # Proxy B's subscription stops moving while the burst passes.
    relay.hold()
    t0 = time.time()
    fps = real_fps + synthetic
    for start in range(0, len(fps), 1000):
        reps = conn.pipeline([("FCALL", "mqgate_cert_set", 0, P, fp, "revoke", "t25")
                              for fp in fps[start:start + 1000]])
        assert all(x == "revoked" for x in reps), reps[:3]
    burst_s = time.time() - t0
    check(json.loads(c("--json", "cert", "list", "--status", "revoked", "--limit",
                       "1").stdout)["total"] == BURST,
          "%d revocations in a row (%.1f s)" % (BURST, burst_s))
    check(wait_for(lambda: all(ended(s) for s in sessions_a), 15),
          "proxy A cut all its %d live sessions" % LIVE)
    cut_a = time.time() - t0
    check(scrape(ma).get("mqgate_registry_cuts_total", 0) >= LIVE,
          "counted as cuts on A (%.1f s after the burst began)" % cut_a)
    check(wait_for(lambda: len(redis.cli("CLIENT", "LIST", "TYPE", "pubsub")
                              .strip().split("\n")) == 1, 10),
          "Redis disconnected the subscriber that fell behind (one left)")
    relay.release()
    check(wait_for(lambda: gate_b.text().count("registry: connected") >= 2, 15),
          "proxy B noticed and reconnected")
    check(wait_for(lambda: all(ended(s) for s in sessions_b), 15),
          "after reconnecting, B re-checked and cut all its %d live sessions" % LIVE)
    check(wait_for(lambda: "reason=cert_revoked" in gate_b.text()), "logged as cert_revoked")
    for s in sessions_a + sessions_b:
        s.close()
    conn.close()
finally:
    wd.cleanup()
finish()
