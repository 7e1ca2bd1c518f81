"""15: mqgatectl migrate: a registry written by layout 1's library
(mqgate_v1, kept in tests/integration/fixtures/layout1.lua) becomes layout
2 in place: every certificate with its status, source, dates, registered
client ID and associated clients, the CAs' counts; layout 1's indexes go;
identities held twice are reported; a proxy names the layout-1 registry
before and serves the migrated one after."""
import json
import re

from harness import (Client, Mosquitto, Mqgate, Pki, Redis, Workdir, check, client_context,
                     connect_packet, ctl, finish, handshake_error, wait_for)
from harness_registry import Layout, cert_facts, layout1

P = "t15"
wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)
    lay = Layout(redis, P)

    v1 = layout1(redis, P)
    ca = cert_facts(pki.ca_cert)
    check(v1("mqgate_ca_register", ca["fp"], ca["pem"], "CN=Test Fleet CA", ca["cn"],
             ca["serial"], ca["not_before"], ca["not_after"], 1) == "active", "v1: CA registered")
    devs = {}
    for name, extra in (("dev-a", ("sensor-a", 1)), ("dev-b", ("", 1)), ("dev-c", ("", 1)),
                        ("dev-d", ("", 0)), ("dup", ("", 1))):
        f = cert_facts(pki.device(name, extra=["--ou", "plant"])[0])
        devs[name] = f
        check(v1("mqgate_cert_register", f["fp"], f["pem"], f["serial"], f["cn"], f["ou"],
                 ca["fp"], f["not_before"], f["not_after"], extra[0], extra[1], "manual")
              in ("active", "registered_inactive"), "v1: %s registered" % name)
    v1("mqgate_cert_set", devs["dev-b"]["fp"], "deactivate")
    v1("mqgate_cert_set", devs["dev-c"]["fp"], "revoke")
    # layout 1 let two certificates share a CN, and registered on lookup
    dup2 = cert_facts(pki.device("dup", extra=["--valid-days", "900"])[0])
    redis.cli("HSET", P + ":settings", "registration", "auto")
    check(v1("mqgate_lookup", dup2["fp"], ca["fp"], dup2["serial"], dup2["cn"], dup2["ou"],
             dup2["not_before"], dup2["not_after"], dup2["pem"]).split("\n")[0] == "ok",
          "v1: a second 'dup' registered automatically")
    for i in range(25):
        v1("mqgate_touch", devs["dev-a"]["fp"], "client-%02d" % i, 1800000000 + i)
    check(redis.cli("EXISTS", P + ":certs") == "1", "a layout-1 registry (P:certs)")

    gate = Mqgate(wd, pki, broker.port, ["--auth", "registry", "--redis", redis.url,
                                         "--redis-prefix", P])
    check(wait_for(lambda: "run `mqgatectl migrate` once" in gate.text()),
          "a proxy names the layout-1 registry and the way out")

    r = ctl(redis.url, "migrate", prefix=P)
    check(r.returncode == 0 and "migrated 6 certificates of 6" in r.stdout,
          "mqgatectl migrate: 6 certificates (%s %s)" % (r.stdout.strip(), r.stderr.strip()))
    check("its identity belongs to" in r.stderr, "the identity held twice is reported")
    check(redis.cli("EXISTS", P + ":certs") == "0" and
          not [k for k in redis.cli("KEYS", P + ":*").split("\n")
               if re.search(r":(idx|clientid|assoc):", k)] and
          redis.cli("HGET", P + ":meta", "schema") == "2",
          "layout 1's indexes gone, layout 2 marked")

    def show(name, fp=None):
        r = ctl(redis.url, "--json", "cert", "show", fp or devs[name]["fp"], prefix=P)
        return json.loads(r.stdout) if r.returncode == 0 else {}

    a = show("dev-a")
    check(a["cert"]["status"] == "active" and a["cert"]["client_id"] == "sensor-a" and
          a["cert"]["cn"] == "dev-a" and a["cert"]["ou"] == "plant" and
          a["cert"]["ca"] == ca["fp"] and a["cert"]["not_after"] == devs["dev-a"]["not_after"],
          "dev-a: status, client ID, names, CA, dates")
    check([x["client_id"] for x in a["clients"]][:2] == ["client-24", "client-23"] and
          len(a["clients"]) == 20, "dev-a: its newest 20 associated clients")
    check(show("dev-b")["cert"]["status"] == "inactive" and
          show("dev-c")["cert"]["status"] == "revoked" and
          show("dev-d")["cert"]["status"] == "registered_inactive" and
          show("dup", dup2["fp"])["cert"]["source"] == "auto", "statuses and source kept")
    check(lay.identity("sensor-a") == devs["dev-a"]["fp"] and
          lay.identity("dup") in (devs["dup"]["fp"], dup2["fp"]), "identities claimed")
    st = lay.stats()
    check(st == {"certs": 6, "active": 3, "inactive": 1, "registered_inactive": 1,
                 "revoked": 1}, "counters (%s)" % st)
    r = ctl(redis.url, "--json", "ca", "list", prefix=P)
    cas = json.loads(r.stdout)["cas"]
    check([(x["certs"], x["active_certs"]) for x in cas] == [(6, 3)], "CA counts")
    r = ctl(redis.url, "--json", "cert", "list", "--ou", "plant", prefix=P)
    check(json.loads(r.stdout)["total"] == 5, "listed by OU (the second dup has none)")

    # The proxy serves the migrated registry (after the CA event).
    ctl(redis.url, "ca", "deactivate", ca["fp"], prefix=P)
    ctl(redis.url, "ca", "activate", ca["fp"], prefix=P)
    ctx = client_context(pki.wd.file("dev-a.crt"), pki.wd.file("dev-a.key"), pki.ca_cert)
    cl = Client(gate.port, ctx)
    cl.send(connect_packet(4, ""))
    pkt = cl.recv_packet()
    cl.close()
    check(pkt is not None and pkt[1][1] == 0, "dev-a connects through mqgate")
    check(wait_for(lambda: "sensor-a" in broker.client_ids()),
          "as its registered client ID sensor-a")
    got = handshake_error(gate.port, client_context(pki.wd.file("dev-c.crt"),
                                                    pki.wd.file("dev-c.key"), pki.ca_cert))
    check(got == "certificate revoked", "dev-c stays revoked (got %s)" % got)
    r = ctl(redis.url, "migrate", prefix=P)
    check(r.returncode == 0 and "nothing to migrate" in r.stdout, "a second run: nothing to do")
finally:
    wd.cleanup()
finish()
