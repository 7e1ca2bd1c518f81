"""43: the metrics/health port cannot take the device port down (issue 12
point 6). mqgate runs with 1024 open files; 3,000 idle connections to
--metrics get at most the port's cap (64) of them, the rest are answered 503
"Service Unavailable" and closed, and a device still connects and reaches
the broker through the device port meanwhile. Slow or partial requests are
cut with 408 after the request timeout (5 s); status lines carry the right
texts (404 Not Found, 405 Method Not Allowed, 431, 503 for /readyz with the
broker down); keep-alive serves several requests on one connection."""
import resource
import select
import socket
import subprocess
import time

from harness import (MQGATE, Client, Mosquitto, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port, http_get, wait_port)

IDLE = 3000


def status_line(data):
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def recv_all(s, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def wait_established(socks, deadline):
    """Waits until each non-blocking connect in socks has completed."""
    pending = {s.fileno(): s for s in socks}
    p = select.poll()
    for fd in pending:
        p.register(fd, select.POLLOUT)
    while pending and time.time() < deadline:
        for fd, _ in p.poll(100):
            p.unregister(fd)
            del pending[fd]
    if pending:
        raise RuntimeError("%d connects to the metrics port did not complete" % len(pending))


def open_fds(pid):
    import os
    return len(os.listdir("/proc/%d/fd" % pid))


wd = Workdir()
held = []
try:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    pki = Pki(wd)
    broker = Mosquitto(wd)
    port, mport = free_port(), free_port()
    log = open(wd.file("mqgate.log"), "w")
    gate = subprocess.Popen(
        ["prlimit", "--nofile=1024:1024", MQGATE, "--listen", "127.0.0.1:%d" % port,
         "--backend", "127.0.0.1:%d" % broker.port, "--cert", pki.server_cert,
         "--key", pki.server_key, "--client-ca", pki.ca_cert, "--workers", "2",
         "--state-dir", wd.file("state"), "--metrics", "127.0.0.1:%d" % mport],
        stdout=log, stderr=subprocess.STDOUT)
    wd.procs.append(gate)
    wait_port(port)
    dev_cert, dev_key = pki.device("device-43")
    ctx = client_context(dev_cert, dev_key, pki.ca_cert)

    # 3,000 idle connections to the metrics port, opened in batches smaller
    # than the listen backlog (511) so that no SYN is dropped and left to the
    # kernel's retry (1 s, 3 s, 7 s): each batch is established before the
    # next one starts. (poll, not select: the descriptors pass 1024.)
    t_open = time.time()
    poller = select.poll()
    for start in range(0, IDLE, 256):
        batch = []
        for i in range(start, min(IDLE, start + 256)):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", mport))
            held.append(s)
            batch.append(s)
        wait_established(batch, time.time() + 10)
    for s in held:
        poller.register(s, select.POLLIN)
    by_fd = {s.fileno(): i for i, s in enumerate(held)}
    # Those over the cap are answered 503 and closed by mqgate as it takes
    # them off the backlog, before the first request timeout (5 s after
    # the first connect). What is not a 503 counts as admitted; an early 408
    # is kept for the 408 check below.
    SERVICE_UNAVAILABLE = "HTTP/1.1 503 Service Unavailable"
    answered, refused = {}, 0
    deadline = t_open + 4.5
    while refused < IDLE - 64:
        left = deadline - time.time()
        ready = poller.poll(max(0, min(100, int(left * 1000))))
        for fd, _ in ready:
            i = by_fd[fd]
            poller.unregister(fd)
            try:
                d = held[i].recv(4096)
            except OSError:
                d = b""
            answered[i] = status_line(d)
            refused += answered[i] == SERVICE_UNAVAILABLE
        if left <= 0 and not ready:  # past the deadline, what had come is read
            break
    admitted = [s for i, s in enumerate(held) if answered.get(i) != SERVICE_UNAVAILABLE]
    early = [answered[i] for i in answered if answered[i] != SERVICE_UNAVAILABLE]
    check(refused == IDLE - 64 and len(admitted) == 64,
          "%d idle connections: %d answered '503 Service Unavailable' at once, %d held "
          "(cap 64), in %.1f s" % (IDLE, refused, len(admitted), time.time() - t_open))
    fds = open_fds(gate.pid)
    check(fds < 200, "mqgate holds %d descriptors with %d metrics connections open "
          "against it (limit 1024)" % (fds, IDLE))

    # The device port works meanwhile.
    c = Client(port, ctx)
    c.send(connect_packet(4, "dev-43"))
    pkt = c.recv_packet()
    check(pkt is not None and pkt[0] == 0x20 and pkt[1][1] == 0,
          "a device connects through the device port while the metrics port is flooded")
    c.close()

    # The held connections time out: 408 within the request timeout (5 s).
    got = early  # the admitted answered already (408 or anything else)
    waiting = {s.fileno(): s for i, s in enumerate(held) if i not in answered}
    deadline = time.time() + 12
    while waiting and time.time() < deadline:
        for fd, _ in poller.poll(500):
            s = waiting.pop(fd)
            poller.unregister(fd)
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            got.append(status_line(d))
    got += ["(no answer)"] * len(waiting)
    took = time.time() - t_open
    check(set(got) == {"HTTP/1.1 408 Request Timeout"} and took < 9,
          "the 64 idle connections let in are cut with '408 Request Timeout' %.1f s after "
          "they opened (%s)" % (took, sorted(set(got))))
    for s in held:
        s.close()
    held = []
    time.sleep(0.3)
    code, body = http_get(mport, "/healthz")
    check(code == 200, "after the flood /healthz answers 200")

    # A partial request (slowloris) is cut after the request timeout.
    s = socket.create_connection(("127.0.0.1", mport))
    s.sendall(b"GET /metr")
    t0 = time.time()
    time.sleep(1)
    s.sendall(b"ics HTTP/1.1\r\nHost: x\r\n")  # never ends its headers
    d = recv_all(s, 10)
    took = time.time() - t0
    check(status_line(d) == "HTTP/1.1 408 Request Timeout" and 4 <= took <= 7,
          "a partial request: 408 Request Timeout after %.1f s (request timeout 5 s)" % took)
    check(b'"error":"timeout"' in d, "the 408 carries a JSON error body")
    s.close()

    # Status texts.
    def raw(req):
        with socket.create_connection(("127.0.0.1", mport)) as s:
            s.sendall(req)
            return recv_all(s, 5)
    d = raw(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status_line(d) == "HTTP/1.1 404 Not Found", "unknown path: " + status_line(d))
    d = raw(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    check(status_line(d) == "HTTP/1.1 405 Method Not Allowed" and b"Allow: GET, HEAD" in d,
          "POST: " + status_line(d))
    d = raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    check(status_line(d) == "HTTP/1.1 431 Request Header Fields Too Large",
          "5 KB of headers: " + status_line(d))
    d = raw(b"GARBAGE\r\n\r\n")
    check(status_line(d) == "HTTP/1.1 400 Bad Request" and b'"error":"input"' in d,
          "not HTTP: " + status_line(d))
    d = raw(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
    check(status_line(d) == "HTTP/1.1 413 Content Too Large", "a body: " + status_line(d))

    # Keep-alive: two requests, one connection.
    d = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n")
    check(d.count(b"HTTP/1.1 200 OK") == 2 and b"mqgate_connections_accepted_total" in d,
          "two pipelined requests on one keep-alive connection both answered")

    # /readyz with the broker down: 503 Service Unavailable.
    broker.stop()
    d = raw(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status_line(d) == "HTTP/1.1 503 Service Unavailable" and b"broker unreachable" in d,
          "/readyz, broker down: " + status_line(d))

    gate.terminate()
    check(gate.wait(15) == 0, "mqgate stops cleanly")
finally:
    for s in held:
        s.close()
    wd.cleanup()
finish()
