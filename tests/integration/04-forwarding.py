"""04: forwarding through mqgate to a real Mosquitto: a 1 MiB message
intact with real clients, 500 concurrent devices exchanging messages, a
CONNECT split into one TLS record per byte with packets pipelined after it,
the broker down ("server unavailable" CONNACK for 3.1.1 and 5), the broker
killed under live sessions, and back-pressure against a device that stops
reading."""
import asyncio
import os
import ssl
import subprocess
import time

from harness import (Client, Mosquitto, Mqgate, Pki, Workdir, check, client_context,
                     connack_props, connect_packet, finish, free_port, publish_packet, scrape,
                     subscribe_packet, varint, wait_for)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def read_packet(reader):
    b0 = (await reader.readexactly(1))[0]
    n, mult = 0, 1
    while True:
        b = (await reader.readexactly(1))[0]
        n += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return b0, await reader.readexactly(n)


async def device(i, count, port, ctx, ready, go):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    writer.write(connect_packet(4, "dev-%d" % i))
    b0, body = await read_packet(reader)
    assert b0 == 0x20 and body[1] == 0, "CONNACK refused"
    writer.write(subscribe_packet("fleet/%d" % i, 1))
    b0, body = await read_packet(reader)
    assert b0 == 0x90, "no SUBACK"
    ready.append(i)
    await go.wait()
    writer.write(publish_packet("fleet/%d" % ((i + 1) % count), b"hello %d" % i, qos=1, pid=7))
    got_puback = got_msg = False
    while not (got_puback and got_msg):
        b0, body = await asyncio.wait_for(read_packet(reader), 30)
        if b0 >> 4 == 4:
            got_puback = True
        elif b0 >> 4 == 3:
            want = b"hello %d" % ((i - 1) % count)
            assert body.endswith(want), body
            if (b0 >> 1) & 3:
                writer.write(b"\x40\x02" + body[2 + body[1]:4 + body[1]])
            got_msg = True
    writer.close()
    return True


async def fleet(port, ctx, count):
    ready, go = [], asyncio.Event()
    tasks = [asyncio.create_task(device(i, count, port, ctx, ready, go)) for i in range(count)]
    while len(ready) < count and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    open_now = len(ready)
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return open_now, sum(1 for r in results if r is True), [r for r in results if r is not True][:3]


wd = Workdir()
try:
    pki = Pki(wd)
    cert, key = pki.device("device-0001")
    broker = Mosquitto(wd)
    mport = free_port()
    gate = Mqgate(wd, pki, broker.port, ["--metrics", "127.0.0.1:%d" % mport])
    ctx = client_context(cert, key, pki.ca_cert)
    common = ["-h", "127.0.0.1", "-p", str(gate.port), "--cafile", pki.ca_cert,
              "--cert", cert, "--key", key, "--insecure"]

    # 1 MiB through real clients.
    payload = os.urandom(1 << 20)
    src, dst = wd.file("big.bin"), wd.file("big.out")
    with open(src, "wb") as f:
        f.write(payload)
    sub = subprocess.Popen(["mosquitto_sub"] + common + ["-i", "big-sub", "-t", "big/t", "-C", "1",
                                                          "-N", "-W", "30"],
                           stdout=open(dst, "wb"))
    wait_for(lambda: "big-sub" in broker.client_ids())
    time.sleep(0.2)
    r = subprocess.run(["mosquitto_pub"] + common + ["-i", "big-pub", "-t", "big/t", "-q", "1",
                                                     "-f", src], capture_output=True, timeout=30)
    sub.wait(30)
    with open(dst, "rb") as f:
        got = f.read()
    check(r.returncode == 0 and got == payload, "1 MiB message published and received intact "
          "(%d bytes back)" % len(got))
    m = scrape(mport)
    up, down = m["mqgate_bytes_to_broker_total"], m["mqgate_bytes_to_device_total"]
    check(up > len(payload) and down > len(payload),
          "the byte counters hold the 1 MiB each way (%d to the broker, %d to devices)" %
          (up, down))

    # 500 concurrent devices.
    open_now, ok, errors = asyncio.run(fleet(gate.port, ctx, 500))
    check(open_now == 500, "500 devices connected at once (%d)" % open_now)
    check(ok == 500, "500 devices each published and received one QoS 1 message (%d ok; %s)"
          % (ok, errors))

    # A CONNECT in one TLS record per byte, with a SUBSCRIBE pipelined behind it.
    c = Client(gate.port, ctx)
    for b in connect_packet(5, "", props=b"\x21\x00\x10") + subscribe_packet("split/t", 0, level=5):
        c.send(bytes([b]))
    pkt = c.recv_packet()
    rc, props = connack_props(pkt[1])
    check(rc == 0 and props.get(0x12) == b"device-0001",
          "CONNECT split over one TLS record per byte: accepted, ID assigned")
    pkt = c.recv_packet()
    check(pkt is not None and pkt[0] == 0x90, "the SUBSCRIBE pipelined after CONNECT got its SUBACK")
    c.close()

    # Back-pressure: a subscriber that stops reading while 40 MiB are sent
    # to it; mqgate's memory must stay bounded.
    slow = Client(gate.port, ctx)
    slow.send(connect_packet(4, "slow-sub"))
    slow.recv_packet()
    slow.send(subscribe_packet("flood/t", 0))
    slow.recv_packet()
    rss0 = rss_kib(gate.proc.pid)
    flood = Client(gate.port, ctx)
    flood.send(connect_packet(4, "flooder"))
    flood.recv_packet()
    chunk = publish_packet("flood/t", b"x" * 65536)
    for _ in range(640):
        flood.send(chunk)
    time.sleep(1.0)
    rss1 = rss_kib(gate.proc.pid)
    check(rss1 - rss0 < 16 * 1024, "40 MiB towards a stalled device: mqgate RSS grew %d KiB "
          "(bounded by the write-queue limit)" % (rss1 - rss0))
    slow.sock.settimeout(10)
    pkt = slow.recv_packet()
    check(pkt is not None and pkt[0] >> 4 == 3, "the stalled device still gets messages once it reads")
    slow.close()
    flood.close()

    # Broker killed under live sessions: the device is disconnected cleanly.
    live = Client(gate.port, ctx)
    live.send(connect_packet(4, "live-dev"))
    live.recv_packet()
    broker.stop()
    check(live.closed_within(10) is not None, "broker stopped: the live device session is closed")
    live.close()

    # Backend unreachable: CONNACK "server unavailable", then close.
    for level, code in ((4, 3), (5, 0x88), (3, 3)):
        c = Client(gate.port, ctx)
        c.send(connect_packet(level, ""))
        pkt = c.recv_packet()
        check(pkt is not None and pkt[0] == 0x20 and pkt[1][1] == code,
              "broker down, MQTT level %d: CONNACK code 0x%02x" % (level, code))
        check(c.closed_within(10) is not None, "broker down, MQTT level %d: then closed" % level)
        c.close()
    check("reason=backend_unavailable" in gate.text(), "backend_unavailable logged")

    # Broker back: devices connect again.
    broker.start()
    c = Client(gate.port, ctx)
    c.send(connect_packet(4, ""))
    pkt = c.recv_packet()
    check(pkt is not None and pkt[1][1] == 0, "broker back: devices connect again")
    c.close()
    check(gate.stop() == 0, "mqgate exits 0")
finally:
    wd.cleanup()
finish()
