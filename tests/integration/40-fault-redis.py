"""40: Redis killed (SIGKILL) and restarted while devices connect
continuously through mqgate in registry mode. At no moment may a revoked,
inactive or unknown certificate get in; cached active ones keep working
within --redis-stale and are refused after it; the cache is dropped on
reconnect; everything recovers without restarting mqgate."""
import os
import random
import signal
import ssl
import subprocess
import threading
import time

from harness import (MQGATECTL, Client, Mosquitto, Mqgate, Pki, Redis, Workdir, cert_fp, check,
                     client_context, connect_packet, finish, free_port, scrape, wait_for)

PREFIX = "faults"


wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd, persist=True)
    broker = Mosquitto(wd)
    env = dict(os.environ, MQGATE_REDIS=redis.url, MQGATE_REDIS_PREFIX=PREFIX)

    def ctl(*a):
        return subprocess.run([MQGATECTL] + list(a), capture_output=True, text=True, env=env,
                              timeout=20)

    ctl("ca", "register", pki.ca_cert)
    ca_id = cert_fp(pki.ca_cert)
    groups = {"active": 12, "revoked": 4, "inactive": 4, "unknown": 4}
    devs = {}
    for g, n in groups.items():
        devs[g] = [pki.device("%s-%d" % (g, i)) for i in range(n)]
    regs = [c for g in ("active", "revoked", "inactive") for c, k in devs[g]]
    # 15 registrations per second per cluster: pace them.
    for i in range(0, len(regs), 10):
        r = ctl("cert", "register", *regs[i:i + 10], "--ca", ca_id)
        assert r.returncode == 0, r.stderr
        time.sleep(1.05)
    for c, k in devs["revoked"]:
        ctl("cert", "revoke", cert_fp(c))
    for c, k in devs["inactive"]:
        ctl("cert", "deactivate", cert_fp(c))

    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--auth", "registry", "--redis", redis.url,
                                         "--redis-prefix", PREFIX, "--redis-stale", "2s",
                                         "--metrics", "127.0.0.1:%d" % mport,
                                         "--log-level", "warn"])
    check(wait_for(lambda: scrape(mport).get("mqgate_handshakes_total") is not None),
          "mqgate up in registry mode")
    ctxs = {g: [client_context(c, k, pki.ca_cert) for c, k in devs[g]] for g in devs}

    def attempt(ctx):
        try:
            cl = Client(gate.port, ctx, timeout=3)
            cl.send(connect_packet(4, ""))
            pkt = cl.recv_packet()
            cl.close()
            return pkt is not None and pkt[1][1] == 0
        except (ssl.SSLError, OSError):
            return False

    for ctx in ctxs["active"]:  # warm the cache
        attempt(ctx)
    time.sleep(0.5)

    log = []  # (time, group, accepted)
    stop = threading.Event()

    def load(seed):
        rnd = random.Random(seed)
        while not stop.is_set():
            g = rnd.choice(list(ctxs))
            ok = attempt(rnd.choice(ctxs[g]))
            log.append((time.time(), g, ok))

    threads = [threading.Thread(target=load, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    misses0 = scrape(mport).get("mqgate_registry_cache_misses_total", 0)
    events = []
    for down in (4.0, 1.0):
        t_kill = time.time()
        redis.proc.send_signal(signal.SIGKILL)
        redis.proc.wait()
        time.sleep(down)
        t_back = time.time()
        redis.start()
        events.append((t_kill, t_back))
        time.sleep(4.0)
    stop.set()
    for t in threads:
        t.join()

    bad = [(t, g) for t, g, ok in log if ok and g != "active"]
    check(len(log) > 200, "%d connection attempts during the faults" % len(log))
    check(not bad, "no revoked, inactive or unknown certificate ever got in (%d did)" % len(bad))
    up_ok = [ok for t, g, ok in log if g == "active" and t < events[0][0]]
    check(up_ok and all(up_ok), "Redis up: every active device connects")
    t_kill, t_back = events[0]
    stale = [ok for t, g, ok in log if g == "active" and t_kill + 0.3 < t < t_kill + 1.5]
    check(stale and all(stale), "Redis killed: cached active devices still connect (%d/%d)"
          % (sum(stale), len(stale)))
    late = [ok for t, g, ok in log if g == "active" and t_kill + 2.6 < t < t_back]
    check(late and not any(late), "after --redis-stale 2s they are refused too (%d/%d got in)"
          % (sum(late), len(late)))
    back = [ok for t, g, ok in log if g == "active" and t > events[-1][1] + 3.0]
    check(back and all(back), "after the last restart active devices connect again (%d/%d)"
          % (sum(back), len(back)))
    m = scrape(mport)
    check(m.get("mqgate_registry_cache_misses_total", 0) > misses0,
          "the cache was dropped on reconnect (lookups sent again)")
    check(gate.proc.poll() is None, "mqgate never crashed")
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
