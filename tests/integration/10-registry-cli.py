"""10: mqgatectl against a real Redis: CA and client certificate
registration, every legal state transition and every illegal one with its
exit code and message, delete rules and tombstones, revoked is final, the
CA delete rule, unique identities, bad input files, Redis down, prefixes
kept apart, the library loaded on demand, settings, the audit log."""
import json
import subprocess

from harness import (Pki, Redis, Workdir, check, ctl, finish, free_port, wait_port)
from harness_registry import Layout

wd = Workdir()


def sh(r):
    return "rc=%d out=%r err=%r" % (r.returncode, r.stdout[-300:], r.stderr[-300:])


try:
    pki = Pki(wd)
    redis = Redis(wd)
    url = redis.url
    lay = Layout(redis, "t10")

    def c(*args, prefix="t10"):
        return ctl(url, *args, prefix=prefix)

    def cj(*args, prefix="t10"):
        r = c("--json", *args, prefix=prefix)
        return r, json.loads(r.stdout)

    # --- help and usage --------------------------------------------------
    r = ctl(None, "--help", prefix=None)
    check(r.returncode == 0 and "ca" in r.stdout and "exit codes" in r.stdout,
          "mqgatectl --help")
    for g in ("ca", "cert", "settings"):
        r = ctl(None, g, "--help", prefix=None)
        check(r.returncode == 0 and ("mqgatectl " + g) in r.stdout, "%s --help" % g)
    r = ctl(None, "cert", "list", "--help", prefix=None)
    check(r.returncode == 0 and "--expiring-within" in r.stdout, "cert list --help")
    r = ctl(None, "bogus", prefix=None)
    check(r.returncode == 2, "unknown group: exit 2 (%s)" % sh(r))
    r = c("cert", "list", "--no-such-option")
    check(r.returncode == 2 and "--no-such-option" in r.stderr, "unknown option: exit 2")

    # --- CA registration ---------------------------------------------------
    r, j = cj("ca", "register", pki.ca_cert)
    check(r.returncode == 0 and j["ok"] and j["status"] == "active" and
          len(j["id"]) == 64, "ca register: active (%s)" % sh(r))
    ca_id = j["id"]
    r = c("ca", "register", pki.ca_cert)
    check(r.returncode == 1 and "already registered" in r.stderr,
          "ca register twice: exit 1, RULE (%s)" % sh(r))
    dev0 = pki.device("dev-0000")
    r = c("ca", "register", dev0[0])
    check(r.returncode == 2 and "not a CA certificate" in r.stderr,
          "ca register of a device certificate: exit 2 (%s)" % sh(r))
    other_cert, other_key = pki.other_ca("Second CA")
    r, j = cj("ca", "register", other_cert, "--inactive")
    check(r.returncode == 0 and j["status"] == "inactive", "ca register --inactive")
    other_id = j["id"]
    check(redis.cli("HGET", "t10:ca:" + other_id, "status") == "inactive",
          "inactive CA stored as inactive")

    r, j = cj("ca", "list")
    check(r.returncode == 0 and j["total"] == 2 and
          {x["id"] for x in j["cas"]} == {ca_id, other_id}, "ca list --json")
    r = c("ca", "list")
    check(r.returncode == 0 and "Test Fleet CA" in r.stdout and "Second CA" in r.stdout,
          "ca list table")
    r, j = cj("ca", "show", ca_id[:12])
    check(r.returncode == 0 and j["id"] == ca_id and j["cn"] == "Test Fleet CA" and
          "BEGIN CERTIFICATE" in j["pem"] and "CN=Test Fleet CA" in j["subject"],
          "ca show by a 12-digit prefix")
    r = c("ca", "show", "0123456789abcdef")
    check(r.returncode == 2 and "no registered CA" in r.stderr, "ca show unknown: exit 2")
    r = c("ca", "show", "abc")
    check(r.returncode == 2, "ca show with a 3-digit id: exit 2")

    # CA transitions
    r = c("ca", "activate", ca_id)
    check(r.returncode == 1 and "already ACTIVE" in r.stderr, "ca activate active: exit 1")
    r = c("ca", "deactivate", other_id)
    check(r.returncode == 1 and "already INACTIVE" in r.stderr,
          "ca deactivate inactive: exit 1")
    r, j = cj("ca", "activate", other_id)
    check(r.returncode == 0 and j["status"] == "active", "ca activate inactive")
    r, j = cj("ca", "deactivate", other_id)
    check(r.returncode == 0 and j["status"] == "inactive", "ca deactivate active")

    # --- client certificate registration --------------------------------
    devs = {n: pki.device(n, extra=["--ou", "fleet"]) for n in
            ("dev-a", "dev-b", "dev-c", "dev-d", "dev-e")}

    r, j = cj("cert", "register", devs["dev-a"][0], "--ca", ca_id[:8],
              "--client-id", "sensor-a")
    res = j["results"][0] if j.get("results") else {}
    check(r.returncode == 0 and res.get("ok") and res.get("status") == "active",
          "cert register: active (%s)" % sh(r))
    fp_a = res.get("fp", "")
    rec = lay.record(fp_a)
    check(rec.get("status") == "active" and rec.get("cid") == "sensor-a" and
          rec.get("src") == "manual" and rec.get("ca") == ca_id and
          rec.get("cn") == "dev-a" and rec.get("ou") == "fleet" and
          "pem" not in rec and rec.get("reg") == rec.get("chg"),
          "record fields as schema.h, no PEM kept (%s)" % rec)
    check(lay.identity("sensor-a") == fp_a and lay.identity("dev-a") is None,
          "identity index: the registered client ID, not the CN")
    check(lay.index("ix:ca:" + ca_id) == [(int(rec["na"]), fp_a)] and
          lay.fps("ix:ou:fleet") == [fp_a] and not lay.fps("ix:st:active"),
          "ordered indexes by CA and OU (by not_after); active ones in no status index")
    check(lay.by_name("cx", "dev-a") == [fp_a] and lay.by_name("sx", rec["serial"]) == [fp_a]
          and fp_a in lay.prefix_index(fp_a), "CN, serial and prefix buckets")
    check(lay.stats() == {"certs": 1, "active": 1}, "counters (%s)" % lay.stats())

    r, j = cj("cert", "register", devs["dev-b"][0], "--ca", ca_id, "--inactive")
    res = j["results"][0]
    check(r.returncode == 0 and res["status"] == "registered_inactive",
          "cert register --inactive: registered_inactive")
    fp_b = res["fp"]

    r = c("cert", "register", devs["dev-a"][0], "--ca", ca_id)
    check(r.returncode == 1 and "already registered" in r.stderr,
          "registering a certificate twice: exit 1 (%s)" % sh(r))
    r = c("cert", "register", devs["dev-c"][0], "--ca", ca_id, "--client-id", "sensor-a")
    check(r.returncode == 1 and "identity 'sensor-a' (client ID) already belongs" in r.stderr,
          "duplicate registered client ID: exit 1, RULE (%s)" % sh(r))
    check(lay.by_name("cx", "dev-c") == [] and lay.stats()["certs"] == 2,
          "refused duplicate client ID left no record")

    # bad inputs: wrong CA, bad PEM, CA certificate as device certificate
    stranger = pki.device("stranger", issuer=(other_cert, other_key))
    r = c("cert", "register", stranger[0], "--ca", ca_id)
    check(r.returncode == 2 and "not signed by CA" in r.stderr,
          "certificate of another CA: exit 2 (%s)" % sh(r))
    bad = wd.file("bad.pem")
    with open(bad, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    r = c("cert", "register", bad, "--ca", ca_id)
    check(r.returncode == 2 and "bad.pem" in r.stderr, "bad PEM: exit 2 (%s)" % sh(r))
    r = c("cert", "register", wd.file("missing.pem"), "--ca", ca_id)
    check(r.returncode == 2, "missing file: exit 2")
    r = c("cert", "register", pki.ca_cert, "--ca", ca_id)
    check(r.returncode == 2 and "CA certificate" in r.stderr,
          "CA certificate as device certificate: exit 2 (%s)" % sh(r))
    r = c("cert", "register", devs["dev-c"][0], "--ca", "ab" * 32)
    check(r.returncode == 2 and "not registered" in r.stderr,
          "unregistered CA: exit 2 (%s)" % sh(r))
    r = c("cert", "register", devs["dev-c"][0])
    check(r.returncode == 2 and "--ca" in r.stderr, "missing --ca: exit 2")
    r = c("cert", "register", devs["dev-c"][0], devs["dev-d"][0], "--ca", ca_id,
          "--client-id", "x")
    check(r.returncode == 2, "--client-id with two files: exit 2")
    check(lay.stats()["certs"] == 2, "no record from any refused input")

    # several files, a result line each; one bad file does not stop the others
    r, j = cj("cert", "register", devs["dev-c"][0], bad, devs["dev-d"][0], "--ca", ca_id)
    oks = [x["ok"] for x in j["results"]]
    check(r.returncode == 2 and oks == [True, False, True] and j["registered"] == 2,
          "several files: per-file results, worst exit code (%s)" % sh(r))
    fp_c, fp_d = j["results"][0]["fp"], j["results"][2]["fp"]
    r = c("cert", "register", devs["dev-e"][0], "--ca", ca_id)
    check(r.returncode == 0 and r.stdout.count("registered") == 1 and "dev-e" in r.stdout,
          "human result line")
    fp_e = r.stdout.split()[2]

    # --- transitions ------------------------------------------------------
    def trans(cmd, fp, code, text, what):
        r = c("cert", cmd, fp)
        check(r.returncode == code and (text in (r.stdout + r.stderr)),
              "%s: exit %d, '%s' (%s)" % (what, code, text, sh(r)))

    # illegal from active
    trans("activate", fp_a, 1, "already ACTIVE", "activate ACTIVE")
    trans("delete", fp_a, 1, "an ACTIVE certificate cannot be deleted; deactivate or "
          "revoke it first", "delete ACTIVE")
    # registered_inactive
    trans("deactivate", fp_b, 1, "only an ACTIVE certificate can be deactivated",
          "deactivate REGISTERED_INACTIVE")
    trans("activate", fp_b, 0, "now active", "activate REGISTERED_INACTIVE -> ACTIVE")
    trans("deactivate", fp_b, 0, "now inactive", "deactivate ACTIVE -> INACTIVE")
    trans("deactivate", fp_b, 1, "only an ACTIVE certificate can be deactivated",
          "deactivate INACTIVE")
    trans("activate", fp_b, 0, "now active", "activate INACTIVE -> ACTIVE")
    trans("revoke", fp_b, 0, "now revoked", "revoke ACTIVE -> REVOKED")
    trans("activate", fp_b, 1, "REVOKED certificate is final", "activate REVOKED")
    trans("deactivate", fp_b, 1, "REVOKED certificate is final", "deactivate REVOKED")
    trans("revoke", fp_b, 1, "already REVOKED", "revoke REVOKED")
    trans("deactivate", fp_c, 0, "now inactive", "deactivate ACTIVE (c)")
    trans("revoke", fp_c, 0, "now revoked", "revoke INACTIVE -> REVOKED")
    fp_f_file = pki.device("dev-f")[0]
    r, j = cj("cert", "register", fp_f_file, "--ca", ca_id, "--inactive")
    fp_f = j["results"][0]["fp"]
    trans("revoke", fp_f, 0, "now revoked", "revoke REGISTERED_INACTIVE -> REVOKED")
    r = c("cert", "activate", "cd" * 32)
    check(r.returncode == 2 and "not registered" in r.stderr, "activate unknown: exit 2")
    r = c("cert", "bogus", fp_a)
    check(r.returncode == 2, "unknown cert command: exit 2")
    r, j = cj("cert", "show", fp_b)
    check(j["cert"]["status"] == "revoked" and
          j["cert"]["status_changed_at"] >= j["cert"]["registered_at"],
          "status_changed_at kept")
    check(lay.fps("ix:st:revoked") == sorted([fp_b, fp_c, fp_f],
                                             key=lambda f: lay.record(f)["na"] + f) and
          lay.fps("ix:st:inactive") == [] and lay.fps("ix:st:registered_inactive") == [],
          "status index follows the transitions")
    st = lay.stats()
    check(st.get("revoked") == 3 and st.get("active") == 3 and st.get("inactive") == 0 and
          st.get("certs") == 6, "status counters follow the transitions (%s)" % st)

    # --- delete rules -----------------------------------------------------
    trans("delete", fp_b, 0, "deleted", "delete REVOKED")
    trans("deactivate", fp_d, 0, "now inactive", "deactivate (d)")
    trans("delete", fp_d, 0, "deleted", "delete INACTIVE")
    r, j = cj("cert", "register", pki.device("dev-g")[0], "--ca", ca_id, "--inactive",
              "--client-id", "sensor-g")
    fp_g = j["results"][0]["fp"]
    trans("delete", fp_g, 0, "deleted", "delete REGISTERED_INACTIVE")
    check(lay.identity("sensor-g") is None, "delete frees the client ID")
    leftovers = [k for fp in (fp_b, fp_d, fp_g) for k in lay.holders(fp)]
    check(not leftovers, "deleted certificates are in no index (%s)" % leftovers)
    check(lay.tombstone(fp_b).startswith("revoked ") and
          lay.tombstone(fp_d).startswith("deleted ") and
          lay.tombstone(fp_g).startswith("deleted "), "each deletion leaves a tombstone")
    trans("delete", fp_b, 2, "revoked and deleted", "delete twice: NOTFOUND")
    r, j = cj("cert", "show", fp_b[:12])
    check(r.returncode == 2 and j["tombstone"]["status"] == "revoked" and
          j["tombstone"]["refused_forever"] and "revoked at" in r.stderr,
          "cert show of a revoked, deleted certificate says so (%s)" % sh(r))
    r = c("cert", "register", devs["dev-b"][0], "--ca", ca_id)
    check(r.returncode == 1 and "revocation is final" in r.stderr,
          "a revoked, deleted certificate cannot be registered again (%s)" % sh(r))
    r, j = cj("cert", "show", fp_d)
    check(r.returncode == 2 and j["tombstone"]["status"] == "inactive" and
          not j["tombstone"]["refused_forever"], "cert show of a deleted certificate")
    r = c("cert", "register", devs["dev-d"][0], "--ca", ca_id, "--inactive")
    check(r.returncode == 0 and lay.tombstone(fp_d) is None,
          "an operator may register a deleted (not revoked) certificate again")
    # the freed client ID can be registered again
    r = c("cert", "register", pki.device("dev-h")[0], "--ca", ca_id, "--client-id",
          "sensor-g")
    check(r.returncode == 0, "a freed client ID is free (%s)" % sh(r))

    # --- CA delete rule -----------------------------------------------------
    r = c("ca", "delete", ca_id)
    check(r.returncode == 1 and "a CA with ACTIVE client certificates cannot be deleted"
          in r.stderr, "CA delete with ACTIVE certificates: exit 1 (%s)" % sh(r))
    r, j = cj("ca", "delete", ca_id)
    check(r.returncode == 1 and j["ok"] is False and j["error"] == "rule",
          "JSON failure document")
    r = c("ca", "delete", other_id)
    check(r.returncode == 0, "CA without certificates deleted")
    check(redis.cli("SISMEMBER", "t10:cas", other_id) == "0" and
          redis.cli("EXISTS", "t10:ca:" + other_id) == "0", "CA delete removes the CA")
    r, j = cj("ca", "list")
    check(r.returncode == 0 and [(x["certs"], x["active_certs"]) for x in j["cas"]] == [(6, 3)],
          "ca list counts from the counters (%s)" % j)
    # a certificate under a deleted CA cannot become active
    tmp_ca = pki.other_ca("Third CA")
    r, j = cj("ca", "register", tmp_ca[0])
    third = j["id"]
    r, j = cj("cert", "register", pki.device("dev-t", issuer=tmp_ca)[0], "--ca", third,
              "--inactive")
    fp_t = j["results"][0]["fp"]
    r = c("ca", "delete", third)
    check(r.returncode == 0, "CA with only inactive certificates deleted")
    trans("activate", fp_t, 1, "no longer registered", "activate under a deleted CA")

    # --- settings ---------------------------------------------------------
    r, j = cj("settings", "show")
    check(j == {"registration": "manual", "tls_min": "1.0", "tls_max": "1.3",
                "client_id_mode": "default"}, "settings defaults (%s)" % j)
    for k, v, stored in (("registration", "automatic", "auto"),
                         ("registration", "manual", "manual"),
                         ("client-id-mode", "strict", "strict"),
                         ("tls-max", "1.2", "1.2"), ("tls-min", "1.1", "1.1")):
        r = c("settings", "set", k, v)
        check(r.returncode == 0 and redis.cli("HGET", "t10:settings", k.replace("-", "_"))
              == stored, "settings set %s %s" % (k, v))
    r = c("settings", "set", "tls-min", "1.3")
    check(r.returncode == 1 and "tls_min <= tls_max" in r.stderr,
          "tls-min above the stored tls-max: exit 1 (%s)" % sh(r))
    r = c("settings", "set", "tls-max", "1.0")
    check(r.returncode == 1, "tls-max below the stored tls-min: exit 1")
    for k, v in (("tls-min", "1.4"), ("tls-max", "TLSv1.2"), ("registration", "yes"),
                 ("client-id-mode", "lax"), ("auth", "mtls")):
        r = c("settings", "set", k, v)
        check(r.returncode == 2, "settings set %s %s: exit 2" % (k, v))
    r = c("settings", "show")
    check("tls-min         1.1" in r.stdout and "tls-max         1.2" in r.stdout,
          "settings show table")

    # --- prefixes do not see each other ------------------------------------
    r, j = cj("ca", "list", prefix="other")
    check(j["total"] == 0, "another prefix sees no CA")
    r, j = cj("cert", "list", prefix="other")
    check(j["total"] == 0, "another prefix sees no certificate")
    r = c("ca", "register", pki.ca_cert, prefix="other")
    check(r.returncode == 0, "the same CA registers under another prefix")
    r = c("cert", "register", devs["dev-a"][0], "--ca", ca_id, "--client-id", "sensor-a",
          prefix="other")
    check(r.returncode == 0, "same certificate and client ID under another prefix")
    r = c("cert", "deactivate", fp_a, prefix="other")
    check(r.returncode == 0 and lay.record(fp_a)["status"] == "active",
          "a change under one prefix leaves the other alone")
    check(all(k.startswith("other:") or k.startswith("t10:")
              for k in redis.cli("KEYS", "*").split("\n")), "every key under a prefix")
    env = {"MQGATE_REDIS": url, "MQGATE_REDIS_PREFIX": "other"}
    r = ctl(None, "--json", "cert", "list", prefix=None, env=env)
    check(r.returncode == 0 and json.loads(r.stdout)["total"] == 1,
          "MQGATE_REDIS and MQGATE_REDIS_PREFIX")

    # --- the library is loaded on demand -------------------------------------
    check(redis.cli("FUNCTION", "FLUSH") == "OK", "FUNCTION FLUSH")
    r = c("cert", "deactivate", fp_e)
    check(r.returncode == 0, "first change after FUNCTION FLUSH works (%s)" % sh(r))
    check("mqgate_v2" in redis.cli("FUNCTION", "LIST", "LIBRARYNAME", "mqgate_v2"),
          "library mqgate_v2 loaded again")

    # --- the audit log ---------------------------------------------------------
    log = lay.audit()
    actors = {e["actor"] for e in log}
    check(len(actors) == 1 and actors.pop().startswith("mqgatectl@"),
          "every change audited as mqgatectl@host")
    acts = [(e["action"], e["object"], e["before"], e["after"]) for e in log]
    check(("cert.revoke", "cert:" + fp_b, "active", "revoked") in acts and
          ("cert.delete", "cert:" + fp_b, "revoked", "deleted") in acts and
          ("ca.register", "ca:" + ca_id, "", "active") in acts and
          ("settings.set", "settings:tls_max", "1.3", "1.2") in acts and
          ("cert.register", "cert:" + fp_a, "", "active") in acts,
          "audit entries: action, object, before, after")
    n_before = len(log)
    c("cert", "activate", fp_a)  # refused (already active)
    check(len(lay.audit()) == n_before, "a refused change writes no audit entry")

    # --- URLs and Redis down ---------------------------------------------------
    r = ctl("http://127.0.0.1:1/0", "ca", "list")
    check(r.returncode == 2 and "bad Redis URL" in r.stderr, "bad URL scheme: exit 2")
    r = ctl("redis://127.0.0.1:99999/0", "ca", "list")
    check(r.returncode == 2, "bad port: exit 2")
    r = ctl("redis://127.0.0.1:%d" % redis.port, "--json", "ca", "list", prefix="t10")
    check(r.returncode == 0 and json.loads(r.stdout)["total"] == 1,
          "URL without a database: db 0")
    r = ctl("redis://127.0.0.1:%d/3" % redis.port, "--json", "ca", "list", prefix="t10")
    check(r.returncode == 0 and json.loads(r.stdout)["total"] == 0,
          "URL with database 3 reads db 3")
    r = ctl(url, "ca", "list", prefix="has space")
    check(r.returncode == 2, "bad prefix: exit 2")

    redis.stop()
    for args in (("ca", "list"), ("cert", "activate", fp_a),
                 ("cert", "register", devs["dev-a"][0], "--ca", ca_id),
                 ("settings", "show")):
        r = c(*args)
        check(r.returncode == 3 and "Redis" in r.stderr,
              "Redis down: %s exits 3 (%s)" % (" ".join(args[:2]), sh(r)))
    r = c("--json", "ca", "list")
    check(r.returncode == 3 and json.loads(r.stdout)["error"] == "redis",
          "Redis down: JSON failure document")

    # IPv6 literal in the URL
    v6port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(v6port), "--bind", "::1",
                          "--save", "", "--appendonly", "no", "--dir", wd.path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd.procs.append(p)
    wait_port(v6port, host="::1")
    r = ctl("redis://[::1]:%d/0" % v6port, "--json", "settings", "show")
    check(r.returncode == 0 and json.loads(r.stdout)["registration"] == "manual",
          "redis://[::1]:port/0 (%s)" % sh(r))
finally:
    wd.cleanup()
finish()
