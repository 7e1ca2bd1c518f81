"""42: a flood of unknown devices while Redis is slow must not pile up:
beyond --max-pending-lookups, handshakes waiting for the registry are
refused at once (alert internal_error, reason registry_busy), the ones
within the bound are answered when Redis is back, and nothing leaks."""
import asyncio
import hashlib
import os
import ssl
import subprocess
import time

from harness import (MQGATECTL, Mosquitto, Mqgate, Pki, Redis, Workdir, check, client_context,
                     finish, free_port, scrape, tls_alert_of, wait_for)

PREFIX = "busy"

wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)
    env = dict(os.environ, MQGATE_REDIS=redis.url, MQGATE_REDIS_PREFIX=PREFIX)
    subprocess.run([MQGATECTL, "ca", "register", pki.ca_cert], env=env, capture_output=True)
    subprocess.run([MQGATECTL, "settings", "set", "registration", "auto"], env=env,
                   capture_output=True)
    devs = [pki.device("flood-%d" % i) for i in range(12)]
    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--auth", "registry", "--redis", redis.url,
                                         "--redis-prefix", PREFIX, "--workers", "1",
                                         "--max-pending-lookups", "4",
                                         "--metrics", "127.0.0.1:%d" % mport])
    check(wait_for(lambda: "serving: every worker is ready" in gate.text()), "mqgate up")

    async def attempt(ctx):
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", gate.port, ssl=ctx), 15)
            w.write(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
            got = await asyncio.wait_for(r.read(4), 15)
            w.close()
            return "ok" if got[:2] == b"\x20\x02" else "closed"
        except ssl.SSLError as e:
            return tls_alert_of(e)
        except (OSError, asyncio.TimeoutError) as e:
            return "error: %s" % e

    async def flood():
        # Redis answers nothing for 2 s: every lookup sent waits.
        subprocess.run(["redis-cli", "-p", str(redis.port), "CLIENT", "PAUSE", "2000", "ALL"],
                       capture_output=True)
        t0 = time.time()
        res = await asyncio.gather(*[attempt(client_context(c, k, pki.ca_cert))
                                     for c, k in devs])
        return res, time.time() - t0

    res, took = asyncio.run(flood())
    busy = res.count("internal error")
    ok = res.count("ok")
    check(busy >= len(devs) - 4 and ok >= 1, "12 unknown devices, 4 lookups allowed in flight: "
          "%d refused at once, %d answered once Redis was back (%s)" % (busy, ok, res))
    check(busy + ok == len(devs), "every device got an answer")
    m = scrape(mport)
    check(m.get('mqgate_refusals_total{reason="registry_busy"}', 0) == busy,
          "counted as registry_busy")
    check(wait_for(lambda: "reason=registry_busy" in gate.text()), "logged as registry_busy")
    # After the flood the bound is free again.
    res2 = asyncio.run(attempt(client_context(*devs[0], ca=pki.ca_cert)))
    check(res2 == "ok", "afterwards devices connect normally (%s)" % res2)
    check(gate.stop() == 0, "mqgate exits 0 (nothing pending left behind)")
finally:
    wd.cleanup()
finish()
