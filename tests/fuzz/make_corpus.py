#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/.

    tests/fuzz/make_corpus.py [--certgen build/bench/mqgate-certgen] [TARGET...]

The corpus files are committed; run this only to regenerate them. MQTT
packets and configs come out the same every time; certificates are new
each time (fresh keys and serials), made with mqgate-certgen and converted
with `openssl x509 -outform DER` (and `openssl req` for the odd names).
Existing files of a regenerated target are removed first, except the
regression-*/crash-* inputs found by fuzzing, which are kept."""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import mstr as s16, varint  # noqa: E402  the MQTT encoders the tests use


# --- MQTT -------------------------------------------------------------------

def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


def p_byte(i, v): return bytes([i, v])
def p_u16(i, v): return bytes([i]) + struct.pack(">H", v)
def p_u32(i, v): return bytes([i]) + struct.pack(">I", v)
def p_str(i, s): return bytes([i]) + s16(s)
def p_pair(i, k, v): return bytes([i]) + s16(k) + s16(v)


def connect(level, client_id, clean=True, keepalive=60, cprops=None,
            will=None, username=None, password=None):
    """will = (topic, payload, qos, retain, will_props or None)"""
    flags = 0x02 if clean else 0
    name = "MQIsdp" if level == 3 else "MQTT"
    payload = s16(client_id)
    if will is not None:
        topic, msg, qos, retain, wprops = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        if level == 5:
            payload += wprops if wprops is not None else props()
        payload += s16(topic) + s16(msg)
    if username is not None:
        flags |= 0x80
        payload += s16(username)
    if password is not None:
        flags |= 0x40
        payload += s16(password)
    var = s16(name) + bytes([level, flags]) + struct.pack(">H", keepalive)
    if level == 5:
        var += cprops if cprops is not None else props()
    body = var + payload
    return b"\x10" + varint(len(body)) + body


def connect_seeds():
    full_props = props(
        p_u32(0x11, 3600), p_u16(0x21, 20), p_u32(0x27, 1 << 20),
        p_u16(0x22, 10), p_byte(0x19, 1), p_byte(0x17, 0),
        p_pair(0x26, "site", "berlin"), p_pair(0x26, "site", "paris"),
        p_str(0x15, "SCRAM-SHA-1"), p_str(0x16, b"\x00\x01binary"))
    will_props = props(
        p_u32(0x18, 30), p_byte(0x01, 1), p_u32(0x02, 600),
        p_str(0x03, "text/plain"), p_str(0x08, "replies/dev"),
        p_str(0x09, b"\xde\xad\xbe\xef"), p_pair(0x26, "k", "v"))
    will = ("devices/sensor-1/status", b"offline", 1, True, None)
    will5 = ("devices/sensor-1/status", b"\x00\xffoffline", 2, False,
             will_props)
    seeds = {
        "v31-min": connect(3, "sensor-1"),
        "v31-empty-id": connect(3, ""),
        "v31-will-user-pass": connect(3, "sensor-1", will=will,
                                      username="alice", password=b"s3cret"),
        "v311-min": connect(4, "sensor-1"),
        "v311-empty-id": connect(4, "", keepalive=0),
        "v311-not-clean": connect(4, "sensor-1", clean=False),
        "v311-user": connect(4, "sensor-1", username="alice"),
        "v311-user-pass": connect(4, "sensor-1", username="alice",
                                  password=b"\x00\xffbin"),
        "v311-will-q0": connect(4, "sensor-1",
                                will=("t", b"", 0, False, None)),
        "v311-will-all": connect(4, "s\u00e9nsor-\u4e2d", will=will,
                                 username="\U0001f600", password=b"pw"),
        "v5-min": connect(5, "sensor-1"),
        "v5-empty-id": connect(5, ""),
        "v5-password-only": connect(5, "sensor-1", password=b"token"),
        "v5-props": connect(5, "sensor-1", cprops=full_props),
        "v5-will-props": connect(5, "sensor-1", will=will5),
        "v5-everything": connect(5, "", cprops=full_props, will=will5,
                                 username="alice", password=b"s3cret"),
        "v5-long-id": connect(5, "d" * 300, username="u"),
        # A remaining length of 2 bytes, and one of 3 (a large will payload).
        "v311-rl2": connect(4, "sensor-1", will=("t", b"x" * 200, 1, False,
                                                 None)),
        "v5-rl3": connect(5, "sensor-1", will=("t", b"y" * 17000, 0, False,
                                               props())),
    }
    # Followed by the next packet (a PINGREQ) in the same read.
    seeds["v311-then-pingreq"] = connect(4, "sensor-1") + b"\xc0\x00"
    # A few near misses: each parser error once.
    seeds["bad-level"] = connect(4, "x")[:8] + b"\x06" + connect(4, "x")[9:]
    seeds["bad-reserved"] = bytearray(connect(4, "x"))
    seeds["bad-reserved"][9] |= 1
    seeds["bad-dup-prop"] = connect(5, "x", cprops=props(p_u32(0x11, 1),
                                                         p_u32(0x11, 2)))
    seeds["bad-utf8"] = connect(4, b"\xc0\xaf")
    seeds["bad-subscribe"] = b"\x82\x05\x00\x01\x00\x00\x00"
    return {k: bytes(v) for k, v in seeds.items()}


def connack(level, code, session=0, cprops=None):
    body = bytes([session, code])
    if level == 5:
        body += cprops if cprops is not None else props()
    return b"\x20" + varint(len(body)) + body


def connack_seeds():
    all_props = props(
        p_u32(0x11, 3600), p_u16(0x21, 100), p_byte(0x24, 1),
        p_byte(0x25, 1), p_u32(0x27, 1 << 20), p_u16(0x22, 10),
        p_str(0x1F, "welcome"), p_pair(0x26, "a", "b"), p_byte(0x28, 1),
        p_byte(0x29, 0), p_byte(0x2A, 1), p_u16(0x13, 30),
        p_str(0x1A, "resp/"), p_str(0x1C, "other:8883"),
        p_str(0x15, "SCRAM"), p_str(0x16, b"\x01\x02"))
    return {
        "v3-accepted": connack(4, 0),
        "v3-session-present": connack(4, 0, session=1),
        "v3-refused-5": connack(4, 5),
        "v5-accepted": connack(5, 0),
        "v5-no-prop-length": b"\x20\x02\x00\x00",
        "v5-session-present": connack(5, 0, session=1),
        "v5-props": connack(5, 0, cprops=all_props),
        "v5-assigned": connack(5, 0, cprops=props(p_str(0x12, "broker-id"))),
        "v5-refused": connack(5, 0x87,
                              cprops=props(p_str(0x1F, "not authorized"))),
        "v5-big-props": connack(5, 0, cprops=props(
            *[p_pair(0x26, "k%d" % i, "v" * 40) for i in range(4)])),
        "v5-sub-id": connack(5, 0, cprops=props(b"\x0b\x80\x01")),
        "v5-then-publish": connack(5, 0) + b"\x30\x05\x00\x01t\x00\x00",
        "bad-flags": b"\x20\x03\x02\x00\x00",
        "bad-type": b"\x30\x02\x00\x00",
    }


def frame_seeds():
    every_prop = (
        p_byte(0x01, 1) + p_u32(0x02, 60) + p_str(0x03, "text/plain") +
        p_str(0x08, "resp/t") + p_str(0x09, b"\x00\xff") + b"\x0b\x80\x01" +
        p_u32(0x11, 3600) + p_str(0x12, "id") + p_u16(0x13, 30) +
        p_str(0x15, "SCRAM") + p_str(0x16, b"\x01") + p_byte(0x17, 1) +
        p_u32(0x18, 5) + p_byte(0x19, 0) + p_str(0x1A, "r/") +
        p_str(0x1C, "other:8883") + p_str(0x1F, "why") + p_u16(0x21, 10) +
        p_u16(0x22, 5) + p_u16(0x23, 1) + p_byte(0x24, 1) + p_byte(0x25, 0) +
        p_pair(0x26, "k", "v") + p_u32(0x27, 1 << 20) + p_byte(0x28, 1) +
        p_byte(0x29, 1) + p_byte(0x2A, 0))
    return {
        # Whole packets, their body a property list.
        "props-every": b"\x30" + varint(len(every_prop)) + every_prop,
        "props-user": b"\x30" + varint(9) + p_pair(0x26, "ab", "cd"),
        "props-bad-utf8": b"\x30\x06" + p_str(0x03, b"\xc0\xaf") + b"\x00",
        "props-unknown": b"\x30\x03\x04\x00\x00",
        "empty-body": b"\xe0\x00",
        "rl-2-bytes": b"\x30\x81\x01" + b"\x26\x00\x01k\x00\x7b" + b"v" * 123,
        "rl-non-minimal": b"\x30\x81\x80\x00\x01\x00",
        "rl-4-continued": b"\x30\xff\xff\xff\xff\x01",
        "rl-huge": b"\x30\xff\xff\xff\x7f",
        "pipelined": b"\x20\x02\x00\x00\x30\x05\x00\x01t\x00\x00",
        "truncated": b"\x30\x0a\x26\x00",
    }


# --- certificates ------------------------------------------------------------

def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Pki:
    def __init__(self, certgen, tmp):
        self.certgen, self.tmp = certgen, tmp

    def path(self, name, ext):
        return os.path.join(self.tmp, name + "." + ext)

    def make(self, kind, name, *args, issuer=None):
        cmd = [self.certgen, kind, "--out-cert", self.path(name, "pem"),
               "--out-key", self.path(name, "key")]
        if issuer is not None:
            cmd += ["--issuer-cert", self.path(issuer, "pem"),
                    "--issuer-key", self.path(issuer, "key")]
        run(*cmd, *args)
        run("openssl", "x509", "-in", self.path(name, "pem"), "-outform",
            "DER", "-out", self.path(name, "der"))

    def req(self, name, subj, *extra):
        """A self-signed certificate by openssl, for names certgen won't
        make."""
        run("openssl", "req", "-x509", "-new", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-utf8",
            "-keyout", self.path(name, "key"), "-out", self.path(name, "pem"),
            "-subj", subj, "-days", "30", *extra)
        run("openssl", "x509", "-in", self.path(name, "pem"), "-outform",
            "DER", "-out", self.path(name, "der"))

    def der(self, name):
        return read(self.path(name, "der"))

    def pem(self, name):
        return read(self.path(name, "pem"))


def make_pki(certgen, tmp):
    p = Pki(certgen, tmp)
    p.make("ca", "root-ec", "--cn", "Fleet Root CA")
    p.make("ca", "root-rsa", "--cn", "Fleet RSA Root", "--key", "rsa")
    p.make("ca", "inter", "--cn", "Fleet Intermediate", issuer="root-ec")
    p.make("device", "dev-ec", "--cn", "sensor-1", "--ou", "line-a",
           issuer="root-ec")
    p.make("device", "dev-rsa", "--cn", "sensor-2", "--key", "rsa",
           issuer="root-rsa")
    p.make("device", "dev-inter", "--cn", "sensor-\u00e9\u4e2d",
           "--ou", "caf\u00e9", issuer="inter")
    p.make("device", "dev-expired", "--cn", "old-sensor",
           "--valid-from-days", "-30", "--valid-days", "10", issuer="root-ec")
    p.make("server", "server", "--cn", "mqgate.local", issuer="root-ec")
    p.req("multi-names", "/CN=first/OU=a/OU=b/CN=second")
    p.req("no-cn", "/O=No Common Name Inc/OU=ops",
          "-set_serial", "0")
    p.req("long-serial", "/CN=serial", "-set_serial",
          "0x7f" + "ab" * 19)
    return p


def certinfo_seeds(p):
    seeds = {}
    for n in ("root-ec", "root-rsa", "inter", "dev-ec", "dev-rsa",
              "dev-inter", "dev-expired", "server", "multi-names", "no-cn",
              "long-serial"):
        seeds["der-" + n] = p.der(n)
    # Chains for mqg_mtls_verify: leaf, then intermediates.
    seeds["chain-inter"] = p.der("dev-inter") + p.der("inter")
    seeds["chain-inter-root"] = (p.der("dev-inter") + p.der("inter") +
                                 p.der("root-ec"))
    seeds["chain-trailing"] = p.der("dev-ec") + b"\x00\x01garbage"
    # Tokens: 02 01 0n stands for the fuzzer's generated certificate n
    # (fuzz_certinfo.c): 0 root, 1 intermediate, 2 device under the root,
    # 3 device under the intermediate, 4 expired, 5 not yet valid,
    # 6 server, 7 stranger CA, 8 device under the stranger.
    tok = lambda *ns: b"".join(bytes([2, 1, n]) for n in ns)
    seeds["tok-dev-root"] = tok(2)
    seeds["tok-dev-inter"] = tok(3, 1)
    seeds["tok-dev-inter-root"] = tok(3, 1, 0)
    seeds["tok-dev-inter-missing"] = tok(3)
    seeds["tok-expired"] = tok(4)
    seeds["tok-future"] = tok(5)
    seeds["tok-server"] = tok(6)
    seeds["tok-ca-as-leaf"] = tok(0)
    seeds["tok-stranger"] = tok(8, 7)
    seeds["tok-too-long"] = tok(2, 1, 1, 1, 1, 1, 1, 0)
    seeds["tok-mixed"] = p.der("dev-ec") + tok(1, 0)
    return seeds


def pem_seeds(p):
    seeds = {
        "ca.pem": p.pem("root-ec"),
        "ca-rsa.pem": p.pem("root-rsa"),
        "device.pem": p.pem("dev-ec"),
        "device-rsa.pem": p.pem("dev-rsa"),
        "device-utf8.pem": p.pem("dev-inter"),
        "device.der": p.der("dev-ec"),
        "ca.der": p.der("root-ec"),
        "multi-names.pem": p.pem("multi-names"),
        "no-cn.der": p.der("no-cn"),
        "chain.pem": p.pem("dev-inter") + p.pem("inter"),
        "key-then-cert.pem": read(p.path("dev-ec", "key")) + p.pem("dev-ec"),
        "text-around.pem": (b"Subject: sensor-1\nIssuer: Fleet Root CA\n" +
                            p.pem("dev-ec") + b"\ntrailing notes\n"),
        "crlf.pem": p.pem("dev-ec").replace(b"\n", b"\r\n"),
        "trusted.pem": p.pem("dev-ec").replace(b"CERTIFICATE",
                                               b"TRUSTED CERTIFICATE"),
        "der-trailing.der": p.der("dev-ec") + b"\n",
        "empty.pem": b"-----BEGIN CERTIFICATE-----\n"
                     b"-----END CERTIFICATE-----\n",
    }
    return seeds


# --- config -----------------------------------------------------------------

def config_seeds():
    def seed(ini, *args):
        return ini.encode() + b"".join(b"\0" + a.encode() for a in args)
    full = """; every option
[mqgate]
listen = 127.0.0.1:8883
backend = [::1]:1883
cert = /etc/mqgate/server.pem
key = /etc/mqgate/server.key
state_dir = /var/lib/mqgate
auth = mtls
client_ca = /etc/mqgate/ca.pem
redis = redis://127.0.0.1:6379/0
redis_prefix = mqgate
client-id-mode = strict
cache_size = 1000
cache_ttl = 250ms
redis_stale = 2m
tls_min = 1.2
tls-max = 1.3
workers = 4
handshake_timeout = 10s
connect_timeout = 5
backend_timeout = 5s
max_connect_size = 64k
write_timeout = 60s
write_queue_limit = 1m
metrics = 127.0.0.1:9100
log_level = debug
"""
    registry = """auth = registry
redis = redis://redis.local:6379/2
redis-prefix = cluster-a
cache-size = 100000
cache-ttl = 5m
"""
    return {
        "full.ini": seed(full),
        "registry.ini": seed(registry),
        "minimal.ini": seed("client-ca = ca.pem\n"),
        "no-section.ini": seed("client_ca=ca.pem\nlisten=[::]:8883\n"),
        "empty.ini": seed(""),
        "comments.ini": seed("# hash\n; semicolon\n\n[mqgate]\n"
                             "client-ca = ca.pem ; inline\n"),
        "unknown-key.ini": seed("[mqgate]\nbogus = 1\n"),
        "unknown-section.ini": seed("[other]\nlisten = 1.2.3.4:1\n"),
        "syntax-error.ini": seed("[mqgate\nlisten\n"),
        "bad-values.ini": seed("client-ca=x\ntls-min=1.3\ntls-max=1.2\n"),
        "continuation.ini": seed("client-ca = a\n  b\n"),
        "flags.ini": seed("client-ca = a.pem\n", "--listen", "0.0.0.0:1",
                          "--tls-min=1.3", "--workers", "2",
                          "--log-level", "warn"),
        "flags-override.ini": seed("workers = 70\n", "--workers=8",
                                   "--client-ca", "c.pem"),
        "help.ini": seed("", "--help"),
        "version.ini": seed("", "--version"),
        "missing-value.ini": seed("client-ca=a\n", "--listen"),
        "unknown-flag.ini": seed("client-ca=a\n", "--bogus", "-x"),
        "positional.ini": seed("client-ca=a\n", "extra"),
        "short-cluster.ini": seed("client-ca=a\n", "-abc", "--listen=1:2"),
        "abbrev.ini": seed("client-ca=a\n", "--back=127.0.0.1:1",
                           "--conf=/nonexistent"),
        "second-config.ini": seed("", "--config", "/nonexistent"),
        "sizes.ini": seed("client-ca=a\nmax-connect-size=15\n"
                          "write-queue-limit=1023\ncache-ttl=99999999999m\n"),
        "cert-no-key.ini": seed("client-ca=a\ncert=c.pem\n"),
        "lists.ini": seed("client-ca=a\ncrl = a.crl\ncrl = b.crl, c.crl\n"
                          "crl-expired = deny\ncrl-poll = 5s\n",
                          "--crl", "x.crl", "--crl=y.crl,z.crl"),
        "lists-bad.ini": seed("client-ca=a\ncrl = ,\n", "--crl=a,,b", "--crl="),
    }


# --- CRLs --------------------------------------------------------------------

def crl_seeds(certgen, tmp):
    """CRLs of the CAs fuzz_crl.c builds ("mqgate fuzz root", "mqgate fuzz
    intermediate"), made with `openssl ca -gencrl` (tests/integration/
    crlca.py), PEM and DER, plus near misses."""
    from crlca import OpensslCa, utc

    class Dir:
        def file(self, name):
            return os.path.join(tmp, name)

    p = Pki(certgen, tmp)
    p.make("ca", "fuzz-root", "--cn", "mqgate fuzz root")
    p.make("ca", "fuzz-inter", "--cn", "mqgate fuzz intermediate",
           issuer="fuzz-root")
    cert = lambda n: (p.path(n, "pem"), p.path(n, "key"))
    root = OpensslCa(Dir(), "root", *cert("fuzz-root"))
    inter = OpensslCa(Dir(), "inter", *cert("fuzz-inter"))
    v1 = OpensslCa(Dir(), "root-v1", *cert("fuzz-root"), crl_ext=False)
    out = lambda n: os.path.join(tmp, n)
    seeds = {"root-empty.pem": read(root.gencrl(out("root-empty.pem")))}
    root.revoke(p.path("fuzz-inter", "pem"))
    root.revoke_many(3, start=0x7f01)
    seeds["root-revoked.pem"] = read(root.gencrl(out("root-revoked.pem")))
    seeds["root-revoked.der"] = read(root.gencrl(out("root-revoked.der"), der=True))
    inter.revoke_many(2, start=0x10, reason="keyCompromise")
    inter.revoke_many(2, start=0x80, reason="superseded")
    inter.revoke_many(1, start=0xfff0)
    seeds["inter-reasons.der"] = read(inter.gencrl(out("inter.der"), der=True))
    seeds["two-crls.pem"] = (seeds["root-revoked.pem"] +
                             read(inter.gencrl(out("inter.pem"))))
    seeds["stale.pem"] = read(root.gencrl(out("stale.pem"), last=utc(-10 * 86400),
                                          next_=utc(-86400)))
    v1.revoke_many(2)
    seeds["v1.der"] = read(v1.gencrl(out("v1.der"), der=True))
    der = seeds["root-revoked.der"]
    seeds["truncated.der"] = der[:len(der) // 2]
    seeds["trailing.der"] = der + b"\x00"
    seeds["bad-base64.pem"] = (b"-----BEGIN X509 CRL-----\n!!!!\n"
                               b"-----END X509 CRL-----\n")
    seeds["certificate.pem"] = p.pem("fuzz-root")
    seeds["empty"] = b""
    return seeds


# --- TLS key exchange --------------------------------------------------------

def keyshare_seeds():
    """One byte: the length of the supported_groups body; then that body,
    then the key_share body (tlsgroups.h)."""
    X25519, P256, P384, P521, BP512 = 29, 23, 24, 25, 28

    def sg(*groups):
        body = b"".join(struct.pack(">H", g) for g in groups)
        return struct.pack(">H", len(body)) + body

    def ks(*shares):
        body = b"".join(struct.pack(">HH", g, n) + b"\xab" * n for g, n in shares)
        return struct.pack(">H", len(body)) + body

    def seed(groups, shares):
        return bytes([len(groups)]) + groups + shares

    mbed = sg(P521, BP512, P384, P256, X25519)
    return {
        "wolfssl-p256-share": seed(mbed, ks((P256, 65))),
        "x25519-share": seed(sg(X25519, P256), ks((X25519, 32))),
        "p384-and-p256-shares": seed(mbed, ks((P384, 97), (P256, 65))),
        "p521-share-only": seed(mbed, ks((P521, 133))),
        "share-not-supported": seed(sg(P384), ks((P256, 65))),
        "empty-key": seed(mbed, ks((P256, 0))),
        "truncated-share": seed(mbed, ks((P256, 65))[:20]),
        "trailing-byte": seed(mbed, ks((P256, 65)) + b"\x00"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--certgen",
                    default=os.path.join(ROOT, "build/bench/mqgate-certgen"))
    ap.add_argument("targets", nargs="*",
                    default=["frame", "connect", "connack", "certinfo", "pem",
                             "config", "crl", "keyshare"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pki = None
        for t in a.targets:
            if t in ("certinfo", "pem", "crl") and pki is None:
                if not os.access(a.certgen, os.X_OK):
                    sys.exit("make_corpus: no %s (make build first)" %
                             a.certgen)
                pki = make_pki(a.certgen, tmp)
            seeds = {"frame": frame_seeds,
                     "connect": connect_seeds, "connack": connack_seeds,
                     "certinfo": lambda: certinfo_seeds(pki),
                     "pem": lambda: pem_seeds(pki),
                     "config": config_seeds, "keyshare": keyshare_seeds,
                     "crl": lambda: crl_seeds(a.certgen, tmp)}[t]()
            d = os.path.join(HERE, "corpus", t)
            os.makedirs(d, exist_ok=True)
            for f in os.listdir(d):
                if not f.startswith(("regression-", "crash-")):
                    os.remove(os.path.join(d, f))
            for name, data in sorted(seeds.items()):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            print("%-9s %3d files %7d bytes" %
                  (t, len(seeds), sum(len(v) for v in seeds.values())))


if __name__ == "__main__":
    main()
