"""05: what a device gets for a bad first packet, over real TLS: the right
CONNACK where the protocol has a code, else a plain close; every case logged
with its reason. Also the handshake and CONNECT timeouts."""
import socket
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, mstr, publish_packet, varint, wait_for)


def raw_connect(level_name, level, flags=0x02, client_id=b"", props=None):
    vh = mstr(level_name) + bytes([level, flags]) + b"\x00\x3c"
    if props is not None:
        vh += varint(len(props)) + props
    body = vh + mstr(client_id)
    return b"\x10" + varint(len(body)) + body


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    gate = Mqgate(wd, pki, broker.port, ["--max-connect-size", "1k", "--handshake-timeout", "1s",
                                         "--connect-timeout", "1s"])
    ctx = client_context(cert, key, pki.ca_cert)

    # (what, bytes, expected CONNACK (first byte..) or None for a plain close, log label)
    cases = [
        ("first packet PUBLISH", publish_packet("a/b", b"x"), None, "not_connect"),
        ("protocol name 'MQTX'", raw_connect(b"MQTX", 4), b"\x20\x02\x00\x01", "mqtt_version"),
        ("protocol level 6", raw_connect(b"MQTT", 6), b"\x20\x02\x00\x01", "mqtt_version"),
        ("MQIsdp with level 4", raw_connect(b"MQIsdp", 4), b"\x20\x02\x00\x01", "mqtt_version"),
        ("3.1.1 reserved connect flag", raw_connect(b"MQTT", 4, flags=0x03), None,
         "connect_malformed"),
        ("5.0 reserved connect flag", raw_connect(b"MQTT", 5, flags=0x03, props=b""),
         b"\x20\x03\x00\x81\x00", "connect_malformed"),
        ("5.0 duplicate property", raw_connect(b"MQTT", 5, props=b"\x21\x00\x05\x21\x00\x06"),
         b"\x20\x03\x00\x81\x00", "connect_malformed"),
        ("5.0 property not allowed in CONNECT", raw_connect(b"MQTT", 5, props=b"\x12\x00\x01a"),
         b"\x20\x03\x00\x81\x00", "connect_malformed"),
        ("fixed-header flags set", b"\x11" + raw_connect(b"MQTT", 4)[1:], None,
         "connect_malformed"),
        ("remaining length over 4 bytes", b"\x10\xff\xff\xff\xff\x01", None, "connect_malformed"),
        ("client ID length past the end", b"\x10\x0e" + mstr(b"MQTT") + b"\x04\x02\x00\x3c\x00\x20ab",
         None, "connect_malformed"),
        ("invalid UTF-8 in client ID", raw_connect(b"MQTT", 4, client_id=b"\xc0\xaf"), None,
         "connect_malformed"),
        ("trailing bytes inside CONNECT", b"\x10\x0f" + mstr(b"MQTT") + b"\x04\x02\x00\x3c" +
         mstr(b"ab") + b"\x00", None, "connect_malformed"),
        ("CONNECT over the 1k limit", connect_packet(4, "x" * 2000), None, "connect_too_large"),
    ]
    for what, data, want, label in cases:
        c = Client(gate.port, ctx)
        c.send(data)
        got = b""
        c.sock.settimeout(5)
        try:
            while True:
                d = c.sock.recv(100)
                if not d:
                    break
                got += d
        except OSError:
            pass
        c.close()
        check(got == (want or b""), "%s: %s (got %s)" % (
            what, "CONNACK " + want.hex() if want else "closed without CONNACK", got.hex() or "close"))
        check(wait_for(lambda: "reason=%s" % label in gate.text()),
              "%s: logged as %s" % (what, label))
    check(broker.client_ids() == [], "none of them reached the broker")

    # Timeouts: TCP connect and silence; TLS done and no CONNECT.
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", gate.port))
    s.settimeout(5)
    check(s.recv(10) == b"", "silent TCP client cut at the handshake timeout")
    check(0.8 < time.time() - t0 < 3, "after about 1 s (%.2f s)" % (time.time() - t0))
    s.close()
    t0 = time.time()
    c = Client(gate.port, ctx)
    c.sock.settimeout(5)
    check(c.recv_packet() is None, "TLS client without CONNECT cut at the CONNECT timeout")
    check(0.8 < time.time() - t0 < 3, "after about 1 s (%.2f s)" % (time.time() - t0))
    c.close()
    check("reason=handshake_timeout" in gate.text() and "reason=connect_timeout" in gate.text(),
          "both timeouts logged with their reasons")

    # A good device still connects after all that.
    c = Client(gate.port, ctx)
    c.send(connect_packet(4, ""))
    pkt = c.recv_packet()
    check(pkt is not None and pkt[1][1] == 0, "a good device still connects")
    c.close()
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
