"""09: the bad inputs of tests/BAD-INPUTS.md not already covered by tests
02, 03 and 05: plain TCP garbage, an HTTP request, a chain too long, a
second CONNECT on a live session, and a client ID over --max-client-id.
Each gets its specific answer and a log line; mqgate keeps serving."""
import os
import socket
import time

from harness import (CERTGEN, Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, handshake_error, run, wait_for)


def raw_exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except OSError:
        pass
    s.close()
    return got


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    gate = Mqgate(wd, pki, broker.port, ["--max-client-id", "64"])
    ctx = client_context(cert, key, pki.ca_cert)

    got = raw_exchange(gate.port, os.urandom(512))
    check(len(got) < 16, "plain TCP garbage: closed (%d bytes back: at most an alert)" % len(got))
    got = raw_exchange(gate.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"HTTP" not in got, "an HTTP request: closed, no HTTP answer")
    check(wait_for(lambda: gate.text().count("reason=tls_error") >= 2),
          "both logged as tls_error with BoringSSL's reason")
    check("HTTP_REQUEST" in gate.text(), "the HTTP request is named as such in the log")

    # A chain of 8 (root, 6 intermediates, leaf), all sent by the device.
    issuer = (pki.ca_cert, pki.ca_key)
    chain = []
    for i in range(6):
        c_, k_ = wd.file("int%d.crt" % i), wd.file("int%d.key" % i)
        run([CERTGEN, "ca", "--cn", "Intermediate %d" % i, "--issuer-cert", issuer[0],
             "--issuer-key", issuer[1], "--out-cert", c_, "--out-key", k_])
        chain.insert(0, c_)
        issuer = (c_, k_)
    leaf, leaf_key = pki.device("deep-dev", issuer=issuer)
    with open(wd.file("deep-chain.pem"), "w") as out:
        for f in [leaf] + chain:
            out.write(open(f).read())
    got = handshake_error(gate.port, client_context(wd.file("deep-chain.pem"), leaf_key,
                                                    pki.ca_cert))
    check(got == "unknown ca", "a chain too long: alert unknown_ca (got %s)" % got)
    check(wait_for(lambda: "reason=chain_too_long" in gate.text()), "logged as chain_too_long")

    # A second CONNECT on a live session: the broker closes it (MQTT rule).
    c = Client(gate.port, ctx)
    c.send(connect_packet(4, "twice"))
    check(c.recv_packet()[1][1] == 0, "first CONNECT accepted")
    c.send(connect_packet(4, "twice"))
    check(c.closed_within(5) is not None, "a second CONNECT: the session is closed")
    c.close()

    # A client ID over --max-client-id.
    for level, code in ((4, 0x02), (5, 0x85)):
        c = Client(gate.port, ctx)
        c.send(connect_packet(level, "x" * 65))
        pkt = c.recv_packet()
        check(pkt is not None and pkt[1][1] == code,
              "MQTT %d client ID of 65 bytes over --max-client-id 64: CONNACK 0x%02x" % (level, code))
        c.close()
    c = Client(gate.port, ctx)
    c.send(connect_packet(4, "x" * 64))
    check(c.recv_packet()[1][1] == 0, "64 bytes: accepted")
    c.close()
    # A device that resets its connection is logged with its address (the
    # socket can no longer say it: the address is the one accept gave).
    s = socket.create_connection(("127.0.0.1", gate.port))
    me = "peer=127.0.0.1:%d " % s.getsockname()[1]
    s.sendall(b"\x16\x03\x01\x00\xff\x01")  # the start of a ClientHello
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST
    check(wait_for(lambda: me in gate.text(), 3),
          "a connection reset mid-handshake is logged with its address (%s)" % me.strip())
    check(gate.proc.poll() is None, "mqgate still serving")
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
