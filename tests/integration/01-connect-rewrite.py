"""01: the client-ID rule through mqgate, seen from a real Mosquitto.

Empty client ID -> the certificate's CN, for MQTT 3.1, 3.1.1 and 5.0; a
non-empty ID is kept; an MQTT 5 device learns its ID from the CONNACK
(Assigned Client Identifier); real mosquitto_pub clients get the same."""
import subprocess

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connack_props, connect_packet, finish, wait_for)

wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    gate = Mqgate(wd, pki, broker.port)
    ctx = client_context(cert, key, pki.ca_cert)

    def connect(level, client_id, clean=True):
        c = Client(gate.port, ctx)
        c.send(connect_packet(level, client_id, clean=clean))
        pkt = c.recv_packet()
        return c, pkt

    for level, name in ((3, "3.1"), (4, "3.1.1"), (5, "5.0")):
        c, pkt = connect(level, "")
        check(pkt is not None and pkt[0] == 0x20 and pkt[1][1] == 0,
              "MQTT %s empty client ID: CONNACK accepted" % name)
        seen = wait_for(lambda: broker.client_ids()[-1:] == ["device-0001"])
        check(seen, "MQTT %s empty client ID appears at the broker as device-0001" % name)
        if level == 5:
            rc, props = connack_props(pkt[1])
            check(props.get(0x12) == b"device-0001",
                  "MQTT 5 CONNACK carries Assigned Client Identifier device-0001")
        c.close()

    c, pkt = connect(4, "my-own-id")
    check(pkt is not None and pkt[1][1] == 0, "non-empty client ID: accepted")
    check(wait_for(lambda: broker.client_ids()[-1:] == ["my-own-id"]),
          "non-empty client ID is kept as my-own-id")
    c.close()

    c, pkt = connect(5, "v5-own-id")
    rc, props = connack_props(pkt[1])
    check(rc == 0 and 0x12 not in props,
          "MQTT 5 with its own ID: no Assigned Client Identifier added")
    c.close()

    # MQTT 3.1.1 forbids an empty ID with clean session 0, but the broker sees
    # the filled-in one, so the session is accepted.
    c, pkt = connect(4, "", clean=False)
    check(pkt is not None and pkt[1][1] == 0,
          "3.1.1 empty ID with clean session 0: accepted after the rewrite")
    c.close()

    # Real clients: mosquitto_pub sends an empty client ID by default.
    for ver in ("mqttv311", "mqttv5"):
        r = subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(gate.port), "-V", ver,
             "--cafile", pki.ca_cert, "--cert", cert, "--key", key, "--insecure",
             "-t", "demo/hello", "-m", "hi", "-d"],
            capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, "mosquitto_pub -V %s through mqgate exits 0" % ver)
        check(wait_for(lambda: broker.client_ids()[-1:] == ["device-0001"]),
              "mosquitto_pub -V %s appears at the broker as device-0001" % ver)
        if ver == "mqttv5":
            check("Client device-0001 received CONNACK" in r.stdout,
                  "mosquitto_pub -V mqttv5 learns its ID from the CONNACK")
    check(gate.stop() == 0, "mqgate exits 0 on SIGTERM")
finally:
    wd.cleanup()
finish()
