"""52: Redis high availability: mqgate finds the registry's master through
Redis Sentinel; a failover forced while devices are connected is followed
without restarting mqgate (devices keep connecting, and a revocation made
on the new master cuts a live session)."""
import os
import subprocess
import time

from harness import (MQGATECTL, Client, Mosquitto, Mqgate, Pki, Redis, Workdir, cert_fp, check,
                     client_context, connect_packet, finish, free_port, handshake_error,
                     subscribe_packet, wait_for, wait_port)

PREFIX = "ha"


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=10).stdout.strip()


wd = Workdir()
try:
    pki = Pki(wd)
    broker = Mosquitto(wd)
    a = Redis(wd)
    b = Redis(wd)
    cli(b.port, "REPLICAOF", "127.0.0.1", a.port)
    check(wait_for(lambda: "master_link_status:up" in cli(b.port, "INFO", "replication"), 15),
          "replica B follows master A")
    sport = free_port()
    sconf = wd.file("sentinel.conf")
    with open(sconf, "w") as f:
        f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                "sentinel monitor mymaster 127.0.0.1 %d 1\n"
                "sentinel down-after-milliseconds mymaster 1000\n"
                "sentinel failover-timeout mymaster 5000\n" % (sport, wd.path, a.port))
    sent = subprocess.Popen(["redis-server", sconf, "--sentinel"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wd.procs.append(sent)
    wait_port(sport)
    check(wait_for(lambda: "slaves=1" in cli(sport, "INFO", "sentinel"), 20),
          "the Sentinel knows the master and its replica")

    env = dict(os.environ, MQGATE_REDIS=a.url, MQGATE_REDIS_PREFIX=PREFIX)
    ctl = lambda *x, e=env: subprocess.run([MQGATECTL] + list(x), capture_output=True, text=True,
                                           env=e, timeout=20)
    ctl("ca", "register", pki.ca_cert)
    devs = [pki.device("device-%d" % i) for i in range(3)]
    r = ctl("cert", "register", *[c for c, k in devs], "--ca", cert_fp(pki.ca_cert))
    check(r.returncode == 0, "CA and devices registered on master A")

    gate = Mqgate(wd, pki, broker.port, ["--auth", "registry", "--redis", "redis://x:1/0",
                                         "--redis-prefix", PREFIX, "--redis-sentinels",
                                         "127.0.0.1:%d" % sport, "--redis-master", "mymaster",
                                         "--log-level", "debug"])
    check(wait_for(lambda: "registry: connected to Redis 127.0.0.1:%d" % a.port in gate.text()),
          "mqgate reaches master A through the Sentinel")
    ctxs = [client_context(c, k, pki.ca_cert) for c, k in devs]
    live = Client(gate.port, ctxs[0])
    live.send(connect_packet(4, "live"))
    check(live.recv_packet()[1][1] == 0, "device-0 connected")
    live.send(subscribe_packet("ha/t", 0))
    live.recv_packet()
    live.sock.settimeout(10)

    check(cli(sport, "SENTINEL", "FAILOVER", "mymaster") == "OK", "failover forced")
    check(wait_for(lambda: cli(b.port, "ROLE").startswith("master"), 20), "B is the master now")
    ok = []
    t_end = time.time() + 4
    while time.time() < t_end:  # devices keep connecting through the failover
        ok.append(handshake_error(gate.port, ctxs[1]) == "")
        time.sleep(0.1)
    check(all(ok), "devices kept connecting during the failover (%d/%d)" % (sum(ok), len(ok)))
    check(wait_for(lambda: "registry: connected to Redis 127.0.0.1:%d" % b.port in gate.text(),
                   20), "mqgate followed the failover to B without a restart")

    env_b = dict(env, MQGATE_REDIS=b.url)
    r = ctl("cert", "revoke", cert_fp(devs[0][0]), e=env_b)
    check(r.returncode == 0, "device-0 revoked on the new master")
    check(live.closed_within(10) is not None,
          "its live session is cut (events from the new master)")
    check(handshake_error(gate.port, ctxs[0]) == "certificate revoked",
          "and it is refused from now on")
    check(handshake_error(gate.port, ctxs[2]) == "", "other devices still connect")
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
