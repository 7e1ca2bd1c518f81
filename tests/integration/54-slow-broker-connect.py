"""54: devices that send or leave while mqgate is still connecting to the
broker. A relay in front of the real Mosquitto keeps its listener full
(backlog 0, one connection queued), so mqgate's connect waits for a SYN
retransmission. A PUBLISH pipelined after the CONNECT meanwhile reaches the
broker, after the CONNECT, once the relay accepts; a device that closes
meanwhile ends as closed; the next device is served as usual."""
import socket
import threading
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, pipe, publish_packet, subscribe_packet,
                     wait_for)


def read_packet(sock):
    b0 = sock.recv(1)
    if not b0:
        return None
    n, mult = 0, 1
    while True:
        b = sock.recv(1)[0]
        n += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return b0[0], body


def relay(listener, broker_port, accepted):
    """Accepts (once the test lets it) and pipes each connection to the broker."""
    while True:
        try:
            dev, _ = listener.accept()
        except OSError:
            return
        accepted.append(time.monotonic())
        up = socket.create_connection(("127.0.0.1", broker_port))
        threading.Thread(target=pipe, args=(dev, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, dev), daemon=True).start()


def stalled_listener():
    """A listener whose accept queue is full (backlog 0, one connection
    queued): connects to it wait for a SYN retransmission (about 1 s).
    One connection at a time: two SYNs racing for the freed slot may be
    answered with a reset by the kernel, which is not what is tested here."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    filler = socket.create_connection(lst.getsockname())
    return lst, filler


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0054")
    ctx = client_context(cert, key, pki.ca_cert)
    broker = Mosquitto(wd)

    sub = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
    sub.sendall(connect_packet(4, "watcher"))
    check(read_packet(sub) == (0x20, b"\x00\x00"), "a plain subscriber on the broker")
    sub.sendall(subscribe_packet("early/#", 0, 1))
    check(read_packet(sub)[0] == 0x90, "subscribed to early/#")

    # 1. Data sent while mqgate connects reaches the broker after the CONNECT.
    lst, filler = stalled_listener()
    gate = Mqgate(wd, pki, lst.getsockname()[1], ["--backend-timeout", "15s"])
    early = Client(gate.port, ctx)
    early.send(connect_packet(4, "early-1"))
    time.sleep(0.3)  # mqgate is now waiting for its SYN to be answered
    t_sent = time.monotonic()
    early.send(publish_packet("early/t", b"sent while mqgate was connecting"))
    time.sleep(0.2)
    accepted = []
    threading.Thread(target=relay, args=(lst, broker.port, accepted), daemon=True).start()
    pkt = early.recv_packet()
    if pkt is None or pkt[0] != 0x20:
        print(gate.text())
    check(pkt is not None and pkt[0] == 0x20 and pkt[1][1] == 0,
          "the early device gets CONNACK 0 once the broker is reached")
    check(len(accepted) == 2 and accepted[1] > t_sent,
          "mqgate reached the broker only after the PUBLISH was sent")
    got = read_packet(sub)
    check(got is not None and got[0] & 0xF0 == 0x30 and
          got[1].endswith(b"sent while mqgate was connecting"),
          "the PUBLISH sent during the connect reaches the broker")
    later = Client(gate.port, ctx)
    later.send(connect_packet(4, "later-1"))
    pkt = later.recv_packet()
    check(pkt is not None and pkt[1][1] == 0, "the next device is served as usual")
    for c in (later, early):
        c.close()
    check(gate.stop() == 0, "mqgate exits 0")
    filler.close()
    lst.close()

    # 2. A device that leaves while mqgate connects ends as closed.
    lst, filler = stalled_listener()
    gate = Mqgate(wd, pki, lst.getsockname()[1], ["--backend-timeout", "15s"])
    quitter = Client(gate.port, ctx)
    quitter.send(connect_packet(4, "early-2"))
    time.sleep(0.3)
    quitter.close()
    time.sleep(0.2)
    accepted = []
    threading.Thread(target=relay, args=(lst, broker.port, accepted), daemon=True).start()
    check(wait_for(lambda: "client_id=early-2 reason=closed" in gate.text()),
          "the device that left during the connect ends as closed")
    later = Client(gate.port, ctx)
    later.send(connect_packet(4, "later-2"))
    pkt = later.recv_packet()
    check(pkt is not None and pkt[1][1] == 0, "and the next device is served as usual")
    later.close()
    check(gate.stop() == 0, "mqgate exits 0")
    filler.close()
    lst.close()
    sub.close()
finally:
    wd.cleanup()
finish()
