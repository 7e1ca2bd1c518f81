"""compare: what real devices cost: the field-profile handshake rows and
the reconnect storm."""
import base64
import os

from .systems import SERVERS
from .util import LABELS, BenchError, core_jiffies, cpu_user_sys

# mbedTLS 2.28's default curve order (ssl_preset_default_curves), without
# the brainpool curves BoringSSL, the load tool's stack, does not offer.
MBEDTLS_GROUPS = "P-521:P-384:P-256:X25519"


class StormMixin:
    """Methods of Run (compare_lib.run)."""

    def field_profiles(self, srv):
        """Handshakes as device stacks make them, beside the load tool's
        own (X25519 first, TCP_NODELAY): a TLS 1.2 client offering groups
        in mbedTLS 2.28's order, for the servers configured to accept TLS
        1.2 too; and connect -> CONNACK one device at a time with Nagle off,
        then on (the CONNECT written on its own after the handshake)."""
        p = self.plan
        if srv.tls12:
            m = self.measure(srv, "full handshakes, mbedTLS 2.28 group order, TLS 1.2", "conn",
                             "--connections", str(p["field_conns"]), "--concurrency", "64",
                             "--source-addrs", "4", "--tls", "1.2", "--groups", MBEDTLS_GROUPS)
            d = m["bench"]
            ok = d.get("ok") or 0
            if ok:
                self.record(srv.name, "field_mbed_cpu", 1e6 * m["server_cpu_s"] / ok,
                            groups=d.get("groups"))
                groups = d.get("groups") or {}
                if groups:
                    top = max(groups, key=groups.get)
                    self.record(srv.name, "field_mbed_group", "%s (%d of %d)" % (
                        top, groups[top], sum(groups.values())))
        for nagle, metric in ((False, "conn_p50"), (True, "field_nagle_p50")):
            m = self.measure(srv, "connect one at a time, Nagle %s" % ("on" if nagle else "off"),
                             "conn", "--connections", str(p["nagle_conns"]),
                             "--concurrency", "1", *(["--nagle"] if nagle else []))
            lat = m["bench"].get("latency_us") or {}
            if lat.get("count"):
                self.record(srv.name, metric, lat["p50"] / 1000.0, p99_ms=lat["p99"] / 1000.0)

    def storm_keys(self):
        """A ticket-key file both mqgate and HAProxy read (HAProxy wants at
        least three keys)."""
        path = self.path("ticket.keys")
        with open(path, "w") as f:
            for _ in range(3):
                f.write(base64.b64encode(os.urandom(80)).decode() + "\n")
        os.chmod(path, 0o644)
        return path

    def storm_phase(self):
        """The reconnect storm: N devices with distinct certificates (as
        many as the open-file limit allows the load tool and each of the two
        server processes) connect to two processes of one system sharing a
        port (SO_REUSEPORT), then all are dropped at once and reconnect with
        jittered exponential backoff (mqgate-bench storm); with the two
        processes sharing their ticket keys and, as a control, each with its
        own."""
        p = self.plan
        if not p.get("storm") and not self.args.storm_devices:
            self.note("reconnect storm: not in the %s run (make bench runs it)" % self.kind)
            return
        # The load tool holds one socket per device, a proxy process two
        # per device it serves (half of them each).
        n = min(self.args.storm_devices or p["storm"], self.nofile - 1000)
        self.storm_n = n
        ca_key = self.path("ca.key")
        self.storm_pool = self.path("storm-pool")
        self.sh([self.certgen, "pool", "--issuer-cert", self.ca, "--issuer-key", ca_key,
                 "--count", str(n), "--out-dir", self.storm_pool, "--prefix", "storm-"],
                timeout=300)
        for base, _, files in os.walk(self.storm_pool):
            for f in files:
                os.chmod(os.path.join(base, f), 0o644)
        keys = self.storm_keys()
        for name in p["storm_systems"] or ("mqgate", "haproxy"):
            for shared in (True, False):
                if self.left() < 150:
                    self.note("time budget reached: storm of %s (%s keys) skipped" %
                              (name, "shared" if shared else "own"))
                    return
                self.storm_one(name, keys if shared else None, n)

    def storm_one(self, name, keys, n):
        cls = SERVERS[name]
        srvs = [cls(self, ticket_keys=keys) for _ in range(2)]
        what = "storm, %d devices, 2 processes, %s ticket keys" % (
            n, "shared" if keys else "their own")
        try:
            self.say("%s: %s" % (LABELS[name], what))
            srvs[0].start("ecdsa")
            srvs[1].start("ecdsa", port=srvs[0].port)
            pids = sorted({q for s in srvs for q in s.cpu_pids()})
            (u0, s0), j0 = cpu_user_sys(pids), core_jiffies()
            import time
            t0 = time.monotonic()
            doc = self.bench("storm", srvs[0].port, "--connections", str(n),
                             "--pool", self.storm_pool, "--resume", "--concurrency", "64",
                             "--source-addrs", "8", "--conn-timeout", "10",
                             "--backoff", "1", "--backoff-max", "16",
                             "--pid", ",".join(str(q) for q in pids[:8]), timeout=400)
            wall = time.monotonic() - t0
            (u1, s1), j1 = cpu_user_sys(pids), core_jiffies()

            class Both:
                pass
            both = Both()
            both.name, both.key = name, "ecdsa"
            both.aux_pids = lambda: []
            self.run_record(both, what, "storm", ["--connections", str(n)], doc, wall,
                            (u1 + s1) - (u0 + s0), s1 - s0,
                            100.0 * (doc.get("client_cpu_s") or 0) / max(wall, 1e-9), j0, j1)
        except BenchError as e:
            self.note("%s %s: %s" % (name, what, e))
            return
        finally:
            for s in srvs:
                s.stop()
        st = doc.get("storm") or {}
        pre = "storm_" if keys else "storm_nk_"
        for k, metric in (("back_50_s", "back50"), ("back_99_s", "back99"),
                          ("back_100_s", "back100")):
            v = st.get(k)
            if v is not None and v >= 0:
                self.record(name, pre + metric, v, devices=n)
            else:
                self.note("%s %s: fewer than %s of the devices back by the end of the run "
                          "(%s of %d)" % (name, what, metric[4:] + "%", st.get("back"), n))
        self.record(name, pre + "failed", st.get("failed_attempts"),
                    timed_out=st.get("timed_out"), attempts=st.get("attempts"))
        cpu = st.get("target_cpu_ms_per_reconnect")
        self.record(name, pre + "cpu", cpu if cpu is not None and cpu >= 0 else None)
        self.record(name, pre + "resumed", 100.0 * (st.get("resumed_share") or 0.0),
                    resumed=st.get("resumed"), handshakes=st.get("handshakes"))

    def storm_conditions(self):
        if not getattr(self, "storm_n", 0):
            return []
        return [
            "- Reconnect storm: %s devices, each its own certificate (a pool made for it), "
            "connect to two processes of one system listening on one port (SO_REUSEPORT; "
            "mqgate `--workers 1` each, HAProxy `nbthread 1` each), both on core %s; then "
            "mqgate-bench drops every connection at once and each device reconnects after "
            "a jittered exponential backoff (full jitter: uniform in [0, 1 s], doubling per "
            "failed attempt up to 16 s; 10 s to connect), offering its last session "
            "(`--resume`). \"Back\": the device's CONNACK, counted from the drop. Server "
            "CPU per reconnect: utime+stime of both processes from the drop until the last "
            "device is back, over the devices back. Shared keys: `--ticket-keys` (mqgate) "
            "and `tls-ticket-keys` (HAProxy) on one file of three 80-byte keys; own keys: "
            "each process its own, so a device landing on the other process pays a full "
            "handshake." % ("{:,}".format(self.storm_n), 0)]
