"""harness_registry.py: what the registry tests share beyond harness.py:
reading the registry's layout (policy/schema.h) for assertions, the facts
of a certificate as mqgate computes them, and a relay that holds bytes to
force an ordering."""
import calendar
import hashlib
import re
import socket
import struct
import subprocess
import threading
import time

from harness import Resp, free_port


def layout1(redis, prefix):
    """Loads layout 1's library (fixtures/layout1.lua, what mqgatectl
    migrate starts from) into |redis|; returns v1(fn, *args), which calls
    its function |fn| for |prefix| and gives redis-cli's answer."""
    import os
    lib = open(os.path.join(os.path.dirname(__file__), "fixtures", "layout1.lua")).read()
    if redis.cli("FUNCTION", "LOAD", "REPLACE", lib) != "mqgate_v1":
        raise RuntimeError("layout 1's library did not load")

    def v1(fn, *args):
        r = subprocess.run(["redis-cli", "-p", str(redis.port), "FCALL", fn, "0", prefix] +
                           [str(a) for a in args], capture_output=True, text=True)
        return r.stdout.strip()
    return v1


def cert_facts(path):
    """The registry's facts of the certificate in |path|, as mqgate computes
    them (certinfo.h): fp, serial, cn, ou, not_before, not_after, pem."""
    pem = open(path).read()
    pem = pem[:pem.index("-----END CERTIFICATE-----") + 26]
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-startdate", "-enddate",
                          "-subject", "-nameopt", "sep_multiline,sname"],
                         input=pem, capture_output=True, text=True).stdout
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem.encode(),
                         capture_output=True).stdout

    def date(name):
        v = re.search(name + r"=(.*)", out).group(1).strip()
        return calendar.timegm(time.strptime(v, "%b %d %H:%M:%S %Y GMT"))

    ou = re.search(r"\bOU=(.*)", out)
    return {"fp": hashlib.sha256(der).hexdigest(),
            "serial": re.search(r"serial=(\w+)", out).group(1).upper(),
            "cn": re.search(r"\bCN=(.*)", out).group(1).strip(),
            "ou": ou.group(1).strip() if ou else "",
            "not_before": date("notBefore"), "not_after": date("notAfter"), "pem": pem}


class Layout:
    """Reads the registry's layout 2 (policy/schema.h) for the tests'
    assertions: records, ordered indexes, buckets, counters, tombstones."""

    def __init__(self, redis, prefix):
        self.port, self.p = redis.port, prefix

    def _call(self, *args):
        c = Resp(self.port, raw=True)
        try:
            return c.call(*args)
        finally:
            c.close()

    @staticmethod
    def _bucket(name):
        import hashlib
        h = hashlib.sha1(name.encode()).hexdigest()
        return h[:4], bytes.fromhex(h[4:16])

    def record(self, fp):
        """The record's fields, its CA number turned into the CA's id."""
        v = self._call("HGETALL", "%s:cert:%s" % (self.p, fp)) or []
        rec = {k.decode(): x.decode() for k, x in zip(v[::2], v[1::2])}
        if "ca" in rec:
            ca = self._call("HGET", self.p + ":canums", "n:" + rec["ca"])
            rec["ca"] = ca.decode() if ca is not None else "?"
        return rec

    def index(self, name):
        """[(not_after, fp)] of ordered index P:<name>, in order."""
        out = []
        for m in self._call("ZRANGE", "%s:%s" % (self.p, name), "-", "+", "BYLEX") or []:
            out.append((struct.unpack(">Q", m[:8])[0] - (1 << 40), m[8:].hex()))
        return out

    def fps(self, name):
        return [fp for _, fp in self.index(name)]

    def by_name(self, kind, name):
        """fps under CN (kind "cx") or serial ("sx") |name|."""
        b, tag = self._bucket(name)
        ms = self._call("ZRANGE", "%s:%s:%s" % (self.p, kind, b), "-", "+", "BYLEX") or []
        return [m[6:].hex() for m in ms if m[:6] == tag]

    def prefix_index(self, fp):
        ms = self._call("ZRANGE", "%s:fx:%s" % (self.p, fp[:4]), "-", "+", "BYLEX") or []
        return [m.hex() for m in ms]

    def identity(self, ident):
        b, _ = self._bucket(ident)
        v = self._call("HGET", "%s:id:%s" % (self.p, b), ident)
        return v.hex() if v is not None else None

    def tombstone(self, fp):
        v = self._call("HGET", "%s:tb:%s" % (self.p, fp[:4]), bytes.fromhex(fp))
        return v.decode() if v is not None else None

    def stats(self):
        v = self._call("HGETALL", "%s:stats" % self.p) or []
        return {k.decode(): int(x) for k, x in zip(v[::2], v[1::2])}

    def holders(self, fp):
        """Every key but its tombstone that still mentions |fp|."""
        raw = bytes.fromhex(fp)
        found = []
        for k in self._call("KEYS", self.p + ":*") or []:
            k = k.decode()
            t = self._call("TYPE", k)
            if t == "zset":
                if any(raw in m for m in self._call("ZRANGE", k, 0, -1)):
                    found.append(k)
            elif t == "hash" and ":tb:" not in k:
                v = self._call("HGETALL", k)
                if any(fp.encode() in x or raw in x for x in v):
                    found.append(k)
            elif fp in k:
                found.append(k)
        return found

    def audit(self):
        """The audit stream, oldest first: [dict]."""
        out = []
        for _id, fields in self._call("XRANGE", self.p + ":audit", "-", "+") or []:
            d = {k.decode(): v.decode() for k, v in zip(fields[::2], fields[1::2])}
            d["id"] = _id.decode()
            out.append(d)
        return out


class HoldRelay:
    """A TCP relay from a free loopback port to |target_port| that holds
    bytes until the test says: the way to force an ordering
    deterministically.
      mode "redis": while held, replies to the connections that loaded the
        Functions library (a proxy's command connection) wait; the
        subscriber connection's events pass.
      mode "tls": while held, a TLS 1.2 client's bytes from its
        ChangeCipherSpec on (the Finished flight) wait: a device that
        holds its Finished.
      mode "sub": while held, the relay stops reading Redis on the
        connections that subscribed, through a small receive buffer: a
        subscriber that falls behind, as Redis sees it."""

    def __init__(self, target_port, mode):
        self.port = free_port()
        self.target, self.mode = target_port, mode
        self.holding = False
        self.seen = b""  # what clients sent (redis mode), for waits
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(64)
        self.done = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self):
        self.holding = True

    def release(self):
        self.holding = False

    def close(self):
        self.done = True
        self.lsock.close()

    def _accept(self):
        while not self.done:
            try:
                cs, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(cs,), daemon=True).start()

    def _serve(self, cs):
        import select
        try:
            ss = socket.socket()
            if self.mode == "sub":
                ss.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            ss.connect(("127.0.0.1", self.target))
        except OSError:
            cs.close()
            return
        cmd, rec, held_up, held_down, held_flight = False, b"", b"", b"", False
        sub = False
        while not self.done:
            watch = [cs] if self.mode == "sub" and sub and self.holding else [cs, ss]
            r, _, _ = select.select(watch, [], [], 0.02)
            try:
                if cs in r:
                    d = cs.recv(65536)
                    if not d:
                        break
                    if self.mode in ("redis", "sub"):
                        cmd = cmd or b"FUNCTION" in d
                        sub = sub or b"SUBSCRIBE" in d
                        self.seen = (self.seen + d)[-1000000:]
                        ss.sendall(d)
                    else:
                        rec += d
                        while len(rec) >= 5 and len(rec) >= 5 + struct.unpack(">H", rec[3:5])[0]:
                            n = 5 + struct.unpack(">H", rec[3:5])[0]
                            one, rec = rec[:n], rec[n:]
                            if self.holding and one[0] == 20:
                                held_flight = True
                            if held_flight:
                                held_up += one
                            else:
                                ss.sendall(one)
                if ss in r:
                    d = ss.recv(65536)
                    if not d:
                        break
                    if self.mode == "redis" and cmd and self.holding:
                        held_down += d
                    else:
                        cs.sendall(held_down + d)
                        held_down = b""
                if not self.holding and (held_down or held_up):
                    cs.sendall(held_down)
                    ss.sendall(held_up)
                    held_down, held_up, held_flight = b"", b"", False
            except OSError:
                break
        for x in (cs, ss):
            try:
                x.close()
            except OSError:
                pass
