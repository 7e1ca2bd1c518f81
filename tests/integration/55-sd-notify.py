"""55: readiness for systemd's Type=notify (proxy/notify.c), through a
stand-in notification socket (sdnotify.py): READY=1 only once every
listener accepts and, in registry mode, only once Redis answered;
RELOADING=1 / READY=1 around SIGHUP (a refused reload too); STOPPING=1 and
exit 0 on SIGTERM; a broken NOTIFY_SOCKET only costs a warning."""
import os
import signal
import socket
import subprocess
import time

from harness import (MQGATE, Mosquitto, Pki, Redis, Workdir, check, finish, free_port,
                     wait_for)
from sdnotify import NotifySocket

wd = Workdir()
ns = NotifySocket()


def start(args, notify=None):
    port = free_port()
    log = open(wd.file("mqgate-%d.log" % port), "w")
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify
    p = subprocess.Popen([MQGATE, "--listen", "127.0.0.1:%d" % port, "--backend",
                          "127.0.0.1:%d" % broker.port, "--workers", "2", "--state-dir",
                          wd.file("state")] + args, stdout=log, stderr=subprocess.STDOUT,
                         env=env)
    wd.procs.append(p)
    return p, port, log.name


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def text(path):
    with open(path, errors="replace") as f:
        return f.read()


try:
    broker = Mosquitto(wd)
    pki = Pki(wd)
    mtls = ["--client-ca", pki.ca_cert, "--cert", pki.server_cert, "--key", pki.server_key]

    # --- auth mtls: ready as soon as the listeners are bound ----------------
    conf = wd.file("mqgate.ini")
    with open(conf, "w") as f:
        f.write("[mqgate]\nlog-level = info\n")
    p, port, log = start(mtls + ["--config", conf], ns.env)
    m = ns.wait_for("READY", 15)
    check(m is not None, "mtls: READY=1 arrives")
    check(m is not None and accepts(port), "mtls: the device port accepts when READY=1 arrives")
    check(m is not None and m[0] == p.pid,
          "mtls: sent by the main process itself (pid %s; NotifyAccess=main)" %
          (m[0] if m else None))
    check(m is not None and "serving 127.0.0.1:%d" % port in m[2].get("STATUS", ""),
          "mtls: STATUS says what is served (%r)" % (m[2].get("STATUS") if m else None))
    check("serving: every worker is ready" in text(log), "mtls: the log says so too")

    p.send_signal(signal.SIGHUP)
    r = ns.wait_for("RELOADING", 10)
    check(r is not None and r[2].get("MONOTONIC_USEC", "").isdigit(),
          "SIGHUP: RELOADING=1 with MONOTONIC_USEC")
    again = ns.wait_for("READY", 10)
    check(again is not None and "serving" in again[2].get("STATUS", ""),
          "SIGHUP: READY=1 again once reloaded")
    check(wait_for(lambda: "reloaded:" in text(log)), "SIGHUP: the reload happened")

    with open(conf, "w") as f:
        f.write("[mqgate]\ntls-min = 9.9\n")
    p.send_signal(signal.SIGHUP)
    r = ns.wait_for("RELOADING", 10)
    again = ns.wait_for("READY", 10)
    check(r is not None and again is not None and
          "refused" in again[2].get("STATUS", ""),
          "a refused reload: RELOADING=1, then READY=1 with STATUS saying it was refused "
          "(%r)" % (again[2].get("STATUS") if again else None))
    check(accepts(port), "a refused reload: still serving")

    p.send_signal(signal.SIGTERM)
    s = ns.wait_for("STOPPING", 10)
    check(s is not None, "SIGTERM: STOPPING=1")
    check(p.wait(20) == 0, "SIGTERM: exit 0")

    # --- auth registry: READY=1 only once Redis answered ----------------------
    rport = free_port()  # nothing listens there yet
    p, port, log = start(["--auth", "registry", "--redis", "redis://127.0.0.1:%d/0" % rport],
                         ns.env)
    st = ns.wait_for("STATUS", 10)
    check(st is not None and "waiting" in st[2]["STATUS"] and "READY" not in st[2],
          "registry: STATUS says it waits for Redis (%r)" % (st[2] if st else None))
    check(wait_for(lambda: accepts(port)), "registry: the listeners are bound meanwhile")
    check(ns.quiet_for("READY", 1.5), "registry: no READY=1 while Redis is down")
    seen = len(ns.messages)
    p.send_signal(signal.SIGHUP)
    check(ns.quiet_for("RELOADING", 1.0) and
          not any("READY" in x[2] for x in ns.messages[seen:]),
          "registry: a SIGHUP before READY announces nothing (no false READY=1)")
    t0 = time.monotonic()
    redis = Redis(wd, port=rport)
    m = ns.wait_for("READY", 15)
    check(m is not None and m[0] == p.pid,
          "registry: READY=1 once Redis answers (%.1f s after it started)" %
          (time.monotonic() - t0))
    check("registry: connected" in text(log) and "serving: every worker is ready" in text(log),
          "registry: the log shows both workers' links, then readiness")
    # A reconnect later on is not a second READY=1: wait until both workers
    # logged theirs (quiet_for alone could end before any reconnect).
    links = text(log).count("registry: connected")
    redis.stop()
    redis.start()
    check(wait_for(lambda: text(log).count("registry: connected") >= links + 2, 15),
          "registry: both workers reconnect to Redis")
    check(ns.quiet_for("READY", 0.5), "registry: a Redis reconnect sends no second READY=1")
    p.send_signal(signal.SIGTERM)
    check(ns.wait_for("STOPPING", 10) is not None and p.wait(20) == 0,
          "registry: STOPPING=1, exit 0")

    # --- a notification socket that is not there -------------------------------
    p, port, log = start(mtls, "@mqgate-test-nobody-listens-%d" % os.getpid())
    check(wait_for(lambda: accepts(port)) and
          wait_for(lambda: "cannot notify the service manager" in text(log)),
          "NOTIFY_SOCKET with no listener: a warning, and mqgate serves on")
    p.send_signal(signal.SIGTERM)
    check(p.wait(20) == 0, "... and stops with exit 0")
finally:
    ns.close()
    wd.cleanup()
finish()
