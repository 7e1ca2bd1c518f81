"""compare: the revocation measurement (mqgate registry): devices live on
two proxies, revoked one by one with mqgatectl, each cut timed."""
import asyncio
import os
import ssl
import struct
import time

from .systems import MqgateRegistry
from .util import BenchError


# --- MQTT bytes for the revocation client ------------------------------------

def _mstr(b):
    return struct.pack(">H", len(b)) + b


def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (128 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id):
    # MQTT 3.1.1, clean session, keep alive 0: an idle device that never
    # pings, so only a cut can end it.
    body = _mstr(b"MQTT") + bytes([4, 0x02]) + struct.pack(">H", 0) + \
        _mstr(client_id.encode())
    return b"\x10" + _varint(len(body)) + body

class RevocationMixin:
    """The revocation phase, methods of Run (compare_lib.run)."""

    # -- revocation --

    def revocation(self):
        p = self.plan
        if not p["revokes"] or self.left() < 20:
            if p["revokes"]:
                self.note("time budget reached: revocation skipped")
            return
        prefix = "revoke"
        self.register(prefix, self.revoke_pool)
        with open(os.path.join(self.revoke_pool, "index.tsv")) as f:
            # name, CN, fingerprint, cert, key
            rows = [line.rstrip("\n").split("\t") for line in f]
        devices = [(c[1], c[2], os.path.join(self.revoke_pool, os.path.basename(c[3])),
                    os.path.join(self.revoke_pool, os.path.basename(c[4]))) for c in rows]
        gates = []
        try:
            for i in range(2):
                g = MqgateRegistry(self, prefix, "mqgate-revoke-%d" % i, warm=False)
                gates.append(g)
                g.start("ecdsa")
            res = asyncio.run(self._revoke(devices, [g.port for g in gates], prefix))
        finally:
            for g in gates:
                g.stop()
        lat = sorted(res["after_return_ms"])
        if not lat:
            self.note("revocation: no cut seen")
            return

        def q(v, x):
            return v[min(len(v) - 1, int(x * len(v)))]
        extra = dict(samples=len(lat), devices=len(devices), proxies=2,
                     missed=res["missed"], min_ms=lat[0], max_ms=lat[-1],
                     from_start_p50_ms=q(sorted(res["after_start_ms"]), 0.5),
                     from_start_p99_ms=q(sorted(res["after_start_ms"]), 0.99),
                     others_still_open=res["others_open"])
        self.record("mqgate-reg", "revoke_p50", q(lat, 0.5), **extra)
        self.record("mqgate-reg", "revoke_p99", q(lat, 0.99), **extra)
        self.revoke_detail = extra
        if res["missed"]:
            self.note("revocation: %d cuts not seen within 2 s" % res["missed"])

    async def _revoke(self, devices, ports, prefix):
        p = self.plan
        closed, events, writers = {}, {}, {}
        sem = asyncio.Semaphore(50)
        loop = asyncio.get_running_loop()

        async def device(i, name, cert, key):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            ctx.load_verify_locations(self.ca)
            ctx.load_cert_chain(cert, key)
            port = ports[i * len(ports) // len(devices)]
            async with sem:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", port, ssl=ctx, server_hostname="localhost"), 15)
                w.write(connect_packet(name))
                ack = await asyncio.wait_for(r.readexactly(4), 15)
            if ack[0] != 0x20 or ack[3] != 0:
                raise BenchError("device %s: CONNACK %r" % (name, ack))
            writers[i] = w
            events[i] = asyncio.Event()

            async def watch():
                try:
                    while await r.read(4096):
                        pass
                except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
                    pass
                closed[i] = loop.time()
                events[i].set()
            asyncio.ensure_future(watch())

        t = time.monotonic()
        results = await asyncio.gather(*(device(i, d[0], d[2], d[3])
                                         for i, d in enumerate(devices)),
                                       return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            self.note("revocation: %d of %d devices did not connect (%s)" %
                      (len(failed), len(devices), failed[0]))
        self.say("revocation: %d devices live on %d proxies in %.1f s" %
                 (len(writers), len(ports), time.monotonic() - t))
        # Alternate between the two proxies' devices.
        half = len(devices) // 2
        order = [x for pair in zip(range(half), range(half, len(devices))) for x in pair]
        order = [i for i in order if i in writers][:p["revokes"]]
        after_return, after_start, missed = [], [], 0
        for i in order:
            if self.left() < 5:
                self.note("time budget reached: %d revocations done" % len(after_return))
                break
            t0 = loop.time()
            proc = await asyncio.create_subprocess_exec(
                self.ctl, "--redis", self.redis_url, "--redis-prefix", prefix,
                "cert", "revoke", devices[i][1],
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            t1 = loop.time()
            if proc.returncode != 0:
                raise BenchError("mqgatectl cert revoke: %s" % err.decode().strip())
            try:
                await asyncio.wait_for(events[i].wait(), 2.0)
            except asyncio.TimeoutError:
                missed += 1
                continue
            after_return.append(1e3 * (closed[i] - t1))
            after_start.append(1e3 * (closed[i] - t0))
        await asyncio.sleep(0.2)
        revoked = set(order[:len(after_return) + missed])
        others = sum(1 for i in writers if i not in revoked and i not in closed)
        for w in writers.values():
            w.close()
        return {"after_return_ms": after_return, "after_start_ms": after_start,
                "missed": missed, "others_open": "%d of %d" % (
                    others, len(writers) - len(revoked))}
