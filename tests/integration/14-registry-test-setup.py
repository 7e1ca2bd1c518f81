"""14: mqgatectl cert register --unsafe-bypass-rate-limit-for-test-setup and
--from-index, the bulk set-up of a benchmark's devices: the rate limit is
neither checked nor counted, every other rule still holds, events are
published as for any registration, and the normal path stays limited."""
import json
import os
import subprocess

from harness import (CERTGEN, MQGATECTL, Pki, Redis, Resp, Workdir, check, ctl, finish, run)
from harness_registry import Layout

RATE = 15
BYPASS = "--unsafe-bypass-rate-limit-for-test-setup"
wd = Workdir()

try:
    pki = Pki(wd)
    redis = Redis(wd)
    P = "bulk"

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    def keys():
        return [k for k in redis.cli("KEYS", P + ":*").split("\n") if k]

    def rate_counters():
        return {k: int(redis.cli("GET", k)) for k in keys() if ":rate:" in k}

    pool = wd.file("pool")
    run([CERTGEN, "pool", "--issuer-cert", pki.ca_cert, "--issuer-key", pki.ca_key,
         "--count", "60", "--out-dir", pool])
    index = os.path.join(pool, "index.tsv")
    rows = [line.split("\t") for line in open(index).read().splitlines()]
    fps = [r[2] for r in rows]
    # The second half goes in a smaller index of its own.
    half = wd.file("half.tsv")
    with open(half, "w") as f:
        f.write("".join("\t".join(r) + "\n" for r in rows[40:]))

    r = c("--json", "ca", "register", pki.ca_cert)
    ca_id = json.loads(r.stdout)["id"]

    # The counter full for this second and the next ones: the normal path
    # refuses whatever the timing.
    now = int(redis.cli("TIME").split("\n")[0])
    for s in range(now, now + 30):
        redis.cli("SET", "%s:rate:%d" % (P, s), RATE, "EX", 60)
    counters = rate_counters()
    r = c("cert", "register", "--ca", ca_id, "--from-index", half)
    check(r.returncode == 1 and r.stderr.count("rate limit reached") == 20,
          "without the flag, --from-index obeys the rate limit (exit %d)" % r.returncode)
    check(not any(":cert:" in k for k in keys()), "... and writes nothing")

    # The Functions library flushed: the bypass loads it by itself.
    redis.cli("FUNCTION", "FLUSH")
    sub = Resp(redis.port)
    sub.call("SUBSCRIBE", P + ":events")
    r = c("--json", "cert", "register", "--ca", ca_id, "--from-index", index, BYPASS)
    doc = json.loads(r.stdout)
    check(r.returncode == 0 and doc["registered"] == 60 and doc["failed"] == 0,
          "the flag registers the 60 devices of the index at once (exit %d, %s)" %
          (r.returncode, r.stderr.strip()[:200]))
    check("WARNING" in r.stderr and "without the cluster's rate limit" in r.stderr,
          "... with a warning on stderr")
    check(sorted(x["fp"] for x in doc["results"]) == sorted(fps) and
          all(x["status"] == "active" for x in doc["results"]),
          "... each one active, under its own fingerprint")
    lay = Layout(redis, P)
    check(lay.stats() == {"certs": 60, "active": 60} and
          len(lay.fps("ix:ca:" + ca_id)) == 60 and
          lay.record(fps[7]).get("src") == "manual",
          "... with their records, indexes and counters")
    check(rate_counters() == counters, "... and the rate counters untouched")
    got = sub.messages(61, timeout=3)
    check(got == ["cert %s active" % fp for fp in fps],
          "one event per registration, as for any other")
    sub.close()

    # Every other rule still holds.
    r = c("cert", "register", "--ca", ca_id, rows[0][3], BYPASS)
    check(r.returncode == 1 and "already registered" in r.stderr,
          "a certificate is still registered once (exit %d)" % r.returncode)
    dev, _ = pki.device("dup-id-1")
    c("cert", "register", "--ca", ca_id, "--client-id", "taken", dev, BYPASS)
    dev2, _ = pki.device("dup-id-2")
    r = c("cert", "register", "--ca", ca_id, "--client-id", "taken", dev2, BYPASS)
    check(r.returncode == 1 and "unique" in r.stderr,
          "registered client IDs stay unique (exit %d)" % r.returncode)
    check(lay.audit()[-1]["action"] == "cert.register",
          "the bypass is audited like any registration")
    other = pki.other_ca("Stranger CA")
    stranger = wd.file("stranger.crt")
    run([CERTGEN, "device", "--cn", "stranger", "--issuer-cert", other[0],
         "--issuer-key", other[1], "--out-cert", stranger,
         "--out-key", wd.file("stranger.key")])
    r = c("cert", "register", "--ca", ca_id, stranger, BYPASS)
    check(r.returncode == 2 and "not signed by CA" in r.stderr,
          "a certificate of another CA is refused (exit %d)" % r.returncode)
    dev3, _ = pki.device("inactive-one")
    r = c("--json", "cert", "register", "--ca", ca_id, "--inactive", dev3, BYPASS)
    check(r.returncode == 0 and
          json.loads(r.stdout)["results"][0]["status"] == "registered_inactive",
          "--inactive still registers REGISTERED_INACTIVE")
    r = c("cert", "register", "--ca", ca_id, "--from-index", wd.file("missing.tsv"),
          BYPASS)
    check(r.returncode == 2 and "cannot read" in r.stderr,
          "a missing index is a usage error (exit %d)" % r.returncode)
    with open(wd.file("bad.tsv"), "w") as f:
        f.write("device-1\tdevice-1\n")
    r = c("cert", "register", "--ca", ca_id, "--from-index", wd.file("bad.tsv"), BYPASS)
    check(r.returncode == 2 and "bad.tsv:1" in r.stderr,
          "a malformed index line is named (exit %d)" % r.returncode)

    # An index with relative paths (certgen run elsewhere): they resolve
    # from the current directory, else in the index's own directory.
    run([CERTGEN, "pool", "--issuer-cert", pki.ca_cert, "--issuer-key", pki.ca_key,
         "--count", "5", "--out-dir", "rel", "--prefix", "rel-"], cwd=wd.path)
    rel_index = wd.file("rel/index.tsv")
    check(open(rel_index).read().split("\t")[3].startswith("rel/"),
          "the second pool's index holds relative paths")
    for cwd, what in ((wd.path, "as written"), ("/", "in the index's directory")):
        r = subprocess.run([MQGATECTL, "--redis", redis.url, "--redis-prefix",
                            "rel" + str(len(cwd)), "ca", "register", pki.ca_cert],
                           capture_output=True, text=True, timeout=60)
        r = subprocess.run([MQGATECTL, "--redis", redis.url, "--redis-prefix",
                            "rel" + str(len(cwd)), "cert", "register", "--ca", ca_id,
                            "--from-index", rel_index, BYPASS],
                           capture_output=True, text=True, timeout=60, cwd=cwd)
        check(r.returncode == 0 and r.stdout.count(": registered ") == 5,
              "relative index paths resolve %s (exit %d)" % (what, r.returncode))
finally:
    wd.cleanup()
finish()
