"""harness.py: what the integration tests share.

Each test starts the real servers it needs (Mosquitto, mqgate) on free
loopback ports in a temporary directory and stops them at the end. Clients are
real: mosquitto_pub/mosquitto_sub, openssl s_client, and a small MQTT client
over Python's ssl module (OpenSSL) for byte-exact checks.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("MQG_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
MQGATE = os.path.join(BUILD, "proxy", "mqgate")
MQGATECTL = os.path.join(BUILD, "policy", "mqgatectl")
CERTGEN = os.path.join(BUILD, "bench", "mqgate-certgen")
TEST_CLIENT = os.path.join(BUILD, "tests", "mqg-test-client")

_results = {"passed": 0, "failed": []}


def cache_value(key):
    """The value of |key| in the build's CMakeCache.txt ("" when unset)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""


def check(cond, what):
    """Records one assertion; finish() exits non-zero if any failed."""
    print(("ok     " if cond else "FAILED ") + what, flush=True)
    if cond:
        _results["passed"] += 1
    else:
        _results["failed"].append(what)
    return cond


def finish():
    print("%d passed, %d failed" % (_results["passed"], len(_results["failed"])))
    sys.exit(1 if _results["failed"] or not _results["passed"] else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


def wait_for(fn, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def align():
    """Sleeps to just after the start of the next second: a burst then
    fits in one second of the (same machine's) Redis clock."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def in_one_second(block, prepare=None, fits=None, tries=3):
    """Runs block(x) from just after the start of a second (align), x being
    prepare(attempt)'s result, made before the wait (the attempt number
    without prepare); again, up to |tries| times in all, while the run did
    not fit in one second: fits(result) if given (say, Redis's own per-second
    counters), else the wall clock's second unchanged when block returned.
    Returns block's last result (the caller's checks judge it)."""
    for attempt in range(tries):
        x = prepare(attempt) if prepare else attempt
        align()
        second = int(time.time())
        out = block(x)
        if fits(out) if fits else int(time.time()) == second:
            break
    return out


class Workdir:
    """A temp dir readable by Mosquitto even after it drops root."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="mqgate-it-")
        os.chmod(self.path, 0o755)
        self.procs = []

    def file(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.path, ignore_errors=True)


class Pki:
    """Demo PKI made with mqgate-certgen: a CA, a server cert, devices."""

    def __init__(self, wd):
        self.wd = wd
        self.ca_cert, self.ca_key = wd.file("ca.crt"), wd.file("ca.key")
        run([CERTGEN, "ca", "--cn", "Test Fleet CA", "--out-cert", self.ca_cert,
             "--out-key", self.ca_key])
        self.server_cert, self.server_key = wd.file("server.crt"), wd.file("server.key")
        run([CERTGEN, "server", "--cn", "localhost", "--issuer-cert", self.ca_cert,
             "--issuer-key", self.ca_key, "--out-cert", self.server_cert,
             "--out-key", self.server_key])
        for f in os.listdir(wd.path):
            os.chmod(wd.file(f), 0o644)

    def device(self, cn, issuer=None, extra=()):
        cert, key = self.wd.file(cn + ".crt"), self.wd.file(cn + ".key")
        ic, ik = issuer or (self.ca_cert, self.ca_key)
        run([CERTGEN, "device", "--cn", cn, "--issuer-cert", ic, "--issuer-key", ik,
             "--out-cert", cert, "--out-key", key] + list(extra))
        os.chmod(key, 0o644)
        return cert, key

    def other_ca(self, name="Other CA"):
        cert, key = self.wd.file("other-ca.crt"), self.wd.file("other-ca.key")
        run([CERTGEN, "ca", "--cn", name, "--out-cert", cert, "--out-key", key])
        return cert, key


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], r.returncode, r.stderr))
    return r


class Mosquitto:
    def __init__(self, wd, port=None, extra_conf=""):
        self.wd = wd
        self.port = port or free_port()
        self.conf = wd.file("mosquitto-%d.conf" % self.port)
        self.log = wd.file("mosquitto-%d.log" % self.port)
        with open(self.conf, "w") as f:
            # A file log is flushed line by line (stdout to a file is not).
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n"
                    "log_dest file %s\nlog_type all\nconnection_messages true\n"
                    "%s" % (self.port, self.log, extra_conf))
        open(self.log, "a").close()
        os.chmod(self.log, 0o666)  # Mosquitto started as root drops to its user
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wd.procs.append(self.proc)
        try:
            wait_port(self.port)
        except RuntimeError:
            print(self.text())
            raise

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def client_ids(self):
        """Client IDs the broker saw connect, in order."""
        return re.findall(r"New client connected from \S+ as (\S+) ", self.text())


class Redis:
    """A real redis-server on a free loopback port, no persistence."""

    def __init__(self, wd, port=None, persist=False, extra=(), password=None):
        self.wd = wd
        self.port = port or free_port()
        self.log = wd.file("redis-%d.log" % self.port)
        self.persist = persist  # an append-only file, to survive restarts
        self.extra = list(extra)  # more redis-server options
        self.password = password  # what cli() authenticates with (requirepass)
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes" if self.persist else "no",
             "--appendfilename", "redis-%d.aof" % self.port, "--appendfsync", "always",
             "--dir", self.wd.path,
             "--logfile", self.log] + self.extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wd.procs.append(self.proc)
        wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def cli(self, *args):
        """Runs redis-cli against this server; returns its stdout, stripped."""
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10,
                           env=dict(os.environ, REDISCLI_AUTH=self.password)
                           if self.password else None)
        return r.stdout.strip()


class Served:
    """A program of ours serving on self.port, its output in self.log: started
    with self.cmd in the environment plus |env|, waited for on its port (its
    log printed if it never listens)."""

    def start(self, wd, env):
        e = dict(os.environ)
        e.update(env or {})
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=e)
        wd.procs.append(self.proc)
        try:
            wait_port(self.port)
        except RuntimeError:
            print(self.text())
            raise

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


class Mqgate(Served):
    def __init__(self, wd, pki, backend_port, args=(), env=None, port=None):
        self.wd = wd
        self.port = port or free_port()
        self.log = wd.file("mqgate-%d.log" % self.port)
        self.cmd = [MQGATE, "--listen", "127.0.0.1:%d" % self.port,
                    "--backend", "127.0.0.1:%d" % backend_port,
                    "--cert", pki.server_cert, "--key", pki.server_key,
                    "--client-ca", pki.ca_cert, "--workers", "2",
                    "--state-dir", wd.file("state")] + list(args)
        self.start(wd, env)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(15)
        self.logf.close()
        return rc


# --- a small MQTT client over TLS ---------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def connect_packet(level=4, client_id="", clean=True, keepalive=60,
                   username=None, password=None, will=None, props=b""):
    name = b"MQIsdp" if level == 3 else b"MQTT"
    flags = 0x02 if clean else 0
    payload = mstr(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        if level == 5:
            payload += varint(0)
        payload += mstr(topic) + mstr(msg)
    if username is not None:
        flags |= 0x80
        payload += mstr(username)
    if password is not None:
        flags |= 0x40
        payload += mstr(password)
    vh = mstr(name) + bytes([level, flags]) + struct.pack(">H", keepalive)
    if level == 5:
        vh += varint(len(props)) + props
    body = vh + payload
    return b"\x10" + varint(len(body)) + body


def publish_packet(topic, payload, qos=0, pid=1, level=4):
    body = mstr(topic) + (struct.pack(">H", pid) if qos else b"")
    if level == 5:
        body += b"\x00"
    body += payload
    return bytes([0x30 | (qos << 1)]) + varint(len(body)) + body


def subscribe_packet(topic, qos=0, pid=1, level=4):
    body = struct.pack(">H", pid) + (b"\x00" if level == 5 else b"") + mstr(topic) + bytes([qos])
    return b"\x82" + varint(len(body)) + body


def pipe(a, b):
    """Copies socket a to socket b until EOF or an error, then shuts both
    (a relay's half; run one per direction in a thread)."""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def client_context(cert=None, key=None, ca=None, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca:
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    if version:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def closed_within(sock, timeout, keep=None):
    """Waits up to |timeout| s for the peer to end the connection on |sock|
    (plain or TLS: EOF, a TLS alert or close, a reset): the seconds it took,
    or None if it was still open when |timeout| ran out. What arrives
    meanwhile goes to keep(data) if given, else is dropped."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    before = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                d = sock.recv(65536)
            except socket.timeout:
                return None
            except (ssl.SSLError, OSError):
                d = b""
            if not d:
                return time.monotonic() - t0
            if keep is not None:
                keep(d)
    finally:
        try:
            sock.settimeout(before)
        except OSError:
            pass


class Client:
    """A blocking MQTT-over-TLS client that sends raw packets."""

    def __init__(self, port, ctx, timeout=10.0, session=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, session=session)
        self.buf = b""
        self.ended = False  # closed_within saw the server end it

    def send(self, data):
        self.sock.sendall(data)

    def recv_packet(self):
        """Returns (first byte, body) of the next packet, or None at EOF."""
        while True:
            if len(self.buf) >= 2:
                mult, n, i = 1, 0, 1
                while i < len(self.buf) and i <= 4:
                    n += (self.buf[i] & 0x7F) * mult
                    mult *= 128
                    if not self.buf[i] & 0x80:
                        break
                    i += 1
                else:
                    i = None
                if i is not None and i < len(self.buf) and len(self.buf) >= i + 1 + n:
                    pkt = self.buf[:i + 1 + n]
                    self.buf = self.buf[i + 1 + n:]
                    return pkt[0], pkt[i + 1:]
            try:
                d = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionError, OSError):
                d = b""
            if not d:
                return None
            self.buf += d

    def closed_within(self, timeout):
        """closed_within on this connection (what arrives meanwhile is kept
        in buf); once it saw the end, it answers 0 at once. (recv_packet
        cannot tell a close: a timeout is None there too.)"""
        if self.ended:
            return 0.0
        took = closed_within(self.sock, timeout, self._keep)
        self.ended = took is not None
        return took

    def _keep(self, data):
        self.buf += data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connack_props(body):
    """MQTT 5 CONNACK body -> (reason code, {property id: raw value})."""
    rc = body[1]
    props = {}
    if len(body) > 2:
        mult, n, i = 1, 0, 2
        while True:
            n += (body[i] & 0x7F) * mult
            mult *= 128
            i += 1
            if not body[i - 1] & 0x80:
                break
        p, end = i, i + n
        while p < end:
            pid = body[p]
            p += 1
            if pid == 0x12 or pid in (0x1A, 0x1C, 0x1F, 0x03, 0x08, 0x15):
                ln = struct.unpack(">H", body[p:p + 2])[0]
                props[pid] = body[p + 2:p + 2 + ln]
                p += 2 + ln
            elif pid in (0x11, 0x27):
                props[pid] = body[p:p + 4]
                p += 4
            elif pid in (0x13, 0x21, 0x22):
                props[pid] = body[p:p + 2]
                p += 2
            elif pid == 0x26:
                l1 = struct.unpack(">H", body[p:p + 2])[0]
                l2 = struct.unpack(">H", body[p + 2 + l1:p + 4 + l1])[0]
                p += 4 + l1 + l2
            else:
                props[pid] = body[p:p + 1]
                p += 1
    return rc, props


def http_get(port, path):
    """GET |path| from 127.0.0.1:|port| -> (status code, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  % path.encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def scrape(port):
    """GET /metrics from mqgate's metrics listener -> {series: value}."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    body = data.split(b"\r\n\r\n", 1)[1].decode()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def tls_alert_of(exc):
    """The alert name in an ssl exception text ('tlsv13 alert certificate
    required' -> 'certificate required'), or the text itself."""
    m = re.search(r"(?:tlsv1\d?|sslv3) alert ([a-z ]+)", str(exc).lower())
    return m.group(1).strip() if m else str(exc)


def handshake_error(port, ctx, session=None):
    """Connects, completes the handshake and reads once: returns the alert
    the server sent (or '' when the connection stayed up)."""
    try:
        c = Client(port, ctx, timeout=5, session=session)
        # In TLS 1.3 the server's verdict on our certificate comes after our
        # side considers the handshake done: read to see it.
        c.send(connect_packet(4, "probe"))
        c.sock.recv(16)
        c.close()
        return ""
    except ssl.SSLError as e:
        return tls_alert_of(e)
    except (ConnectionError, OSError) as e:
        return "closed: %s" % e


# --- the registry: mqgatectl and a small Redis client ---------------------

def ctl(redis_url, *args, prefix="mqgate", env=None):
    """Runs mqgatectl against |redis_url| and key prefix |prefix|; returns
    the CompletedProcess (returncode, stdout, stderr)."""
    e = dict(os.environ)
    e.pop("MQGATE_REDIS", None)
    e.pop("MQGATE_REDIS_PREFIX", None)
    e.update(env or {})
    cmd = [MQGATECTL]
    if redis_url is not None:
        cmd += ["--redis", redis_url]
    if prefix is not None:
        cmd += ["--redis-prefix", prefix]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60, env=e)


class RespError(Exception):
    """An error reply; returned (not raised) by Resp.call and Resp.read."""


class Resp:
    """A minimal RESP2 client over one socket: commands, pipelines (send
    several, then read), and pub/sub (SUBSCRIBE, then read() messages)."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, raw=False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.raw = raw  # bulk strings as bytes (binary index members)

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("Redis closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("Redis closed the connection")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self, timeout=None):
        """The next reply: str, int, None, list, or a RespError."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._bytes(n)
            return data if self.raw else data.decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("bad RESP line %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.read()

    def pipeline(self, commands):
        """Sends every command (a tuple) at once, then reads the replies."""
        out = []
        for c in commands:
            a = c if isinstance(c, (list, tuple)) else (c,)
            n = len(a)
            out.append(b"*%d\r\n" % n)
            for x in a:
                x = x if isinstance(x, bytes) else str(x).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(x), x))
        self.sock.sendall(b"".join(out))
        return [self.read() for _ in commands]

    def messages(self, count, timeout=5.0):
        """After SUBSCRIBE: up to |count| published messages (str) within
        |timeout| seconds."""
        got, deadline = [], time.time() + timeout
        while len(got) < count and time.time() < deadline:
            try:
                m = self.read(timeout=max(0.01, deadline - time.time()))
            except socket.timeout:
                break
            if isinstance(m, list) and len(m) == 3 and m[0] == "message":
                got.append(m[2])
        return got

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- mqgate-admin ----------------------------------------------------------

MQGATE_ADMIN = os.path.join(BUILD, "policy", "mqgate-admin")


class Admin(Served):
    """mqgate-admin on a free loopback port: HTTPS with the self-signed
    certificate it generates in its state dir (verified by the client), or
    plain HTTP with plain=True."""

    def __init__(self, wd, redis_url, prefix="mqgate", args=(), plain=False, env=None):
        self.wd = wd
        self.port = free_port()
        self.plain = plain
        self.state = wd.file("admin-state-%d" % self.port)
        self.log = wd.file("admin-%d.log" % self.port)
        self.cmd = [MQGATE_ADMIN, "--listen", "127.0.0.1:%d" % self.port, "--redis",
                    redis_url, "--redis-prefix", prefix, "--state-dir", self.state] + list(args)
        if plain:
            self.cmd.append("--plain-http")
        self.start(wd, env)
        self.base = "%s://127.0.0.1:%d" % ("http" if plain else "https", self.port)
        self.ctx = None
        if not plain:
            self.ctx = ssl.create_default_context(cafile=os.path.join(self.state, "admin.crt"))

    def call(self, method, path, token=None, body=None, headers=None, raw=None):
        """One request -> (status, parsed JSON body or text, headers)."""
        import json
        import urllib.error
        import urllib.request
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token is not None:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=20) as r:
                status, text, hdrs = r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode(), e.headers
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(15)
        self.logf.close()
        return rc


def admin_token(redis_url, name, role, prefix="mqgate"):
    """Creates an API token with mqgatectl; returns its text."""
    r = ctl(redis_url, "token", "create", "--name", name, "--role", role, prefix=prefix)
    if r.returncode != 0:
        raise RuntimeError("token create failed: " + r.stderr)
    return r.stdout.strip()


def cert_fp(path):
    """The SHA-256 fingerprint (hex) of the first certificate in a PEM
    file: the registry's id of a certificate or CA."""
    with open(path) as f:
        pem = f.read()
    start = pem.index("-----BEGIN CERTIFICATE-----")
    end = pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem[start:end])).hexdigest()


def pem_of(path):
    with open(path) as f:
        return f.read()
