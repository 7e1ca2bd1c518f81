"""16: mqgatectl migrate stops at a Redis error and removes nothing: a
layout-1 registry whose associated-clients key of one certificate is not a
sorted set (ZREVRANGE answers WRONGTYPE) is left as it was, exit 3 with
the error named; once the key is mended, the migration runs through."""
from harness import Pki, Redis, Workdir, check, ctl, finish
from harness_registry import cert_facts, layout1

P = "t16"
wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd)

    v1 = layout1(redis, P)
    ca = cert_facts(pki.ca_cert)
    v1("mqgate_ca_register", ca["fp"], ca["pem"], "CN=Test Fleet CA", ca["cn"],
       ca["serial"], ca["not_before"], ca["not_after"], 1)
    devs = {}
    for name in ("dev-a", "dev-b"):
        f = devs[name] = cert_facts(pki.device(name)[0])
        check(v1("mqgate_cert_register", f["fp"], f["pem"], f["serial"], f["cn"], f["ou"],
                 ca["fp"], f["not_before"], f["not_after"], "", 1, "manual") == "active",
              "v1: %s registered" % name)
        v1("mqgate_touch", f["fp"], "client-" + name, 1800000000)
    bad = P + ":assoc:" + devs["dev-b"]["fp"]
    redis.cli("DEL", bad)
    redis.cli("SET", bad, "not a sorted set")
    keys_before = sorted(redis.cli("KEYS", P + ":*").split("\n"))

    r = ctl(redis.url, "migrate", prefix=P)
    check(r.returncode == 3 and "WRONGTYPE" in r.stderr,
          "an error reply to one ZREVRANGE: exit 3, named (%d %s)" % (r.returncode,
                                                                      r.stderr.strip()))
    check(redis.cli("TYPE", P + ":assoc:" + devs["dev-a"]["fp"]) == "zset" and
          redis.cli("GET", bad) == "not a sorted set" and
          redis.cli("EXISTS", P + ":certs") == "1" and
          redis.cli("HGET", P + ":meta", "schema") != "2",
          "nothing removed, layout 1 still in place")
    check(not set(keys_before) - set(redis.cli("KEYS", P + ":*").split("\n")),
          "every layout-1 key still there")

    redis.cli("DEL", bad)
    r = ctl(redis.url, "migrate", prefix=P)
    check(r.returncode == 0 and "migrated 2 certificates of 2" in r.stdout,
          "the key mended: migrated (%s %s)" % (r.stdout.strip(), r.stderr.strip()))
finally:
    wd.cleanup()
finish()
