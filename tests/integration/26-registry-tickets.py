"""26: session resumption across the cluster's proxies (issue 14, part 3,
registry mode): the proxies share their session-ticket keys through Redis,
so a device's ticket from one proxy resumes on another (TLS 1.2 tickets and
TLS 1.3 PSK), and on a proxy started later; a revoked certificate's ticket
is refused on the other proxy; the keys rotate (the previous ones still
decrypt, the oldest drop out) and are never logged."""
import base64
import json
import ssl
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Redis, Resp, Workdir, check,
                     client_context, connect_packet, ctl, finish, handshake_error, wait_for)

P = "t26"
wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    ca_id = json.loads(c("--json", "ca", "register", pki.ca_cert).stdout)["id"]
    devs = {}
    for name in ("dev-1", "dev-2", "dev-3"):
        cert, key = pki.device(name)
        devs[name] = (cert, key)
        r = c("--json", "cert", "register", cert, "--ca", ca_id)
        devs[name] += (json.loads(r.stdout)["results"][0]["fp"],)
    args = ["--auth", "registry", "--redis", redis.url, "--redis-prefix", P,
            "--ticket-rotate", "2s"]
    a = Mqgate(wd, pki, broker.port, args)
    b = Mqgate(wd, pki, broker.port, args)
    check(wait_for(lambda: "session-ticket keys in force" in a.text() and
                   "session-ticket keys in force" in b.text()),
          "both proxies take the cluster's ticket keys")

    def ctx(name, version):
        return client_context(devs[name][0], devs[name][1], pki.ca_cert, version)

    def session_from(port, name, version):
        cx = ctx(name, version)
        cl = Client(port, cx)
        cl.send(connect_packet(4, name))
        pkt = cl.recv_packet()
        sess = cl.sock.session
        cl.close()
        return cx, sess if pkt is not None else None

    def resumes(port, cx, sess):
        cl = Client(port, cx, session=sess)
        cl.send(connect_packet(4, "r"))
        pkt = cl.recv_packet()
        ok = pkt is not None and pkt[1][1] == 0 and cl.sock.session_reused
        cl.close()
        return ok

    for version, label in ((ssl.TLSVersion.TLSv1_2, "TLS 1.2 ticket"),
                           (ssl.TLSVersion.TLSv1_3, "TLS 1.3 PSK")):
        cx, sess = session_from(a.port, "dev-1", version)
        check(sess is not None and resumes(b.port, cx, sess),
              "%s from proxy A resumes on proxy B" % label)
    cx, sess = session_from(a.port, "dev-1", ssl.TLSVersion.TLSv1_3)
    late = Mqgate(wd, pki, broker.port, args)
    check(wait_for(lambda: "session-ticket keys in force" in late.text()),
          "a proxy started later takes the same keys")
    check(resumes(late.port, cx, sess), "a ticket from before it started resumes on it")

    # A revoked certificate cannot resume anywhere.
    cx2, sess2 = session_from(a.port, "dev-2", ssl.TLSVersion.TLSv1_3)
    check(c("cert", "revoke", devs["dev-2"][2]).returncode == 0, "dev-2 revoked")
    seen = []  # the alert of each try, until the revocation reached proxy B
    wait_for(lambda: seen.append(handshake_error(b.port, cx2, session=sess2)) or
             seen[-1] == "certificate revoked", 5)
    got = seen[-1]
    check(got == "certificate revoked",
          "its ticket is refused on proxy B after the resumed handshake (got %s)" % got)

    # Rotation: every 2 s. P:tickets keeps the older keys (up to 6), the
    # current one and the next one: 8 at most, 80 bytes each. The proxies ask
    # every 0.5 s and the registry counts whole seconds, so a rotation comes
    # 1 to 3 s after the one before: watch for each change rather than sleep.
    tickets = Resp(redis.port, raw=True)

    def keys():
        return tickets.call("HGET", P + ":tickets", "keys")

    def changed(prev, timeout):
        """The keys once they differ from |prev| (a rotation), or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            k = keys()
            if k != prev:
                return k
            time.sleep(0.05)
        return None

    cx3, sess3 = session_from(a.port, "dev-3", ssl.TLSVersion.TLSv1_2)
    # Read after the ticket was issued: its key is the current one then, or
    # an older one (a proxy may lag the registry, never lead it).
    keys0 = keys()
    keys1 = changed(keys0, 5)
    check(keys1 is not None and len(keys1) == len(keys0) + 80,
          "rotated: one key more (%s -> %s)" % (len(keys0) // 80,
                                                 keys1 and len(keys1) // 80))
    check(resumes(b.port, cx3, sess3), "a ticket of the previous key still resumes")
    keys2, rotations, deadline = keys1, 0, time.time() + 30
    while keys2 is not None and rotations < 7 and time.time() < deadline:
        keys2 = changed(keys2, deadline - time.time())
        rotations += keys2 is not None
    check(rotations == 7, "7 more rotations within 30 s (%d)" % rotations)
    keys2 = keys2 or keys()
    check(len(keys2) == 8 * 80, "at most 8 keys kept (%d)" % (len(keys2) // 80))
    check(not resumes(b.port, cx3, sess3),
          "after 7 more rotations its key is gone: a full handshake instead")
    log = a.text() + b.text() + late.text()
    leaked = [k for k in (keys2[i:i + 80] for i in range(0, len(keys2), 80))
              if k.hex() in log or base64.b64encode(k).decode() in log or
              k[16:48].hex() in log]
    check(not leaked, "no key material in any log")
    check(json.loads(c("--json", "cert", "show", devs["dev-1"][2]).stdout)["cert"]["status"]
          == "active", "the registry is otherwise untouched")
finally:
    wd.cleanup()
finish()
