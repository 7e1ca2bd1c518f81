"""51: --proxy-protocol v2: the broker side receives a PROXY v2 header with
the device's real address, the proxy's address and the TLS facts (version,
cipher, the certificate's CN), then the session as usual. A relay in front
of the real Mosquitto reads and checks the header and strips it (Debian's
Mosquitto 2.0 does not read PROXY headers itself)."""
import socket
import struct
import threading

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port, pipe, wait_for)

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
headers = []


def parse_tlvs(data):
    out = {}
    while len(data) >= 3:
        t, n = data[0], struct.unpack(">H", data[1:3])[0]
        out[t] = data[3:3 + n]
        data = data[3 + n:]
    return out


def relay(listener, broker_port):
    while True:
        try:
            dev, _ = listener.accept()
        except OSError:
            return
        head = b""
        while len(head) < 16:
            head += dev.recv(16 - len(head))
        n = struct.unpack(">H", head[14:16])[0]
        body = b""
        while len(body) < n:
            body += dev.recv(n - len(body))
        h = {"sig": head[:12] == SIG, "vercmd": head[12], "family": head[13]}
        if head[13] == 0x11:
            h["src"] = socket.inet_ntoa(body[0:4])
            h["dst"] = socket.inet_ntoa(body[4:8])
            h["sport"], h["dport"] = struct.unpack(">HH", body[8:12])
            tlvs = parse_tlvs(body[12:])
            if 0x20 in tlvs:
                ssl_tlv = tlvs[0x20]
                h["client"] = ssl_tlv[0]
                h["verify"] = struct.unpack(">I", ssl_tlv[1:5])[0]
                h["ssl"] = {k: v.decode() for k, v in parse_tlvs(ssl_tlv[5:]).items()}
        headers.append(h)
        up = socket.create_connection(("127.0.0.1", broker_port))
        threading.Thread(target=pipe, args=(dev, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, dev), daemon=True).start()


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    threading.Thread(target=relay, args=(lst, broker.port), daemon=True).start()
    gate = Mqgate(wd, pki, lst.getsockname()[1], ["--proxy-protocol", "v2"])
    c = Client(gate.port, client_context(cert, key, pki.ca_cert))
    c.send(connect_packet(4, ""))
    pkt = c.recv_packet()
    local_port = c.sock.getsockname()[1]
    check(pkt is not None and pkt[1][1] == 0, "the session works behind the PROXY header")
    check(wait_for(lambda: broker.client_ids()[-1:] == ["device-0001"]),
          "the broker sees device-0001")
    h = headers[-1]
    check(h["sig"] and h["vercmd"] == 0x21 and h["family"] == 0x11,
          "a PROXY v2 header, command PROXY, TCP over IPv4")
    check(h["src"] == "127.0.0.1" and h["sport"] == local_port,
          "source = the device's own address and port (%s:%d)" % (h["src"], h["sport"]))
    check(h["dport"] == gate.port, "destination = mqgate's listening port")
    check(h.get("client") == 0x03 and h.get("verify") == 0,
          "PP2_TYPE_SSL: TLS, certificate verified on this connection")
    ssl_facts = h.get("ssl", {})
    check(ssl_facts.get(0x21) == "TLSv1.3" and ssl_facts.get(0x22) == "device-0001"
          and ssl_facts.get(0x23), "sub-TLVs: version TLSv1.3, CN device-0001, cipher %s"
          % ssl_facts.get(0x23))
    c.close()
    check(gate.stop() == 0, "mqgate exits 0")
    lst.close()
finally:
    wd.cleanup()
finish()
