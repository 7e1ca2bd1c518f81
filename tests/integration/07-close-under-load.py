"""07: session ends under load, with a real Mosquitto: a device that
publishes a burst, sends DISCONNECT and closes while the broker is busy
sending to it loses nothing (the broker gets every message and the
DISCONNECT, not a reset); a device that stops reading is cut at
--write-timeout; a broker that closes while the device is slow still gets
its last bytes delivered before the TLS close."""
import fcntl
import socket
import struct
import termios
import threading
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connect_packet, finish, publish_packet, subscribe_packet, wait_for)


def plain_client(port, cid):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(connect_packet(4, cid))
    s.recv(4)
    return s


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    gate = Mqgate(wd, pki, broker.port, ["--write-timeout", "1s", "--write-queue-limit", "64k"])
    ctx = client_context(cert, key, pki.ca_cert)

    # A counter straight on the broker.
    counter = plain_client(broker.port, "counter")
    counter.sendall(subscribe_packet("count/t", 0))
    counter.settimeout(10)
    got = bytearray(counter.recv(5))  # SUBACK

    # The broker keeps sending to the device while it bursts and leaves.
    stop = threading.Event()

    def flood():
        f = plain_client(broker.port, "flooder")
        msg = publish_packet("load/x", b"y" * 4000)
        while not stop.is_set():
            f.sendall(msg * 16)
            time.sleep(0.002)
        f.close()

    dev = Client(gate.port, ctx)
    dev.send(connect_packet(4, "burster"))
    dev.recv_packet()
    dev.send(subscribe_packet("load/#", 0))
    dev.recv_packet()
    t = threading.Thread(target=flood)
    t.start()
    time.sleep(0.3)  # the broker->device direction is now full of data
    burst = b"".join(publish_packet("count/t", b"%05d" % i + b"z" * 1000) for i in range(300))
    dev.send(burst + b"\xe0\x00")  # 300 messages, DISCONNECT
    # Closing with unread data makes the device's kernel send a reset and
    # drop what it has not sent yet; that loss would be the device's. Wait
    # until everything left this side, then close: the reset now hits
    # mqgate with the burst still in its receive queue, to be forwarded.
    for _ in range(500):
        outq = struct.unpack("I", fcntl.ioctl(dev.sock.fileno(), termios.TIOCOUTQ,
                                               b"\0" * 4))[0]
        if outq == 0:
            break
        time.sleep(0.01)
    dev.sock.close()
    n = 0
    buf = b""
    deadline = time.time() + 10
    while n < 300 and time.time() < deadline:
        try:
            d = counter.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
        n = buf.count(b"count/t")
    stop.set()
    t.join()
    if not check(n == 300, "device left under load: the broker got all 300 messages (%d)" % n):
        print("\n".join(l for l in gate.text().splitlines() if "burster" in l or "closed" in l)[-2000:])
        print("\n".join(l for l in broker.text().splitlines() if "burster" in l or "counter" in l)[-2000:])
    check(wait_for(lambda: "Client burster disconnected." in broker.text()),
          "and its DISCONNECT (no reset, no will)")
    counter.close()

    # A device that stops reading is cut at --write-timeout.
    stall = Client(gate.port, ctx)
    stall.send(connect_packet(4, "staller"))
    stall.recv_packet()
    stall.send(subscribe_packet("stall/t", 0))
    stall.recv_packet()
    f = plain_client(broker.port, "stall-flooder")
    msg = publish_packet("stall/t", b"s" * 60000)
    t0 = time.time()
    f.settimeout(0.2)
    while time.time() - t0 < 4 and "reason=write_timeout" not in gate.text():
        try:
            f.sendall(msg)
        except (socket.timeout, OSError):
            pass
    check("reason=write_timeout" in gate.text(), "a device that stops reading is cut "
          "at --write-timeout (after %.1f s)" % (time.time() - t0))
    f.close()
    stall.close()
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
