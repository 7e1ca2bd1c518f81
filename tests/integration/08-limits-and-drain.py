"""08: limits and shutdown, against a real Mosquitto: the connection limit
and the per-source rate refuse new connections with an immediate close
(existing ones untouched, each refusal counted); running out of file
descriptors pauses accepting without spinning and recovers; SIGTERM with
1,000 devices connected stops accepting at once, lets sessions go on until
--drain-timeout, then closes them cleanly and exits 0."""
import asyncio
import os
import resource
import signal
import socket
import ssl
import subprocess
import time

from harness import (MQGATE, Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port, publish_packet, scrape,
                     subscribe_packet, wait_for, wait_port)


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def closed_soon(s, within=1.0):
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    ctx = client_context(cert, key, pki.ca_cert)

    # Connection limit.
    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--max-connections", "50", "--metrics",
                                         "127.0.0.1:%d" % mport])
    time.sleep(0.2)  # the harness's own port probe must be gone
    socks = [socket.create_connection(("127.0.0.1", gate.port)) for _ in range(50)]
    time.sleep(0.3)
    extra = [socket.create_connection(("127.0.0.1", gate.port)) for _ in range(10)]
    check(all(closed_soon(s) for s in extra), "over --max-connections: closed at once")
    check(not closed_soon(socks[0], 0.3), "the connections already open are untouched")
    m = scrape(mport)
    check(m.get('mqgate_refusals_total{reason="too_many_connections"}') == 10,
          "10 refusals counted as too_many_connections")
    for s in socks + extra:
        s.close()
    check(wait_for(lambda: scrape(mport).get("mqgate_connections_open") == 0),
          "the slots are free again")
    c = Client(gate.port, ctx)
    c.send(connect_packet(4, "after-limit"))
    check(c.recv_packet() is not None, "a device connects once there is room")
    c.close()
    gate.stop()

    # Per-source rate.
    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--source-rate", "5", "--metrics",
                                         "127.0.0.1:%d" % mport])
    time.sleep(1.1)  # a fresh second, without the harness's probe
    socks = [socket.create_connection(("127.0.0.1", gate.port)) for _ in range(10)]
    shut = sum(1 for s in socks if closed_soon(s, 0.5))
    check(5 <= shut <= 6, "--source-rate 5: the rest of 10 in one second are closed (%d)" % shut)
    check(scrape(mport).get('mqgate_refusals_total{reason="source_rate_limited"}', 0) >= 5,
          "counted as source_rate_limited")
    for s in socks:
        s.close()
    gate.stop()

    # Out of file descriptors: accept pauses, the loop does not spin.
    port = free_port()
    p = subprocess.Popen([MQGATE, "--listen", "127.0.0.1:%d" % port, "--backend",
                          "127.0.0.1:%d" % broker.port, "--client-ca", pki.ca_cert,
                          "--cert", pki.server_cert, "--key", pki.server_key,
                          "--workers", "1", "--max-connections", "1000"],
                         stderr=open(wd.file("emfile.log"), "w"),
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    wd.procs.append(p)
    wait_port(port)
    many = []
    for _ in range(120):
        try:
            many.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    time.sleep(0.5)
    c0 = cpu_s(p.pid)
    time.sleep(2.0)
    used = cpu_s(p.pid) - c0
    check(used < 0.3, "out of descriptors: no busy loop (%.2f s CPU in 2 s)" % used)
    check("pausing" in open(wd.file("emfile.log")).read(), "EMFILE logged, accept paused")
    for s in many:
        s.close()
    time.sleep(0.5)
    c = Client(port, ctx)
    c.send(connect_packet(4, "after-emfile"))
    pkt = c.recv_packet()
    check(pkt is not None and pkt[1][1] == 0, "descriptors back: devices connect again")
    c.close()
    p.terminate()
    check(p.wait(10) == 0, "exits 0")

    # SIGTERM with 1,000 devices connected.
    gate = Mqgate(wd, pki, broker.port, ["--drain-timeout", "2s", "--log-level", "warn"])

    async def drain_test():
        async def device(i):
            r, w = await asyncio.open_connection("127.0.0.1", gate.port, ssl=ctx)
            w.write(connect_packet(4, "dev-%d" % i))
            await r.readexactly(4)
            return r, w
        sem = asyncio.Semaphore(64)

        async def guarded(i):
            async with sem:
                return await device(i)
        devs = await asyncio.gather(*[guarded(i) for i in range(1000)])
        sub_r, sub_w = devs[0]
        sub_w.write(subscribe_packet("drain/t", 0))
        await sub_r.readexactly(5)
        t0 = time.time()
        gate.signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        try:
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", gate.port, ssl=ctx), 2)
            refused = False
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            refused = True
        # Sessions still work during the drain.
        devs[1][1].write(publish_packet("drain/t", b"still here"))
        got = await asyncio.wait_for(sub_r.read(100), 2)
        works = b"still here" in got

        async def eof(r):
            try:
                return await asyncio.wait_for(r.read(), 10) == b""
            except (ssl.SSLError, ConnectionError):
                return False
        ends = await asyncio.gather(*[eof(r) for r, w in devs])
        took = time.time() - t0
        for r, w in devs:
            w.close()
        return refused, works, sum(ends), took

    refused, works, clean, took = asyncio.run(drain_test())
    check(refused, "SIGTERM: new connections are refused at once")
    check(works, "SIGTERM: live sessions keep working during the drain")
    check(clean == 1000, "at the deadline all 1,000 sessions end with a clean TLS close (%d)" % clean)
    check(1.8 <= took <= 4.5, "after about --drain-timeout 2s (%.1f s)" % took)
    rc = gate.proc.wait(10)
    check(rc == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
