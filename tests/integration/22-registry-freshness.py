"""22: decision freshness (issue 12, point 4), each ordering forced with a
relay that holds bytes until the test lets them go:
  a. an answer Redis computed before an invalidation, arriving after the
     proxy handled that invalidation, is not cached (a registration, a CA
     deactivation);
  b. a handshake whose check finished before a change and that completes
     after it (the device holds its Finished) is checked again;
  c. a CA set that does not parse, and a malformed function reply, fail
     closed: cache dropped, refused, logged, counted."""
import json
import ssl
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Redis, Workdir, check, client_context,
                     connect_packet, ctl, finish, free_port, handshake_error, scrape,
                     tls_alert_of, wait_for)
from harness_registry import HoldRelay

P = "t22"
wd = Workdir()
try:
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)
    relay = HoldRelay(redis.port, "redis")

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    r = c("--json", "ca", "register", pki.ca_cert)
    ca_id = json.loads(r.stdout)["id"]
    metrics = free_port()
    # One worker: one command connection to hold, one subscriber.
    gate = Mqgate(wd, pki, broker.port, [
        "--auth", "registry", "--redis", "redis://127.0.0.1:%d/0" % relay.port,
        "--redis-prefix", P, "--workers", "1", "--metrics", "127.0.0.1:%d" % metrics])
    check(wait_for(lambda: "serving: every worker is ready" in gate.text()), "proxy reaches Redis")

    def ctx(name):
        return client_context(pki.wd.file(name + ".crt"), pki.wd.file(name + ".key"),
                              pki.ca_cert)

    def admitted(name):
        return handshake_error(gate.port, ctx(name)) == ""

    def lookups():
        return relay.seen.count(b"mqgate_lookup")

    # --- a1. "not registered" computed, registration handled, reply late ------
    pki.device("dev-v")
    n = lookups()
    relay.hold()
    got = {}
    import threading
    t = threading.Thread(target=lambda: got.update(err=handshake_error(gate.port, ctx("dev-v"))))
    t.start()
    check(wait_for(lambda: lookups() > n), "the lookup of dev-v is on its way")
    time.sleep(0.2)  # Redis has answered "unregistered"; the reply is held
    r = c("cert", "register", pki.wd.file("dev-v.crt"), "--ca", ca_id)
    check(r.returncode == 0, "dev-v registered meanwhile")
    time.sleep(0.3)  # the event reached the proxy (subscriber not held)
    relay.release()
    t.join(10)
    check(got.get("err") == "certificate unknown",
          "the late reply still decides that handshake (got %s)" % got.get("err"))
    check(admitted("dev-v"), "but it was not cached: dev-v connects right after")

    # --- a2. "ok" computed, CA deactivated, reply late -----------------------
    pki.device("dev-u")
    c("cert", "register", pki.wd.file("dev-u.crt"), "--ca", ca_id)
    time.sleep(0.2)
    n = lookups()
    relay.hold()
    got = {}
    t = threading.Thread(target=lambda: got.update(err=handshake_error(gate.port, ctx("dev-u"))))
    t.start()
    check(wait_for(lambda: lookups() > n), "the lookup of dev-u is on its way")
    time.sleep(0.2)  # answered "ok", held
    c("ca", "deactivate", ca_id)
    time.sleep(0.3)
    relay.release()
    t.join(10)
    check(got.get("err") == "access denied",
          "an ok overtaken by the CA's deactivation does not admit dev-u (got %s)" %
          got.get("err"))
    check(handshake_error(gate.port, ctx("dev-u")) == "access denied",
          "and nothing stale was cached")
    c("ca", "activate", ca_id)
    check(wait_for(lambda: admitted("dev-u"), 3), "CA active again: dev-u connects")

    # --- b. a device that holds its Finished across a change -----------------
    tls = HoldRelay(gate.port, "tls")
    pki.device("dev-f")
    c("cert", "register", pki.wd.file("dev-f.crt"), "--ca", ca_id)
    check(wait_for(lambda: admitted("dev-f"), 3), "dev-f connects (and is cached)")
    tls.hold()
    got = {}

    def slow():
        try:
            cl = Client(tls.port, client_context(pki.wd.file("dev-f.crt"),
                                                 pki.wd.file("dev-f.key"), pki.ca_cert,
                                                 ssl.TLSVersion.TLSv1_2), timeout=10)
            cl.send(connect_packet(4, ""))
            got["r"] = "data" if cl.sock.recv(16) else "eof"
        except ssl.SSLError as e:
            got["r"] = tls_alert_of(e)
        except OSError as e:
            got["r"] = "closed: %s" % e

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)  # checked (from the cache), Finished held by the relay
    c("ca", "deactivate", ca_id)
    time.sleep(0.3)
    tls.release()
    t.join(15)
    check(got.get("r") == "access denied",
          "a handshake completing after its CA's deactivation is checked again and "
          "refused (got %s)" % got.get("r"))
    check(wait_for(lambda: "after the handshake" in gate.text()), "logged as such")
    check(scrape(metrics).get("mqgate_registry_rechecks_total", 0) >= 1,
          "counted as a re-check")
    c("ca", "activate", ca_id)
    tls.close()

    # --- c1. a CA set that does not parse: fail closed ------------------------
    check(wait_for(lambda: admitted("dev-f"), 3), "dev-f connects (cached)")
    errors = scrape(metrics).get("mqgate_registry_errors_total", 0)
    redis.cli("HSET", "%s:ca:%s" % (P, ca_id), "pem",
              "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    redis.cli("PUBLISH", P + ":events", "ca %s changed" % ca_id)
    check(wait_for(lambda: "do not parse" in gate.text()), "logged: the CAs do not parse")
    got = handshake_error(gate.port, ctx("dev-f"))
    check(got == "internal error",
          "unreadable CA set: even a cached device is refused (got %s)" % got)
    check(scrape(metrics).get("mqgate_registry_errors_total", 0) > errors, "and counted")
    c("ca", "deactivate", ca_id)  # an event that makes the proxy read them again
    redis.cli("HSET", "%s:ca:%s" % (P, ca_id), "pem", open(pki.ca_cert).read())
    c("ca", "activate", ca_id)
    check(wait_for(lambda: admitted("dev-f"), 5), "CA set readable again: dev-f connects")

    # --- c2. a malformed function reply: fail closed --------------------------
    pki.device("dev-m")
    c("cert", "register", pki.wd.file("dev-m.crt"), "--ca", ca_id)
    errors = scrape(metrics).get("mqgate_registry_errors_total", 0)
    bogus = ("#!lua name=mqgate_v2\n"
             "redis.register_function{function_name='mqgate_lookup', flags={'no-writes'},\n"
             "  callback=function(k, a) return {'ok'} end}\n")
    redis.cli("FUNCTION", "LOAD", "REPLACE", bogus)
    got = handshake_error(gate.port, ctx("dev-m"))
    check(got == "internal error", "a malformed lookup reply refuses (got %s)" % got)
    check(scrape(metrics).get("mqgate_registry_errors_total", 0) > errors,
          "counted as a registry error")
    check(wait_for(lambda: "lookup failed: malformed reply" in gate.text()), "and logged")
    relay.close()
finally:
    wd.cleanup()
finish()
