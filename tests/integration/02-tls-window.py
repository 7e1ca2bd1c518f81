"""02: the TLS version window, checked with openssl s_client at every
version: inside the window accepted, outside refused with a protocol_version
alert. A window changed in the config file applies on SIGHUP to the next
handshake while a live session keeps going."""
import signal
import subprocess
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, publish_packet, subscribe_packet, wait_for)

VERSIONS = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}
ORDER = ["1.0", "1.1", "1.2", "1.3"]


def s_client(port, ver, cert, key, ca):
    r = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, VERSIONS[ver],
         "-cipher", "DEFAULT:@SECLEVEL=0", "-cert", cert, "-key", key,
         "-CAfile", ca, "-brief"],
        input="", capture_output=True, text=True, timeout=15)
    out = r.stdout + r.stderr
    if "alert protocol version" in out:
        return "protocol_version"
    # A client whose minimum is above the window gets the server's highest
    # version in the ServerHello and aborts itself, sending protocol_version.
    if "ssl_choose_client_version:unsupported protocol" in out:
        return "protocol_version"
    if "Protocol version: TLSv%s\n" % ("1" if ver == "1.0" else ver) in out + "\n":
        return "accepted"
    return out.strip().splitlines()[-1] if out.strip() else "no output"


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    windows = [("1.0", "1.3"), ("1.2", "1.3"), ("1.1", "1.2"), ("1.2", "1.2"), ("1.3", "1.3"),
               ("1.0", "1.0")]
    for lo, hi in windows:
        gate = Mqgate(wd, pki, broker.port, ["--tls-min", lo, "--tls-max", hi])
        for ver in ORDER:
            inside = ORDER.index(lo) <= ORDER.index(ver) <= ORDER.index(hi)
            got = s_client(gate.port, ver, cert, key, pki.ca_cert)
            want = "accepted" if inside else "protocol_version"
            check(got == want, "window %s..%s, client TLS %s: %s (got %s)" %
                  (lo, hi, ver, want, got))
        check("reason=tls_version" in gate.text() or (lo, hi) == ("1.0", "1.3"),
              "window %s..%s: refusals logged with reason tls_version" % (lo, hi))
        gate.stop()

    # min > max is a startup error.
    r = subprocess.run([wd.file("x")] if False else
                       [__import__("harness").MQGATE, "--tls-min", "1.3", "--tls-max", "1.2",
                        "--client-ca", pki.ca_cert], capture_output=True, text=True)
    check(r.returncode == 2 and "tls-min 1.3 is above tls-max 1.2" in r.stderr,
          "tls-min above tls-max refused at startup with exit code 2")

    # Live change: a config file, SIGHUP, next handshake uses the new window;
    # a session opened before keeps working.
    conf = wd.file("mqgate.ini")
    with open(conf, "w") as f:
        f.write("[mqgate]\ntls-min = 1.2\ntls-max = 1.3\n")
    gate = Mqgate(wd, pki, broker.port, ["--config", conf])
    live = Client(gate.port, client_context(cert, key, pki.ca_cert))
    live.send(connect_packet(4, "live-one"))
    check(live.recv_packet()[0] == 0x20, "live session connected under 1.2..1.3")
    live.send(subscribe_packet("window/t", 0))
    check(live.recv_packet()[0] == 0x90, "live session subscribed")
    check(s_client(gate.port, "1.2", cert, key, pki.ca_cert) == "accepted",
          "before reload: TLS 1.2 accepted")
    with open(conf, "w") as f:
        f.write("[mqgate]\ntls-min = 1.3\ntls-max = 1.3\n")
    gate.signal(signal.SIGHUP)
    check(wait_for(lambda: "TLS window 1.3..1.3 for new handshakes" in gate.text()),
          "SIGHUP logs the new window 1.3..1.3")
    check(s_client(gate.port, "1.2", cert, key, pki.ca_cert) == "protocol_version",
          "after reload: TLS 1.2 refused with protocol_version")
    check(s_client(gate.port, "1.3", cert, key, pki.ca_cert) == "accepted",
          "after reload: TLS 1.3 accepted")
    pub = Client(gate.port, client_context(cert, key, pki.ca_cert))
    pub.send(connect_packet(4, "publisher"))
    pub.recv_packet()
    pub.send(publish_packet("window/t", b"still-alive"))
    pkt = live.recv_packet()
    check(pkt is not None and pkt[1].endswith(b"still-alive"),
          "the session opened before the reload still receives messages")
    # A broken file is refused and the window stays.
    with open(conf, "w") as f:
        f.write("[mqgate]\ntls-min = 1.9\n")
    gate.signal(signal.SIGHUP)
    check(wait_for(lambda: "reload refused" in gate.text()), "broken config refused on SIGHUP")
    check(s_client(gate.port, "1.2", cert, key, pki.ca_cert) == "protocol_version",
          "after a refused reload the window stays 1.3..1.3")
    live.close()
    pub.close()
    gate.stop()
finally:
    wd.cleanup()
finish()
