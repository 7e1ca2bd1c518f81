"""sidecar.py: the sidecar story with the container image's own programs
(`make image-test`, after `make image`).

Redis and Mosquitto run on this machine on free loopback ports; everything
of mqgate's comes from the image, run with `buildah from` + `buildah run
--isolation chroot --network host` (podman run cannot set rlimits in this
sandbox; buildah run shares the host's network and PID view, so loopback
and signals work as in a pod). The story: the image's metadata (non-root
user, healthcheck, entrypoint, no android-libboringssl), `mqgate --version`
naming the full-speed BoringSSL, demo-pki and mqgate-certgen and mqgatectl
from the image, mqgate started by the image's entrypoint as the image's
user with the shipped /etc/mqgate/mqgate.ini and MQGATE_* variables, a real
device connecting with an empty client ID and seen at the broker under its
registry identity, a revocation cutting it, the image's healthcheck
command, SIGTERM draining and exiting 0, and k8s-sidecar.yaml checked
against the image's real configuration.

Environment: MQG_IMAGE (default localhost/mqgate:local)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

try:
    import yaml
except ImportError:  # another Python than Debian's, without PyYAML
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import (Client, Mosquitto, Redis, Workdir, check, client_context,  # noqa: E402
                     connect_packet, finish, free_port, handshake_error, http_get,
                     publish_packet,
                     subscribe_packet, wait_for, wait_port)

IMAGE = os.environ.get("MQG_IMAGE", "localhost/mqgate:local")
UID = 10001  # docker/Dockerfile's USER
FULL = "full-speed build (without OPENSSL_SMALL)"

if shutil.which("buildah") is None:
    print("image test needs buildah (make image-deps)")
    sys.exit(1)


def buildah(*args, timeout=120):
    return subprocess.run(["buildah"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


class Container:
    """A working container of IMAGE; run() runs one command in it."""

    def __init__(self, name):
        r = buildah("from", "--name", name, IMAGE)
        if r.returncode != 0:
            raise RuntimeError("buildah from %s: %s" % (IMAGE, r.stderr.strip()))
        self.name = name

    def argv(self, cmd, user=None, env=None, volumes=()):
        a = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        if user is not None:
            a += ["--user", user]
        for k, v in (env or {}).items():
            a += ["--env", "%s=%s" % (k, v)]
        for v in volumes:
            a += ["--volume", v]
        return a + [self.name, "--"] + list(cmd)

    def run(self, *cmd, timeout=60, **kw):
        return subprocess.run(self.argv(cmd, **kw), capture_output=True, text=True,
                              timeout=timeout)

    def remove(self):
        buildah("rm", self.name)


def children(pid):
    """Every descendant of |pid| (host PIDs), from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def find_exe(pid, name):
    """The descendant of |pid| whose program is |name|, or None."""
    for c in children(pid):
        try:
            if os.path.basename(os.readlink("/proc/%d/exe" % c)) == name:
                return c
        except OSError:
            pass
    return None


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))


def proc_env(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return dict(e.split("=", 1) for e in f.read().decode().split("\0") if "=" in e)


def parse_duration(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(s))
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


t_start = time.time()
wd = Workdir()
ctr = None
gate = None
try:
    # --- the image's metadata -----------------------------------------------
    r = buildah("inspect", "--type", "image", IMAGE)
    check(r.returncode == 0, "image %s exists (%s)" % (IMAGE, r.stderr.strip()[-200:]))
    info = json.loads(r.stdout)
    cfg = (info.get("Docker") or {}).get("config") or info["OCIv1"]["config"]
    check(cfg.get("User") == "%d:%d" % (UID, UID), "runs as the non-root user %d (USER %s)" %
          (UID, cfg.get("User")))
    check(cfg.get("Entrypoint") == ["/usr/local/bin/mqgate-entrypoint"], "entrypoint")
    hc = (cfg.get("Healthcheck") or {}).get("Test") or []
    check(hc[:1] == ["CMD"] and len(hc) > 1, "a healthcheck is kept in the image (%s)" % hc)
    check("8883/tcp" in (cfg.get("ExposedPorts") or {}), "port 8883 exposed")
    env = dict(e.split("=", 1) for e in cfg.get("Env") or [])

    # --- k8s-sidecar.yaml against the image's real configuration -----------
    with open(os.path.join(ROOT, "docker", "k8s-sidecar.yaml")) as f:
        docs = list(yaml.safe_load_all(f))
    dep = next(d for d in docs if d.get("kind") == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    kc = next(c for c in pod["containers"] if c["name"] == "mqgate")
    sc = kc.get("securityContext") or {}
    check(sc.get("runAsUser") == UID and sc.get("runAsNonRoot") is True,
          "k8s: runAsUser %s = the image's UID, runAsNonRoot" % sc.get("runAsUser"))
    kenv = {e["name"]: e["value"] for e in kc.get("env", [])}
    listen = kenv.get("MQGATE_LISTEN", env.get("MQGATE_LISTEN", ""))
    kports = {p["name"]: p["containerPort"] for p in kc["ports"]}
    check(kports.get("mqtts") == int(listen.rsplit(":", 1)[1]) and
          "%d/tcp" % kports.get("mqtts", 0) in cfg.get("ExposedPorts", {}),
          "k8s: port mqtts %s = the image's listen port and EXPOSE" % kports.get("mqtts"))
    check(kports.get("metrics") == int(kenv["MQGATE_METRICS"].rsplit(":", 1)[1]),
          "k8s: port metrics = its MQGATE_METRICS")
    drain = parse_duration(kenv.get("MQGATE_DRAIN_TIMEOUT", "10s"))
    check(drain < pod["terminationGracePeriodSeconds"],
          "k8s: drain %ss below terminationGracePeriodSeconds %s" %
          (drain, pod["terminationGracePeriodSeconds"]))
    probes = [kc[p]["httpGet"] for p in ("readinessProbe", "livenessProbe")]

    ctr = Container("mqgate-image-test-%d" % os.getpid())
    r = ctr.run("id", "-u")
    check(r.stdout.strip() == str(UID), "commands run as UID %d by default" % UID)
    r = ctr.run("/usr/local/bin/mqgate", "--version")
    print(r.stdout.strip())
    check(r.returncode == 0 and FULL in r.stdout and
          "/usr/local/lib/mqgate/libcrypto.so.0" in r.stdout,
          "mqgate --version in the image: the full-speed BoringSSL of /usr/local/lib/mqgate")
    for prog in ("mqgatectl", "mqgate-certgen"):
        r = ctr.run("/usr/local/bin/" + prog, "--version")
        check(r.returncode == 0 and r.stdout.startswith(prog + " ") and FULL in r.stdout,
              "%s --version in the image: the full-speed BoringSSL" % prog)
    r = ctr.run("/usr/local/bin/mqgate-admin", "--help")
    check(r.returncode == 0 and "--listen" in r.stdout and
          ctr.run("test", "-f", "/usr/local/share/mqgate/console/index.html").returncode == 0,
          "mqgate-admin runs in the image, its console beside it")
    r = ctr.run("sh", "-c", "dpkg-query -W -f='${Status}' android-libboringssl 2>/dev/null;"
                " ls /usr/lib/*/android 2>/dev/null; true")
    check("installed" not in r.stdout and "libcrypto" not in r.stdout,
          "android-libboringssl is not installed in the image")
    r = ctr.run("cat", "/etc/mqgate/mqgate.ini")
    with open(os.path.join(ROOT, "docker", "mqgate.ini")) as f:
        check(r.stdout == f.read(), "/etc/mqgate/mqgate.ini is docker/mqgate.ini")

    # --- Redis, Mosquitto; the PKI made and registered from the image -------
    redis = Redis(wd)
    broker = Mosquitto(wd)
    pki = wd.file("pki")
    os.mkdir(pki)
    os.chmod(pki, 0o777)  # written by the image's user too
    r = ctr.run("/usr/local/bin/mqgate-entrypoint", "demo-pki", "/pki", user="0:0",
                env={"MQGATE_REDIS": redis.url}, volumes=["%s:/pki" % pki])
    check(r.returncode == 0 and os.path.exists(os.path.join(pki, "device-0001.key")),
          "demo-pki (as root, as compose's pki service): CA, server, devices, registered (%s)"
          % r.stderr.strip()[-300:])
    vol = ["%s:/pki" % pki]
    r = ctr.run("/usr/local/bin/mqgate-certgen", "device", "--cn", "device-0003",
                "--issuer-cert", "/pki/ca.crt", "--issuer-key", "/pki/ca.key",
                "--out-cert", "/pki/device-0003.crt", "--out-key", "/pki/device-0003.key",
                volumes=vol)
    check(r.returncode == 0 and os.stat(os.path.join(pki, "device-0003.crt")).st_uid == UID,
          "mqgate-certgen from the image, as UID %d: device-0003 issued" % UID)
    ctl_env = {"MQGATE_REDIS": redis.url}
    r = ctr.run("/usr/local/bin/mqgatectl", "--json", "ca", "list", env=ctl_env)
    ca_id = re.search(r'"id":"([0-9a-f]{64})"', r.stdout)
    check(r.returncode == 0 and ca_id is not None, "mqgatectl from the image: the CA is listed")
    r = ctr.run("/usr/local/bin/mqgatectl", "--json", "cert", "register",
                "/pki/device-0003.crt", "--ca", ca_id.group(1) if ca_id else "-",
                "--client-id", "sensor-42", env=ctl_env, volumes=vol)
    fp3 = re.search(r'"fp":"([0-9a-f]{64})"', r.stdout)
    check(r.returncode == 0 and fp3 is not None,
          "mqgatectl from the image: device-0003 registered with client ID sensor-42 (%s)" %
          (r.stdout + r.stderr).strip()[-300:])

    # --- mqgate from the image, by its entrypoint ---------------------------
    port, mport = free_port(), free_port()
    run_env = {"MQGATE_AUTH": "registry", "MQGATE_REDIS": redis.url,
               "MQGATE_LISTEN": "127.0.0.1:%d" % port,
               "MQGATE_BACKEND": "127.0.0.1:%d" % broker.port,
               "MQGATE_CERT": "/pki/server.crt", "MQGATE_KEY": "/pki/server.key",
               "MQGATE_METRICS": "127.0.0.1:%d" % mport, "MQGATE_DRAIN_TIMEOUT": "2s",
               "MQGATE_WORKERS": "2"}
    hc_argv = ctr.argv(hc[1:], env={"MQGATE_METRICS": run_env["MQGATE_METRICS"]})
    r = subprocess.run(hc_argv, capture_output=True, timeout=30)
    check(r.returncode != 0, "the image's healthcheck fails while mqgate is not running")

    log = wd.file("mqgate.log")
    logf = open(log, "w")
    gate = subprocess.Popen(ctr.argv(["/usr/local/bin/mqgate-entrypoint"], env=run_env,
                                     volumes=["%s:/pki:ro" % pki]),
                            stdout=logf, stderr=subprocess.STDOUT)
    wd.procs.append(gate)
    try:
        wait_port(port, timeout=30)
    except RuntimeError:
        print(open(log).read())
        raise
    pid = find_exe(gate.pid, "mqgate")
    check(pid is not None, "mqgate runs (host PID %s)" % pid)
    check(proc_uid(pid) == UID, "mqgate runs as UID %d, not root" % UID)
    check(proc_env(pid).get("MQGATE_CONFIG") == "/etc/mqgate/mqgate.ini",
          "the entrypoint gave mqgate the shipped /etc/mqgate/mqgate.ini")
    # buildah run relays the output: it may reach the file after the port opens.
    check(wait_for(lambda: re.search(r"boringssl .*build=full", open(log).read())),
          "mqgate's start-up log names the full-speed BoringSSL")
    r = subprocess.run(hc_argv, capture_output=True, timeout=30)
    check(r.returncode == 0, "the image's healthcheck passes once mqgate runs")
    for p in probes:
        status = wait_for(lambda: http_get(mport, p["path"])[0] == 200, timeout=10)
        check(status and kports.get(p["port"]) is not None,
              "k8s probe GET %s on port %s: 200 from the image's mqgate" % (p["path"], p["port"]))

    # --- devices with an empty client ID: their registry identity ----------
    ctx1 = client_context(os.path.join(pki, "device-0001.crt"),
                          os.path.join(pki, "device-0001.key"))
    ctx3 = client_context(os.path.join(pki, "device-0003.crt"),
                          os.path.join(pki, "device-0003.key"))
    d1 = Client(port, ctx1)
    d1.send(connect_packet(4, ""))
    ack = d1.recv_packet()
    check(ack is not None and ack[1][-1] == 0, "device-0001, empty client ID: CONNACK accepted")
    check(wait_for(lambda: "device-0001" in broker.client_ids()),
          "the broker sees it as device-0001 (its certificate's CN)")
    d3 = Client(port, ctx3)
    d3.send(connect_packet(4, ""))
    ack = d3.recv_packet()
    check(ack is not None and ack[1][-1] == 0, "device-0003, empty client ID: CONNACK accepted")
    check(wait_for(lambda: "sensor-42" in broker.client_ids()),
          "the broker sees it as sensor-42, its registered client ID")
    # Messages flow through: device-0001 subscribes, device-0003 publishes.
    d1.send(subscribe_packet("image/t"))
    check(d1.recv_packet() is not None, "SUBACK through mqgate")
    d3.send(publish_packet("image/t", b"hello from the image"))
    got = d1.recv_packet()
    check(got is not None and b"hello from the image" in got[1], "a message goes through")

    # --- a revocation from the image's mqgatectl cuts the live session ------
    r = ctr.run("/usr/local/bin/mqgatectl", "cert", "revoke", fp3.group(1) if fp3 else "-",
                env=ctl_env)
    t0 = time.time()
    check(r.returncode == 0, "mqgatectl (image) cert revoke device-0003 (%s)" %
          (r.stdout + r.stderr).strip()[-200:])
    cut = d3.closed_within(5) is not None
    lat = time.time() - t0
    check(cut and lat < 1.0, "the revocation cut device-0003's live session (%.0f ms after "
          "the CLI returned)" % (lat * 1000))
    got = handshake_error(port, ctx3)
    check(got == "certificate revoked", "device-0003 reconnecting: alert certificate_revoked "
          "(got %s)" % got)

    # --- SIGTERM: drain, then exit 0 ---------------------------------------
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.3)
    try:
        Client(port, ctx1, timeout=2).close()
        refused = False
    except OSError:
        refused = True
    check(refused, "after SIGTERM no new connection is accepted")
    d1.send(publish_packet("image/t", b"during the drain"))
    got = d1.recv_packet()
    check(got is not None and b"during the drain" in got[1],
          "the live session goes on during the drain")
    check(d1.closed_within(10) is not None, "and is closed at the drain timeout")
    rc = gate.wait(30)
    took = time.time() - t0
    check(rc == 0 and 1.5 < took < 10, "mqgate exits 0 after draining %.1f s (drain-timeout 2s)"
          % took)
    gate = None
    check("stopped" in open(log).read(), "mqgate logged its clean stop")
    d1.close()

finally:
    if gate is not None and gate.poll() is None:
        p = find_exe(gate.pid, "mqgate")
        if p:
            os.kill(p, signal.SIGKILL)
        gate.wait(10)
    if ctr is not None:
        ctr.remove()
    wd.cleanup()
print("image test took %.0f s" % (time.time() - t_start))
finish()
