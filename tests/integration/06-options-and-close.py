"""06: options and lifecycle: every option has a flag, an MQGATE_ variable and
a --help line; the default server certificate is generated once into
--state-dir and reused; IPv6 listening; the binary links Debian's BoringSSL
and no system OpenSSL; closes propagate cleanly both ways (a DISCONNECT
reaches the broker, an abrupt drop fires the will)."""
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import time

from harness import (MQGATE, Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port, subscribe_packet, wait_for, wait_port)

wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    ctx = client_context(cert, key, pki.ca_cert)

    # Linkage: BoringSSL from /usr/lib/*/android (or .deps), never libssl.so.3.
    ldd = subprocess.run(["ldd", MQGATE], capture_output=True, text=True).stdout
    check(re.search(r"libssl\.so\.0 => \S*(android|\.deps)", ldd) is not None,
          "mqgate links BoringSSL's libssl.so.0")
    check("libssl.so.3" not in ldd and "libcrypto.so.3" not in ldd,
          "no system OpenSSL library is linked")

    # --help documents every option with its variable.
    out = subprocess.run([MQGATE, "--help"], capture_output=True, text=True).stdout
    for opt in ("listen", "backend", "cert", "key", "state-dir", "auth", "client-ca", "tls-min",
                "tls-max", "workers", "handshake-timeout", "connect-timeout",
                "max-connect-size", "config"):
        env = "MQGATE_" + opt.upper().replace("-", "_")
        check("--%s " % opt in out and env in out, "--help documents --%s and %s" % (opt, env))
    # The example config names every option and is accepted as it is.
    example = os.path.join(os.path.dirname(__file__), "..", "..", "docker", "mqgate.ini")
    text = open(example).read()
    flags = re.findall(r"^  --([a-z-]+) [A-Z]", out, re.M)
    missing = [f for f in flags if f != "config" and ";%s = " % f not in text]
    check(flags and not missing, "docker/mqgate.ini documents every option (missing: %s)" % missing)
    r = subprocess.run([MQGATE, "--config", example, "--check-config", "--client-ca",
                        pki.ca_cert, "--cert", pki.server_cert, "--key", pki.server_key],
                       capture_output=True, text=True)
    check(r.returncode == 0 and "configuration OK" in r.stdout, "--check-config accepts it")
    r = subprocess.run([MQGATE, "--check-config", "--client-ca", pki.ca_cert, "--cert",
                        pki.server_cert, "--key", key], capture_output=True, text=True)
    check(r.returncode == 2 and "does not match" in r.stderr,
          "--check-config refuses a key that is not the certificate's (exit 2)")
    r = subprocess.run([MQGATE, "--no-such-flag"], capture_output=True, text=True)
    check(r.returncode == 2 and "unknown option" in r.stderr, "an unknown flag: exit 2 with a reason")
    r = subprocess.run([MQGATE, "--client-ca", pki.ca_cert, "--listen", "nowhere"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "not HOST:PORT" in r.stderr, "a bad --listen: exit 2 with a reason")
    r = subprocess.run([MQGATE], capture_output=True, text=True)
    check(r.returncode == 2 and "--client-ca" in r.stderr, "mtls without --client-ca: exit 2")

    # Options from the environment only; no --cert: the default certificate.
    state = wd.file("state-default")
    port = free_port()
    env = dict(os.environ, MQGATE_LISTEN="127.0.0.1:%d" % port,
               MQGATE_BACKEND="127.0.0.1:%d" % broker.port, MQGATE_CLIENT_CA=pki.ca_cert,
               MQGATE_STATE_DIR=state, MQGATE_TLS_MIN="1.2", MQGATE_WORKERS="1")

    def server_fingerprint():
        raw = ssl.create_default_context()
        raw.check_hostname = False
        raw.verify_mode = ssl.CERT_NONE
        raw.load_cert_chain(cert, key)
        with socket.create_connection(("127.0.0.1", port)) as s:
            with raw.wrap_socket(s) as t:
                return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()

    fps = []
    for run in range(2):
        p = subprocess.Popen([MQGATE], env=env, stderr=subprocess.DEVNULL)
        wd.procs.append(p)
        wait_port(port)
        fps.append(server_fingerprint())
        p.terminate()
        p.wait(10)
    check(os.path.exists(os.path.join(state, "server.crt")) and
          oct(os.stat(os.path.join(state, "server.key")).st_mode & 0o777) == "0o600",
          "default certificate written to --state-dir (key mode 0600)")
    check(fps[0] == fps[1], "the default certificate is reused on the next start")

    # IPv6 loopback.
    if socket.has_ipv6:
        port6 = free_port()
        gate6 = subprocess.Popen([MQGATE, "--listen", "[::1]:%d" % port6, "--backend",
                                  "127.0.0.1:%d" % broker.port, "--client-ca", pki.ca_cert,
                                  "--cert", pki.server_cert, "--key", pki.server_key],
                                 stderr=subprocess.DEVNULL)
        wd.procs.append(gate6)
        wait_port(port6, host="::1")
        with socket.create_connection(("::1", port6)) as s:
            t = ctx.wrap_socket(s)
            t.sendall(connect_packet(4, "v6-dev"))
            check(t.recv(4) == b"\x20\x02\x00\x00", "a device connects over IPv6 [::1]")
            t.close()
        gate6.terminate()
        gate6.wait(10)

    # JSON logs: every line one object; the outcome line has every field.
    # At debug level, a line per change of state.
    gate = Mqgate(wd, pki, broker.port, ["--log-format", "json", "--log-level", "debug"])
    c = Client(gate.port, ctx)
    c.send(connect_packet(4, ""))
    c.recv_packet()
    c.close()
    wait_for(lambda: '"event":"closed"' in gate.text())
    gate.stop()
    lines = [json.loads(l) for l in gate.text().splitlines() if l.strip()]
    closed = [l for l in lines if l.get("event") == "closed" and l.get("client_id")]
    check(lines and all("ts" in l and "level" in l for l in lines),
          "--log-format json: every line is a JSON object (%d lines)" % len(lines))
    want = {"peer", "tls", "cipher", "fp", "cn", "client_id_in", "client_id", "reason",
            "duration_ms", "state"}
    check(closed and want <= set(closed[0]) and closed[0]["client_id"] == "device-0001"
          and closed[0]["client_id_in"] == "" and closed[0]["tls"] == "TLSv1.3",
          "the outcome line carries peer, TLS, cipher, fingerprint, CN, client IDs, reason")
    check(closed and closed[0]["state"] == "pump" and closed[0]["reason"] == "closed",
          "it names the state the session ended in (pump)")
    moves = [(l["from"], l["to"]) for l in lines
             if l.get("event") == "state" and closed and l.get("peer") == closed[0]["peer"]]
    check(moves[:4] == [("handshake", "connect"), ("connect", "backend"), ("backend", "pump"),
                        ("pump", "up_linger")]
          and ("up_linger", "closed") in [(l.get("from"), l.get("to")) for l in lines],
          "--log-level debug: one line per change of state (%s)" % moves)

    # Close semantics with a subscriber on the will topic.
    gate = Mqgate(wd, pki, broker.port)
    watcher = Client(gate.port, ctx)
    watcher.send(connect_packet(4, "watcher"))
    watcher.recv_packet()
    watcher.send(subscribe_packet("wills/#", 0))
    watcher.recv_packet()

    polite = Client(gate.port, ctx)
    polite.send(connect_packet(4, "polite", will=("wills/polite", b"gone", 0, False)))
    polite.recv_packet()
    polite.send(b"\xe0\x00")  # DISCONNECT
    polite.close()
    check(wait_for(lambda: "Client polite disconnected." in broker.text()),
          "a device's DISCONNECT reaches the broker before the close")

    rude = Client(gate.port, ctx)
    rude.send(connect_packet(4, "rude", will=("wills/rude", b"gone", 0, False)))
    rude.recv_packet()
    rude.sock.close()  # no DISCONNECT: the broker must publish the will
    watcher.sock.settimeout(10)
    pkt = watcher.recv_packet()
    check(pkt is not None and b"wills/rude" in pkt[1],
          "an abrupt device drop closes the broker leg and the will fires")
    check(wait_for(lambda: "Client rude closed its connection." in broker.text()),
          "the broker saw the connection closed")
    watcher.close()
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
