"""66: session resumption across proxies that share their ticket keys
(--ticket-keys FILE, auth mtls).

Two mqgate processes read the same key file: a session ticket one of them
issued resumes on the other, with TLS 1.2 tickets and TLS 1.3 PSK tickets
(Python's ssl sessions). Without shared keys it does not (the control). A
rotation (a key appended, the oldest dropped, SIGHUP) keeps tickets of the
previous key resuming; once their key is dropped they get a full handshake.
A bad file on SIGHUP is refused and the running keys stay; at startup it
is an error. A resumed session is still checked: a proxy that no longer
trusts the device's CA refuses the resumed handshake."""
import base64
import os
import signal
import socket
import ssl
import subprocess

from harness import (MQGATE, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, wait_for)


def new_key(size=80):
    return base64.b64encode(os.urandom(size)).decode()


def write_keys(path, keys):
    with open(path, "w") as f:
        f.write("# mqgate ticket keys, oldest first\n" + "\n".join(keys) + "\n")


def session_to(port, ctx, session=None):
    """Connects, sends CONNECT, reads CONNACK; returns (CONNACK ok, reused,
    the session to resume next time)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s = ctx.wrap_socket(raw, session=session)
        s.sendall(connect_packet(client_id=""))
        d = s.recv(4)
        ok = d[:1] == b"\x20" and d[3:4] == b"\x00"
        reused = s.session_reused
        sess = s.session
        s.close()
        return ok, reused, sess
    except (ssl.SSLError, OSError) as e:
        raw.close()
        return False, None, str(e)


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-resume")
    broker = Mosquitto(wd)
    keyfile = wd.file("ticket.keys")
    k = [new_key(80), new_key(48), new_key(80), new_key(80), new_key(80)]
    write_keys(keyfile, k[0:3])  # k[1] encrypts (the next-to-last)
    a = Mqgate(wd, pki, broker.port, ["--ticket-keys", keyfile])
    b = Mqgate(wd, pki, broker.port, ["--ticket-keys", keyfile])
    lone = Mqgate(wd, pki, broker.port)  # its own keys

    for name, ver in (("1.2", ssl.TLSVersion.TLSv1_2), ("1.3", ssl.TLSVersion.TLSv1_3)):
        ctx = client_context(cert, key)
        ctx.minimum_version = ctx.maximum_version = ver
        ok, reused, sess = session_to(a.port, ctx)
        check(ok and not reused and sess is not None and sess.has_ticket,
              "TLS %s: full handshake on proxy A gives a ticket" % name)
        ok, reused, _ = session_to(b.port, ctx, sess)
        check(ok and reused, "TLS %s: A's ticket resumes on proxy B (shared keys)" % name)
        ok, reused, _ = session_to(lone.port, ctx, sess)
        check(ok and reused is False,
              "TLS %s: on a proxy with keys of its own, A's ticket gets a full "
              "handshake (and still connects)" % name)

    # Rotation: tickets issued under k[1] (A encrypts with it).
    ctx = client_context(cert, key)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    _, _, old = session_to(a.port, ctx)
    write_keys(keyfile, k[1:4])  # k[2] encrypts now; k[1] only decrypts
    b.signal(signal.SIGHUP)
    check(wait_for(lambda: "reloaded" in b.text(), timeout=5), "proxy B reloaded the keys")
    ok, reused, newer = session_to(b.port, ctx, old)
    check(ok and reused, "after a rotation, a ticket of the previous key still resumes")
    write_keys(keyfile, k[2:5])  # k[1] dropped
    before = b.text().count("reloaded")
    b.signal(signal.SIGHUP)
    wait_for(lambda: b.text().count("reloaded") > before, timeout=5)
    ok, reused, _ = session_to(b.port, ctx, old)
    check(ok and reused is False, "a ticket whose key was dropped gets a full handshake")
    ok, reused, _ = session_to(b.port, ctx, newer)
    check(ok and reused, "the ticket renewed under the rotated key resumes")

    # A bad file is refused on SIGHUP; the running keys stay.
    _, _, current = session_to(b.port, ctx)
    with open(keyfile, "w") as f:
        f.write(k[2] + "\n" + "bm90IGEga2V5\n")  # "not a key"
    b.signal(signal.SIGHUP)
    check(wait_for(lambda: "reload refused" in b.text(), timeout=5) and
          "line 2 is not base64 of a 48- or 80-byte key" in b.text(),
          "a bad key file on SIGHUP is refused with the line named")
    ok, reused, _ = session_to(b.port, ctx, current)
    check(ok and reused, "after the refused reload the running keys still resume tickets")
    logs = a.text() + b.text()
    check(all(key_text[:12] not in logs for key_text in k), "no key material in the logs")

    # At startup a bad file is an error (exit 1; 2 with --check-config).
    r = subprocess.run([MQGATE, "--client-ca", pki.ca_cert, "--cert", pki.server_cert,
                        "--key", pki.server_key, "--ticket-keys", keyfile, "--check-config"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "ticket keys" in r.stderr and "line 2" in r.stderr,
          "--check-config with a bad key file: exit 2, %s" % r.stderr.strip())
    r = subprocess.run([MQGATE, "--auth", "registry", "--ticket-keys", keyfile],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "auth mode mtls" in r.stderr,
          "--ticket-keys with auth registry is refused: %s" % r.stderr.strip())

    # A resumed session is checked again: a proxy sharing the keys but not
    # trusting the device's CA refuses the resumed handshake.
    write_keys(keyfile, k[2:5])
    other_ca, _ = pki.other_ca()
    c = Mqgate(wd, pki, broker.port, ["--ticket-keys", keyfile, "--client-ca", other_ca])
    _, _, t = session_to(b.port, ctx)
    ok, reused, detail = session_to(c.port, ctx, t)
    check(not ok and wait_for(lambda: "reason=unknown_ca" in c.text(), timeout=5) and
          "resumed session" in c.text(),
          "a resumed session on a proxy that does not trust the CA is refused "
          "(unknown_ca, checked after resumption)")
    for g in (a, b, lone, c):
        g.stop()
finally:
    wd.cleanup()
finish()
