"""65: the key exchange a device gets.

mqgate picks the group by its own order (--tls-groups, default
X25519:P-256:P-384), not the device's: a client listing P-384 first (as
mbedTLS 2.28 and wolfSSL do) gets X25519 or P-256. With TLS 1.3 a key share
the device already sent for an allowed group is taken, so no
HelloRetryRequest; one happens only when no allowed share was sent. Clients:
openssl s_client with explicit group lists, and real device stacks (mbedTLS
2.28 and wolfSSL 5.5 from Debian, tests/clients) with their default orders.
A HelloRetryRequest is seen on the wire: a relay counts the plaintext
ClientHello messages the client sends. The group is on the log lines and
in /metrics."""
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request

from harness import (BUILD, MQGATE, Mosquitto, Mqgate, Pki, Workdir, check, finish,
                     free_port, wait_for)

MBEDTLS = os.path.join(BUILD, "tests", "mqgate-test-mbedtls")
WOLFSSL = os.path.join(BUILD, "tests", "mqgate-test-wolfssl")


class HelloCounter:
    """A TCP relay to |port| that counts the ClientHello messages the client
    sends in plaintext handshake records (two mean a HelloRetryRequest)."""

    def __init__(self, port):
        self.target = port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.hellos = []  # one count per connection
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            idx = len(self.hellos)
            self.hellos.append(0)
            threading.Thread(target=self.up, args=(c, u, idx), daemon=True).start()
            threading.Thread(target=self.down, args=(u, c), daemon=True).start()

    def up(self, c, u, idx):
        buf = b""
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                u.sendall(d)
                buf += d
                while len(buf) >= 5:
                    n = int.from_bytes(buf[3:5], "big")
                    if len(buf) < 5 + n:
                        break
                    body = buf[5:5 + n]
                    if buf[0] == 22 and len(body) >= 4 and body[0] == 1 and \
                            int.from_bytes(body[1:4], "big") == n - 4:
                        self.hellos[idx] += 1
                    buf = buf[5 + n:]
        except OSError:
            pass
        for s in (c, u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self, u, c):
        try:
            while True:
                d = u.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass

    def close(self):
        self.lsock.close()


def s_client(port, cert, key, *args):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-cert", cert, "-key", key] + list(args),
                       input="", capture_output=True, text=True, timeout=15)
    out = r.stdout + r.stderr
    m = re.search(r"Server Temp Key: (?:ECDH, )?([A-Za-z0-9-]+)", out)
    names = {"prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
    return names.get(m.group(1), m.group(1)) if m else None


def last_group(gate, before):
    """The group= of the connection lines logged since |before| bytes."""
    text = wait_for(lambda: gate.text()[before:] if "group=" in gate.text()[before:] else "",
                    timeout=5)
    groups = re.findall(r"group=(\S*)", text)
    return groups[-1] if groups else None


def metric(port, group):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    m = re.search(r'mqgate_handshakes_by_group_total\{group="%s"\} (\d+)' % group, body)
    return int(m.group(1)) if m else -1


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-kx")
    broker = Mosquitto(wd)
    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--metrics", "127.0.0.1:%d" % mport])
    relay = HelloCounter(gate.port)

    # (client args, expected group, expected ClientHellos, what)
    cases = [
        (["-tls1_2", "-groups", "P-384:P-256:X25519"], "X25519", 1,
         "TLS 1.2 client listing P-384 first gets X25519 (server order)"),
        (["-tls1_2", "-groups", "P-521:P-384:P-256"], "P-256", 1,
         "TLS 1.2 client without X25519, P-521 and P-384 first, gets P-256"),
        (["-tls1_3", "-groups", "P-256:X25519"], "P-256", 1,
         "TLS 1.3 client sending only a P-256 share (X25519 supported too) gets "
         "P-256 without a HelloRetryRequest"),
        (["-tls1_3", "-groups", "X25519:P-256"], "X25519", 1,
         "TLS 1.3 client sending an X25519 share gets X25519"),
        (["-tls1_3", "-groups", "P-384:P-256:X25519"], "P-384", 1,
         "TLS 1.3 client sending a P-384 share gets it taken, no HelloRetryRequest"),
        (["-tls1_3", "-groups", "P-521:X25519"], "X25519", 2,
         "TLS 1.3 client with a share only for P-521 (not allowed) gets a "
         "HelloRetryRequest to X25519"),
    ]
    for args, want, hellos, what in cases:
        n = len(relay.hellos)
        before = len(gate.text())
        got = s_client(relay.port, cert, key, *args)
        logged = last_group(gate, before)
        seen = relay.hellos[n] if len(relay.hellos) > n else -1
        check(got == want and logged == want and seen == hellos,
              "%s (client saw %s, log group=%s, ClientHellos %d)" % (what, got, logged, seen))

    # Real device stacks, default configurations.
    for exe, extra, want, what in (
            (MBEDTLS, [], "X25519", "mbedTLS 2.28, TLS 1.2, default group order"),
            (WOLFSSL, ["1.2"], "X25519", "wolfSSL 5.5, TLS 1.2, default group order"),
            (WOLFSSL, ["1.3"], None, "wolfSSL 5.5, TLS 1.3, default groups and key share")):
        if not os.access(exe, os.X_OK):
            check(False, "%s: client %s built (libmbedtls-dev / libwolfssl-dev)" % (what, exe))
            continue
        n = len(relay.hellos)
        before = len(gate.text())
        r = subprocess.run([exe, "127.0.0.1", str(relay.port), cert, key, "kx"] + extra,
                           capture_output=True, text=True, timeout=20)
        logged = last_group(gate, before)
        seen = relay.hellos[n] if len(relay.hellos) > n else -1
        ok = r.returncode == 0 and "connack=0" in r.stdout and seen == 1 and \
            logged in ((want,) if want else ("X25519", "P-256"))
        check(ok, "%s: CONNACK 0, group %s (X25519 or P-256), ClientHellos %d; %s" %
              (what, logged, seen, r.stdout.strip()))

    check(metric(mport, "X25519") >= 3 and metric(mport, "P-256") >= 2 and
          metric(mport, "P-384") >= 1,
          "/metrics counts handshakes by group (X25519 %d, P-256 %d, P-384 %d)" %
          (metric(mport, "X25519"), metric(mport, "P-256"), metric(mport, "P-384")))
    connect_lines = [l for l in gate.text().splitlines() if " connect " in l]
    check(connect_lines and all("group=" in l for l in connect_lines),
          "the connect lines name the group")
    relay.close()
    gate.stop()

    # The order is an option: P-256 before X25519.
    gate = Mqgate(wd, pki, broker.port, ["--tls-groups", "P-256:X25519"])
    check(s_client(gate.port, cert, key, "-tls1_2", "-groups", "X25519:P-256") == "P-256",
          "--tls-groups P-256:X25519: a TLS 1.2 client listing X25519 first gets P-256")
    check(s_client(gate.port, cert, key, "-tls1_3", "-groups", "P-384") is None and
          "reason=tls_error" in gate.text(),
          "--tls-groups P-256:X25519: a TLS 1.3 client supporting only P-384 is refused")
    gate.stop()

    r = subprocess.run([MQGATE, "--client-ca", pki.ca_cert, "--tls-groups", "X25519:P-999",
                        "--check-config"], capture_output=True, text=True)
    check(r.returncode == 2 and 'unknown group "P-999"' in r.stderr,
          "an unknown group is refused at startup, exit 2: %s" % r.stderr.strip())
finally:
    wd.cleanup()
finish()
