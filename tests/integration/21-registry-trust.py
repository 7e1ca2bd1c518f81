"""21: what an attacker and a careless operator tried against the registry
(issue 12), each refused with nothing written where nothing should be:
  1. revoked is final across a delete (tombstone), and a deleted
     certificate does not register itself again in automatic mode;
  2. a device certificate presented with another key (CertificateVerify
     signed by a key that is not the certificate's) registers nothing and
     spends no rate budget, while the real device still gets a session on
     its first connect;
  3. a settings change (manual -> automatic) drops the cached refusals;
  5. identities: a CN equal to another certificate's registered client ID
     is not granted that ID, two devices do not share an identity unless
     the operator renews one certificate with another."""
import json
import os
import subprocess
import time

from harness import (TEST_CLIENT, Client, Mosquitto, Mqgate, Pki, Redis, Workdir, check,
                     client_context, connect_packet, ctl, finish, handshake_error, wait_for)
from harness_registry import Layout

P = "t21"
wd = Workdir()


def device_run(port, cert, key, *extra):
    """mqg-test-client against the proxy; its output."""
    r = subprocess.run([TEST_CLIENT, "--connect", "127.0.0.1:%d" % port, "--cert", cert,
                        "--key", key] + list(extra), capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout.strip()


try:
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)
    lay = Layout(redis, P)

    def c(*args):
        return ctl(redis.url, *args, prefix=P)

    def cj(*args):
        r = c("--json", *args)
        return r, json.loads(r.stdout) if r.stdout.strip() else {}

    r, j = cj("ca", "register", pki.ca_cert)
    ca_id = j["id"]
    c("settings", "set", "registration", "auto")
    gate = Mqgate(wd, pki, broker.port, ["--auth", "registry", "--redis", redis.url,
                                         "--redis-prefix", P])
    check(wait_for(lambda: "serving: every worker is ready" in gate.text()),
          "proxy reaches Redis")

    def connects(name, client_id=""):
        cert, key = pki.wd.file(name + ".crt"), pki.wd.file(name + ".key")
        cl = Client(gate.port, client_context(cert, key, pki.ca_cert))
        cl.send(connect_packet(4, client_id))
        pkt = cl.recv_packet()
        cl.close()
        return pkt is not None and pkt[1][1] == 0

    def fp_of(name):
        r, j = cj("cert", "list", "--cn", name)
        return j["certs"][0]["fp"] if j.get("certs") else None

    # --- 1. revoked is final across a delete -------------------------------
    x = pki.device("dev-x")
    check(connects("dev-x"), "dev-x registers itself on its first connect")
    fx = fp_of("dev-x")
    check(wait_for(lambda: "registered" in gate.text() and "source=auto" in gate.text()),
          "the automatic registration has its own log line")
    check(c("cert", "revoke", fx).returncode == 0 and
          c("cert", "delete", fx).returncode == 0, "revoke, then delete dev-x")
    before = lay.stats()
    got = handshake_error(gate.port, client_context(x[0], x[1], pki.ca_cert))
    check(got == "certificate revoked",
          "dev-x reconnects after revoke + delete: alert certificate_revoked (got %s)" % got)
    check(lay.record(fx) == {} and lay.stats() == before,
          "... and is not registered again (nothing written)")
    r, j = cj("cert", "show", fx)
    check(r.returncode == 2 and j["tombstone"]["status"] == "revoked" and
          "revoked at" in r.stderr, "cert show: revoked and deleted (%s)" % r.stderr.strip())
    check(wait_for(lambda: "reason=cert_revoked" in gate.text()), "logged cert_revoked")

    y = pki.device("dev-y")
    check(connects("dev-y"), "dev-y registers itself")
    fy = fp_of("dev-y")
    c("cert", "deactivate", fy)
    c("cert", "delete", fy)
    got = handshake_error(gate.port, client_context(y[0], y[1], pki.ca_cert))
    check(got == "certificate unknown" and lay.record(fy) == {},
          "deactivated + deleted dev-y does not register itself again (got %s)" % got)
    check(wait_for(lambda: "reason=cert_deleted" in gate.text()), "logged cert_deleted")
    r = c("cert", "register", y[0], "--ca", ca_id)
    check(r.returncode == 0, "the operator registers dev-y again")
    check(wait_for(lambda: connects("dev-y"), 3), "then dev-y connects")

    # --- 2. no registration without the key --------------------------------
    z = pki.device("dev-z")
    thief_key = pki.device("someone-else")[1]
    for tls in ("1.2", "1.3"):
        stats, log_len = lay.stats(), len(lay.audit())
        rates = [k for k in redis.cli("KEYS", P + ":rate:*").split() if k]
        rc, out = device_run(gate.port, z[0], z[1], "--sign-with", thief_key, "--tls", tls)
        # (TLS 1.3: the client's side completes before the server checks
        # its CertificateVerify; the alert comes with the first read.)
        check(rc == 1 and ("handshake failed" in out or "DECRYPT_ERROR" in out),
              "TLS %s, dev-z's certificate signed with another key: refused (%s)" % (tls, out))
        check(lay.record(fp_of("dev-z") or "00" * 32) == {} and fp_of("dev-z") is None and
              lay.stats() == stats and len(lay.audit()) == log_len,
              "TLS %s: nothing registered, nothing audited" % tls)
        check([k for k in redis.cli("KEYS", P + ":rate:*").split() if k] == rates or
              not rates, "TLS %s: no registration budget spent" % tls)
    check(wait_for(lambda: "BAD_SIGNATURE" in gate.text() or "bad_signature" in gate.text()),
          "logged as a bad signature")
    rc, out = device_run(gate.port, z[0], z[1], "--mqtt", "--tls", "1.3")
    check(rc == 0 and "connack 0" in out,
          "the real dev-z (its own key) gets a session on its first connect (%s)" % out)
    check(wait_for(lambda: "dev-z" in broker.client_ids()), "the broker sees dev-z")
    check(lay.record(fp_of("dev-z") or "00" * 32).get("src") == "auto",
          "dev-z registered automatically, after its handshake")
    rc, out = device_run(gate.port, z[0], z[1], "--mqtt", "--tls", "1.2")
    check(rc == 0 and "connack 0" in out, "TLS 1.2 first-connect path works too (%s)" % out)

    # --- 3. a settings change drops cached refusals --------------------------
    c("settings", "set", "registration", "manual")
    check(wait_for(lambda: "registration manual" in gate.text().split("registry settings")[-1]),
          "proxy applies manual mode")
    w = pki.device("dev-w")
    got = handshake_error(gate.port, client_context(w[0], w[1], pki.ca_cert))
    check(got == "certificate unknown", "manual mode: dev-w refused (got %s)" % got)
    got = handshake_error(gate.port, client_context(w[0], w[1], pki.ca_cert))
    check(got == "certificate unknown", "... again (the refusal is now cached)")
    c("settings", "set", "registration", "auto")
    check(wait_for(lambda: "registration auto" in gate.text().split("registry settings")[-1]),
          "proxy applies automatic mode")
    check(connects("dev-w"), "once 'registration auto' is applied, dev-w is admitted")

    # --- 5. identities -------------------------------------------------------
    a = pki.device("dev-a")
    r = c("cert", "register", a[0], "--ca", ca_id, "--client-id", "pump-7")
    check(r.returncode == 0, "dev-a registered with client ID pump-7")
    thief = pki.device("pump-7")  # a CN equal to dev-a's registered client ID
    stats = lay.stats()
    got = handshake_error(gate.port, client_context(thief[0], thief[1], pki.ca_cert))
    check(got == "access denied" and lay.stats() == stats,
          "auto mode: a certificate whose CN is dev-a's client ID is refused (got %s)" % got)
    check(wait_for(lambda: "reason=identity_conflict" in gate.text()),
          "logged identity_conflict")
    r = c("cert", "register", thief[0], "--ca", ca_id)
    check(r.returncode == 1 and "identity 'pump-7' (CN) already belongs" in r.stderr,
          "nor can it be registered by hand (%s)" % r.stderr.strip())
    c("settings", "set", "client-id-mode", "strict")
    check(wait_for(lambda: "client IDs strict" in gate.text()), "strict mode")
    check(connects("dev-a") and connects("dev-a", "pump-7"),
          "strict: dev-a connects as pump-7 (empty or its own ID)")
    n = broker.client_ids().count("pump-7")
    check(not connects("pump-7") and not connects("pump-7", "pump-7") and
          broker.client_ids().count("pump-7") == n,
          "strict: the thief never reaches the broker as pump-7")
    c("settings", "set", "client-id-mode", "default")

    # Two devices, one CN: the second one is refused, unless it renews.
    d1, d2 = pki.device("meter-9"), None
    check(connects("meter-9"), "meter-9 registers itself")
    f1 = fp_of("meter-9")
    d2 = pki.device("meter-9", extra=["--valid-days", "800"])  # same CN, new key
    got = handshake_error(gate.port, client_context(d2[0], d2[1], pki.ca_cert))
    check(got == "access denied", "another certificate with CN meter-9: refused (got %s)" % got)
    r = c("--json", "cert", "register", d2[0], "--ca", ca_id)
    check(r.returncode == 1, "and not registered by hand without --renews")
    r, j = cj("cert", "register", d2[0], "--ca", ca_id, "--renews", f1[:10])
    check(r.returncode == 0, "registered with --renews (certificate renewal of the device)")
    f2 = j["results"][0]["fp"]
    check(lay.identity("meter-9") == f2 and lay.record(f2).get("ren") == f1,
          "the renewal holds the identity, linked to the old certificate")
    check(connects("meter-9"), "the renewed device connects with its new certificate")
    c("cert", "revoke", f1)
    check(lay.identity("meter-9") == f2, "revoking the old one leaves the identity to the new")

    # A refusal for a conflict ends when the identity is freed: no event
    # names the refused certificate, so its refusal is never cached.
    pki.device("valve-3")
    check(connects("valve-3"), "valve-3 registers itself")
    v1 = fp_of("valve-3")
    pki.device("valve-3")  # another certificate, same CN
    ctx2 = client_context(pki.wd.file("valve-3.crt"), pki.wd.file("valve-3.key"), pki.ca_cert)
    got = [handshake_error(gate.port, ctx2) for _ in range(2)]
    check(got == ["access denied"] * 2, "a second certificate with CN valve-3: refused twice")
    c("cert", "revoke", v1)
    t0 = time.time()
    check(wait_for(lambda: connects("valve-3"), 3),
          "once the first is revoked, the second connects (after %.1f s; cache TTL 5 min)" %
          (time.time() - t0))
finally:
    wd.cleanup()
finish()
