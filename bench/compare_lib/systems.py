"""compare: the systems under test, one Server class each, and SERVERS."""
import os

from .util import SERVER_CORE, free_port, proc_tree


class Server:
    """One system under test. start(key) launches it on a free port pinned
    to SERVER_CORE; cpu_pids() is its process tree, rss_pid() the process
    that holds the connections."""
    name = None

    # Accepts TLS 1.2 as well (the field profile of a TLS 1.2 device stack).
    tls12 = False

    def __init__(self, run, ticket_keys=None):
        self.run = run
        self.proc = None
        self.port = None
        self.key = None
        self.ticket_keys = ticket_keys  # a shared session-ticket key file

    def start(self, key, port=None):
        """|port|: a port another process of the same system already
        listens on (SO_REUSEPORT): this one joins it."""
        self.key = key
        self.port = port or free_port()
        self.proc = self.run.launch(self.name, self.argv(key), core=SERVER_CORE)
        if port is None:
            self.run.wait_port(self.port, self.proc, self.name)
        else:
            self.run.wait_listening(self.proc, self.port, self.name)
        self.ready()

    def ready(self):
        pass

    def argv(self, key):
        raise NotImplementedError

    def cpu_pids(self):
        return proc_tree(self.proc.pid)

    def rss_pid(self):
        return self.proc.pid

    def aux_pids(self):
        """Processes outside the server that serve it (Redis): reported
        apart, never added to the server's figures."""
        return []

    def stop(self):
        if self.proc is not None:
            self.run.stop(self.proc)
            self.proc = None

    def conf(self, text):
        path = self.run.path("%s-%s.conf" % (self.name, self.key))
        with open(path, "w") as f:
            f.write(text)
        return path


class MosquittoTLS(Server):
    name = "mosquitto"

    def argv(self, key):
        r = self.run
        return ["mosquitto", "-c", self.conf(
            "user root\n"
            "persistence false\n"
            "set_tcp_nodelay true\n"
            "log_dest file %s\nlog_type error\nlog_type warning\n"
            "max_connections -1\n"
            "listener %d 127.0.0.1\n"
            "allow_anonymous true\n"
            "cafile %s\ncertfile %s\nkeyfile %s\n"
            "require_certificate true\n"
            "tls_version tlsv1.3\n" %
            (r.path("mosquitto-tls.log"), self.port, r.ca, r.crt[key], r.key[key]))]


class HAProxy(Server):
    name = "haproxy"
    tls12 = True

    def argv(self, key):
        r = self.run
        # maxconn is left to HAProxy: it derives it from the open-file
        # limit (about half of it, two sockets per connection).
        return ["haproxy", "-db", "-f", self.conf(
            "global\n"
            "    nbthread 1\n"
            "defaults\n"
            "    mode tcp\n"
            "    timeout connect 5s\n"
            "    timeout client 10m\n"
            "    timeout server 10m\n"
            "frontend mqtt\n"
            "    bind 127.0.0.1:%d ssl crt %s ca-file %s verify required "
            "ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3%s\n"
            "    default_backend broker\n"
            "backend broker\n"
            "    server broker 127.0.0.1:%d\n" %
            (self.port, r.pem[key], r.ca,
             " tls-ticket-keys %s" % self.ticket_keys if self.ticket_keys else "",
             r.backend_port))]


class Nginx(Server):
    name = "nginx"
    MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

    def argv(self, key):
        r = self.run
        conf = self.conf(
            "load_module %s;\n"
            "user root;\n"
            "worker_processes 1;\n"
            "worker_rlimit_nofile 20000;\n"
            "daemon off;\n"
            "pid %s;\n"
            "error_log %s warn;\n"
            "events { worker_connections 19500; }\n"
            "stream {\n"
            "  server {\n"
            "    listen 127.0.0.1:%d ssl;\n"
            "    ssl_certificate %s;\n"
            "    ssl_certificate_key %s;\n"
            "    ssl_protocols TLSv1.3;\n"
            "    ssl_client_certificate %s;\n"
            "    ssl_verify_client on;\n"
            "    ssl_session_cache shared:mqtt:20m;\n"
            "    proxy_pass 127.0.0.1:%d;\n"
            "    proxy_timeout 10m;\n"
            "  }\n"
            "}\n" % (self.MODULE, r.path("nginx.pid"), r.path("nginx-error.log"),
                     self.port, r.crt[key], r.key[key], r.ca, r.backend_port))
        return ["nginx", "-p", r.path(""), "-e", r.path("nginx-error.log"), "-c", conf]

    def rss_pid(self):
        return self.run.listener_of(self.proc.pid, self.port)


class Hitch(Server):
    name = "hitch"

    def argv(self, key):
        r = self.run
        os.makedirs(r.path("hitch-ocsp"), exist_ok=True)
        # hitch refuses to run its workers as root; the files it reads are
        # loaded before they drop to nobody (and are world-readable).
        user = 'user = "nobody"\ngroup = "nogroup"\n' if os.geteuid() == 0 else ""
        return ["hitch", "--config", self.conf(user +
            'frontend = "[127.0.0.1]:%d"\n'
            'backend = "[127.0.0.1]:%d"\n'
            'pem-file = "%s"\n'
            "client-verify = required\n"
            'client-verify-ca = "%s"\n'
            "tls-protos = TLSv1.3\n"
            'ecdh-curve = "auto"\n'
            "workers = 1\n"
            "daemon = off\n"
            "log-level = 1\n"
            'ocsp-dir = "%s"\n' %
            (self.port, r.backend_port, r.pem[key], r.ca, r.path("hitch-ocsp")))]

    def rss_pid(self):
        return self.run.listener_of(self.proc.pid, self.port)


class Stunnel(Server):
    name = "stunnel"

    def argv(self, key):
        r = self.run
        return ["stunnel4", self.conf(
            "foreground = yes\n"
            "pid =\n"
            "output = %s\n"
            "debug = warning\n"
            "[mqtt]\n"
            "accept = 127.0.0.1:%d\n"
            "connect = 127.0.0.1:%d\n"
            "cert = %s\n"
            "key = %s\n"
            "CAfile = %s\n"
            "verifyChain = yes\n"
            "requireCert = yes\n"
            "sslVersionMin = TLSv1.3\n"
            "sslVersionMax = TLSv1.3\n" %
            (r.path("stunnel-out.log"), self.port, r.backend_port, r.crt[key],
             r.key[key], r.ca))]


class Mqgate(Server):
    name = "mqgate"
    tls12 = True

    def argv(self, key):
        r = self.run
        return [r.mqgate, "--listen", "127.0.0.1:%d" % self.port,
                "--backend", "127.0.0.1:%d" % r.backend_port,
                "--cert", r.crt[key], "--key", r.key[key],
                "--tls-min", "1.2", "--tls-max", "1.3",
                "--workers", "1", "--log-level", "warn",
                "--state-dir", r.path("mqgate-state")] + self.auth_args() + (
                    ["--ticket-keys", self.ticket_keys] if self.ticket_keys else [])

    def auth_args(self):
        return ["--auth", "mtls", "--client-ca", self.run.ca]


class MqgateRegistry(Mqgate):
    name = "mqgate-reg"
    PREFIX = "bench"

    def __init__(self, run, prefix=PREFIX, name=None, warm=True):
        super().__init__(run)
        self.prefix, self.warm = prefix, warm
        self.name = name or self.name

    def auth_args(self):
        return ["--auth", "registry", "--redis", self.run.redis_url,
                "--redis-prefix", self.prefix]

    def ready(self):
        # One pass over every device of the pool fills the cache (one Redis
        # lookup each); what is measured next are cache hits.
        if self.warm:
            doc = self.run.bench("conn", self.port, "--connections",
                                 str(self.run.plan["pool"]), "--source-addrs", "4",
                                 timeout=120)
            self.run.note_errors("%s warm-up (%s)" % (self.name, self.key), doc)

    def aux_pids(self):
        return [self.run.redis.pid]


SERVERS = {c.name: c for c in (MosquittoTLS, HAProxy, Nginx, Hitch, Stunnel, Mqgate,
                               MqgateRegistry)}
