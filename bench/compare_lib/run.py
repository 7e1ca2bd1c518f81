"""compare: the run: set-up (certificates, backend broker, Redis),
launching and stopping servers, measuring one bench run, and go(), which
does it all and always cleans up. The phases, the revocation and the output
are mixins (phases.py, revocation.py, report.py)."""
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .phases import PhasesMixin
from .report import ReportMixin
from .revocation import RevocationMixin
from .storm import StormMixin
from .systems import SERVERS, MqgateRegistry
from .util import (CLIENT_CORE, METRIC, PLANS, SERVER_CORE, BenchError, _die_with_parent,
                   core_jiffies, core_load, cpu_seconds, cpu_user_sys, free_port, proc_tree)


# --- the run -------------------------------------------------------------------

class Run(PhasesMixin, RevocationMixin, ReportMixin, StormMixin):
    def __init__(self, args):
        self.args = args
        self.kind = "quick" if args.quick else "full"
        self.plan = dict(PLANS[self.kind])
        if args.systems:
            self.plan["systems"] = tuple(args.systems.split(","))
        self.build = os.path.abspath(args.build)
        self.mqgate = os.path.join(self.build, "proxy", "mqgate")
        self.ctl = os.path.join(self.build, "policy", "mqgatectl")
        self.certgen = os.path.join(self.build, "bench", "mqgate-certgen")
        self.bench_bin = os.path.abspath(args.bench or os.path.join(
            self.build, "bench", "mqgate-bench"))
        self.t0 = time.monotonic()
        self.procs = []
        self.rows = []          # {system, metric, value, ...}
        self.notes = []         # lines for the report
        self.runs = []          # every measured bench run, for the report
        self.dir = None
        self.redis = None
        self.crypto = None
        self.libssl = "?"
        self.lat_rate = None
        self.revoke_detail = None
        self.load_at_start = "?"
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    # -- plumbing --

    def path(self, name):
        return os.path.join(self.dir, name)

    def elapsed(self):
        return time.monotonic() - self.t0

    def left(self):
        return self.plan["budget_s"] - self.elapsed()

    def say(self, msg):
        print("[%5.0fs] %s" % (self.elapsed(), msg), flush=True)

    def note(self, msg):
        self.say("note: " + msg)
        self.notes.append(msg)

    def launch(self, name, argv, core=None):
        log = open(self.path(name + ".out"), "ab")
        cmd = (["taskset", "-c", str(core)] if core is not None else []) + argv
        try:
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 preexec_fn=_die_with_parent)
        finally:
            log.close()
        p.name = name
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        # Leftover children of a group whose leader is gone (workers).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.procs:
            self.procs.remove(p)

    def tail(self, name, n=8):
        try:
            with open(self.path(name + ".out"), errors="replace") as f:
                return "".join(f.readlines()[-n:]).strip()
        except OSError:
            return ""

    def wait_port(self, port, proc, name, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError("%s exited (%d) at start: %s" %
                                 (name, proc.returncode, self.tail(name)))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise BenchError("%s: port %d never opened: %s" % (name, port, self.tail(name)))

    def wait_listening(self, proc, port, name, timeout=15):
        """Until |proc| itself listens on |port| (which another process may
        hold too, with SO_REUSEPORT)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError("%s exited (%d) at start: %s" %
                                 (name, proc.returncode, self.tail(name)))
            try:
                self.listener_of(proc.pid, port, timeout=0.2, include_self=True)
                return
            except BenchError:
                time.sleep(0.05)
        raise BenchError("%s: never listened on port %d: %s" % (name, port, self.tail(name)))

    def listener_of(self, pid, port, timeout=5, include_self=False):
        """The process of |pid|'s tree that accepts on |port|, a child
        rather than the parent (the worker of nginx or hitch, whose master
        also holds the socket and whose other children do not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inodes = set()
            with open("/proc/net/tcp") as f:
                for line in f.readlines()[1:]:
                    c = line.split()
                    if c[3] == "0A" and int(c[1].split(":")[1], 16) == port:
                        inodes.add("socket:[%s]" % c[9])
            for p in reversed(proc_tree(pid)[0 if include_self else 1:]):
                try:
                    fds = {os.readlink("/proc/%d/fd/%s" % (p, fd))
                           for fd in os.listdir("/proc/%d/fd" % p)}
                except OSError:
                    continue
                if fds & inodes:
                    return p
            time.sleep(0.05)
        raise BenchError("no worker process of %d accepts on port %d" % (pid, port))

    def sh(self, argv, **kw):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 120),
                           **kw)
        if r.returncode != 0:
            raise BenchError("%s failed (%d): %s" % (" ".join(argv[:3]), r.returncode,
                                                     r.stderr.strip()[-400:]))
        return r.stdout

    # -- set-up --

    def check_tools(self):
        need = [self.mqgate, self.ctl, self.certgen]
        missing = [p for p in need if not os.access(p, os.X_OK)]
        if missing:
            raise BenchError("not built: %s (make build)" % ", ".join(missing))
        if not os.access(self.bench_bin, os.X_OK):
            raise BenchError("%s is missing: it is built with the rest (make build)" %
                             self.bench_bin)
        for tool in ("taskset", "mosquitto", "redis-server"):
            if shutil.which(tool) is None:
                raise BenchError("%s is not installed (scripts/bench-deps.sh)" % tool)
        if os.cpu_count() < 2:
            raise BenchError("needs two cores: one for the server, one for the load")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.nofile = hard
        # This script, and what it starts without taskset (the backend
        # broker, Redis, mqgatectl), stays off the server's core.
        os.sched_setaffinity(0, {CLIENT_CORE})

    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="mqgate-compare-")
        # Mosquitto, started as root, would drop to its own user: everything
        # here is world-readable (and its configs say "user root" anyway).
        os.chmod(self.dir, 0o755)
        # The whole run uses one build, whatever rebuilds BUILD meanwhile
        # (their libraries are found by rpath, from anywhere).
        os.mkdir(self.path("bin"))
        for attr in ("mqgate", "ctl", "certgen", "bench_bin"):
            copy = self.path(os.path.join("bin", os.path.basename(getattr(self, attr))))
            shutil.copy2(getattr(self, attr), copy)
            setattr(self, attr, copy)
        ldd = subprocess.run(["ldd", self.mqgate], capture_output=True, text=True).stdout
        self.libssl = next((l.split("=>")[1].split("(")[0].strip() for l in ldd.splitlines()
                            if "libssl" in l and "=>" in l), "?")
        g = self.certgen
        self.ca, ca_key = self.path("ca.crt"), self.path("ca.key")
        self.sh([g, "ca", "--cn", "mqgate bench CA", "--out-cert", self.ca,
                 "--out-key", ca_key])
        self.crt, self.key, self.pem = {}, {}, {}
        for k, alg in (("ecdsa", "ec"), ("rsa", "rsa")):
            if k not in self.plan["keys"]:
                continue
            self.crt[k], self.key[k] = self.path("server-%s.crt" % k), self.path(
                "server-%s.key" % k)
            self.sh([g, "server", "--cn", "localhost", "--key", alg,
                     "--issuer-cert", self.ca, "--issuer-key", ca_key,
                     "--out-cert", self.crt[k], "--out-key", self.key[k]])
            # HAProxy and hitch take the key and the chain in one file.
            self.pem[k] = self.path("server-%s.pem" % k)
            with open(self.pem[k], "w") as out:
                for part in (self.key[k], self.crt[k]):
                    with open(part) as f:
                        out.write(f.read())
        self.pool = self.path("pool")
        self.sh([g, "pool", "--issuer-cert", self.ca, "--issuer-key", ca_key,
                 "--count", str(self.plan["pool"]), "--out-dir", self.pool])
        self.revoke_pool = self.path("revoke")
        if self.plan["revoke_devices"]:
            self.sh([g, "pool", "--issuer-cert", self.ca, "--issuer-key", ca_key,
                     "--count", str(self.plan["revoke_devices"]), "--out-dir",
                     self.revoke_pool, "--prefix", "revoke-"])
        for base, _, files in os.walk(self.dir):
            for f in files:
                f = os.path.join(base, f)
                os.chmod(f, os.stat(f).st_mode | 0o444)

        self.backend_port = free_port()
        conf = self.path("backend.conf")
        with open(conf, "w") as f:
            # set_tcp_nodelay: with Nagle (Mosquitto's default) each
            # subscriber leg holds a small PUBLISH until the previous one is
            # acknowledged, which at these rates put 4-14 ms of the broker's
            # own waiting into every system's latency (all of them alike).
            f.write("user root\npersistence false\nset_tcp_nodelay true\n"
                    "max_connections -1\n"
                    "log_dest file %s\nlog_type error\nlog_type warning\n"
                    "listener %d 127.0.0.1\nallow_anonymous true\n" %
                    (self.path("backend.log"), self.backend_port))
        p = self.launch("backend", ["mosquitto", "-c", conf])
        self.wait_port(self.backend_port, p, "backend")

        if "mqgate-reg" in self.plan["systems"] or self.plan["revokes"]:
            port = free_port()
            self.redis_url = "redis://127.0.0.1:%d/0" % port
            self.redis = self.launch("redis", [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--maxclients", "1000"])
            self.wait_port(port, self.redis, "redis")
            if "mqgate-reg" in self.plan["systems"]:
                self.register(MqgateRegistry.PREFIX, self.pool)

    def mqgatectl(self, prefix, *args):
        return self.sh([self.ctl, "--redis", self.redis_url, "--redis-prefix", prefix] +
                       list(args))

    def register(self, prefix, pool):
        """Registers the CA and every device of |pool| in cluster |prefix|,
        bypassing the 15/s registration limit (test set-up only)."""
        ca_id = json.loads(self.mqgatectl(prefix, "--json", "ca", "register", self.ca))["id"]
        t = time.monotonic()
        self.mqgatectl(prefix, "cert", "register", "--ca", ca_id, "--from-index",
                       os.path.join(pool, "index.tsv"),
                       "--unsafe-bypass-rate-limit-for-test-setup")
        self.say("registered %s in cluster %s in %.1f s" % (pool, prefix,
                                                          time.monotonic() - t))

    # -- measuring --

    def bench_argv(self, scenario, port, *args, timeout=90):
        return ["taskset", "-c", str(CLIENT_CORE), self.bench_bin, scenario,
                "--port", str(port), "--ca", self.ca, "--pool", self.pool,
                "--tls", "1.3", "--timeout", str(timeout), "--json"] + list(args)

    @staticmethod
    def bench_doc(scenario, returncode, stdout, stderr):
        """The JSON summary mqgate-bench printed last."""
        for line in reversed(stdout.strip().splitlines()):
            try:
                doc = json.loads(line)
                if isinstance(doc, dict):
                    return doc
            except ValueError:
                continue
        raise BenchError("mqgate-bench %s exited %d without JSON: %s" %
                         (scenario, returncode, stderr.strip()[-400:]))

    def bench(self, scenario, port, *args, timeout=90):
        argv = self.bench_argv(scenario, port, *args, timeout=timeout)
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            raise BenchError("mqgate-bench %s did not end within %d s" % (scenario,
                                                                          timeout + 30))
        return self.bench_doc(scenario, r.returncode, r.stdout, r.stderr)

    def measure(self, srv, what, scenario, *args, timeout=90):
        """One bench run against |srv| with the server's CPU time and both
        cores' load around it."""
        pids = srv.cpu_pids()
        aux = srv.aux_pids()
        (u0, s0), a0, j0, t0 = cpu_user_sys(pids), cpu_seconds(aux), core_jiffies(), time.monotonic()
        doc = self.bench(scenario, srv.port, *args, timeout=timeout)
        wall = time.monotonic() - t0
        # A process born during the run (none expected) counts whole.
        pids = sorted(set(pids) | set(srv.cpu_pids()))
        (u1, s1), a1, j1 = cpu_user_sys(pids), cpu_seconds(aux), core_jiffies()
        # elapsed_s: the whole run, as the client's CPU time; duration_s
        # may be the measured phase only.
        dur = doc.get("elapsed_s") or doc.get("duration_s") or wall
        return self.run_record(srv, what, scenario, args, doc, wall, (u1 + s1) - (u0 + s0),
                               s1 - s0, 100.0 * (doc.get("client_cpu_s") or 0) / dur, j0, j1,
                               aux_cpu_s=a1 - a0)

    def run_record(self, srv, what, scenario, args, doc, wall, cpu_s, sys_s, client_pct,
                   j0, j1, **extra):
        """The record of one measured run (the Runs table), kept in runs."""
        busy, steal = core_load(j0, j1)
        m = {"system": srv.name, "what": what, "key": srv.key, "scenario": scenario,
             "args": list(args), "server_cpu_s": cpu_s, "server_sys_s": sys_s,
             "aux_cpu_s": 0.0, "wall_s": wall, "server_cpu_pct": 100.0 * cpu_s / wall,
             "client_cpu_pct": client_pct, "core_busy_pct": busy,
             "steal_pct": max(steal.values(), default=0.0), "bench": doc}
        m.update(extra)
        m["saturated"] = self.saturated(m)
        self.runs.append(m)
        self.note_errors("%s %s" % (srv.name, what), doc)
        return m

    def measure_steady(self, srv, what, scenario, *args, skip=1, window=3, timeout=90):
        """One bench run against |srv| measured over |window| seconds of its
        run phase only: between two of the bench's once-a-second progress
        lines (the first |skip| run lines passed over), the server's CPU time
        against the units done meanwhile, so that neither the devices'
        handshakes nor the ramp count. m["units"] holds those units."""
        argv = self.bench_argv(scenario, srv.port, *args, timeout=timeout)
        pids = srv.cpu_pids()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        marks, tail = [], []
        try:
            for line in p.stderr:
                tail = (tail + [line])[-5:]
                got = re.search(r" run: ok (\d+)", line)
                if got is None:
                    continue
                marks.append((time.monotonic(), int(got.group(1)), cpu_user_sys(pids),
                              cpu_seconds([p.pid]), core_jiffies()))
                if len(marks) > skip + window:
                    break
            out, err = p.communicate(timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise BenchError("mqgate-bench %s did not end within %d s" % (scenario,
                                                                          timeout + 30))
        doc = self.bench_doc(scenario, p.returncode, out, "".join(tail) + err)
        if len(marks) <= skip + window:
            raise BenchError("mqgate-bench %s: %d progress lines of its run phase, %d needed"
                             % (scenario, len(marks), skip + window + 1))
        (t0, n0, (u0, s0), k0, j0), (t1, n1, (u1, s1), k1, j1) = marks[skip], marks[-1]
        wall = t1 - t0
        return self.run_record(srv, what, scenario, args, doc, wall, (u1 + s1) - (u0 + s0),
                               s1 - s0, 100.0 * (k1 - k0) / wall, j0, j1, units=n1 - n0)

    @staticmethod
    def saturated(m):
        """The side whose core was full: the server's process, the client's,
        else a core full of the two plus other work, else neither (the run
        was bound by latency or concurrency)."""
        s, c = m["server_cpu_pct"], m["client_cpu_pct"]
        busy = m["core_busy_pct"]
        if s >= 85 and s >= c:
            return "server"
        if c >= 85:
            return "client"
        if busy.get(SERVER_CORE, 0) >= 90:
            return "server core (shared)"
        if busy.get(CLIENT_CORE, 0) >= 90:
            return "client core (shared)"
        return "neither"

    def note_errors(self, what, doc):
        errs = doc.get("errors") or {}
        if errs:
            self.note("%s: %d ok, errors %s" % (what, doc.get("ok", 0), json.dumps(errs)))

    def record(self, system, metric, value, **extra):
        if value is None:
            return
        _, label, unit, better = METRIC[metric]
        row = {"system": system, "metric": metric, "label": label.strip(), "value": value,
               "unit": unit, "better": better}
        row.update(extra)
        self.rows.append(row)

    def value(self, system, metric):
        for r in self.rows:
            if r["system"] == system and r["metric"] == metric:
                return r["value"]
        return None

    # -- all of it --

    def go(self):
        status = "complete"
        try:
            self.check_tools()
            self.load_at_start = " ".join(open("/proc/loadavg").read().split()[:3])
            self.say("%s run: %s; budget %d s" % (self.kind, ", ".join(self.plan["systems"]),
                                                   self.plan["budget_s"]))
            self.setup()
            only = set((self.args.only or "").split(",")) - {""}
            if not only:
                self.crypto_limit()
                try:
                    self.revocation()
                except BenchError as e:
                    self.note("revocation: %s" % e)
                self.main_phases()
            if "field" in only:
                for name in [s for s in self.plan["systems"] if s in SERVERS]:
                    self.with_server(name, "ecdsa", self.field_profiles)
            if not only or "storm" in only:
                self.storm_phase()
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except (BenchError, OSError, subprocess.SubprocessError, ValueError) as e:
            status = "stopped: %s" % e
            self.note(status)
            if not isinstance(e, BenchError):
                import traceback
                traceback.print_exc()
        finally:
            for p in list(reversed(self.procs)):
                self.stop(p)
            if self.dir and not self.args.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
            elif self.dir:
                self.say("kept %s" % self.dir)
            # An interrupted run leaves the previous results as they were.
            if status != "interrupted" and (self.rows or status == "complete"):
                path = self.write(status)
                print()
                print(self.table())
                print()
                self.say("wrote %s (and its latest*.json beside it)" % path)
        return 0 if status == "complete" else 1
