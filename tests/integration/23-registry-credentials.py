"""23: Redis with credentials (issue 12, point 8): an ACL user and
password in the URL, from a password file or from $MQGATE_REDIS_PASSWORD
(never on the command line, so never in ps), for mqgate and mqgatectl;
wrong credentials are a clear error (mqgatectl exit 3, class redis; mqgate
refuses with registry_unavailable and says why)."""
import json
import os
import subprocess

from harness import (MQGATECTL, Admin, Mosquitto, Mqgate, Pki, Redis, Workdir, check,
                     client_context, finish, handshake_error, wait_for)

P = "t23"
wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd, extra=["--requirepass", "root-secret"], password="root-secret")
    check(redis.cli("ACL", "SETUSER", "fleet", "on", ">fleet-secret", "~t23:*", "&t23:*",
                    "+@all") == "OK", "ACL user 'fleet' limited to the t23 prefix")
    broker = Mosquitto(wd)
    pwfile = wd.file("redis-password")
    with open(pwfile, "w") as f:
        f.write("fleet-secret\n")
    badfile = wd.file("bad-password")
    with open(badfile, "w") as f:
        f.write("not-it\n")
    # redis-cli's convention: "user:password@", ":password@", "password@";
    # "user:@" names the user and leaves the password to the file.
    url = "redis://fleet:@127.0.0.1:%d/0" % redis.port

    def ctl(*args, env=None, url=url):
        e = {k: v for k, v in os.environ.items() if not k.startswith("MQGATE_REDIS")}
        e.update(env or {})
        return subprocess.run([MQGATECTL, "--redis", url, "--redis-prefix", P] + list(args),
                              capture_output=True, text=True, env=e, timeout=30)

    # --- mqgatectl --------------------------------------------------------------
    r = ctl("--redis-password-file", pwfile, "--json", "ca", "register", pki.ca_cert)
    check(r.returncode == 0, "mqgatectl with an ACL user and a password file (%s)" %
          r.stderr.strip())
    ca_id = json.loads(r.stdout)["id"]
    r = ctl("ca", "list", env={"MQGATE_REDIS_PASSWORD": "fleet-secret"})
    check(r.returncode == 0 and "Test Fleet CA" in r.stdout, "... the password in the environment")
    r = ctl("ca", "list", url="redis://fleet:fleet-secret@127.0.0.1:%d/0" % redis.port)
    check(r.returncode == 0, "... the password in the URL")
    r = ctl("ca", "list", url="redis://127.0.0.1:%d/0" % redis.port,
            env={"MQGATE_REDIS_PASSWORD": "root-secret"})
    check(r.returncode == 0, "... the default user's password (requirepass)")
    r = ctl("--json", "--redis-password-file", badfile, "ca", "list")
    check(r.returncode == 3 and "refused the credentials" in r.stderr and
          "WRONGPASS" in r.stderr and json.loads(r.stdout)["error"] == "redis",
          "wrong password: exit 3, class redis, says so (%s)" % r.stderr.strip())
    r = ctl("ca", "list")
    # Redis answers NOAUTH to the first command (or, were an empty password
    # sent, refuses it); "Redis" alone would take "cannot reach Redis" too.
    check(r.returncode == 3 and ("NOAUTH" in r.stderr or "refused the credentials" in r.stderr),
          "no password: exit 3 (%s)" % r.stderr.strip())
    r = ctl("--redis-password-file", wd.file("missing"), "ca", "list")
    check(r.returncode == 2 and "password file" in r.stderr,
          "a missing password file: exit 2 (%s)" % r.stderr.strip())
    r = ctl("ca", "list", url="redis://fleet:bad%zzpw@127.0.0.1:1/0")
    check(r.returncode == 2, "a bad %-escape in the URL: exit 2")
    dev = pki.device("dev-1")
    r = ctl("--redis-password-file", pwfile, "cert", "register", dev[0], "--ca", ca_id)
    check(r.returncode == 0, "device registered through the ACL user")
    # The URL's database with a password: mqgatectl writes where the proxies read.
    r = ctl("--redis-password-file", pwfile, "ca", "register", pki.ca_cert,
            url="redis://fleet:@127.0.0.1:%d/3" % redis.port)
    check(r.returncode == 0 and redis.cli("-n", "3", "DBSIZE") not in ("", "0"),
          "a password and /3: the CA is written to database 3 (%s keys there)" %
          redis.cli("-n", "3", "DBSIZE"))

    # --- mqgate-admin: the URL's password is never printed ---------------------------
    adm = Admin(wd, "redis://fleet:fleet-secret@127.0.0.1:%d/0" % redis.port, prefix=P,
                plain=True)
    check(wait_for(lambda: "console and API on" in adm.text()) and
          "fleet-secret" not in adm.text() and
          "Redis 127.0.0.1:%d db 0" % redis.port in adm.text(),
          "mqgate-admin names its Redis without the URL's password")
    adm.proc.terminate()
    adm.proc.wait(10)

    # --- mqgate -------------------------------------------------------------------
    args = ["--auth", "registry", "--redis", url, "--redis-prefix", P]
    gate = Mqgate(wd, pki, broker.port, args + ["--redis-password-file", pwfile])
    check(wait_for(lambda: "serving: every worker is ready" in gate.text()),
          "mqgate reaches Redis with the ACL user and the password file")
    ctx = client_context(dev[0], dev[1], pki.ca_cert)
    check(handshake_error(gate.port, ctx) == "", "a registered device connects")
    cmdline = open("/proc/%d/cmdline" % gate.proc.pid, "rb").read()
    check(b"fleet-secret" not in cmdline, "the password is not on mqgate's command line")
    gate.stop()

    env_gate = Mqgate(wd, pki, broker.port, args, env={"MQGATE_REDIS_PASSWORD": "fleet-secret"})
    check(wait_for(lambda: "serving: every worker is ready" in env_gate.text()),
          "mqgate with $MQGATE_REDIS_PASSWORD")
    env_gate.stop()

    bad = Mqgate(wd, pki, broker.port, args + ["--redis-password-file", badfile])
    check(wait_for(lambda: "refused the credentials" in bad.text()),
          "wrong password: mqgate says Redis refused the credentials")
    got = handshake_error(bad.port, ctx)
    check(got == "internal error",
          "and refuses devices as registry_unavailable (got %s)" % got)
    check(wait_for(lambda: "reason=registry_unavailable" in bad.text()), "logged as such")
    check(bad.text().count("refused the credentials") <= 2,
          "said once per worker, not once per retry")
    check(bad.proc.poll() is None, "and keeps running (the credentials may be fixed)")
    bad.stop()
finally:
    wd.cleanup()
finish()
