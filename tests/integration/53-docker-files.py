"""53: the container's entrypoint and shipped config, tested outside a
container (no Docker engine here) the way docker/compose.yaml uses them:
demo-pki with registration, mqgate started by the entrypoint from MQGATE_
variables and /etc/mqgate/mqgate.ini's stand-in, its healthcheck, the
config check, and the command dispatch."""
import os
import subprocess

from harness import (BUILD, Mosquitto, Redis, Workdir, check, finish, free_port, wait_for,
                     wait_port)

HERE = os.path.dirname(os.path.abspath(__file__))
ENTRY = os.path.join(HERE, "..", "..", "docker", "entrypoint.sh")
INI = os.path.join(HERE, "..", "..", "docker", "mqgate.ini")

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
    p.terminate()
    check(p.wait(15) == 0, "mqgate (run by the entrypoint) exits 0 on SIGTERM")
finally:
    wd.cleanup()
finish()
