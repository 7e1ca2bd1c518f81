"""13: the proxy's calls of the registry library, made directly with
redis-cli: mqgate_lookup (read-only) gives each verdict (ok, unknown_ca,
ca_inactive, unregistered, rate_limited, cert with each status, revoked and
deleted tombstones, identity_conflict, auto) and writes nothing;
mqgate_auto_register registers unknown certificates of active CAs in
automatic mode (active/auto, listed by mqgatectl) and checks everything
again; mqgate_touch keeps the newest associated clients, each bounded."""
import json
import re
import subprocess
import time

from harness import (CERTGEN, Pki, Redis, Resp, Workdir, check, ctl, finish, run)
from harness_registry import (Layout, cert_facts)

P = "t13"
wd = Workdir()


try:
    pki = Pki(wd)
    redis = Redis(wd)

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    def fcall(fn, *args, ro=False):
        """FCALL through redis-cli; an array reply as a list of str, an error
        as 'ERROR <text>', anything else as its text."""
        r = subprocess.run(["redis-cli", "-p", str(redis.port), "--no-raw",
                            "FCALL_RO" if ro else "FCALL", fn,
                            "0", P] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        out = r.stdout.strip()
        if out.startswith("(error)"):
            return "ERROR " + out[len("(error) "):]
        if out.startswith("(integer) "):
            return out[len("(integer) "):]
        items = re.findall(r'^\s*\d+\) "(.*)"$', out, re.M)
        if items or out == "(empty array)":
            return items
        return out.strip('"')

    def lookup(f, ca_id):
        return fcall("mqgate_lookup", f["fp"], ca_id, f["cn"], ro=True)

    def auto_register(f, ca_id):
        return fcall("mqgate_auto_register", f["fp"], ca_id, f["serial"], f["cn"], f["ou"],
                     f["not_before"], f["not_after"], "auto")

    def register(path, ca_id, *extra):
        r = c("--json", "cert", "register", path, "--ca", ca_id, *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["results"][0]["fp"]

    def snapshot():
        return sorted(k for k in redis.cli("KEYS", P + ":*").split("\n") if k)

    r = c("--json", "ca", "register", pki.ca_cert)
    ca_id = json.loads(r.stdout)["id"]
    off_ca = pki.other_ca("Off CA")
    r = c("--json", "ca", "register", off_ca[0], "--inactive")
    off_id = json.loads(r.stdout)["id"]

    devs = {n: cert_facts(pki.device(n, extra=["--ou", "plant-1"])[0])
            for n in ("active", "reginact", "inact", "revoked", "unknown", "auto")}
    off_dev = cert_facts(pki.device("off-dev", issuer=off_ca)[0])
    fp_active = register(pki.wd.file("active.crt"), ca_id, "--client-id", "sensor-1")
    check(fp_active == devs["active"]["fp"], "test's fingerprint matches mqgatectl's")
    register(pki.wd.file("reginact.crt"), ca_id, "--inactive")
    register(pki.wd.file("inact.crt"), ca_id)
    c("cert", "deactivate", devs["inact"]["fp"])
    register(pki.wd.file("revoked.crt"), ca_id)
    c("cert", "revoke", devs["revoked"]["fp"])

    # --- verdicts (manual mode) -----------------------------------------
    check(lookup(devs["active"], ca_id) == ["ok", "active", "sensor-1"],
          "registered ACTIVE: ok, active, its client ID")
    check(lookup(devs["reginact"], ca_id) == ["cert", "registered_inactive", ""],
          "REGISTERED_INACTIVE: cert, registered_inactive")
    check(lookup(devs["inact"], ca_id) == ["cert", "inactive", ""],
          "INACTIVE: cert, inactive")
    check(lookup(devs["revoked"], ca_id) == ["cert", "revoked", ""],
          "REVOKED: cert, revoked")
    check(lookup(devs["active"], "ab" * 32) == ["unknown_ca", "", ""],
          "CA not registered: unknown_ca")
    check(lookup(devs["active"], "") == ["unknown_ca", "", ""], "no CA: unknown_ca")
    check(lookup(off_dev, off_id) == ["ca_inactive", "", ""], "CA inactive: ca_inactive")
    before = snapshot()
    check(lookup(devs["unknown"], ca_id) == ["unregistered", "", ""],
          "unknown certificate in manual mode: unregistered")
    check(snapshot() == before, "manual mode: the lookup wrote nothing")
    check(fcall("mqgate_lookup", "xyz", ca_id, "a", ro=True).startswith(
        "ERROR INPUT"), "malformed fingerprint: INPUT error")
    check(auto_register(devs["unknown"], ca_id) == ["unregistered", "", ""] and
          snapshot() == before, "manual mode: automatic registration refused, nothing written")

    # the CA the certificate was registered under counts too
    inter = (wd.file("inter.crt"), wd.file("inter.key"))
    run([CERTGEN, "ca", "--cn", "Plant Intermediate", "--issuer-cert", pki.ca_cert,
         "--issuer-key", pki.ca_key, "--out-cert", inter[0], "--out-key", inter[1]])
    r = c("--json", "ca", "register", inter[0])
    inter_id = json.loads(r.stdout)["id"]
    chained = cert_facts(pki.device("chained", issuer=inter)[0])
    register(pki.wd.file("chained.crt"), inter_id)
    check(lookup(chained, ca_id) == ["ok", "active", ""], "chain reaching the root: ok")
    c("ca", "deactivate", inter_id)
    check(lookup(chained, inter_id) == ["ca_inactive", "", ""],
          "its intermediate deactivated: ca_inactive")
    check(lookup(chained, ca_id)[0] == "ca_inactive",
          "its intermediate deactivated, chain reaching the root: still ca_inactive")

    # --- automatic registration -----------------------------------------
    check(c("settings", "set", "registration", "auto").returncode == 0, "registration auto")
    before = snapshot()
    check(lookup(off_dev, off_id) == ["ca_inactive", "", ""],
          "auto mode, inactive CA: ca_inactive")
    check(lookup(devs["auto"], "cd" * 32) == ["unknown_ca", "", ""],
          "auto mode, unknown CA: unknown_ca")
    check(snapshot() == before, "auto mode: nothing registered under a bad CA")
    check(lookup(devs["inact"], ca_id) == ["cert", "inactive", ""],
          "auto mode: a known INACTIVE certificate stays refused")

    a = devs["auto"]
    before = snapshot()
    check(lookup(a, ca_id) == ["auto", "", ""],
          "auto mode, unknown certificate: 'auto' (register after the handshake)")
    check(snapshot() == before, "auto mode: the lookup itself writes nothing")
    check(auto_register(a, ca_id) == ["ok", "registered", ""],
          "mqgate_auto_register: ok, registered (by this call)")
    r = c("--json", "cert", "show", a["fp"])
    rec = json.loads(r.stdout)["cert"] if r.returncode == 0 else {}
    check(rec.get("status") == "active" and rec.get("source") == "auto" and
          rec.get("ca") == ca_id and rec.get("cn") == "auto" and
          rec.get("ou") == "plant-1" and rec.get("serial") == a["serial"] and
          rec.get("not_after") == a["not_after"] and rec.get("client_id") == "",
          "auto-registered record: active, auto, its fields")
    log = Layout(redis, P).audit()
    check(log[-1]["actor"] == "auto" and log[-1]["action"] == "cert.register" and
          log[-1]["object"] == "cert:" + a["fp"], "audited as actor 'auto'")
    r = c("--json", "cert", "list", "--status", "active", "--ou", "plant-1")
    listed = {x["fp"]: x for x in json.loads(r.stdout)["certs"]}
    check(a["fp"] in listed and listed[a["fp"]]["source"] == "auto",
          "cert list shows the auto-registered certificate")
    r = c("cert", "list")
    check(any(line.startswith(a["fp"][:16]) and " auto " in line
              for line in r.stdout.split("\n")), "cert list table: source auto")
    reg_at = redis.cli("HGET", P + ":cert:" + a["fp"], "reg")
    rates = [k for k in snapshot() if ":rate:" in k]
    time.sleep(1.1)
    check(lookup(a, ca_id) == ["ok", "active", ""], "second lookup: ok")
    check(auto_register(a, ca_id) == ["ok", "active", ""],
          "a second automatic registration (another proxy's race): ok, active "
          "(registered already: the proxy neither counts nor logs it as its own)")
    check(redis.cli("HGET", P + ":cert:" + a["fp"], "reg") == reg_at and
          [k for k in snapshot() if ":rate:" in k and k not in rates] == [],
          "... and registers nothing again")
    c("cert", "deactivate", a["fp"])
    check(lookup(a, ca_id) == ["cert", "inactive", ""],
          "auto-registered then deactivated: cert, inactive")

    # rate limited: the counter of this second (and the next) is full
    now = int(redis.cli("TIME").split("\n")[0])
    for s in range(now, now + 5):
        redis.cli("SET", "%s:rate:%d" % (P, s), 15, "EX", 30)
    before = snapshot()
    check(lookup(devs["unknown"], ca_id) == ["rate_limited", "", ""],
          "auto mode over the rate limit: rate_limited")
    check(snapshot() == before, "rate_limited: nothing written")
    check(auto_register(devs["unknown"], ca_id) == ["rate_limited", "", ""] and
          snapshot() == before, "over the rate limit the registration is refused too")
    check(lookup(devs["active"], ca_id) == ["ok", "active", "sensor-1"],
          "over the rate limit a registered certificate still passes")
    for k in [k for k in snapshot() if ":rate:" in k]:
        redis.cli("DEL", k)

    # identities: a CN that is another certificate's registered client ID
    thief = cert_facts(pki.device("sensor-1")[0])
    before = snapshot()
    check(lookup(thief, ca_id) == ["identity_conflict", "", ""] and
          auto_register(thief, ca_id) == ["identity_conflict", "", ""] and
          snapshot() == before,
          "auto mode: a CN equal to another certificate's client ID is not registered")
    twin = cert_facts(pki.device("auto", extra=["--ou", "plant-2"])[0])
    check(lookup(twin, ca_id) == ["identity_conflict", "", ""],
          "auto mode: a second certificate with a registered certificate's CN neither")

    # tombstones: revoked then deleted stays refused; deleted does not come back
    c("cert", "revoke", devs["revoked"]["fp"])
    c("cert", "delete", devs["revoked"]["fp"])
    check(lookup(devs["revoked"], ca_id) == ["revoked", "revoked", ""] and
          auto_register(devs["revoked"], ca_id) == ["revoked", "revoked", ""],
          "auto mode: a revoked and deleted certificate stays refused (revoked)")
    c("cert", "delete", devs["inact"]["fp"])
    check(lookup(devs["inact"], ca_id) == ["deleted", "deleted", ""] and
          auto_register(devs["inact"], ca_id) == ["deleted", "deleted", ""],
          "auto mode: a deleted certificate does not register itself again")
    c("settings", "set", "registration", "manual")
    check(lookup(devs["revoked"], ca_id) == ["revoked", "revoked", ""],
          "manual mode: the tombstone answers too")
    c("settings", "set", "registration", "auto")

    # --- associated clients ---------------------------------------------
    conn = Resp(redis.port)
    t0 = 1800000000
    replies = conn.pipeline([("FCALL", "mqgate_touch", 0, P, fp_active, "client-%03d" % i,
                              t0 + i) for i in range(25)])
    check(replies == [1] * 25, "mqgate_touch answers 1")
    check(fcall("mqgate_touch", fp_active, "client-000", t0 + 200) == "1",
          "touch again (redis-cli)")
    lay = Layout(redis, P)
    seen = [k for k in lay.record(fp_active) if k.startswith("@")]
    check(len(seen) == 20, "the newest 20 associated clients kept (%d)" % len(seen))
    r = c("--json", "cert", "show", fp_active)
    cl = json.loads(r.stdout)["clients"]
    check(cl[0] == {"client_id": "client-000", "last_seen": t0 + 200} and
          cl[1] == {"client_id": "client-024", "last_seen": t0 + 24} and
          cl[-1]["client_id"] == "client-006" and len(cl) == 20,
          "cert show: associated clients, newest first, oldest dropped")
    r = c("cert", "show", fp_active)
    check("associated clients (20)" in r.stdout and "client-024" in r.stdout,
          "cert show table lists associated clients")
    # device-chosen IDs are bounded: 65,535 bytes become 128
    huge = "h" * 65535
    check(conn.call("FCALL", "mqgate_touch", 0, P, fp_active, huge, t0 + 300) == 1,
          "touch with a 65,535-byte client ID")
    kept = [k for k in lay.record(fp_active) if k.startswith("@h")]
    check(kept == ["@" + "h" * 125 + "..."], "... stored cut to 128 bytes, marked")
    utf = "\u00e9" * 100  # 200 bytes of 2-byte characters
    conn.call("FCALL", "mqgate_touch", 0, P, fp_active, utf, t0 + 301)
    kept = [k for k in lay.record(fp_active) if k.startswith("@\u00e9")]
    check(len(kept) == 1 and kept[0].encode().decode("utf-8") and
          len(kept[0].encode()) <= 129, "... cut at a character boundary")
    check(len([k for k in lay.record(fp_active) if k.startswith("@")]) == 20,
          "... and still 20 kept")
    check(fcall("mqgate_touch", "ef" * 32, "ghost", t0) == "0" and
          lay.record("ef" * 32) == {},
          "touch of an unknown certificate: 0, nothing kept")
    check(fcall("mqgate_touch", fp_active, "x", "soon").startswith("ERROR INPUT"),
          "touch with a bad time: INPUT error")
    c("cert", "deactivate", fp_active)
    c("cert", "delete", fp_active)
    check(lay.record(fp_active) == {} and lay.identity("sensor-1") is None,
          "delete removes the associated clients and the client ID")
    check(lookup(thief, ca_id) == ["auto", "", ""],
          "the freed identity may be taken by another certificate")
    conn.close()
finally:
    wd.cleanup()
finish()
