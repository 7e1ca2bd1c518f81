/* bench_opts.c: mqgate-bench's command line. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char usage_text[] =
    "usage: mqgate-bench <scenario> --port P (--insecure | --ca FILE)\n"
    "                    (--pool DIR | --cert F --key F) [options]\n"
    "\n"
    "scenarios:\n"
    "  conn     open --connections N device connections (TCP, mTLS, MQTT\n"
    "           CONNECT/CONNACK), then close them or --hold them; latency is\n"
    "           connect start -> CONNACK; --repeat K reconnects each device\n"
    "           K more times, --resume resumes its session on reconnection\n"
    "  pub      N devices publish --payload bytes at --qos for --duration\n"
    "  sub      --subscribers M on one topic, one publisher: deliveries/s\n"
    "           and publish-to-delivery latency\n"
    "  latency  N publisher/subscriber pairs through the target: latency\n"
    "  idle     open N connections and hold them --duration; with --pid,\n"
    "           that process's RSS before and after, per connection\n"
    "  storm    open N connections, drop them all at once, and let every\n"
    "           device reconnect with jittered exponential backoff, as device\n"
    "           SDKs do: time until 50/99/100%% are back, failed and timed-out\n"
    "           attempts, resumed share (--resume), targets' CPU per reconnect\n"
    "\n"
    "target and TLS:\n"
    "  --host H              127.0.0.0/8, ::1 or localhost (default 127.0.0.1)\n"
    "  --port P              required\n"
    "  --insecure            do not verify the server certificate\n"
    "  --ca FILE             verify it against these CA certificates\n"
    "  --pool DIR            device identities from mqgate-certgen pool\n"
    "                        (DIR/index.tsv; device i uses entry i mod size)\n"
    "  --cert F --key F      one identity for every device\n"
    "  --tls 1.2|1.3         the TLS version (default 1.3)\n"
    "  --groups LIST         key-exchange groups, e.g. X25519:P-256\n"
    "  --resume              reuse each device's TLS session when it reconnects\n"
    "  --source-addrs K      bind round robin to 127.0.0.2 .. 127.0.0.(K+1)\n"
    "  --nagle               leave Nagle's algorithm on and write the CONNECT\n"
    "                        on its own, as most device stacks do\n"
    "\n"
    "connections:\n"
    "  --connections N       devices; pairs for latency (default 100)\n"
    "  --rate R              connections started per second (default 0: as\n"
    "                        fast as --concurrency allows)\n"
    "  --concurrency C       connection setups in flight (default 64)\n"
    "  --repeat K            conn: reconnect each device K times (default 0,\n"
    "                        1 with --resume)\n"
    "  --hold S              conn: keep each connection open S seconds\n"
    "  --conn-timeout S      one connection's setup at most (default 10)\n"
    "  --mqtt 3|4|5          MQTT 3.1, 3.1.1 or 5.0 (default 4)\n"
    "  --client-id-prefix S  client IDs are S<device> (default mqgate-bench-)\n"
    "  --empty-id            send empty client IDs (the proxy fills them in)\n"
    "  --keepalive S         CONNECT keep alive (default 60; pinged)\n"
    "  --backoff S           storm: first reconnect within [0, S] (default 1);\n"
    "                        attempt k within [0, S * 2^k]\n"
    "  --backoff-max S       storm: the backoff's cap (default 16)\n"
    "\n"
    "messages:\n"
    "  --qos 0|1             (default 0)\n"
    "  --payload BYTES       (default 64; at least 16 for sub and latency)\n"
    "  --msg-rate R          messages/s per device, pair or publisher\n"
    "                        (default 10; 0 with --total-rate 0: flood)\n"
    "  --total-rate R        messages/s in all, instead of --msg-rate\n"
    "  --inflight W          QoS 1 messages unacknowledged per publisher\n"
    "                        (default 64)\n"
    "  --subscribers M       sub: fan-out width (default --connections)\n"
    "  --topic T             topic prefix (default mqgate-bench)\n"
    "  --drain S             wait for the last messages at most (default 2)\n"
    "  --cork                flood: each publisher's burst (up to 256 messages,\n"
    "                        still one TLS record each) leaves in full TCP\n"
    "                        segments (TCP_CORK), as from a client with a write\n"
    "                        buffer: the load tool spends less per message\n"
    "  (QoS 0 counts a message once written to the socket; for what the\n"
    "  target really forwards, use --qos 1 or sub/latency)\n"
    "\n"
    "run and output:\n"
    "  --duration S          measured phase of pub/sub/latency/idle (default 10)\n"
    "  --settle S            idle: wait before reading the RSS (default 1)\n"
    "  --pid PID[,PID..]     the target's processes (up to 8): RSS (idle, the\n"
    "                        first) and CPU (all)\n"
    "  --timeout S           the whole run at most (default 120)\n"
    "  --json                one JSON object on stdout\n"
    "  --quiet               no progress line on stderr\n";

enum {
  O_HOST = 256, O_PORT, O_INSECURE, O_CA, O_POOL, O_CERT, O_KEY, O_TLS,
  O_GROUPS, O_RESUME, O_SRC, O_CONNS, O_RATE, O_CONC, O_REPEAT, O_HOLD,
  O_CONN_TIMEOUT, O_MQTT, O_PREFIX, O_EMPTY_ID, O_KEEPALIVE, O_QOS,
  O_PAYLOAD, O_MSG_RATE, O_TOTAL_RATE, O_INFLIGHT, O_SUBS, O_TOPIC, O_DRAIN,
  O_CORK, O_DURATION, O_SETTLE, O_PID, O_TIMEOUT, O_JSON, O_QUIET, O_HELP,
  O_NAGLE, O_BACKOFF, O_BACKOFF_MAX,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"ca", required_argument, NULL, O_CA},
    {"pool", required_argument, NULL, O_POOL},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"tls", required_argument, NULL, O_TLS},
    {"groups", required_argument, NULL, O_GROUPS},
    {"resume", no_argument, NULL, O_RESUME},
    {"source-addrs", required_argument, NULL, O_SRC},
    {"connections", required_argument, NULL, O_CONNS},
    {"rate", required_argument, NULL, O_RATE},
    {"concurrency", required_argument, NULL, O_CONC},
    {"repeat", required_argument, NULL, O_REPEAT},
    {"hold", required_argument, NULL, O_HOLD},
    {"conn-timeout", required_argument, NULL, O_CONN_TIMEOUT},
    {"mqtt", required_argument, NULL, O_MQTT},
    {"client-id-prefix", required_argument, NULL, O_PREFIX},
    {"empty-id", no_argument, NULL, O_EMPTY_ID},
    {"keepalive", required_argument, NULL, O_KEEPALIVE},
    {"qos", required_argument, NULL, O_QOS},
    {"payload", required_argument, NULL, O_PAYLOAD},
    {"msg-rate", required_argument, NULL, O_MSG_RATE},
    {"total-rate", required_argument, NULL, O_TOTAL_RATE},
    {"inflight", required_argument, NULL, O_INFLIGHT},
    {"subscribers", required_argument, NULL, O_SUBS},
    {"topic", required_argument, NULL, O_TOPIC},
    {"drain", required_argument, NULL, O_DRAIN},
    {"cork", no_argument, NULL, O_CORK},
    {"nagle", no_argument, NULL, O_NAGLE},
    {"backoff", required_argument, NULL, O_BACKOFF},
    {"backoff-max", required_argument, NULL, O_BACKOFF_MAX},
    {"duration", required_argument, NULL, O_DURATION},
    {"settle", required_argument, NULL, O_SETTLE},
    {"pid", required_argument, NULL, O_PID},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"json", no_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static const char *const scenario_names[] = {
    [MQB_SCEN_CONN] = "conn",       [MQB_SCEN_PUB] = "pub",
    [MQB_SCEN_SUB] = "sub",         [MQB_SCEN_LATENCY] = "latency",
    [MQB_SCEN_IDLE] = "idle",       [MQB_SCEN_STORM] = "storm",
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                              ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mqgate-bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\nTry 'mqgate-bench --help'.\n", stderr);
  va_end(ap);
  return 2;
}

/* parse_u32 reads a whole decimal number in [min, max]. */
static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
      v > max)
    return -EINVAL;
  *out = (uint32_t)v;
  return 0;
}

/* parse_secs reads a non-negative number (seconds or a rate) up to |max|. */
static int parse_num(const char *s, double max, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 ||
      v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

/* set_target resolves --host/--port into |o->addr|: loopback only, since
 * this tool generates load and must never aim it elsewhere. */
static int set_target(mqb_opts *o, const char *host, uint32_t port) {
  struct sockaddr_in *a4 = (struct sockaddr_in *)&o->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->addr;
  memset(&o->addr, 0, sizeof(o->addr));
  if (strcmp(host, "localhost") == 0)
    host = "127.0.0.1";
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
      return usage_error("--host %s is not a loopback address (127.0.0.0/8 "
                         "or ::1): this tool only loads this machine", host);
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    o->addr_len = sizeof(*a4);
    snprintf(o->target, sizeof(o->target), "%s:%u", host, port);
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
      return usage_error("--host %s is not a loopback address (127.0.0.0/8 "
                         "or ::1): this tool only loads this machine", host);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    o->addr_len = sizeof(*a6);
    snprintf(o->target, sizeof(o->target), "[::1]:%u", port);
  } else {
    return usage_error("--host '%s' is not an IP address (give 127.0.0.1, "
                       "::1 or localhost)", host);
  }
  return -1;
}

static const char *opt_name(int val) {
  for (const struct option *p = long_opts; p->name != NULL; p++)
    if (p->val == val)
      return p->name;
  return "?";
}

static void set_defaults(mqb_opts *o) {
  memset(o, 0, sizeof(*o));
  o->tls_version = TLS1_3_VERSION;
  o->connections = 100;
  o->concurrency = 64;
  o->inflight = 64;
  o->payload = 64;
  o->msg_rate = 10;
  o->total_rate = -1; /* not given */
  o->duration = 10;
  o->settle = 1;
  o->timeout = 120;
  o->conn_timeout = 10;
  o->drain = 2;
  o->mqtt_level = 4;
  o->client_id_prefix = "mqgate-bench-";
  o->qos = 0;
  o->keepalive = 60;
  o->topic = "mqgate-bench";
  o->backoff = 1;
  o->backoff_max = 16;
}

/* check_combination rejects what cannot run. Returns -1 or the exit code. */
static int check_combination(mqb_opts *o, int have_port, uint32_t repeat,
                             int repeat_set) {
  if (!have_port)
    return usage_error("--port is required");
  if (o->insecure == (o->ca != NULL))
    return usage_error("give either --insecure or --ca FILE");
  if (o->pool_dir != NULL && (o->cert != NULL || o->key != NULL))
    return usage_error("--pool and --cert/--key are exclusive");
  if (o->pool_dir == NULL && (o->cert == NULL || o->key == NULL))
    return usage_error("give --pool DIR, or --cert F and --key F");
  if (o->source_addrs > 0 && o->addr.ss_family != AF_INET)
    return usage_error("--source-addrs needs an IPv4 loopback target");
  if ((o->scenario == MQB_SCEN_SUB || o->scenario == MQB_SCEN_LATENCY) &&
      o->payload < 16)
    return usage_error("--payload must be at least 16 for %s (it carries "
                       "a timestamp and a sequence number)", o->scenario_name);
  if (o->scenario == MQB_SCEN_SUB && o->subscribers == 0)
    o->subscribers = o->connections;
  o->repeat = repeat_set ? repeat : (o->resume ? 1 : 0);
  if (o->resume && o->scenario == MQB_SCEN_CONN && o->repeat == 0)
    return usage_error("--resume needs at least one reconnection (--repeat)");
  if (o->total_rate < 0)
    o->total_rate = 0; /* not given: --msg-rate applies */
  else
    o->msg_rate = 0;   /* given, it wins; 0 and 0 is a flood */
  if (o->cork && (o->scenario != MQB_SCEN_PUB || o->msg_rate > 0 || o->total_rate > 0))
    return usage_error("--cork applies to a pub flood (--msg-rate 0 --total-rate 0)");
  uint64_t devs = o->connections;
  if (o->scenario == MQB_SCEN_LATENCY)
    devs = 2ull * o->connections;
  if (o->scenario == MQB_SCEN_SUB)
    devs = (uint64_t)o->subscribers + 1;
  if (devs > 10000000)
    return usage_error("at most 10,000,000 devices");
  return -1;
}

int mqb_opts_parse(mqb_opts *o, int argc, char **argv) {
  set_defaults(o);
  if (argc < 2)
    return usage_error("a scenario is required: conn, pub, sub, latency, idle or storm");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  int found = 0;
  for (size_t i = 0; i < sizeof(scenario_names) / sizeof(scenario_names[0]); i++)
    if (strcmp(argv[1], scenario_names[i]) == 0) {
      o->scenario = (mqb_scenario)i;
      o->scenario_name = scenario_names[i];
      found = 1;
    }
  if (!found)
    return usage_error("unknown scenario '%s'", argv[1]);

  const char *host = "127.0.0.1";
  uint32_t port = 0, repeat = 0, u;
  int have_port = 0, repeat_set = 0, c;
  double d;
  argc--, argv++;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
    switch (c) {
    case O_HOST: host = optarg; break;
    case O_PORT:
      if (parse_u32(optarg, 1, 65535, &port) < 0)
        return usage_error("--port: '%s' is not a port", optarg);
      have_port = 1;
      break;
    case O_INSECURE: o->insecure = 1; break;
    case O_CA: o->ca = optarg; break;
    case O_POOL: o->pool_dir = optarg; break;
    case O_CERT: o->cert = optarg; break;
    case O_KEY: o->key = optarg; break;
    case O_GROUPS: o->groups = optarg; break;
    case O_RESUME: o->resume = 1; break;
    case O_EMPTY_ID: o->empty_id = 1; break;
    case O_PREFIX: o->client_id_prefix = optarg; break;
    case O_TOPIC: o->topic = optarg; break;
    case O_JSON: o->json = 1; break;
    case O_QUIET: o->quiet = 1; break;
    case O_CORK: o->cork = 1; break;
    case O_NAGLE: o->nagle = 1; break;
    case O_HELP: fputs(usage_text, stdout); return 0;
    case O_TLS:
      if (strcmp(optarg, "1.2") == 0)
        o->tls_version = TLS1_2_VERSION;
      else if (strcmp(optarg, "1.3") == 0)
        o->tls_version = TLS1_3_VERSION;
      else
        return usage_error("--tls must be 1.2 or 1.3, not '%s'", optarg);
      break;
    case O_MQTT:
      if (parse_u32(optarg, 3, 5, &u) < 0)
        return usage_error("--mqtt must be 3, 4 or 5, not '%s'", optarg);
      o->mqtt_level = (int)u;
      break;
    case O_QOS:
      if (parse_u32(optarg, 0, 1, &u) < 0)
        return usage_error("--qos must be 0 or 1, not '%s'", optarg);
      o->qos = (int)u;
      break;
    case O_SRC:
      if (parse_u32(optarg, 1, 254, &o->source_addrs) < 0)
        return usage_error("--source-addrs: '%s' is not in [1, 254]", optarg);
      break;
    case O_CONNS:
      if (parse_u32(optarg, 1, 10000000, &o->connections) < 0)
        return usage_error("--connections: '%s' is not in [1, 10000000]", optarg);
      break;
    case O_SUBS:
      if (parse_u32(optarg, 1, 10000000, &o->subscribers) < 0)
        return usage_error("--subscribers: '%s' is not in [1, 10000000]", optarg);
      break;
    case O_CONC:
      if (parse_u32(optarg, 1, 1000000, &o->concurrency) < 0)
        return usage_error("--concurrency: '%s' is not in [1, 1000000]", optarg);
      o->concurrency_set = 1;
      break;
    case O_REPEAT:
      if (parse_u32(optarg, 0, 1000000, &repeat) < 0)
        return usage_error("--repeat: '%s' is not in [0, 1000000]", optarg);
      repeat_set = 1;
      break;
    case O_INFLIGHT:
      if (parse_u32(optarg, 1, 65535, &o->inflight) < 0)
        return usage_error("--inflight: '%s' is not in [1, 65535]", optarg);
      break;
    case O_PAYLOAD:
      if (parse_u32(optarg, 0, 16 << 20, &o->payload) < 0)
        return usage_error("--payload: '%s' is not in [0, 16 MiB]", optarg);
      break;
    case O_KEEPALIVE:
      if (parse_u32(optarg, 0, 65535, &u) < 0)
        return usage_error("--keepalive: '%s' is not in [0, 65535]", optarg);
      o->keepalive = (uint16_t)u;
      break;
    case O_PID: {
      char list[256], *save = NULL;
      snprintf(list, sizeof(list), "%s", optarg);
      o->npids = 0;
      for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->npids == MQB_PIDS_MAX || parse_u32(t, 1, 1u << 30, &u) < 0)
          return usage_error("--pid: '%s' is not a list of up to %d process IDs", optarg,
                             MQB_PIDS_MAX);
        o->pids[o->npids++] = (long)u;
      }
      if (o->npids == 0)
        return usage_error("--pid: '%s' is not a process ID", optarg);
      o->pid = o->pids[0];
      break;
    }
    case O_BACKOFF:
    case O_BACKOFF_MAX:
      if (parse_num(optarg, 3600, &d) < 0 || d < 0.001)
        return usage_error("--%s: '%s' is not a positive number of seconds", opt_name(c),
                           optarg);
      *(c == O_BACKOFF ? &o->backoff : &o->backoff_max) = d;
      break;
    case O_RATE:
    case O_MSG_RATE:
    case O_TOTAL_RATE:
      if (parse_num(optarg, 1e9, &d) < 0)
        return usage_error("--%s: '%s' is not a rate >= 0", opt_name(c), optarg);
      *(c == O_RATE ? &o->rate : c == O_MSG_RATE ? &o->msg_rate : &o->total_rate) = d;
      break;
    case O_HOLD:
    case O_CONN_TIMEOUT:
    case O_DRAIN:
    case O_DURATION:
    case O_SETTLE:
    case O_TIMEOUT:
      if (parse_num(optarg, 86400 * 7, &d) < 0)
        return usage_error("--%s: '%s' is not a number of seconds >= 0",
                           opt_name(c), optarg);
      if ((c == O_TIMEOUT || c == O_CONN_TIMEOUT) && d < 0.001)
        return usage_error("--%s must be positive", opt_name(c));
      *(c == O_HOLD ? &o->hold : c == O_CONN_TIMEOUT ? &o->conn_timeout
        : c == O_DRAIN ? &o->drain : c == O_DURATION ? &o->duration
        : c == O_SETTLE ? &o->settle : &o->timeout) = d;
      break;
    default:
      return usage_error("%s: unknown option or missing value: %s",
                         o->scenario_name, argv[optind - 1]);
    }
  }
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);
  int rc = set_target(o, host, port);
  if (rc >= 0)
    return rc;
  return check_combination(o, have_port, repeat, repeat_set);
}
