"""60: mqgate-admin's API against a real Redis, over HTTPS with the
self-signed certificate it generates (verified by the client): every
endpoint, every error class (400 401 403 404 409 429 503), the role of every
route, the token rate limit counted across two mqgate-admin processes, the
registration rate limit, audit entries, the proxies' heartbeats, and every
answer checked against the OpenAPI document (policy/admin/openapi.json,
also served at /api/v1/openapi.json)."""
import json
import os
import re
import subprocess
import time

import jsonschema

from harness import (MQGATE_ADMIN, Admin, Pki, Redis, Workdir, admin_token, check, ctl,
                     finish, free_port, in_one_second, pem_of, run, CERTGEN)

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAPI = os.path.join(HERE, "..", "..", "policy", "admin", "openapi.json")
PREFIX = "ctl60"

with open(OPENAPI) as f:
    DOC = json.load(f)
RESOLVER = jsonschema.RefResolver.from_schema(DOC)
called = set()
statuses_seen = {}
schema_failures = []


def template_of(path):
    p = path.split("?")[0][len("/api/v1"):]
    for t in DOC["paths"]:
        if re.fullmatch(re.sub(r"\{[a-z]+\}", "[^/]+", t), p):
            return t
    return None


def conforms(method, path, status, body):
    """Checks one answer against the OpenAPI document."""
    t = template_of(path)
    op = DOC["paths"].get(t, {}).get(method.lower()) if t else None
    if op is None:
        return status in (401, 404, 405)  # undocumented paths: refused
    called.add((method, t))
    resp = op["responses"].get(str(status))
    if resp is None:
        return False
    schema = resp.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return True
    try:
        jsonschema.Draft7Validator(schema, resolver=RESOLVER).validate(body)
        return True
    except jsonschema.ValidationError as e:
        schema_failures.append("%s %s %d: %s" % (method, path, status, e.message))
        return False


def api(admin, method, path, token, body=None, raw=None, headers=None):
    status, data, hdrs = admin.call(method, "/api/v1" + path, token, body, headers, raw)
    if not conforms(method, "/api/v1" + path, status, data):
        check(False, "answer %s %s %d matches the OpenAPI document: %s" %
              (method, path, status, schema_failures[-1:] or data))
    if isinstance(data, dict) and status >= 400:
        statuses_seen[status] = data.get("error")
    return status, data, hdrs


wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd, persist=True)
    url = redis.url
    t_admin = admin_token(url, "root", "admin", PREFIX)
    t_oper = admin_token(url, "pipeline", "operator", PREFIX)
    t_read = admin_token(url, "viewer", "read", PREFIX)
    check(t_admin.startswith("mqg_") and len(t_admin) == 47, "token create prints the token once")
    keys = redis.cli("--scan", "--pattern", PREFIX + ":token:*").split()
    check(len(keys) == 3 and all(re.fullmatch(PREFIX + ":token:[0-9a-f]{64}", k) for k in keys)
          and t_admin not in redis.cli("--scan", "--pattern", "*"),
          "Redis holds only SHA-256 hashes of the tokens")

    admin = Admin(wd, url, PREFIX, args=["--rate-limit", "1000"])
    check("generated self-signed certificate" in admin.text(),
          "HTTPS with a self-signed certificate generated into the state dir")

    # --- 401 / health / static ---------------------------------------------
    s, d, h = api(admin, "GET", "/cas", None)
    check(s == 401 and d["error"] == "unauthorized" and "Bearer" in h.get("WWW-Authenticate", ""),
          "no token: 401 unauthorized with WWW-Authenticate")
    s, d, _ = api(admin, "GET", "/cas", "mqg_not-a-real-token")
    check(s == 401 and d["error"] == "unauthorized", "unknown token: 401")
    s, d, _ = api(admin, "GET", "/nothing/here", None)
    check(s == 401, "an unknown API path without a token: 401, not 404")
    s, d, _ = admin.call("GET", "/healthz")
    check(s == 200 and d == {"status": "ok"}, "/healthz needs no token")
    s, d, h = admin.call("GET", "/")
    check(s == 200 and "text/html" in h["Content-Type"] and
          "script-src 'self'" in h["Content-Security-Policy"] and
          "unsafe-inline" not in h["Content-Security-Policy"],
          "the console's index needs no token and has a strict CSP")
    s, d, _ = api(admin, "GET", "/openapi.json", t_read)
    check(s == 200 and d == DOC, "/api/v1/openapi.json serves policy/admin/openapi.json as is")
    s, d, _ = api(admin, "GET", "/whoami", t_oper)
    check(s == 200 and d["name"] == "pipeline" and d["role"] == "operator", "whoami")

    # --- every route's role: the role just below is refused, nothing done ----
    below = {"operator": t_read, "admin": t_oper}
    wrong = []
    for t, item in DOC["paths"].items():
        for m, op in item.items():
            if m == "parameters" or op["x-role"] == "read":
                continue
            path = re.sub(r"\{[a-z]+\}", "00000000", t)
            s, d, _ = admin.call(m.upper(), "/api/v1" + path, below[op["x-role"]], {})
            if s != 403 or d.get("error") != "forbidden":
                wrong.append("%s %s -> %s" % (m.upper(), t, s))
    check(not wrong, "every operator/admin route refuses the role below it with 403 (%s)"
          % (wrong or "all"))
    s, d, _ = admin.call("GET", "/api/v1/tokens", t_oper)
    check(s == 403, "operator lists tokens: 403")

    # --- CAs ----------------------------------------------------------------
    s, d, _ = api(admin, "POST", "/cas", t_read, {"pem": pem_of(pki.ca_cert)})
    check(s == 403 and d["error"] == "forbidden", "read token registers a CA: 403")
    s, d, _ = api(admin, "POST", "/cas", t_oper, {"pem": "not a pem"})
    check(s == 400 and d["error"] == "input", "a CA that is not PEM: 400 input")
    s, d, _ = api(admin, "POST", "/cas", t_oper, raw=b"{not json")
    check(s == 400 and d["error"] == "input", "a body that is not JSON: 400 input")
    dev_cert, dev_key = pki.device("api-device-1")
    s, d, _ = api(admin, "POST", "/cas", t_oper, {"pem": pem_of(dev_cert)})
    check(s == 400 and "not a CA" in d["message"], "a device certificate as CA: 400")
    s, d, _ = api(admin, "POST", "/cas", t_oper, {"pem": pem_of(pki.ca_cert)})
    check(s == 201 and d["status"] == "active", "operator registers the CA: 201")
    ca_id = d["id"]
    s, d, _ = api(admin, "POST", "/cas", t_oper, {"pem": pem_of(pki.ca_cert)})
    check(s == 409 and d["error"] == "rule", "the same CA again: 409 rule (%s)" % d.get("message"))
    s, d, _ = api(admin, "GET", "/cas", t_read)
    check(s == 200 and d["total"] == 1 and d["cas"][0]["id"] == ca_id, "list CAs")
    s, d, _ = api(admin, "GET", "/cas/" + ca_id[:10], t_read)
    check(s == 200 and d["id"] == ca_id and "BEGIN CERTIFICATE" in d["pem"],
          "one CA by a 10-digit prefix, with its PEM")
    s, d, _ = api(admin, "GET", "/cas/" + "ab" * 32, t_read)
    check(s == 404 and d["error"] == "notfound", "an unknown CA: 404 notfound")
    s, d, _ = api(admin, "GET", "/cas/xyz", t_read)
    check(s == 400 and d["error"] == "input", "a CA id that is not hex: 400")
    s, d, _ = api(admin, "POST", "/cas/%s/deactivate" % ca_id, t_oper)
    check(s == 200 and d["status"] == "inactive", "deactivate the CA")
    s, d, _ = api(admin, "POST", "/cas/%s/deactivate" % ca_id, t_oper)
    check(s == 409 and d["error"] == "rule", "deactivate it again: 409")
    s, d, _ = api(admin, "POST", "/cas/%s/activate" % ca_id, t_oper)
    check(s == 200 and d["status"] == "active", "activate the CA")

    # --- certificates --------------------------------------------------------
    soon_cert, _ = pki.device("api-soon", extra=("--valid-days", "10", "--ou", "plant-2"))
    xss_cn = "<img src=x onerror=alert(1)>"
    xss_cert, xss_key = wd.file("xss.crt"), wd.file("xss.key")
    run([CERTGEN, "device", "--cn", xss_cn, "--issuer-cert", pki.ca_cert, "--issuer-key",
         pki.ca_key, "--out-cert", xss_cert, "--out-key", xss_key])
    s, d, _ = api(admin, "POST", "/certificates", t_oper,
                  {"pem": pem_of(dev_cert), "ca": ca_id[:12], "client_id": "sensor-1"})
    check(s == 201 and d["registered"] == 1 and d["results"][0]["status"] == "active",
          "register one certificate with a client ID: 201")
    fp1 = d["results"][0]["fp"]
    s, d, _ = api(admin, "POST", "/certificates", t_oper,
                  {"pem": pem_of(soon_cert) + pem_of(xss_cert), "ca": ca_id, "active": False})
    check(s == 201 and d["registered"] == 2 and
          [r["status"] for r in d["results"]] == ["registered_inactive"] * 2,
          "register two certificates in one body, inactive")
    fp_soon, fp_xss = d["results"][0]["fp"], d["results"][1]["fp"]
    check(d["results"][1]["cn"] == xss_cn, "a CN with HTML comes back as the same text")
    s, d, _ = api(admin, "POST", "/certificates", t_oper, {"pem": pem_of(dev_cert), "ca": ca_id})
    check(s == 409 and d["error"] == "rule" and d["results"][0]["error"] == "rule",
          "a certificate registered twice: 409 with the rule in its result")
    s, d, _ = api(admin, "POST", "/certificates", t_oper, {"pem": pem_of(dev_cert)})
    check(s == 400 and d["error"] == "input", "register without ca: 400")
    other_cert, other_key = pki.other_ca()
    s, d, _ = api(admin, "POST", "/certificates", t_oper, {"pem": pem_of(pki.device(
        "api-stranger", issuer=(other_cert, other_key))[0]), "ca": ca_id})
    check(s == 400 and "not signed by CA" in d["results"][0]["message"],
          "a certificate of another CA: 400, not signed by the CA")

    s, d, _ = api(admin, "GET", "/certificates?cn=api-device-1", t_read)
    check(s == 200 and [c["fp"] for c in d["certificates"]] == [fp1] and
          d["certificates"][0]["client_id"] == "sensor-1", "search by CN")
    s, d, _ = api(admin, "GET", "/certificates?expiring_within_days=30", t_read)
    check(s == 200 and [c["fp"] for c in d["certificates"]] == [fp_soon],
          "the expiring-within-30-days filter finds the 10-day certificate only")
    s, d, _ = api(admin, "GET", "/certificates?ou=plant-2&status=registered_inactive", t_read)
    check(s == 200 and [c["fp"] for c in d["certificates"]] == [fp_soon],
          "search by OU and status")
    s, d, _ = api(admin, "GET", "/certificates?expired=true", t_read)
    check(s == 200 and d["certificates"] == [] and d["next_cursor"] == "", "expired=true: none")
    s, d, _ = api(admin, "GET", "/certificates?cn=" + "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
                  t_read)
    check(s == 200 and [c["cn"] for c in d["certificates"]] == [xss_cn],
          "search by a CN with HTML characters (percent-encoded)")
    seen, cursor, pages = [], "", 0
    while True:
        s, d, _ = api(admin, "GET", "/certificates?limit=1" + ("&cursor=" + cursor if cursor else ""),
                      t_read)
        pages += 1
        check(len(d["certificates"]) <= 1, "a page of limit=1 holds at most one")
        seen += [c["fp"] for c in d["certificates"]]
        cursor = d["next_cursor"]
        if not cursor or pages > 6:
            break
    check(sorted(seen) == sorted({fp1, fp_soon, fp_xss}) and 3 <= pages <= 4,
          "cursor pagination with limit=1: every certificate once, in %d pages" % pages)
    s, d, _ = api(admin, "GET", "/certificates?limit=101", t_read)
    check(s == 400 and d["error"] == "input", "limit 101: 400 (at most 100)")
    bad = [q for q in ("limit=0", "limit=", "limit=%2B5", "limit=5x", "limit=%205",
                       "limit=99999999999999999999999", "expiring_within_days=1000000",
                       "expiring_within_days=-1", "expiring_within_days=1.5")
           if api(admin, "GET", "/certificates?" + q, t_read)[1].get("message") not in
           ("limit must be a number from 1 to 100",
            "expiring_within_days must be a number of days (0..999999)")]
    check(not bad, "numbers in the query: digits only, in range, the same texts (%s)" % bad)
    s, d, _ = api(admin, "GET", "/certificates?limit=100&expiring_within_days=0", t_read)
    check(s == 200, "limit=100, expiring_within_days=0: the bounds are accepted")
    s, d, _ = api(admin, "GET", "/certificates?cursor=bogus", t_read)
    check(s == 400 and d["error"] == "input", "a cursor the API did not give: 400")
    s, d, _ = api(admin, "GET", "/certificates?status=sleeping", t_read)
    check(s == 400, "an unknown status: 400")

    s, d, _ = api(admin, "GET", "/certificates/" + fp1[:8], t_read)
    check(s == 200 and d["certificate"]["fp"] == fp1 and
          d["certificate"]["client_id"] == "sensor-1" and d["clients"] == [],
          "details by an 8-digit prefix")
    s, d, _ = api(admin, "GET", "/certificates/" + "cd" * 32, t_read)
    check(s == 404 and d["error"] == "notfound", "an unknown certificate: 404")
    s, d, _ = api(admin, "DELETE", "/certificates/" + fp1, t_oper)
    check(s == 403, "operator deletes: 403 (admin only)")
    s, d, _ = api(admin, "DELETE", "/certificates/" + fp1, t_admin)
    check(s == 409 and d["error"] == "rule" and "ACTIVE" in d["message"],
          "delete an ACTIVE certificate: 409 naming the rule")
    s, d, _ = api(admin, "POST", "/certificates/%s/deactivate" % fp1, t_oper)
    check(s == 200 and d["status"] == "inactive", "deactivate")
    s, d, _ = api(admin, "POST", "/certificates/%s/activate" % fp1, t_oper)
    check(s == 200 and d["status"] == "active", "activate")
    s, d, _ = api(admin, "POST", "/certificates/%s/revoke" % fp1, t_read)
    check(s == 403, "read token revokes: 403")
    s, d, _ = api(admin, "POST", "/certificates/%s/revoke" % fp1, t_oper)
    check(s == 200 and d["status"] == "revoked", "revoke")
    s, d, _ = api(admin, "POST", "/certificates/%s/activate" % fp1, t_oper)
    check(s == 409 and "final" in d["message"], "activate a revoked one: 409, final")
    s, d, _ = api(admin, "DELETE", "/certificates/" + fp1, t_admin)
    check(s == 200 and d["status"] == "deleted", "admin deletes the revoked certificate")
    s, d, _ = api(admin, "GET", "/certificates/" + fp1, t_read)
    check(s == 404 and d["error"] == "notfound" and "revoked" in d["message"],
          "a revoked and deleted certificate: 404 saying it was revoked (its tombstone: %s)"
          % d.get("message"))
    s, d, _ = api(admin, "POST", "/certificates", t_oper, {"pem": pem_of(dev_cert), "ca": ca_id})
    check(s == 409 and d["error"] == "rule", "registering it again: 409, revocation is final "
          "(%s)" % d.get("results", [{}])[0].get("message"))
    s, d, _ = api(admin, "DELETE", "/cas/" + ca_id, t_oper)
    check(s == 403, "operator deletes a CA: 403")

    # --- settings --------------------------------------------------------------
    s, d, _ = api(admin, "GET", "/settings", t_read)
    check(s == 200 and d["registration"] == "manual", "settings")
    s, d, _ = api(admin, "PATCH", "/settings", t_oper, {"registration": "auto"})
    check(s == 403, "operator changes settings: 403")
    s, d, _ = api(admin, "PATCH", "/settings", t_admin, {"tls_min": "1.4"})
    check(s == 400 and d["error"] == "input", "tls_min 1.4: 400")
    s, d, _ = api(admin, "PATCH", "/settings", t_admin, {"colour": "blue"})
    check(s == 400, "an unknown setting: 400")
    s, d, _ = api(admin, "PATCH", "/settings", t_admin, {"tls_min": "1.3", "tls_max": "1.3"})
    check(s == 200 and d["tls_min"] == "1.3" and d["tls_max"] == "1.3",
          "the TLS window as one version (1.3..1.3)")
    s, d, _ = api(admin, "PATCH", "/settings", t_admin, {"tls_min": "1.0", "tls_max": "1.2"})
    check(s == 200 and (d["tls_min"], d["tls_max"]) == ("1.0", "1.2"),
          "the window moved below its old minimum in one PATCH (order chosen)")
    s, d, _ = api(admin, "PATCH", "/settings", t_admin, {"tls_min": "1.3"})
    check(s == 409 and d["error"] == "rule", "tls_min above tls_max: 409 rule")
    _, before, _ = api(admin, "GET", "/settings", t_read)
    for body in ({"registration": "auto", "tls_min": "1.3", "tls_max": "1.2"},
                 {"client_id_mode": "strict", "tls_min": "1.3"}):
        s, d, _ = api(admin, "PATCH", "/settings", t_admin, body)
        _, after, _ = api(admin, "GET", "/settings", t_read)
        check(s == 409 and d["error"] == "rule" and after == before,
              "an inverted TLS window with other keys (%s): 409 rule, nothing written (%s)"
              % (sorted(body), after))
    s, d, _ = api(admin, "PATCH", "/settings", t_admin,
                  {"registration": "auto", "client_id_mode": "strict"})
    check(s == 200 and d["registration"] == "auto" and d["client_id_mode"] == "strict",
          "registration auto, strict client IDs")

    # --- tokens through the API ---------------------------------------------------
    s, d, _ = api(admin, "POST", "/tokens", t_oper, {"name": "x", "role": "read"})
    check(s == 403, "operator creates a token: 403")
    s, d, _ = api(admin, "POST", "/tokens", t_admin, {"name": "bad name!", "role": "read"})
    check(s == 400, "a token name with a space: 400")
    s, d, _ = api(admin, "POST", "/tokens", t_admin, {"name": "ci-job", "role": "read"})
    check(s == 201 and d["token"].startswith("mqg_"), "admin creates a token: shown once")
    t_ci = d["token"]
    s, d, _ = api(admin, "GET", "/whoami", t_ci)
    check(s == 200 and d["name"] == "ci-job", "the new token works")
    s, d, _ = api(admin, "GET", "/tokens", t_admin)
    check(s == 200 and sorted(t["name"] for t in d["tokens"]) ==
          ["ci-job", "pipeline", "root", "viewer"] and
          all(set(t) == {"name", "role", "created_at", "created_by"} for t in d["tokens"]),
          "token list without the tokens")
    # an error reply in the middle of the token list's pipeline: that call
    # fails, and no later call on that connection reads a reply left queued
    redis.cli("HSET", PREFIX + ":tokens", "broken", "f" * 64)
    redis.cli("SET", PREFIX + ":token:" + "f" * 64, "not a hash")
    s, d, _ = api(admin, "GET", "/tokens", t_admin)
    check(s == 503 and d["error"] == "redis" and "WRONGTYPE" in d["message"],
          "a token record of the wrong type: 503 redis (%s)" % d)
    got = [api(admin, "GET", "/whoami", t_admin)[1].get("name") for _ in range(8)]
    check(got == ["root"] * 8, "the calls after it get their own replies (%s)" % got)
    redis.cli("HDEL", PREFIX + ":tokens", "broken")
    redis.cli("DEL", PREFIX + ":token:" + "f" * 64)
    s, d, _ = api(admin, "DELETE", "/tokens/ci-job", t_admin)
    check(s == 200 and d["status"] == "revoked", "revoke a token through the API")
    s, d, _ = api(admin, "GET", "/whoami", t_ci)
    check(s == 401, "a revoked token: 401 at once")
    s, d, _ = api(admin, "DELETE", "/tokens/ci-job", t_admin)
    check(s == 404, "revoke it again: 404")
    r = ctl(url, "token", "revoke", "viewer", prefix=PREFIX)
    s, d, _ = api(admin, "GET", "/cas", t_read)
    check(r.returncode == 0 and s == 401, "mqgatectl token revoke: the API refuses it at once")

    # --- audit -----------------------------------------------------------------------
    for bad in ("0", "1001", "x", "+5", ""):
        r = ctl(url, "audit", "--limit", bad, prefix=PREFIX)
        check(r.returncode == 2 and "--limit needs a number from 1 to 1000" in r.stderr,
              "mqgatectl audit --limit %r: usage, exit 2 (%s)" % (bad, r.stderr.strip()))
    r = ctl(url, "--json", "audit", "--limit", "1000", prefix=PREFIX)
    check(r.returncode == 0, "mqgatectl audit --limit 1000")
    s, d, _ = api(admin, "GET", "/audit?limit=100", t_oper)
    entries = d["entries"]
    host_actor = "mqgatectl@" + os.uname().nodename
    acts = [(e["actor"], e["action"], e["object"]) for e in entries]
    check(s == 200 and (host_actor, "token.create", "token:root") in acts and
          ("token:root", "token.create", "token:ci-job") in acts and
          ("token:root", "token.revoke", "token:ci-job") in acts and
          (host_actor, "token.revoke", "token:viewer") in acts,
          "audit: token creations and revocations with their actors (CLI and API)")
    ids = [e["id"] for e in entries]
    check(ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))), reverse=True),
          "audit entries newest first")
    s, d, _ = api(admin, "GET", "/audit?object=token:ci-job", t_oper)
    check(s == 200 and [e["action"] for e in d["entries"]] == ["token.revoke", "token.create"],
          "audit filtered by object")
    s, d1, _ = api(admin, "GET", "/audit?limit=2", t_oper)
    s, d2, _ = api(admin, "GET", "/audit?limit=2&cursor=" + d1["next_cursor"], t_oper)
    check([e["id"] for e in d1["entries"] + d2["entries"]] == ids[:4],
          "audit pages follow each other by cursor")
    s, d, _ = api(admin, "GET", "/audit?cursor=yesterday", t_oper)
    check(s == 400, "a bad audit cursor: 400")
    s, d, _ = api(admin, "GET", "/audit?object=cert:" + fp1, t_oper)
    got = [(e["actor"], e["action"], e["before"], e["after"]) for e in d["entries"]]
    check(got[:5] == [("token:root", "cert.delete", "revoked", "deleted"),
                      ("token:pipeline", "cert.revoke", "active", "revoked"),
                      ("token:pipeline", "cert.activate", "inactive", "active"),
                      ("token:pipeline", "cert.deactivate", "active", "inactive"),
                      ("token:pipeline", "cert.register", "", "active")],
          "registry changes made through the API are audited with the token as actor, "
          "newest first (%s)" % got[:5])
    s, d, _ = api(admin, "GET", "/audit?object=settings:tls_min", t_oper)
    check(d["entries"] and d["entries"][0]["actor"] == "token:root" and
          d["entries"][0]["action"] == "settings.set", "settings changes audited too")
    s, d, _ = api(admin, "GET", "/audit?object=ca:" + ca_id, t_oper)
    check([e["action"] for e in d["entries"]] == ["ca.activate", "ca.deactivate",
                                                  "ca.register"],
          "CA changes audited too")

    # --- proxies -------------------------------------------------------------------------
    now = int(time.time() * 1000)
    beat = {"id": "gw-a", "host": "edge-1", "pid": 4242, "version": "0.1.0",
            "boringssl": "android 13", "started_at": 1767312000, "connections_open": 12,
            "handshakes_1m": 40, "refusals_1m": {"cert_revoked": 2}}
    redis.cli("SET", PREFIX + ":proxy:gw-a", json.dumps(beat), "EX", "30")
    redis.cli("ZADD", PREFIX + ":proxies", now, "gw-a")
    redis.cli("SET", PREFIX + ":proxy:gw-old", json.dumps(dict(beat, id="gw-old")), "EX", "30")
    redis.cli("ZADD", PREFIX + ":proxies", now - 60000, "gw-old")
    redis.cli("ZADD", PREFIX + ":proxies", now, "gw-gone")  # its key expired
    s, d, _ = api(admin, "GET", "/proxies", t_oper)
    check(s == 200 and [p["id"] for p in d["proxies"]] == ["gw-a"] and
          d["proxies"][0]["refusals_1m"] == {"cert_revoked": 2} and
          d["proxies"][0]["last_seen_ms"] == now,
          "proxies: the live heartbeat only (a stale one and an expired one left out)")
    check(redis.cli("ZSCORE", PREFIX + ":proxies", "gw-old") == "",
          "the stale member was trimmed from P:proxies")

    # --- rate limits ---------------------------------------------------------------------
    # One second must hold every call: again (new certificates) if not.
    s, d, _ = in_one_second(
        lambda devs: api(admin, "POST", "/certificates", t_oper,
                         {"pem": "".join(pem_of(p) for p in devs), "ca": ca_id}),
        lambda attempt: [pki.device("rate-%d-%02d" % (attempt, i))[0] for i in range(20)])
    check(s == 429 and d["error"] == "rate" and d["registered"] == 15 and d["failed"] == 5 and
          all(r["error"] == "rate" for r in d["results"] if not r["ok"]),
          "20 certificates at once: 15 registered, then 429 rate (15/s per cluster) "
          "(%s/%s)" % (d.get("registered"), d.get("failed")))
    a1 = Admin(wd, url, PREFIX, args=["--rate-limit", "5"], plain=True)
    a2 = Admin(wd, url, PREFIX, args=["--rate-limit", "5"])

    def token_burst(attempt):
        got = [api(a, "GET", "/settings", t_oper)[0] for a in (a1, a2) * 4]
        return got, api(a1, "GET", "/settings", t_oper)  # the same second's 9th

    got, (s, d, h) = in_one_second(token_burst)
    check(got.count(200) == 5 and got.count(429) == 3,
          "token rate 5/s shared by two mqgate-admin processes: 8 calls in a second -> "
          "5 answered, 3 x 429 (%s)" % got)
    check(s == 429 and d["error"] == "rate" and h.get("Retry-After") == "1",
          "429 with Retry-After")
    time.sleep(1.1)
    s, d, _ = api(a1, "GET", "/settings", t_oper)
    check(s == 200, "the next second the token works again")

    # --- request limits --------------------------------------------------------------------
    # announced at the headers: answered before the body is sent
    import socket
    import ssl as _ssl
    with admin.ctx.wrap_socket(socket.create_connection(("127.0.0.1", admin.port)),
                               server_hostname="localhost") as tls:
        tls.sendall(b"POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + t_oper.encode() + b"\r\nContent-Length: 2097152\r\n\r\n")
        got = b""
        try:
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (_ssl.SSLError, OSError):
            pass
    check(got.startswith(b"HTTP/1.1 413 Content Too Large") and b'"error":"input"' in got,
          "a 2 MiB body announced: 413 Content Too Large (max-body 1m)")
    statuses_seen[413] = "input"

    # --- options ------------------------------------------------------------------------------
    r = subprocess.run([MQGATE_ADMIN, "--listen", "0.0.0.0:%d" % free_port(), "--plain-http"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "loopback" in r.stderr,
          "--plain-http on a non-loopback address refused (exit 2)")
    env = dict(os.environ, MQGATE_ADMIN_RATE_LIMIT="abc")
    r = subprocess.run([MQGATE_ADMIN], capture_output=True, text=True, timeout=10, env=env)
    check(r.returncode == 2 and "MQGATE_ADMIN_RATE_LIMIT" in r.stderr,
          "a bad MQGATE_ADMIN_* value is named (exit 2)")
    ini = wd.file("admin.ini")
    with open(ini, "w") as f:
        f.write("[mqgate-admin]\nlisten = 127.0.0.1:%d\nplain-http = yes\nredis = %s\n"
                "redis-prefix = %s\n" % (free_port(), url, PREFIX))
    a3 = Admin(wd, url, PREFIX, args=["--config", ini], plain=True)  # flags win: own port
    check(api(a3, "GET", "/whoami", t_admin)[0] == 200, "options from the INI file")
    r = subprocess.run([MQGATE_ADMIN, "--help"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "MQGATE_ADMIN_RATE_LIMIT" in r.stdout, "--help lists the options")
    r = subprocess.run([MQGATE_ADMIN, "--version"], capture_output=True, text=True, timeout=10)
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and len(lines) == 2 and lines[0].startswith("mqgate-admin ") and
          "build" in lines[1] and 'version "' in lines[1],
          "--version names the BoringSSL and its build, as mqgate's (%s)" % r.stdout.strip())
    for arg, named in (("-xy", "unknown option: -x "), ("--listen", "option: --listen "),
                       ("--help=3", "unknown option: --help=3 ")):
        r = subprocess.run([MQGATE_ADMIN, arg], capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and named in r.stderr, "a bad flag %s is named (exit 2)" % arg)

    # --- a password file gone after start: 503 redis (the server's fault) ----------------------
    redis.cli("ACL", "SETUSER", "pw60", "on", ">pw60-secret", "~*", "&*", "+@all")
    pwfile = wd.file("redis-password-60")
    with open(pwfile, "w") as f:
        f.write("pw60-secret\n")
    a4 = Admin(wd, "redis://pw60:@127.0.0.1:%d/0" % redis.port, PREFIX,
               args=["--redis-password-file", pwfile], plain=True)
    os.remove(pwfile)  # the threads connect on first use
    s, d, _ = api(a4, "GET", "/whoami", t_read)
    check(s == 503 and d["error"] == "redis" and "password" in d["message"],
          "the Redis password file removed after start: 503 redis, not 400 (%s %s)" % (s, d))
    check(a4.stop() == 0, "that mqgate-admin stops cleanly")

    # --- Redis down: 503 -------------------------------------------------------------------------
    redis.stop()
    s, d, _ = api(admin, "GET", "/cas", t_read)
    check(s == 503 and d["error"] == "redis", "Redis down: 503 redis")
    redis.start()
    s, d, _ = api(admin, "GET", "/settings", t_admin)
    check(s == 200, "Redis back: the API answers again")

    # --- coverage ------------------------------------------------------------------------------
    ops = {(m.upper(), t) for t, item in DOC["paths"].items() for m in item if m != "parameters"}
    missing = sorted(ops - called)
    check(not missing, "every documented operation was called (%s)" % (missing or "all"))
    check(sorted(statuses_seen) == [400, 401, 403, 404, 409, 413, 429, 503] or
          set([400, 401, 403, 404, 409, 429, 503]) <= set(statuses_seen),
          "every error class seen: %s" % sorted(statuses_seen.items()))
    check(not schema_failures, "every answer matched the OpenAPI document (%d failures)"
          % len(schema_failures))
    check(admin.stop() == 0, "mqgate-admin stops cleanly on SIGTERM")
finally:
    wd.cleanup()
finish()
