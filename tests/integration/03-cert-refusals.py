"""03: certificates that must not get in, each refused with its own TLS
alert and a log line naming the reason and the peer address; a good one
still connects. Clients: Python's ssl (OpenSSL) and mosquitto_pub."""
import ssl
import subprocess

from harness import (Mosquitto, Mqgate, Pki, Workdir, check, client_context, finish,
                     handshake_error, wait_for)

wd = Workdir()
try:
    pki = Pki(wd)
    good = pki.device("device-0001")
    expired = pki.device("expired-dev", extra=["--valid-from-days", "-30", "--valid-days", "10"])
    future = pki.device("future-dev", extra=["--valid-from-days", "5", "--valid-days", "10"])
    other = pki.other_ca()
    stranger = pki.device("stranger-dev", issuer=other)
    selfie = (wd.file("selfie.crt"), wd.file("selfie.key"))
    from harness import CERTGEN, run
    run([CERTGEN, "server", "--cn", "selfie", "--out-cert", selfie[0], "--out-key", selfie[1]])
    # An intermediate CA's device sending its chain (leaf + intermediate).
    inter_cert, inter_key = wd.file("inter.crt"), wd.file("inter.key")
    from harness import CERTGEN, run
    run([CERTGEN, "ca", "--cn", "Fleet Intermediate", "--issuer-cert", pki.ca_cert,
         "--issuer-key", pki.ca_key, "--out-cert", inter_cert, "--out-key", inter_key])
    chained = pki.device("chained-dev", issuer=(inter_cert, inter_key), extra=["--chain"])
    broker = Mosquitto(wd)
    gate = Mqgate(wd, pki, broker.port)

    v13, v12 = ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2
    cases = [
        ("no client certificate, TLS 1.3", None, v13, "certificate required", "no_client_cert"),
        ("no client certificate, TLS 1.2", None, v12, "handshake failure", "no_client_cert"),
        ("certificate of an unknown CA", stranger, v13, "unknown ca", "unknown_ca"),
        ("self-signed device certificate", selfie, v13, "unknown ca", "unknown_ca"),
        ("expired certificate", expired, v13, "certificate expired", "cert_expired"),
        ("not-yet-valid certificate", future, v12, "certificate expired", "cert_not_yet_valid"),
        # BoringSSL itself refuses a leaf without digitalSignature, with
        # illegal_parameter, before mqgate's check runs.
        ("CA certificate used as device certificate", (pki.ca_cert, pki.ca_key), v13,
         "illegal parameter", "bad_cert"),
    ]
    for what, pair, ver, alert, label in cases:
        ctx = client_context(*(pair or (None, None)), ca=pki.ca_cert)
        ctx.minimum_version = ctx.maximum_version = ver
        got = handshake_error(gate.port, ctx)
        check(got == alert, "%s: alert '%s' (got '%s')" % (what, alert, got))
        check(wait_for(lambda: ("reason=%s" % label) in gate.text()),
              "%s: logged with reason=%s" % (what, label))
    check("refused peer=127.0.0.1:" in gate.text(), "refusal lines carry the peer address")

    for what, pair in (("valid device certificate", good),
                       ("device of an intermediate CA sending its chain", chained)):
        got = handshake_error(gate.port, client_context(*pair, ca=pki.ca_cert))
        check(got == "", "%s: accepted (got '%s')" % (what, got or "ok"))

    # A real client sees the refusal too.
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(gate.port),
                        "--cafile", pki.ca_cert, "--cert", expired[0], "--key", expired[1],
                        "--insecure", "-t", "x", "-m", "y"],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode != 0, "mosquitto_pub with an expired certificate fails")
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
