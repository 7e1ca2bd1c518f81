"""compare: constants, the plans, the metrics table and the small helpers
(/proc readings, free ports, number formatting) the other modules share."""
import ctypes
import os
import re
import signal
import socket
import subprocess

# The repository: three levels up from bench/compare_lib/util.py.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_CORE, CLIENT_CORE = 0, 1
# A latency run during which the hypervisor gave more than this share (%) of
# either core to other guests is taken again (see record_latency).
STEAL_MAX = 3.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What each kind of run does. "quick" keeps what fits in under 3 minutes:
# ECDSA server keys only (no RSA), fewer connections and shorter phases,
# no hitch and no stunnel (the slowest handshakes, so the longest runs), no
# largest-idle-count probe, 100 revocations of 200 live devices.
PLANS = {
    "full": dict(
        keys=("ecdsa", "rsa"),
        systems=("mosquitto", "haproxy", "nginx", "hitch", "stunnel", "mqgate",
                 "mqgate-reg"),
        pool=4000,              # device certificates (mqgate-reg: all registered)
        conn=4000,              # full handshakes per measurement
        resume=(1000, 3),       # devices, reconnections each (resumed)
        pub_conns=8, pub_s=5,   # publishers, seconds per payload size
        fleet=(1000, 20000, 5), # devices, msg/s in all, seconds measured
        lat_pairs=8, lat_s=4, lat_runs=3, lat_retries=2,  # pairs, s per run, runs, retries
        idle=8000, idle_s=2,    # idle connections held, seconds held
        max_idle=9990,          # mqgate: connections tried in one process
        revoke_devices=1000, revokes=900,   # 100 stay, to see they do
        field_conns=1000, nagle_conns=200,  # field-profile handshakes, connect times
        storm=19000,            # devices of the reconnect storm (at most the fd limit)
        storm_systems=("mqgate", "haproxy"),
        bssl_rsa=True,
        retries=1,              # a block with over STEAL_MAX % steal, again
        budget_s=32 * 60),
    "quick": dict(
        keys=("ecdsa",),
        systems=("mosquitto", "haproxy", "nginx", "mqgate", "mqgate-reg"),
        pool=1000, conn=1000, resume=(300, 3),
        pub_conns=4, pub_s=2, fleet=(300, 10000, 2),
        lat_pairs=4, lat_s=2, lat_runs=1, lat_retries=1,
        idle=2000, idle_s=1, max_idle=0,
        revoke_devices=200, revokes=100,
        field_conns=300, nagle_conns=50,
        storm=0, storm_systems=(),           # the storm runs in the full set only
        bssl_rsa=False,
        retries=0,
        budget_s=150),
}

LABELS = {"mosquitto": "Mosquitto TLS", "haproxy": "HAProxy", "nginx": "NGINX",
          "hitch": "hitch", "stunnel": "stunnel", "mqgate": "mqgate mtls",
          "mqgate-reg": "mqgate registry"}
PEERS = ("mosquitto", "haproxy", "nginx", "hitch", "stunnel")

# Rows of the table: id, label, unit, which way is better (None: text).
METRICS = []
for _k, _K in (("ecdsa", "ECDSA P-256"), ("rsa", "RSA-2048")):
    METRICS += [
        ("hs_cpu_" + _k, "full handshake, server CPU per connection, " + _K, "µs", "lower"),
        ("hs_rate_" + _k, "full handshakes per second achieved, " + _K, "/s", "higher"),
        ("hs_sys_" + _k, "  of which in the kernel (stime: sockets, TCP on loopback), " + _K,
         "µs", "lower"),
        ("hs_sat_" + _k, "  saturated side (server CPU % / client CPU %), " + _K, "", None),
        ("crypto_pct_" + _k, "  handshakes per core, % of the crypto limit, " + _K, "%",
         "higher"),
        ("res_cpu_" + _k, "resumed handshake, server CPU per connection, " + _K, "µs",
         "lower"),
        ("res_rate_" + _k, "resumed-run connections per second, " + _K, "/s", "higher"),
    ]
METRICS += [
    ("field_mbed_cpu", "full handshake, server CPU, field profile: mbedTLS 2.28 group order "
     "(P-521, P-384 before P-256, X25519), TLS 1.2, ECDSA P-256", "µs", "lower"),
    ("field_mbed_group", "  group negotiated (as the client saw it)", "", None),
    ("conn_p50", "connect -> CONNACK p50, one at a time, Nagle off (TCP_NODELAY)", "ms",
     "lower"),
    ("field_nagle_p50", "connect -> CONNACK p50, one at a time, field profile: Nagle on, "
     "CONNECT written on its own", "ms", "lower"),
    ("pub64_rate", "QoS 0 publish, 64 B payload, a send per message", "msg/s", "higher"),
    ("pub64_cpu", "  server CPU per message, 64 B", "ns", "lower"),
    ("pub64_sat", "  saturated side (server CPU % / client CPU %)", "", None),
    ("pub64c_rate", "QoS 0 publish, 64 B payload, corked bursts", "msg/s", "higher"),
    ("pub64c_cpu", "  server CPU per message, 64 B corked", "ns", "lower"),
    ("pub64c_sat", "  saturated side (server CPU % / client CPU %), corked", "", None),
    ("pub1k_rate", "QoS 0 publish, 1 KiB payload, corked bursts", "msg/s", "higher"),
    ("pub1k_mbps", "  payload throughput, 1 KiB", "MB/s", "higher"),
    ("pub1k_cpu", "  server CPU per message, 1 KiB", "ns", "lower"),
    ("fleet_cpu", "QoS 0 publish from a fleet, 64 B: server CPU per message", "ns", "lower"),
    ("fleet_cap", "  forwarding capacity per core at that load (1 s / CPU per message)",
     "msg/s", "higher"),
    ("fleet_rate", "  delivered rate (every system should carry the offered one)", "msg/s",
     "higher"),
    ("lat_p50", "publish-to-delivery latency p50", "µs", "lower"),
    ("lat_p90", "publish-to-delivery latency p90", "µs", "lower"),
    ("lat_p99", "publish-to-delivery latency p99", "µs", "lower"),
    ("idle_bytes", "RSS per idle connection", "B", "lower"),
    ("max_idle", "idle connections held by one process", "", "higher"),
    ("revoke_p50", "revocation: CLI return to session cut, p50", "ms", "lower"),
    ("revoke_p99", "revocation: CLI return to session cut, p99", "ms", "lower"),
]
for _k, _K in (("", "two processes on one port sharing their ticket keys"),
               ("nk_", "each process with its own ticket keys")):
    METRICS += [
        ("storm_%sback50" % _k, "reconnect storm, %s: 50%% of the devices back" % _K, "s",
         "lower"),
        ("storm_%sback99" % _k, "  99%% back (%s)" % _K, "s", "lower"),
        ("storm_%sback100" % _k, "  100%% back (%s)" % _K, "s", "lower"),
        ("storm_%sfailed" % _k, "  failed or timed-out attempts (%s)" % _K, "", "lower"),
        ("storm_%scpu" % _k, "  server CPU per reconnect (%s)" % _K, "ms", "lower"),
        ("storm_%sresumed" % _k, "  reconnects that resumed their session (%s)" % _K, "%",
         "higher"),
    ]
METRIC = {m[0]: m for m in METRICS}


class BenchError(Exception):
    pass


def _term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def _die_with_parent():
    # The servers run in their own process group (Ctrl-C reaches this script
    # only, which stops them in order); should this script be killed
    # outright, the kernel still sends them SIGTERM (PR_SET_PDEATHSIG).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_tree(pid):
    """|pid| and its descendants (every thread's children)."""
    out, i = [pid], 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def cpu_user_sys(pids):
    """(utime, stime) (fields 14 and 15 of /proc/PID/stat, all threads) of
    |pids|, in seconds."""
    user = sys_ = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user, sys_ = user + int(fields[11]), sys_ + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return user / CLK_TCK, sys_ / CLK_TCK


def cpu_seconds(pids):
    """utime + stime of |pids|, in seconds."""
    return sum(cpu_user_sys(pids))


def core_jiffies():
    """{core: (busy, total, steal)} from /proc/stat; busy leaves out idle,
    iowait and steal (the time the hypervisor gave to other guests)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()] + [0] * 8
                idle, steal = v[3] + v[4], v[7]
                out[int(m.group(1))] = (sum(v[:8]) - idle - steal, sum(v[:8]), steal)
    return out


def core_load(j0, j1):
    """({core: busy %}, {core: steal %}) between two core_jiffies()."""
    busy, steal = {}, {}
    for c in j1:
        total = max(1, j1[c][1] - j0[c][1])
        busy[c] = 100.0 * (j1[c][0] - j0[c][0]) / total
        steal[c] = 100.0 * (j1[c][2] - j0[c][2]) / total
    return busy, steal


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    a = abs(v)
    if a >= 100:
        return "{:,.0f}".format(v)
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def pkg_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "not installed"
