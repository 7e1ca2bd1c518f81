"""53: the container's entrypoint and shipped config, tested outside a
container the way docker/compose.yaml uses them: demo-pki with registration,
mqgate started by the entrypoint from MQGATE_ variables and
/etc/mqgate/mqgate.ini's stand-in, its healthcheck, the config check, and the
command dispatch. And the deployment files: docker/compose.yaml through a
real Compose parser (docker-compose config), docker/k8s-sidecar.yaml read
with PyYAML and held against docker/Dockerfile (user, ports, drain timeout)
and against the real mqgate (its variables, values and probe paths). The
image itself is built and run by `make image-test` (tests/image)."""
import os
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:  # another Python than Debian's, without PyYAML
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

from harness import (BUILD, MQGATE, Mosquitto, Redis, Workdir, check, finish, free_port,
                     http_get, wait_for, wait_port)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ENTRY = os.path.join(ROOT, "docker", "entrypoint.sh")
INI = os.path.join(ROOT, "docker", "mqgate.ini")
COMPOSE = os.path.join(ROOT, "docker", "compose.yaml")
K8S = os.path.join(ROOT, "docker", "k8s-sidecar.yaml")
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")


def runtime_stage():
    """The final stage of docker/Dockerfile: USER, EXPOSE and ENV as written
    (continuation lines joined)."""
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages = re.split(r"^FROM ", text, flags=re.M)
    out = {"user": None, "expose": [], "env": {}}
    for line in stages[-1].splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "USER":
            out["user"] = rest.strip()
        elif word == "EXPOSE":
            out["expose"] += [int(p.split("/")[0]) for p in rest.split()]
        elif word == "ENV":
            out["env"].update(kv.split("=", 1) for kv in rest.split())
    return out


def seconds(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(s))
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def compose_config(path):
    """`docker-compose config` of |path|: (exit code, output)."""
    r = subprocess.run(["docker-compose", "-f", path, "--project-directory",
                        os.path.dirname(COMPOSE), "config"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr

wd = Workdir()
try:
    redis = Redis(wd)
    broker = Mosquitto(wd)
    path = ":".join([os.path.join(BUILD, d) for d in ("proxy", "policy", "bench")] +
                    [os.environ["PATH"]])
    env = dict(os.environ, PATH=path, MQGATE_REDIS=redis.url, MQGATE_CONFIG=INI)

    def entry(*args, e=env, **kw):
        return subprocess.run(["bash", ENTRY] + list(args), capture_output=True, text=True,
                              env=e, timeout=30, **kw)

    pki = wd.file("pki")
    r = entry("demo-pki", pki)
    check(r.returncode == 0, "demo-pki: certificates made and registered (%s)" %
          r.stderr.strip()[-200:])
    check(all(os.path.exists(os.path.join(pki, f)) for f in
              ("ca.crt", "server.crt", "server.key", "device-0001.crt", "device-0002.key")),
          "demo-pki wrote the CA, server and device files")
    check(entry("demo-pki", pki).returncode == 0, "demo-pki again (a container restart): fine")
    r = entry("mqgatectl", "cert", "list")
    check(r.returncode == 0 and "device-0001" in r.stdout and "manual" in r.stdout,
          "dispatch to mqgatectl; device-0001 registered")
    check("auto" in entry("mqgatectl", "settings", "show").stdout, "automatic registration on")

    r = entry("check", "--auth", "registry", "--cert", os.path.join(pki, "server.crt"),
              "--key", os.path.join(pki, "server.key"))
    check(r.returncode == 0 and "configuration OK" in r.stdout,
          "check: the shipped config with the compose settings is OK")
    r = entry("check", "--auth", "registry", "--cert", os.path.join(pki, "server.crt"),
              "--key", os.path.join(pki, "device-0001.key"))
    check(r.returncode == 2, "check: a wrong key is refused (exit 2)")

    port, mport = free_port(), free_port()
    run_env = dict(env, MQGATE_AUTH="registry", MQGATE_LISTEN="127.0.0.1:%d" % port,
                   MQGATE_BACKEND="127.0.0.1:%d" % broker.port,
                   MQGATE_CERT=os.path.join(pki, "server.crt"),
                   MQGATE_KEY=os.path.join(pki, "server.key"),
                   MQGATE_METRICS="127.0.0.1:%d" % mport, MQGATE_STATE_DIR=wd.file("state"))
    bad = entry("healthcheck", e=run_env)
    check(bad.returncode != 0, "healthcheck fails while nothing runs")
    p = subprocess.Popen(["bash", ENTRY], env=run_env, stderr=open(wd.file("m.log"), "w"))
    wd.procs.append(p)
    wait_port(port)
    check(entry("healthcheck", e=run_env).returncode == 0, "healthcheck passes once mqgate runs")
    for dev, want in (("device-0001", "device-0001"), ("device-0002", "device-0002")):
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "--insecure",
                            "--cafile", os.path.join(pki, "ca.crt"),
                            "--cert", os.path.join(pki, dev + ".crt"),
                            "--key", os.path.join(pki, dev + ".key"), "-t", "demo/x", "-m", "1"],
                           capture_output=True, timeout=20)
        check(r.returncode == 0 and wait_for(lambda: want in broker.client_ids()),
              "%s connects through the entrypoint's mqgate (as %s)" % (dev, want))

    # --- docker/k8s-sidecar.yaml against the Dockerfile and the real mqgate --
    with open(K8S) as f:
        docs = list(yaml.safe_load_all(f))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    kc = next(c for c in pod["containers"] if c["name"] == "mqgate")
    img = runtime_stage()
    sc = kc.get("securityContext") or {}
    check(img["user"] is not None and re.fullmatch(r"\d+(:\d+)?", img["user"]) is not None,
          "Dockerfile: a numeric USER (%s), so that runAsNonRoot can be checked" % img["user"])
    uid = int((img["user"] or "0").split(":")[0])
    check(uid != 0 and sc.get("runAsUser") == uid and sc.get("runAsNonRoot") is True,
          "k8s: runAsUser %s = the image's USER, runAsNonRoot" % sc.get("runAsUser"))
    kenv = {e["name"]: e["value"] for e in kc["env"]}
    eff = dict(img["env"], **kenv)  # what mqgate sees in the pod
    kports = {p["name"]: p["containerPort"] for p in kc["ports"]}
    listen_port = int(eff["MQGATE_LISTEN"].rsplit(":", 1)[1])
    check(kports.get("mqtts") == listen_port and listen_port in img["expose"],
          "k8s: containerPort mqtts %s = mqgate's listen port = the image's EXPOSE" %
          kports.get("mqtts"))
    metrics_addr = eff.get("MQGATE_METRICS", "")
    check(metrics_addr.startswith("0.0.0.0:") and
          kports.get("metrics") == int(metrics_addr.rsplit(":", 1)[1]),
          "k8s: containerPort metrics = MQGATE_METRICS %s, reachable by the kubelet" %
          metrics_addr)
    for probe in ("readinessProbe", "livenessProbe"):
        get = kc[probe]["httpGet"]
        status, _ = http_get(mport, get["path"])
        check(get["port"] in kports and status == 200,
              "k8s %s: GET %s on port %s answers 200 from mqgate" %
              (probe, get["path"], get["port"]))
    drain = seconds(eff.get("MQGATE_DRAIN_TIMEOUT", "10s"))
    check(drain < pod["terminationGracePeriodSeconds"],
          "k8s: drain timeout %ss below terminationGracePeriodSeconds %s" %
          (drain, pod["terminationGracePeriodSeconds"]))
    svc = next(d for d in docs if d["kind"] == "Service")
    check(all(p["targetPort"] in kports for p in svc["spec"]["ports"]),
          "k8s: the Service's targetPorts are the container's named ports")
    known = set(re.findall(r"env (MQGATE_[A-Z_]+)",
                           subprocess.run([MQGATE, "--help"], capture_output=True,
                                          text=True).stdout))
    check(set(kenv) <= known, "k8s: every variable is one of mqgate's (%s)" %
          ", ".join(sorted(set(kenv) - known)))
    # The pod's values through mqgate's own parser: only the files differ.
    k8s_env = dict(os.environ, **eff)
    k8s_env.update(MQGATE_CERT=os.path.join(pki, "server.crt"),
                   MQGATE_KEY=os.path.join(pki, "server.key"), MQGATE_CONFIG=INI)
    r = subprocess.run([MQGATE, "--check-config"], capture_output=True, text=True,
                       env=k8s_env, timeout=30)
    check(r.returncode == 0, "k8s: mqgate --check-config accepts the pod's settings (%s)" %
          (r.stdout + r.stderr).strip()[-200:])

    p.terminate()
    check(p.wait(15) == 0, "mqgate (run by the entrypoint) exits 0 on SIGTERM")

    # --- docker/compose.yaml through a real Compose parser -------------------
    if shutil.which("docker-compose") is None:
        check(False, "docker-compose (Debian's, scripts/deps.sh) checks docker/compose.yaml")
    else:
        rc, out = compose_config(COMPOSE)
        check(rc == 0, "docker-compose config: docker/compose.yaml is valid%s" %
              ("" if rc == 0 else " (%s)" % out.strip()[-300:]))
        cfg = yaml.safe_load(out) if rc == 0 else {"services": {}}
        svcs = cfg["services"]
        check({"redis", "mosquitto", "pki", "mqgate", "device"} <= set(svcs),
              "compose: redis, mosquitto, pki, mqgate and a device")
        build = svcs.get("pki", {}).get("build", {})
        check(os.path.realpath(build.get("context", "")) == ROOT and
              os.path.exists(os.path.join(ROOT, build.get("dockerfile", "-"))),
              "compose: the image is built from the repository root with docker/Dockerfile")
        menv = svcs.get("mqgate", {}).get("environment", {})
        check(set(menv) <= known and menv.get("MQGATE_AUTH") == "registry",
              "compose: mqgate's variables are mqgate's, registry mode")
        dep_on = svcs.get("mqgate", {}).get("depends_on", {})
        check(dep_on.get("pki", {}).get("condition") == "service_completed_successfully",
              "compose: mqgate starts once the PKI is made and registered")
        # The parser does refuse what is wrong (the check above can fail).
        bad = wd.file("compose-bad.yaml")
        with open(COMPOSE) as f, open(bad, "w") as g:
            g.write(f.read().replace("depends_on:", "depends_onn:", 1))
        rc, out = compose_config(bad)
        check(rc != 0 and "depends_onn" in out, "docker-compose config refuses a misspelt key")
finally:
    wd.cleanup()
finish()
