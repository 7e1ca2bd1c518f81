"""58: CRLs in mtls mode (--crl), made by `openssl ca -gencrl` for a root
and an intermediate CA: revoked devices refused with certificate_revoked,
a revoked intermediate taking its devices with it, PEM and DER, CRLs that
are refused at start-up (bad signature, wrong issuer, garbage, truncated),
the expired-CRL policy both ways (--crl-expired allow|deny), and the
metrics."""
import os
import subprocess
import time

from crlca import OpensslCa, utc
from harness import (CERTGEN, MQGATE, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     finish, free_port, handshake_error, run, scrape, wait_for)

wd = Workdir()
try:
    pki = Pki(wd)
    inter = (wd.file("inter.crt"), wd.file("inter.key"))
    run([CERTGEN, "ca", "--cn", "Test Issuing CA", "--issuer-cert", pki.ca_cert,
         "--issuer-key", pki.ca_key, "--out-cert", inter[0], "--out-key", inter[1]])
    bundle = wd.file("bundle.pem")
    with open(bundle, "w") as f:
        f.write(open(pki.ca_cert).read() + open(inter[0]).read())
    dev_ok = pki.device("dev-ok")
    dev_gone = pki.device("dev-gone")
    idev_ok = pki.device("idev-ok", issuer=inter)
    idev_gone = pki.device("idev-gone", issuer=inter)
    idev_chain = pki.device("idev-chain", issuer=inter, extra=["--chain"])
    broker = Mosquitto(wd)

    root_ca = OpensslCa(wd, "root", pki.ca_cert, pki.ca_key)
    inter_ca = OpensslCa(wd, "inter", *inter)
    root_ca.revoke(dev_gone[0])
    inter_ca.revoke(idev_gone[0])
    root_crl = root_ca.gencrl(wd.file("root.crl"))                 # PEM
    inter_crl = inter_ca.gencrl(wd.file("inter.crl.der"), der=True)  # DER

    def alert(port, dev):
        return handshake_error(port, client_context(*dev, ca=pki.ca_cert))

    mport = free_port()
    gate = Mqgate(wd, pki, broker.port,
                  ["--client-ca", bundle, "--crl", root_crl, "--crl", inter_crl,
                   "--metrics", "127.0.0.1:%d" % mport])
    check(wait_for(lambda: "CRLs in force: 2 CRLs, 2 revoked serials" in gate.text()),
          "start-up: both CRLs in force (PEM and DER)")
    for dev, name in ((dev_ok, "root's device"), (idev_ok, "intermediate's device"),
                      (idev_chain, "intermediate's device sending its chain")):
        got = alert(gate.port, dev)
        check(got == "", "%s not revoked: accepted (got '%s')" % (name, got or "ok"))
    for dev, name in ((dev_gone, "root"), (idev_gone, "intermediate")):
        got = alert(gate.port, dev)
        check(got == "certificate revoked",
              "device revoked by the %s's CRL: alert certificate_revoked (got '%s')" % (name, got))
    check(wait_for(lambda: gate.text().count("reason=cert_revoked") == 2),
          "both refusals logged with reason=cert_revoked")
    m = scrape(mport)
    check(m.get("mqgate_crls_loaded") == 2, "metric mqgate_crls_loaded 2")
    entries = {k: v for k, v in m.items() if k.startswith("mqgate_crl_entries{")}
    check(len(entries) == 2 and all(v == 1 for v in entries.values()) and
          any('issuer="Test Issuing CA"' in k for k in entries),
          "metric mqgate_crl_entries per CRL, labelled by issuer (%s)" % entries)
    nexts = [v for k, v in m.items() if k.startswith("mqgate_crl_next_update_seconds{")]
    check(len(nexts) == 2 and all(abs(v - (time.time() + 7 * 86400)) < 3600 for v in nexts),
          "metric mqgate_crl_next_update_seconds: Unix time of nextUpdate (+7 days)")
    check(m.get('mqgate_refusals_total{reason="cert_revoked"}') == 2,
          "refusals counted under cert_revoked")
    check(gate.stop() == 0, "mqgate exits 0")

    # The root revokes the intermediate: its devices are refused, sent
    # chain or not (the bundle holds the intermediate).
    root_ca.revoke(inter[0])
    root_crl2 = root_ca.gencrl(wd.file("root2.crl"))
    gate = Mqgate(wd, pki, broker.port, ["--client-ca", bundle, "--crl", root_crl2])
    for dev, name in ((idev_ok, "leaf only"), (idev_chain, "leaf and intermediate")):
        got = alert(gate.port, dev)
        check(got == "certificate revoked",
              "revoked intermediate, device sending %s: certificate_revoked (got '%s')"
              % (name, got))
    check(alert(gate.port, dev_ok) == "", "the root's own devices still connect")
    check(gate.stop() == 0, "mqgate exits 0")

    # CRLs refused at start-up, with the reason, and by --check-config.
    impostor = (wd.file("impostor.crt"), wd.file("impostor.key"))
    run([CERTGEN, "ca", "--cn", "Test Fleet CA", "--out-cert", impostor[0],
         "--out-key", impostor[1]])
    bad_sig = OpensslCa(wd, "impostor", *impostor).gencrl(wd.file("bad-sig.crl"))
    other = pki.other_ca()
    wrong = OpensslCa(wd, "other", *other).gencrl(wd.file("other.crl"))
    garbage = wd.file("garbage.crl")
    with open(garbage, "wb") as f:
        f.write(os.urandom(300))
    truncated = wd.file("truncated.crl")
    with open(truncated, "w") as f:
        f.write(open(root_crl).read()[:200])
    empty_pem = wd.file("cert-not-crl.crl")
    with open(empty_pem, "w") as f:
        f.write(open(pki.ca_cert).read())
    base = [MQGATE, "--listen", "127.0.0.1:%d" % free_port(), "--backend",
            "127.0.0.1:%d" % broker.port, "--cert", pki.server_cert, "--key", pki.server_key,
            "--client-ca", bundle, "--state-dir", wd.file("state")]
    for path, what, message in (
            (bad_sig, "a CRL signed by another key with the CA's name", "bad signature"),
            (wrong, "a CRL of a CA not in the bundle", "is no CA of the --client-ca bundle"),
            (garbage, "random bytes", "not a CRL"),
            (truncated, "a truncated PEM CRL", "does not parse"),
            (empty_pem, "a certificate instead of a CRL", "no CRL in the file"),
            (wd.file("missing.crl"), "a missing file", "No such file")):
        r = subprocess.run(base + ["--crl", root_crl, "--crl", path], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 1 and path in r.stderr and message in r.stderr,
              "start-up refuses %s: exit 1, '%s' (%s)" % (what, message, r.stderr.strip()))
        r = subprocess.run(base + ["--crl", path, "--check-config"], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 2 and message in r.stderr,
              "--check-config refuses %s: exit 2" % what)
    r = subprocess.run(base + ["--crl", root_crl, "--auth", "registry"], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 2 and "--crl applies to auth mode mtls" in r.stderr,
          "--crl in registry mode: exit 2 with a reason")
    r = subprocess.run(base + ["--crl", root_crl, "--crl-expired", "maybe"],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "is not allow or deny" in r.stderr,
          "--crl-expired maybe: exit 2 with a reason")

    # An expired CRL (nextUpdate in the past). allow (the default): the
    # CA's devices still connect, with a warning and a metric; deny: they
    # are refused (internal_error, transient), below its intermediates too.
    # Listed serials are refused either way.
    # (A second database for the root: the first revoked the intermediate.)
    root_ca2 = OpensslCa(wd, "root2", pki.ca_cert, pki.ca_key)
    root_ca2.revoke(dev_gone[0])
    stale_crl = root_ca2.gencrl(wd.file("stale.crl"), last=utc(-10 * 86400),
                                next_=utc(-86400))
    fresh_inter = inter_ca.gencrl(wd.file("inter-fresh.crl"))
    for policy in ("allow", "deny"):
        mport = free_port()
        args = ["--client-ca", bundle, "--crl", stale_crl, "--crl", fresh_inter,
                "--metrics", "127.0.0.1:%d" % mport]
        if policy == "deny":
            args += ["--crl-expired", "deny"]
        gate = Mqgate(wd, pki, broker.port, args)
        check(wait_for(lambda: "is past its nextUpdate" in gate.text()),
              "%s: a warning names the stale CRL" % policy)
        want = "" if policy == "allow" else "internal error"
        for dev, name in ((dev_ok, "root's device"), (idev_ok, "intermediate's device")):
            got = alert(gate.port, dev)
            check(got == want, "%s, %s: %s (got '%s')" % (policy, name,
                                                        "admitted" if not want else
                                                        "alert internal_error", got or "ok"))
        got = alert(gate.port, dev_gone)
        check(got == "certificate revoked",
              "%s: a listed serial is still refused (got '%s')" % (policy, got))
        m = scrape(mport)
        stale = [v for k, v in m.items() if k.startswith("mqgate_crl_stale{")]
        check(sorted(stale) == [0, 1], "%s: mqgate_crl_stale 1 for the stale CRL only" % policy)
        if policy == "allow":
            check(m.get("mqgate_crl_expired_admissions_total") == 2,
                  "allow: mqgate_crl_expired_admissions_total counts the 2 admissions")
        else:
            check(m.get('mqgate_refusals_total{reason="crl_expired"}') == 2 and
                  "reason=crl_expired" in gate.text(),
                  "deny: refusals logged and counted as crl_expired")
        check(gate.stop() == 0, "%s: mqgate exits 0" % policy)
finally:
    wd.cleanup()
finish()
