"""56: the Debian package (packaging/), end to end, in a fresh Debian made
with mmdebstrap: build it as `make package` does, check its control data
and lintian, install it with apt-get (which resolves its dependencies),
check what the maintainer scripts did (user, permissions, nothing enabled
or running) and the unit (systemd-analyze verify; security --offline),
then run the installed mqgate the way the unit runs it: its user, its
ExecStart with the packaged configuration, its UMask and LimitNOFILE, and
the overrides an operator would put in a drop-in (Environment=), against a
real Redis and Mosquitto on the host's loopback (the chroot shares the
network namespace). Readiness is read from NOTIFY_SOCKET, a device connects
through it, SIGHUP reloads, SIGTERM stops it with exit 0; the run is
traced (strace) and every system call it made must be one the unit's
SystemCallFilter allows. Then remove, purge, and check that nothing of the
package is left: files, user, group, state directory, statoverride.

No systemd runs as PID 1 on these machines: the unit's own execution
(sandboxing, StateDirectory=, the seccomp filter) is verified, not run.
Skipped, with a line saying why, when not root or in a sanitizer build.
"""
import glob
import json
import os
import pwd
import re
import resource
import signal
import socket
import subprocess
import sys
import time

from harness import (BUILD, Mosquitto, Redis, Workdir, cache_value, check, finish, free_port,
                     wait_for)
from sdnotify import NotifySocket

SKIP = 77  # ctest SKIP_RETURN_CODE
T0 = time.monotonic()


def skip(why):
    print("SKIPPED: %s" % why)
    sys.exit(SKIP)


def phase(name):
    print("--- %s (%.1f s)" % (name, time.monotonic() - T0), flush=True)


if os.geteuid() != 0:
    skip("the package test needs root (mmdebstrap, chroot, dpkg inside it)")
if cache_value("MQG_SANITIZE") or cache_value("MQG_FUZZ") == "ON":
    skip("a sanitizer build: its programs need the sanitizer runtimes, so the package is "
         "tested in the plain build (make test)")
missing = [t for t in ("mmdebstrap", "lintian", "systemd-analyze", "cpack", "strace",
                       "unshare", "dpkg-deb") if not any(
    os.access(os.path.join(d, t), os.X_OK) for d in os.environ["PATH"].split(":"))]
if missing:
    skip("missing %s (scripts/deps.sh installs them)" % " ".join(missing))


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


wd = Workdir()
ROOT = wd.file("root")
ns = NotifySocket()


# Commands run in the chroot see a /proc, as on any running system (the
# private BoringSSL is found through $ORIGIN, which glibc reads from
# /proc/self/exe); it is mounted in a mount namespace of the command's own,
# which goes away with it.
IN_NS = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c"]
MOUNT_PROC = 'mount -t proc proc "$0/proc" && exec '


def inroot(*cmd, timeout=300):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    return run(IN_NS + [MOUNT_PROC + 'chroot "$0" "$@"', ROOT] + list(cmd), timeout=timeout,
               env=env)


def snapshot():
    """Every path of the chroot but the scratch and the package manager's
    own records (compared separately), and the account files' text."""
    skip_dirs = {"proc", "sys", "dev", "run", "tmp", "var/tmp", "var/lib/apt", "var/cache",
                 "var/log", "var/lib/dpkg"}
    paths = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        rel = "" if rel == "." else rel
        dirnames[:] = [d for d in dirnames if os.path.join(rel, d) not in skip_dirs]
        for n in dirnames + filenames:
            p = os.path.join(rel, n)
            # passwd-, group-, shadow-, gshadow-: the shadow tools' backups.
            if not re.fullmatch(r"etc/g?(passwd|group|shadow)-", p):
                paths.add("/" + p)
    accounts = {}
    for f in ("etc/passwd", "etc/group", "etc/shadow", "etc/gshadow",
              "var/lib/dpkg/statoverride"):
        path = os.path.join(ROOT, f)
        # (dpkg makes statoverride at its first use: missing equals empty)
        accounts[f] = open(path).read() if os.path.exists(path) else ""
    return paths, accounts


def unit_settings(path):
    """The [Service] keys of a unit file: key -> list of values."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def expand_filter(group, seen=None):
    """The system calls of a systemd SystemCallFilter group, recursively."""
    seen = seen if seen is not None else set()
    names = set()
    out = run(["systemd-analyze", "syscall-filter", group]).stdout
    for line in out.splitlines()[1:]:
        w = line.strip()
        if not w or w.startswith("#"):
            continue
        if w.startswith("@"):
            if w not in seen:
                seen.add(w)
                names |= expand_filter(w, seen)
        else:
            names.add(w)
    return names


def mqgate_pids():
    """Pids of processes running the chroot's /usr/bin/mqgate."""
    exe = os.path.join(ROOT, "usr/bin/mqgate")
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if os.readlink(d + "/exe") == exe:
                pids.append(int(d[6:]))
        except OSError:
            pass
    return pids


tracer = None
try:
    # --- the package, as `make package` builds it --------------------------------
    phase("cpack")
    out = wd.file("deb")
    os.mkdir(out)
    r = run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
             "-B", out], cwd=BUILD)
    debs = glob.glob(os.path.join(out, "mqgate_*.deb"))
    check(r.returncode == 0 and len(debs) == 1,
          "cpack -G DEB (what make package runs) builds one .deb (%s)" %
          (os.path.basename(debs[0]) if debs else r.stdout[-300:] + r.stderr[-300:]))
    deb = debs[0]
    info = run(["dpkg-deb", "-f", deb, "Depends", "Version", "Architecture"]).stdout
    contents = run(["dpkg-deb", "-c", deb]).stdout
    private = "/mqgate/libssl.so.0" in contents
    depends = re.search(r"^Depends: (.*)$", info, re.M).group(1)
    want = ["adduser", "procps", "libuv1", "libhiredis0.14", "libinih1", "libsystemd0"]
    want += [] if private else ["android-libboringssl"]
    names = [d.strip().split(" ")[0] for d in depends.split(",")]
    check(all(w in names for w in want) and (not private or "android-libboringssl" not in names),
          "Depends: %s (BoringSSL: %s)" % (depends, "the private full-speed copy inside" if
                                          private else "android-libboringssl"))
    r = subprocess.run("dpkg-deb --info %s conffiles" % deb, shell=True, capture_output=True,
                       text=True)
    check(r.stdout.split() == ["/etc/mqgate/mqgate.ini"], "conffiles: /etc/mqgate/mqgate.ini")
    for f in ("./usr/bin/mqgate", "./usr/bin/mqgatectl", "./usr/bin/mqgate-certgen",
              "./etc/mqgate/mqgate.ini", "./lib/systemd/system/mqgate.service",
              "./usr/share/doc/mqgate/copyright", "./usr/share/man/man1/mqgate.1.gz"):
        check(re.search(r" %s$" % re.escape(f), contents, re.M) is not None, "contains " + f)

    phase("lintian")
    r = run(["lintian", "--fail-on", "error,warning", deb])
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWIPXO]: ", line)]
    check(r.returncode == 0 and not [t for t in tags if t[0] in "EW"],
          "lintian: no error or warning (%s)" % ("; ".join(tags) or "nothing at all"))

    # --- a fresh Debian, the package installed with apt-get ------------------------
    phase("mmdebstrap")
    codename = re.search(r"^VERSION_CODENAME=(\S+)", open("/etc/os-release").read(),
                         re.M).group(1)
    sources = [f for f in ["/etc/apt/sources.list"] +
               sorted(glob.glob("/etc/apt/sources.list.d/*.list")) +
               sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
               if os.path.isfile(f) and os.path.getsize(f) > 0]
    r = run(["mmdebstrap", "--quiet", "--variant=apt", "--mode=root", "--include=systemd",
             "--skip=cleanup/apt/lists", codename, ROOT] + sources, timeout=900,
            stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "mmdebstrap: a fresh %s with systemd (not running) in a chroot "
          "(%s)" % (codename, r.stderr.strip()[-300:]))
    before_paths, before_accounts = snapshot()

    phase("apt-get install")
    os.makedirs(ROOT + "/tmp/pkg", exist_ok=True)
    inner_deb = "/tmp/pkg/" + os.path.basename(deb)
    with open(deb, "rb") as src, open(ROOT + inner_deb, "wb") as dst:
        dst.write(src.read())
    r = inroot("apt-get", "install", "-y", "-q", inner_deb)
    check(r.returncode == 0, "apt-get install ./%s: dependencies resolved and installed (%s)" %
          (os.path.basename(deb), (r.stdout + r.stderr).strip()[-400:]))
    pw = inroot("getent", "passwd", "mqgate").stdout.strip().split(":")
    check(len(pw) == 7 and int(pw[2]) < 1000 and pw[5] == "/var/lib/mqgate" and
          pw[6] == "/usr/sbin/nologin",
          "postinst: system user mqgate, home /var/lib/mqgate, no login (%s)" % ":".join(pw))
    uid, gid = int(pw[2]), int(pw[3])
    grp = inroot("getent", "group", "mqgate").stdout.strip().split(":")
    check(len(grp) == 4 and int(grp[2]) == gid, "postinst: group mqgate")

    def mode_owner(p):
        st = os.lstat(ROOT + p)
        return oct(st.st_mode & 0o7777), st.st_uid, st.st_gid

    check(mode_owner("/etc/mqgate") == ("0o750", 0, gid),
          "/etc/mqgate is root:mqgate 0750 (statoverride) (%s)" % (mode_owner("/etc/mqgate"),))
    check(mode_owner("/etc/mqgate/mqgate.ini") == ("0o644", 0, 0),
          "/etc/mqgate/mqgate.ini is root's")
    check(mode_owner("/var/lib/mqgate") == ("0o750", uid, gid),
          "/var/lib/mqgate (the state directory) is mqgate's, 0750")
    r = run(["systemctl", "--root=" + ROOT, "is-enabled", "mqgate.service"])
    check(r.stdout.strip() == "disabled", "the service is not enabled (%s)" % r.stdout.strip())
    check(not glob.glob(ROOT + "/etc/systemd/system/*.wants/mqgate.service"),
          "no enablement symlink")
    check(mqgate_pids() == [], "nothing was started")
    ldd = inroot("ldd", "/usr/bin/mqgate").stdout
    m = re.search(r"libssl\.so\.0 => (\S+)", ldd)
    check("not found" not in ldd and m is not None and
          ("/mqgate/" in m.group(1) if private else "/android/" in m.group(1)),
          "the installed mqgate finds every library (libssl.so.0 => %s)" %
          (m.group(1) if m else None))

    # --- the unit ---------------------------------------------------------------------
    phase("systemd-analyze")
    r = run(["systemd-analyze", "verify", "--root=" + ROOT, "mqgate.service"])
    check(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
          "systemd-analyze verify: no complaint (%s)" % (r.stdout + r.stderr).strip()[-300:])
    r = run(["systemd-analyze", "security", "--offline=true", "--root=" + ROOT,
             "/lib/systemd/system/mqgate.service"])
    m = re.search(r"Overall exposure level for mqgate.service: ([0-9.]+) (\S+)", r.stdout)
    check(m is not None and float(m.group(1)) <= 2.0,
          "systemd-analyze security --offline: exposure %s %s (2.0 or less wanted)" %
          (m.group(1), m.group(2)) if m else "systemd-analyze security: no result")
    unit = unit_settings(ROOT + "/lib/systemd/system/mqgate.service")
    check(unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"] and
          unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"] and
          unit["User"] == ["mqgate"] and unit["StateDirectory"] == ["mqgate"],
          "unit: Type=notify, ExecReload SIGHUP, User=mqgate, StateDirectory=mqgate")
    stop_s = float(unit["TimeoutStopSec"][0].rstrip("s"))
    check(stop_s > 10 + 2, "unit: TimeoutStopSec=%gs, above the default drain-timeout (10s) "
          "and the final close" % stop_s)
    check(os.access(ROOT + "/bin/kill", os.X_OK), "/bin/kill (ExecReload) is there (procps)")

    # --- run it as the unit does ----------------------------------------------------------
    phase("run")
    redis = Redis(wd)
    broker = Mosquitto(wd)
    os.makedirs(ROOT + "/tmp/pki", exist_ok=True)
    certgen = [("ca", "--cn", "Package Test CA", "--out-cert", "/tmp/pki/ca.crt",
                "--out-key", "/tmp/pki/ca.key"),
               ("device", "--cn", "pkg-device-1", "--issuer-cert", "/tmp/pki/ca.crt",
                "--issuer-key", "/tmp/pki/ca.key", "--out-cert", "/tmp/pki/dev.crt",
                "--out-key", "/tmp/pki/dev.key")]
    ok = all(inroot("mqgate-certgen", *a).returncode == 0 for a in certgen)
    ctl = ["mqgatectl", "--redis", redis.url]
    ok = ok and inroot(*ctl, "ca", "register", "/tmp/pki/ca.crt").returncode == 0
    cas = json.loads(inroot(*ctl, "--json", "ca", "list").stdout or "{}")
    ca_id = re.search(r'"id":\s*"([0-9a-f]+)"', json.dumps(cas))
    ok = ok and ca_id is not None and inroot(
        *ctl, "cert", "register", "/tmp/pki/dev.crt", "--ca", ca_id.group(1)).returncode == 0
    check(ok, "the installed mqgate-certgen and mqgatectl: a CA and a device registered")

    port = free_port()
    exec_start = unit["ExecStart"][0].split()
    check(exec_start == ["/usr/bin/mqgate", "--config", "/etc/mqgate/mqgate.ini"],
          "ExecStart runs /usr/bin/mqgate with /etc/mqgate/mqgate.ini")
    # What systemd puts in the environment, plus a drop-in's Environment=.
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8", "USER": "mqgate", "LOGNAME": "mqgate", "HOME": "/var/lib/mqgate",
           "SHELL": "/usr/sbin/nologin", "NOTIFY_SOCKET": ns.env,
           "STATE_DIRECTORY": "/var/lib/mqgate",
           "MQGATE_AUTH": "registry", "MQGATE_REDIS": redis.url,
           "MQGATE_LISTEN": "127.0.0.1:%d" % port,
           "MQGATE_BACKEND": "127.0.0.1:%d" % broker.port, "MQGATE_WORKERS": "2"}
    umask = int(unit["UMask"][0], 8)
    nofile = int(unit["LimitNOFILE"][0])
    # systemd (PID 1) may raise the hard limit; a sandbox without
    # CAP_SYS_RESOURCE cannot go past its own.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < nofile:
        print("note: LimitNOFILE=%d is above this machine's hard limit %d, which cannot be "
              "raised here (no CAP_SYS_RESOURCE): mqgate runs with %d" % (nofile, hard, hard))
        nofile = hard

    def as_the_unit():
        os.umask(umask)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    trace = wd.file("strace.txt")
    inner = MOUNT_PROC + ('chroot --userspec=%d:%d "$0" env -i %s %s' % (
        uid, gid, " ".join("%s='%s'" % kv for kv in sorted(env.items())),
        " ".join(exec_start)))
    log = open(wd.file("mqgate.log"), "w")
    # sh and chroot exec, so the traced process becomes mqgate itself (the
    # unit's main process).
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, "--"] + IN_NS + [inner, ROOT],
                              stdout=log, stderr=subprocess.STDOUT, preexec_fn=as_the_unit)
    ready = ns.wait_for("READY", 30)
    check(ready is not None, "READY=1 through NOTIFY_SOCKET (registry mode: after Redis "
          "answered)")
    pid = ready[0] if ready else -1
    try:
        with open("/proc/%d/task/%d/children" % (tracer.pid, tracer.pid)) as f:
            main_pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        main_pid = -2
    check(pid == main_pid and mqgate_pids() == [pid],
          "sent by the main process, which runs the chroot's /usr/bin/mqgate (NotifyAccess=main)")
    status = open("/proc/%d/status" % pid).read() if pid > 0 else ""
    check(re.search(r"^Uid:\s+%d\s+%d" % (uid, uid), status, re.M) is not None,
          "it runs as mqgate (uid %d)" % uid)
    check(open("/proc/%d/limits" % pid).read().count(str(nofile)) >= 2 if pid > 0 else False,
          "with LimitNOFILE=%d" % nofile)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        accepting = True
    except OSError:
        accepting = False
    check(accepting, "the device port accepts once READY=1 arrived")
    cert = ROOT + "/var/lib/mqgate/server.crt"
    key_st = os.stat(ROOT + "/var/lib/mqgate/server.key") if os.path.exists(
        ROOT + "/var/lib/mqgate/server.key") else None
    check(os.path.exists(cert) and key_st is not None and key_st.st_uid == uid and
          key_st.st_mode & 0o077 == 0,
          "the server certificate was generated into the state directory, key mqgate's only")
    r = run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "--cafile", cert,
             "--insecure", "--cert", ROOT + "/tmp/pki/dev.crt", "--key",
             ROOT + "/tmp/pki/dev.key", "-t", "pkg/test", "-m", "hello"], timeout=30)
    check(r.returncode == 0 and wait_for(lambda: "pkg-device-1" in broker.client_ids()),
          "a registered device publishes through the packaged mqgate to the broker "
          "(client ID pkg-device-1)")

    os.kill(pid, signal.SIGHUP)
    rl = ns.wait_for("RELOADING", 10)
    again = ns.wait_for("READY", 10)
    check(rl is not None and again is not None, "SIGHUP (ExecReload): RELOADING=1, READY=1")
    check(wait_for(lambda: "reloaded:" in open(wd.file("mqgate.log")).read()),
          "the configuration was re-read")
    t_stop = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    st = ns.wait_for("STOPPING", 10)
    try:
        rc = tracer.wait(stop_s)
    except subprocess.TimeoutExpired:
        rc = None
    check(st is not None and rc == 0,
          "SIGTERM: STOPPING=1, exit 0 in %.1f s (TimeoutStopSec=%gs)" %
          (time.monotonic() - t_stop, stop_s))
    log.close()

    # Every system call mqgate made (after its execve) is one the unit allows.
    allowed = set()
    for v in unit["SystemCallFilter"]:
        groups = v.split()
        deny = groups[0].startswith("~")
        names = set()
        for g in groups:
            g = g.lstrip("~")
            names |= expand_filter(g) if g.startswith("@") else {g}
        allowed = allowed - names if deny else allowed | names
    used, started = set(), False
    with open(trace) as f:
        for line in f:
            if not started:
                started = re.match(r"^\d+\s+execve\(\"/usr/bin/mqgate\"", line) is not None
                if not started:
                    continue
            m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
            if m and m.group(1) not in ("exited", "killed"):
                used.add(m.group(1))
    denied = sorted(used - allowed)
    print("note: system calls made: %s" % " ".join(sorted(used)))
    check(started and len(used) > 20 and not denied,
          "SystemCallFilter: all %d system calls mqgate made are allowed%s" %
          (len(used), "" if not denied else " (NOT: %s)" % ", ".join(denied)))

    # --- remove, purge: nothing left ---------------------------------------------------
    phase("remove, purge")
    r = inroot("apt-get", "remove", "-y", "-q", "mqgate")
    check(r.returncode == 0 and not os.path.exists(ROOT + "/usr/bin/mqgate") and
          os.path.exists(ROOT + "/etc/mqgate/mqgate.ini") and
          os.path.isdir(ROOT + "/var/lib/mqgate") and
          inroot("getent", "passwd", "mqgate").returncode == 0,
          "apt-get remove: the programs go; configuration, state and user stay")
    r = inroot("apt-get", "purge", "-y", "-q", "mqgate")
    check(r.returncode == 0, "apt-get purge mqgate")
    inroot("rm", "-rf", "/tmp/pki", "/tmp/pkg")
    after_paths, after_accounts = snapshot()
    check(inroot("dpkg-query", "-W", "mqgate").returncode != 0,
          "dpkg has forgotten mqgate (not even config-files)")
    check(not glob.glob(ROOT + "/var/lib/dpkg/info/mqgate.*"), "no maintainer scripts left")
    for f, text in before_accounts.items():
        check(after_accounts[f] == text, "/%s as before the install (user, group, "
              "statoverride gone)" % f)
    new = sorted(after_paths - before_paths)

    def owned_by_others(paths):
        owned = set()
        if paths:
            r = inroot("dpkg-query", "-S", *paths)
            for line in r.stdout.splitlines():
                pkgs, path = line.split(": ", 1)
                if "mqgate" not in pkgs.split(", "):
                    owned.add(path)
        return owned

    # dpkg knows /bin/kill, not /usr/bin/kill (merged /usr), and the
    # /etc/rc?.d links that update-rc.d made for a dependency's init script
    # are nobody's: they count as that script's.
    def alias(p):
        m = re.match(r"^/usr(/s?bin/.*|/lib/.*)$", p)
        if m:
            return m.group(1)
        if re.match(r"^/etc/rc[0-6S]\.d/", p) and os.path.islink(ROOT + p):
            return os.path.normpath(os.path.join(os.path.dirname(p),
                                                 os.readlink(ROOT + p)))
        return p

    owned = owned_by_others(new)
    rest = [p for p in new if p not in owned]
    owned_alias = owned_by_others(sorted({alias(p) for p in rest}))
    left = [p for p in rest if alias(p) not in owned_alias]
    check(not left, "no file or directory left that no installed package owns (new paths: "
          "%d, all from mqgate's dependencies%s)" % (len(new), "" if not left else
                                                     "; LEFT: %s" % left[:20]))
    named = [p for p in after_paths - before_paths if "mqgate" in p]
    check(not named, "no new path named mqgate anywhere (%s)" % named[:10])
    phase("done")
finally:
    if tracer is not None and tracer.poll() is None:
        for p in mqgate_pids():
            os.kill(p, signal.SIGKILL)
        tracer.kill()
        tracer.wait()
    ns.close()
    wd.cleanup()
finish()
