"""12: the cluster-wide registration rate limit (15 a second, manual and
automatic together) with no partial record on refusal, and the events every
change publishes on P:events, in the exact format of policy/schema.h."""
import hashlib
import json
import os
import subprocess
import time

from harness import (CERTGEN, MQGATECTL, Pki, Redis, Resp, Workdir, check, ctl, finish,
                     in_one_second, run)
from harness_registry import Layout

RATE = 15
wd = Workdir()


def fake_cert(i):
    """Arguments of a certificate for direct FCALLs (the library checks
    their form only)."""
    fp = hashlib.sha256(b"fake-%d-%f" % (i, time.time())).hexdigest()
    return fp, "%02X" % (i + 1), "fake-%d" % i, "lab"


try:
    pki = Pki(wd)
    redis = Redis(wd)
    conn = Resp(redis.port)

    def c(prefix, *args):
        return ctl(redis.url, *args, prefix=prefix)

    def keys(prefix):
        return sorted(k for k in redis.cli("KEYS", prefix + ":*").split("\n") if k)

    SIZE = {"hash": "HLEN", "set": "SCARD", "zset": "ZCARD", "string": "STRLEN",
            "stream": "XLEN"}

    def state(prefix):
        """Every key but the rate counters, with its size."""
        return {k: redis.cli(SIZE[redis.cli("TYPE", k)], k) for k in keys(prefix)
                if ":rate:" not in k}

    def rate_counters(prefix):
        return {k: int(redis.cli("GET", k)) for k in keys(prefix) if ":rate:" in k}

    pool = wd.file("pool")
    os.mkdir(pool)
    run([CERTGEN, "pool", "--issuer-cert", pki.ca_cert, "--issuer-key", pki.ca_key,
         "--count", "40", "--out-dir", pool])
    files = sorted(os.path.join(pool, f) for f in os.listdir(pool) if f.endswith(".crt"))

    # --- 20 registrations by one mqgatectl in one second -------------------
    # (Each attempt its own prefix and CA; again while the burst spanned
    # two of Redis's seconds.)
    def new_prefix(name):
        def prepare(attempt):
            prefix = "%s%d" % (name, attempt)
            r = c(prefix, "--json", "ca", "register", pki.ca_cert)
            return prefix, json.loads(r.stdout)["id"]
        return prepare

    def one_counter(out):
        return len(rate_counters(out[0])) == 1

    def burst_one_cli(x):
        prefix, ca_id = x
        r = c(prefix, "--json", "cert", "register", "--ca", ca_id, *files[:20])
        return prefix, r, json.loads(r.stdout), ca_id

    prefix, r, doc, ca_id = in_one_second(burst_one_cli, new_prefix("r"), one_counter)
    ok = [x for x in doc["results"] if x["ok"]]
    refused = [x for x in doc["results"] if not x["ok"]]
    check(len(ok) == RATE and len(refused) == 5,
          "20 registrations in one second: 15 succeed, 5 refused (%d/%d)" %
          (len(ok), len(refused)))
    check(r.returncode == 1 and all(x["error"] == "rate" and "rate limit" in x["message"]
                                    for x in refused), "refusals: exit 1, class rate")
    check(list(rate_counters(prefix).values()) == [RATE], "P:rate:<second> counted 15")
    st = state(prefix)
    lay = Layout(redis, prefix)
    check(sum(1 for k in st if ":cert:" in k) == RATE and
          lay.stats() == {"certs": RATE, "active": RATE} and
          st.get(prefix + ":ix:ca:" + ca_id) == str(RATE),
          "exactly 15 records, index entries and counts")
    refused_fps = {x["fp"] for x in refused}
    check(not any(lay.holders(fp) for fp in refused_fps),
          "no partial record of a refused registration")
    time.sleep(1.1)
    r = c(prefix, "cert", "register", "--ca", ca_id, files[19])
    check(r.returncode == 0, "the next second registers again")

    # --- 20 concurrent mqgatectl processes in one second -----------------
    def burst_concurrent(x):
        prefix, ca_id = x
        procs = [subprocess.Popen([MQGATECTL, "--redis", redis.url, "--redis-prefix",
                                   prefix, "cert", "register", "--ca", ca_id, f],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for f in files[20:40]]
        codes = [p.wait(60) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        return prefix, codes

    prefix, codes = in_one_second(burst_concurrent, new_prefix("p"), one_counter)
    check(sorted(codes) == [0] * RATE + [1] * 5,
          "20 concurrent clients in one second: 15 exit 0, 5 exit 1 (%s)" % codes)
    check(len([k for k in keys(prefix) if ":cert:" in k]) == RATE and
          Layout(redis, prefix).stats()["certs"] == RATE,
          "15 records from the concurrent burst")

    # --- automatic registration shares the limit --------------------------
    # Pipelined FCALLs: 8 manual registrations and 12 automatic ones (what
    # a proxy calls once a handshake completed), all in one second.
    def prepare_mixed(attempt):
        prefix, ca_id = new_prefix("a")(attempt)
        c(prefix, "settings", "set", "registration", "auto")
        cmds, fps = [], []
        for i in range(20):
            fp, serial, cn, ou = fake_cert(i)
            fps.append(fp)
            if i % 5 < 2:  # 8 manual
                cmds.append(("FCALL", "mqgate_cert_register", 0, prefix, fp, serial, cn, ou,
                             ca_id, 1700000000, 1900000000, "", 1, "manual", "", "t12"))
            else:
                cmds.append(("FCALL", "mqgate_auto_register", 0, prefix, fp, ca_id, serial,
                             cn, ou, 1700000000, 1900000000, "auto"))
        return prefix, ca_id, cmds, fps

    def burst_mixed(x):
        prefix, ca_id, cmds, fps = x
        return prefix, ca_id, fps, conn.pipeline(cmds)

    prefix, ca_id, fps, replies = in_one_second(burst_mixed, prepare_mixed, one_counter)
    manual = [x for i, x in enumerate(replies) if i % 5 < 2]
    auto = [x for i, x in enumerate(replies) if i % 5 >= 2]
    n_ok = sum(1 for x in manual if x == "active") + \
        sum(1 for x in auto if x == ["ok", "registered", ""])
    n_refused = sum(1 for x in manual if "RATE" in str(x)) + \
        sum(1 for x in auto if x == ["rate_limited", "", ""])
    check(n_ok == RATE and n_refused == 5,
          "manual and automatic share 15 a second (%d ok, %d refused)" %
          (n_ok, n_refused))
    refused_fps = [fps[i] for i, x in enumerate(replies)
                   if "RATE" in str(x) or x == ["rate_limited", "", ""]]
    st = state(prefix)
    lay = Layout(redis, prefix)
    check(lay.stats().get("certs") == RATE and
          len([k for k in st if ":cert:" in k]) == RATE and
          st.get(prefix + ":ix:ou:lab") == str(RATE) and
          not any(lay.holders(fp) for fp in refused_fps),
          "15 records, nothing of the refused ones")

    # A counter already full for this second and the next ones: refused
    # whatever the timing, nothing written.
    prefix = "full"
    r = c(prefix, "--json", "ca", "register", pki.ca_cert)
    ca_id = json.loads(r.stdout)["id"]
    now = int(redis.cli("TIME").split("\n")[0])
    for s in range(now, now + 5):
        redis.cli("SET", "full:rate:%d" % s, RATE, "EX", 30)
    before = state(prefix)
    r = c(prefix, "cert", "register", "--ca", ca_id, files[0])
    check(r.returncode == 1 and "refused: registration rate limit reached" in r.stderr,
          "full counter: cert register exits 1 naming the rate limit (%s)" %
          r.stderr.strip())
    check(state(prefix) == before, "full counter: the CLI wrote nothing")
    c(prefix, "settings", "set", "registration", "auto")
    before = state(prefix)
    fp, serial, cn, ou = fake_cert(99)
    rep = conn.call("FCALL_RO", "mqgate_lookup", 0, prefix, fp, ca_id, cn)
    check(rep == ["rate_limited", "", ""], "full counter: lookup says rate_limited")
    rep = conn.call("FCALL", "mqgate_auto_register", 0, prefix, fp, ca_id, serial, cn, ou,
                    1700000000, 1900000000, "auto")
    check(rep == ["rate_limited", "", ""], "full counter: automatic registration refused")
    check(state(prefix) == before and rate_counters(prefix)["full:rate:%d" % now] == RATE,
          "full counter: nothing written, the counter not raised")

    # --- events -----------------------------------------------------------
    P = "ev"
    sub = Resp(redis.port)
    check(sub.call("SUBSCRIBE", P + ":events") == ["subscribe", P + ":events", 1],
          "SUBSCRIBE ev:events")
    r = c(P, "--json", "ca", "register", pki.ca_cert)
    ca_id = json.loads(r.stdout)["id"]
    other = pki.other_ca("Event CA")
    r = c(P, "--json", "ca", "register", other[0], "--inactive")
    other_id = json.loads(r.stdout)["id"]
    c(P, "ca", "activate", other_id)
    c(P, "ca", "deactivate", other_id)
    r = c(P, "--json", "cert", "register", "--ca", ca_id, files[0])
    fp1 = json.loads(r.stdout)["results"][0]["fp"]
    r = c(P, "--json", "cert", "register", "--ca", ca_id, files[1], "--inactive")
    fp2 = json.loads(r.stdout)["results"][0]["fp"]
    c(P, "cert", "register", "--ca", ca_id, files[1])       # refused: no event
    c(P, "cert", "delete", fp1)                              # refused: no event
    c(P, "cert", "activate", fp2)
    c(P, "cert", "deactivate", fp2)
    c(P, "cert", "activate", fp2)
    c(P, "cert", "revoke", fp2)
    c(P, "cert", "delete", fp2)
    c(P, "cert", "deactivate", fp1)
    c(P, "settings", "set", "tls-min", "1.2")
    c(P, "settings", "set", "registration", "auto")
    afp, aserial, acn, aou = fake_cert(7)
    check(conn.call("FCALL_RO", "mqgate_lookup", 0, P, afp, ca_id, acn) ==
          ["auto", "", ""], "lookup in automatic mode: 'auto', nothing written (no event)")
    conn.call("FCALL", "mqgate_auto_register", 0, P, afp, ca_id, aserial, acn, aou,
              1700000000, 1900000000, "auto")
    conn.call("FCALL", "mqgate_touch", 0, P, afp, "client-7", int(time.time()))  # none
    c(P, "ca", "delete", other_id)
    c(P, "ca", "delete", ca_id)                              # refused: active auto cert
    expected = [
        "ca %s registered" % ca_id,
        "ca %s registered" % other_id,
        "ca %s active" % other_id,
        "ca %s inactive" % other_id,
        "cert %s active" % fp1,
        "cert %s registered_inactive" % fp2,
        "cert %s active" % fp2,
        "cert %s inactive" % fp2,
        "cert %s active" % fp2,
        "cert %s revoked" % fp2,
        "cert %s deleted" % fp2,
        "cert %s inactive" % fp1,
        "settings",
        "settings",
        "cert %s active" % afp,
        "ca %s deleted" % other_id,
    ]
    got = sub.messages(len(expected) + 1, timeout=3)
    check(got == expected, "every change published once, in order, as schema.h says")
    if got != expected:
        print("expected %s\ngot      %s" % (expected, got))
    sub.close()
    conn.close()
finally:
    wd.cleanup()
finish()
