"""compare: the measured phases (the crypto limit from bssl speed, full and
resumed handshakes, publish, latency, idle connections) and their order."""
import json
import os
import resource
import shutil
import subprocess
import time

from .systems import SERVERS
from .util import LABELS, ROOT, SERVER_CORE, STEAL_MAX, BenchError, pkg_version


class PhasesMixin:
    """The phases, methods of Run (compare_lib.run)."""

    # -- the phases --

    def crypto_limit(self):
        """bssl speed for the operations of the server side of one full mTLS
        TLS 1.3 handshake: its own signature, the verification of the
        client's CertificateVerify and of the client certificate's signature
        (both ECDSA P-256 here), one X25519 key generation and one shared
        secret. The full-speed build of `make boringssl` when present, else
        Debian's bssl-tool; and the one of the library mqgate is linked with,
        if that is the other one, since its percentage is taken against it."""
        deps = os.path.join(ROOT, ".deps", "boringssl")
        tools = {}
        if os.access(os.path.join(deps, "bin", "bssl"), os.X_OK):
            tools["deps"] = ([os.path.join(deps, "bin", "bssl")],
                             "%s/bin/bssl (the full-speed build of make boringssl)" % deps)
        if shutil.which("bssl-tool"):
            tools["debian"] = (["bssl-tool"], "bssl-tool %s (Debian android-boringssl)" %
                               pkg_version("android-boringssl"))
        if not tools:
            self.note("no bssl tool: no crypto limit")
            return
        linked = "deps" if self.libssl.startswith((deps, os.path.realpath(deps))) else "debian"
        primary = "deps" if "deps" in tools else "debian"
        self.crypto = {"tools": {}, "primary": primary,
                       "matching": linked if linked in tools else primary}
        for name in dict.fromkeys((primary, self.crypto["matching"])):
            argv, label = tools[name]
            got = self.bssl_speed(argv)
            if got:
                got["label"] = label
                self.crypto["tools"][name] = got
                for k, us in got["per_handshake_us"].items():
                    self.say("crypto limit (%s), %s server key: %.0f µs per handshake, "
                             "%.0f/s per core" % (name, k, us, 1e6 / us))
        if self.crypto["matching"] not in self.crypto["tools"]:
            self.crypto = None

    def bssl_speed(self, argv):
        ops, cpu, wall = {}, 0.0, 0.0
        filters = ["ECDSA P-256", "Curve25519"] + (["RSA 2048"] if self.plan["bssl_rsa"] else [])
        for flt in filters:
            r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
            r = subprocess.run(["taskset", "-c", str(SERVER_CORE)] + argv +
                               ["speed", "-filter", flt, "-timeout", "1", "-json"],
                               capture_output=True, text=True, timeout=120)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall += time.monotonic() - t0
            cpu += r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
            try:
                for d in json.loads(r.stdout):
                    ops[d["description"]] = d["microseconds"] / d["numCalls"]
            except ValueError:
                self.note("%s speed -filter '%s' gave no JSON: %s" %
                          (argv[0], flt, r.stderr[-200:]))
        # bssl speed times by the wall clock; on a busy core that counts the
        # time other work ran. Its CPU time over wall time scales the
        # figures back to CPU time, the unit of the servers' figures.
        ratio = min(1.0, cpu / wall) if wall else 1.0
        ops = {k: v * ratio for k, v in ops.items()}
        try:
            verify = ops["ECDSA P-256 verify"]
            x25519 = ops["Curve25519 base-point multiplication"] + \
                ops["Curve25519 arbitrary point multiplication"]
            sign = {"ecdsa": ops["ECDSA P-256 signing"]}
            if "RSA 2048 signing" in ops:
                sign["rsa"] = ops["RSA 2048 signing"]
        except KeyError as e:
            self.note("%s speed lacks %s: no crypto limit" % (argv[0], e))
            return None
        return {"ops_us": ops, "cpu_wall_ratio": ratio, "per_handshake_us": {
            k: v + 2 * verify + x25519 for k, v in sign.items()}}

    def handshakes(self, srv, key):
        p = self.plan
        m = self.measure(srv, "full handshakes (%s)" % key, "conn",
                         "--connections", str(p["conn"]), "--concurrency", "64",
                         "--source-addrs", "4")
        ok = m["bench"].get("ok") or 0
        if ok:
            cpu_us = 1e6 * m["server_cpu_s"] / ok
            self.record(srv.name, "hs_cpu_" + key, cpu_us,
                        aux_cpu_us=1e6 * m["aux_cpu_s"] / ok if srv.aux_pids() else None)
            self.record(srv.name, "hs_sys_" + key, 1e6 * m["server_sys_s"] / ok)
            self.record(srv.name, "hs_rate_" + key, m["bench"].get("rate_per_s"))
            self.record(srv.name, "hs_sat_" + key, "%s (%.0f%% / %.0f%%)" % (
                m["saturated"], m["server_cpu_pct"], m["client_cpu_pct"]))
            limit = self.crypto and self.crypto["tools"][self.crypto["matching"]][
                "per_handshake_us"].get(key)
            if limit and srv.name.startswith("mqgate"):
                self.record(srv.name, "crypto_pct_" + key, 100.0 * limit / cpu_us,
                            crypto_us=limit, tool=self.crypto["matching"])
        n, k = p["resume"]
        m = self.measure(srv, "resumed handshakes (%s)" % key, "conn",
                         "--connections", str(n), "--resume", "--repeat", str(k),
                         "--concurrency", "64", "--source-addrs", "4")
        d = m["bench"]
        ok, resumed = d.get("ok") or 0, d.get("resumed") or 0
        full_us = self.value(srv.name, "hs_cpu_" + key)
        if resumed and full_us is not None:
            # The first connection of each device is a full handshake: its
            # cost (measured just before) is taken out.
            res_us = (1e6 * m["server_cpu_s"] - (ok - resumed) * full_us) / resumed
            self.record(srv.name, "res_cpu_" + key, max(res_us, 0.0),
                        resumed=resumed, connections=ok)
            self.record(srv.name, "res_rate_" + key, d.get("rate_per_s"))
        elif ok:
            self.note("%s (%s): no session was resumed (%d connections)" %
                      (srv.name, key, ok))

    def publish(self, srv):
        """QoS 0 floods: 64 B written one message per send, as MQTT client
        libraries do; then 64 B and 1 KiB in corked bursts (mqgate-bench
        --cork: one TLS record per message still, full TCP segments), which
        halves the load tool's cost per message so that it loads the server
        rather than its own core."""
        p = self.plan
        for size, cork, tag in ((64, False, "pub64"), (64, True, "pub64c"),
                                (1024, True, "pub1k")):
            m = self.measure(srv, "publish %d B%s" % (size, ", corked" if cork else ""), "pub",
                             "--connections", str(p["pub_conns"]), "--qos", "0",
                             "--payload", str(size), "--msg-rate", "0", "--total-rate", "0",
                             *(["--cork"] if cork else []),
                             "--duration", str(p["pub_s"]), timeout=30 + p["pub_s"])
            d = m["bench"]
            rate = d.get("msgs_per_s")
            if not rate:
                continue
            self.record(srv.name, tag + "_rate", rate)
            # The server's CPU time covers the whole run (the publishers'
            # handshakes and the drain too): a slight over-estimate.
            msgs = d.get("published") or rate * (d.get("duration_s") or m["wall_s"])
            self.record(srv.name, tag + "_cpu", 1e9 * m["server_cpu_s"] / max(msgs, 1))
            if size == 64:
                self.record(srv.name, tag + "_sat", "%s (%.0f%% / %.0f%%)" % (
                    m["saturated"], m["server_cpu_pct"], m["client_cpu_pct"]))
            else:
                self.record(srv.name, "pub1k_mbps", (d.get("bytes_per_s") or
                                                     rate * size) / 1e6)

    def fleet(self, srv):
        """Many devices, each its own certificate and connection, publishing
        64 B QoS 0 at a paced total rate every system carries: the shape of
        a fleet's traffic, where each message is its own record on its own
        connection and a proxy cannot batch one device's messages behind
        another's. The server's CPU per message is taken over the run phase
        only (the devices' handshakes are measured elsewhere)."""
        n, rate, secs = self.plan["fleet"]
        m = self.measure_steady(srv, "fleet publish, %d devices at %d msg/s" % (n, rate),
                                "pub", "--connections", str(n), "--qos", "0",
                                "--payload", "64", "--total-rate", str(rate),
                                "--duration", str(secs + 2), "--source-addrs", "4",
                                window=secs, timeout=60 + secs)
        if m["units"] > 0:
            ns = 1e9 * m["server_cpu_s"] / m["units"]
            self.record(srv.name, "fleet_cpu", ns, devices=n, offered=rate)
            if ns > 0:
                self.record(srv.name, "fleet_cap", 1e9 / ns)
            self.record(srv.name, "fleet_rate", m["units"] / m["wall_s"], offered=rate)

    def latency_run(self, srv, rate, i):
        """One latency run: (percentiles in µs, saturated side, steal %)."""
        p = self.plan
        m = self.measure(srv, "latency at %.0f msg/s (%d/%d)" % (rate, i + 1, p["lat_runs"]),
                         "latency", "--connections", str(p["lat_pairs"]), "--qos", "0",
                         "--payload", "64", "--total-rate", "%.0f" % rate,
                         "--duration", str(p["lat_s"]), timeout=30 + p["lat_s"])
        return m["bench"].get("latency_us") or {}, m["saturated"], m["steal_pct"]

    def record_latency(self, name, rate, runs):
        """Each percentile: the median over the runs (one run's figures move
        by a histogram bucket or two with the machine), counting only those
        during which the hypervisor took at most STEAL_MAX % of a core: a
        guest that waits for its CPU adds that wait to every latency (10x
        seen here), whatever system is measured."""
        quiet = [r for r in runs if r[2] <= STEAL_MAX]
        if runs and not quiet:
            self.note("%s: every latency run had more than %.0f%% steal; its latency "
                      "figures count them all" % (LABELS[name], STEAL_MAX))
        use = quiet or runs
        for q in ("p50", "p90", "p99"):
            vals = sorted(r[0][q] for r in use if r[0].get(q) is not None)
            if vals:
                self.record(name, "lat_" + q, vals[len(vals) // 2], rate=rate, runs=vals,
                            saturated=[r[1] for r in use],
                            steal_pct=[round(r[2], 1) for r in runs])

    def idle(self, srv, n, metric="idle_bytes"):
        p = self.plan
        pid = srv.rss_pid()
        timeout = 60 + n // 100
        m = self.measure(srv, "%d idle connections" % n, "idle",
                         "--connections", str(n), "--duration", str(p["idle_s"]),
                         "--pid", str(pid), "--source-addrs", "8", timeout=timeout)
        d = m["bench"]
        if metric == "idle_bytes":
            self.record(srv.name, "idle_bytes", d.get("bytes_per_conn"),
                        held=d.get("ok"), tried=n, rss_before_kb=d.get("rss_before_kb"),
                        rss_after_kb=d.get("rss_after_kb"))
            if (d.get("ok") or 0) < n:
                self.note("%s held %s of %d idle connections" % (srv.name, d.get("ok"), n))
        else:
            held = d.get("max_open") or d.get("ok")
            self.record(srv.name, "max_idle", held, tried=n,
                        errors=d.get("errors"), nofile=self.nofile)

    def with_server(self, name, key, fn, retries=0):
        """Runs |fn| against a fresh |name| server. With |retries|, when the
        hypervisor took more than STEAL_MAX % of a core during one of its
        runs, the whole block is taken again on a fresh process (a second
        pass on the same one would find warm caches), while the budget
        allows, and the rows of the quietest attempt are the ones kept."""
        attempts = []
        for attempt in range(1 + retries):
            r0, m0, t0 = len(self.rows), len(self.runs), time.monotonic()
            srv = SERVERS[name](self)
            try:
                self.say("%s (%s): starting%s" % (LABELS[name], key,
                                                  " again" if attempt else ""))
                srv.start(key)
                fn(srv)
            except BenchError as e:
                self.note("%s (%s): %s" % (name, key, e))
            finally:
                srv.stop()
            runs = self.runs[m0:]
            steal = max((m["steal_pct"] for m in runs), default=0.0)
            attempts.append((steal, self.rows[r0:], runs))
            del self.rows[r0:]
            if steal <= STEAL_MAX or self.left() < 4 * (time.monotonic() - t0) + 240:
                break
        best = min(attempts, key=lambda a: a[0])
        self.rows += best[1]
        if len(attempts) > 1:
            for _, _, runs in attempts:
                for m in runs:
                    m["what"] += "" if runs is best[2] else " (not counted: steal)"

    def main_phases(self):
        p = self.plan
        systems = [s for s in p["systems"] if s in SERVERS]
        for key in p["keys"]:
            for name in systems:
                if self.left() < 60:
                    self.note("time budget reached: %s (%s) and later skipped" % (name, key))
                    break

                def phase_a(srv, key=key):
                    self.handshakes(srv, key)
                    if key == "ecdsa":
                        self.field_profiles(srv)
                        self.publish(srv)
                        self.fleet(srv)
                self.with_server(name, key, phase_a, retries=p["retries"])

        # Latency at one offered load for every system: half of the lowest
        # 64 B peak measured above, counting that a message of the latency
        # run crosses the system twice (in from the publisher, out to the
        # subscriber) where a published one crossed it once: a quarter of
        # that peak in messages per second.
        peaks = [v for v in (self.value(s, "pub64_rate") for s in systems) if v]
        rate = 0.25 * min(peaks) if peaks else 1000.0
        self.lat_rate = rate
        for name in systems:
            if self.left() < 30:
                self.note("time budget reached: idle of %s and later skipped" % name)
                break

            # A fresh process: the idle connections are what it grows by.
            self.with_server(name, "ecdsa", lambda srv: self.idle(srv, p["idle"]),
                             retries=p["retries"])
        # The latency runs go round the systems in turn, so that a slow
        # moment of the machine does not land on one system's runs only.
        # A run during which the machine's other guests took the CPU is
        # taken again, at most lat_retries times.
        lat = {name: [] for name in systems}
        for i in range(p["lat_runs"]):
            for name in systems:
                for _ in range(1 + p["lat_retries"]):
                    if self.left() < 20:
                        self.note("time budget reached: latency run %d of %s skipped" %
                                  (i + 1, name))
                        break
                    n = len(lat[name])
                    self.with_server(name, "ecdsa", lambda srv, i=i: lat[srv.name].append(
                        self.latency_run(srv, rate, i)))
                    if len(lat[name]) == n or lat[name][-1][2] <= STEAL_MAX:
                        break
        for name in systems:
            self.record_latency(name, rate, lat[name])

        if p["max_idle"] and self.left() > 60 and "mqgate" in systems:
            n = min(p["max_idle"], (self.nofile - 20) // 2)
            self.with_server("mqgate", "ecdsa", lambda srv: self.idle(srv, n, "max_idle"))
