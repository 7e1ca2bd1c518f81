"""11: mqgatectl cert list: every filter alone and combined (serial, CN, OU,
status, CA, not_after window, --expired, --expiring-within), cursor
pagination in a stable order (not_after, then fingerprint), JSON that parses
and holds the fields, the human table, and fingerprint prefixes."""
import json
import os
import time

from harness import (CERTGEN, Pki, Redis, Workdir, check, ctl, finish, run)

DAY = 86400
wd = Workdir()

try:
    pki = Pki(wd)
    redis = Redis(wd)

    def c(*args):
        return ctl(redis.url, *args, prefix="t11")

    def lj(*args):
        r = c("--json", "cert", "list", *args)
        if r.returncode != 0:
            print(r.stderr)
            return None
        return json.loads(r.stdout)

    def fps(doc):
        return [x["fp"] for x in doc["certs"]] if doc else None

    def register(path, *extra, ca=None):
        # 15 registrations a second per cluster: wait when over
        for _ in range(5):
            r = c("--json", "cert", "register", path, "--ca", ca or ca_id, *extra)
            if r.returncode != 1 or "rate limit" not in r.stderr:
                break
            time.sleep(0.3)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["results"][0]["fp"]

    r = c("--json", "ca", "register", pki.ca_cert)
    ca_id = json.loads(r.stdout)["id"]
    other = pki.other_ca("Other CA")
    r = c("--json", "ca", "register", other[0])
    other_id = json.loads(r.stdout)["id"]

    # A pool of 12 ordinary devices (OU north), probably sharing one
    # not_after second, so the fingerprint decides their order.
    pool = wd.file("pool")
    os.mkdir(pool)
    run([CERTGEN, "pool", "--issuer-cert", pki.ca_cert, "--issuer-key", pki.ca_key,
         "--count", "12", "--out-dir", pool, "--ou", "north"])
    files = sorted(os.path.join(pool, f) for f in os.listdir(pool) if f.endswith(".crt"))
    r = c("--json", "cert", "register", "--ca", ca_id, *files)
    doc = json.loads(r.stdout)
    check(r.returncode == 0 and doc["registered"] == 12, "12 pool certificates registered")
    pool_fps = [x["fp"] for x in doc["results"]]

    expired = register(pki.device("old-dev", extra=["--ou", "south", "--valid-from-days",
                                                    "-30", "--valid-days", "10"])[0])
    short = register(pki.device("short-dev", extra=["--ou", "south",
                                                    "--valid-days", "5"])[0])
    long_ = register(pki.device("long-dev", extra=["--ou", "south",
                                                   "--valid-days", "2000"])[0],
                     "--inactive")
    twin1 = register(pki.device("twin", extra=["--valid-days", "100"])[0],
                     "--client-id", "twin-1")
    twin2 = register(pki.device("twin2", extra=["--valid-days", "100"])[0])
    stranger = pki.device("stranger", issuer=other, extra=["--ou", "south"])
    stranger_fp = register(stranger[0], ca=other_id)
    c("cert", "revoke", twin2)
    c("cert", "deactivate", pool_fps[0])
    total = 12 + 6

    # --- everything, order and fields ----------------------------------------
    doc = lj()
    check(doc is not None and doc["total"] == total and len(doc["certs"]) == total,
          "cert list: all %d" % total)
    keys = [(x["not_after"], x["fp"]) for x in doc["certs"]]
    check(keys == sorted(keys), "ordered by not_after, then fingerprint")
    check(doc["certs"][0]["fp"] == expired and doc["certs"][1]["fp"] == short and
          doc["certs"][-1]["fp"] == long_, "expired first, longest last")
    fields = {"fp", "serial", "cn", "ou", "ca", "not_before", "not_after", "client_id",
              "source", "status", "registered_at", "status_changed_at"}
    check(all(set(x) == fields for x in doc["certs"]), "list entries hold every field")
    t1 = [x for x in doc["certs"] if x["fp"] == twin1][0]
    check(t1["client_id"] == "twin-1" and t1["cn"] == "twin" and t1["ca"] == ca_id and
          t1["source"] == "manual" and t1["status"] == "active" and
          t1["not_after"] - t1["not_before"] == 100 * DAY, "field values")
    check(doc["limit"] == 50 and doc["count"] == total and doc["cursor"] == "",
          "page fields: one page, no next cursor")

    # --- pagination --------------------------------------------------------------
    def walk(*args, limit="5"):
        pages, cursor = [], None
        while True:
            page = lj(*args, "--limit", limit, *(("--cursor", cursor) if cursor else ()))
            pages.append(page)
            cursor = page["cursor"]
            if not cursor or len(pages) > 20:
                return pages

    pages = walk()
    check([len(p["certs"]) for p in pages] == [5, 5, 5, 3] and pages[0]["total"] == total,
          "limit 5: 5+5+5+3 by cursor")
    check(sum((fps(p) for p in pages), []) == fps(doc), "pages concatenate to the list")
    check(fps(lj("--all", "--limit", "4")) == fps(doc), "--all walks every page")
    last = pages[-2]["cursor"]
    c("cert", "revoke", fps(pages[0])[0])  # a change between pages moves nothing
    check(fps(lj("--limit", "5", "--cursor", last)) == fps(pages[-1]),
          "a cursor stays valid across changes")
    pf = walk("--ou", "north", limit="7")
    check([len(p["certs"]) for p in pf] == [7, 5] and
          fps(pf[0]) + fps(pf[1]) == [f for f in fps(doc) if f in pool_fps],
          "filtered pagination in the same order")
    for bad in (("--limit", "0"), ("--limit", "101"), ("--limit", "x"),
                ("--cursor", "zz"), ("--cursor", "ab" * 40, "--all")):
        r = c("cert", "list", *bad)
        check(r.returncode == 2, "cert list %s: exit 2" % " ".join(bad))
    c("cert", "delete", fps(pages[0])[0])  # the revoked one: back to the fixture
    expired_fp = fps(pages[0])[0]
    check(expired_fp == expired, "the certificate revoked and deleted was the expired one")
    total -= 1

    # --- filters -----------------------------------------------------------------
    check(fps(lj("--expired")) == [], "--expired (none left)")
    check(fps(lj("--expiring-within")) == [short],
          "--expiring-within (30 days): expired and expiring")
    check(fps(lj("--expiring-within", "3")) == [], "--expiring-within 3")
    check(fps(lj("--expiring-within=10")) == [short], "--expiring-within=10")
    check(set(fps(lj("--expiring-within", "120"))) == {short, twin1, twin2},
          "--expiring-within 120")
    now = int(time.time())
    day = time.strftime("%Y-%m-%d", time.gmtime(now + 50 * DAY))
    check(fps(lj("--not-after-before", day)) == [short],
          "--not-after-before YYYY-MM-DD")
    check(set(fps(lj("--not-after-after", day, "--not-after-before", str(now + 200 * DAY))))
          == {twin1, twin2}, "not_after window with Unix seconds")
    check(fps(lj("--not-after-after", str(now + 1500 * DAY))) == [long_],
          "--not-after-after")
    check(set(fps(lj("--ou", "south"))) == {short, long_, stranger_fp}, "--ou")
    check(fps(lj("--cn", "twin")) == [twin1], "--cn")
    check(fps(lj("--cn", "nobody")) == [], "--cn without match")
    check(fps(lj("--status", "revoked")) == [twin2], "--status revoked")
    check(fps(lj("--status", "registered-inactive")) == [long_],
          "--status registered-inactive")
    check(fps(lj("--status", "inactive")) == [pool_fps[0]], "--status inactive")
    check(len(fps(lj("--status", "active"))) == total - 3, "--status active")
    check(lj("--status", "active")["total"] == total - 3, "--status active: total counted")
    check(lj("--ou", "south", "--status", "active").get("total") is None,
          "a total that would cost more than a page is left out")
    check(fps(lj("--ca", other_id[:10])) == [stranger_fp], "--ca (prefix)")
    check(set(fps(lj("--ou", "south", "--status", "active"))) == {short, stranger_fp},
          "--ou and --status combined")
    check(fps(lj("--ou", "south", "--expiring-within", "--status", "active")) ==
          [short], "set filters and window combined")
    check(fps(lj("--ou", "south", "--ca", ca_id, "--not-after-after", day)) == [long_],
          "OU, CA and window combined")
    full = lj()
    serial = [x for x in full["certs"] if x["fp"] == short][0]["serial"]
    check(fps(lj("--serial", serial)) == [short], "--serial")
    colon = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).lower()
    check(fps(lj("--serial", colon)) == [short], "--serial in aa:bb:.. form")
    for bad in (("--status", "sleeping"), ("--not-after-before", "2024-13-01"),
                ("--not-after-after", "yesterday"), ("--serial", "xyz"),
                ("--expiring-within", "soon")):
        r = c("cert", "list", *bad)
        check(r.returncode == 2, "cert list %s: exit 2" % " ".join(bad))

    # --- the human table ----------------------------------------------------------
    old = register(pki.device("old2", extra=["--valid-from-days", "-30",
                                             "--valid-days", "10"])[0])
    total += 1
    r = c("cert", "list", "--limit", "5")
    lines = r.stdout.strip().split("\n")
    check(r.returncode == 0 and lines[0].split()[:3] == ["FINGERPRINT", "STATUS", "CN"] and
          len(lines) == 7 and ("5 certificates of %d; next page: --cursor" % total) in
          lines[-1] and lines[1].startswith(old[:16]) and "(exp)" in lines[1],
          "table: header, 5 rows, footer with the next cursor, expired marked (%s)" %
          lines[-1])

    # --- details and prefixes -------------------------------------------------------
    r = c("--json", "cert", "show", twin1[:8])
    d = json.loads(r.stdout)
    check(r.returncode == 0 and d["cert"]["fp"] == twin1 and d["clients"] == [] and
          "pem" not in d["cert"], "cert show by an 8-digit prefix")
    r = c("cert", "show", twin1.upper())
    check(r.returncode == 0 and twin1 in r.stdout and "client ID          twin-1" in
          r.stdout, "cert show by the uppercase fingerprint (table)")
    r = c("cert", "show", twin1[:7])
    check(r.returncode == 2, "7-digit prefix: exit 2")
    r = c("cert", "show", "0" * 8 if not any(f.startswith("0" * 8) for f in fps(full))
          else "f" * 8)
    check(r.returncode == 2 and "no registered certificate" in r.stderr,
          "unknown prefix: exit 2")
finally:
    wd.cleanup()
finish()
