/* metrics.c: see metrics.h. The HTTP side is policy/httpd.h with small
 * limits (connections, header size, timeouts), no request bodies. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "httpd.h"
#include "log.h"
#include "tlsgroups.h"

mqg_metrics_t mqg_metrics;

static size_t (*cache_size_fn)(void *);
static void *cache_size_arg;
static const double rtt_bounds[] = MQG_RTT_BUCKETS;
static size_t (*extra_fn)(char *, size_t, void *);
static void *extra_arg;

void mqg_metrics_set_extra_fn(size_t (*fn)(char *buf, size_t cap, void *arg), void *arg) {
  extra_fn = fn;
  extra_arg = arg;
}

void mqg_metrics_set_cache_size_fn(size_t (*fn)(void *), void *arg) {
  cache_size_fn = fn;
  cache_size_arg = arg;
}

void mqg_metrics_handshake(uint16_t v) {
  if (v >= 0x0301 && v <= 0x0304)
    atomic_fetch_add_explicit(&mqg_metrics.by_version[v - 0x0301], 1, memory_order_relaxed);
}

static const char *const group_names[MQG_METRICS_GROUPS] = MQG_METRICS_GROUP_NAMES;

void mqg_metrics_handshake_group(uint16_t group_id) {
  const char *name = group_id == 0 ? "none" : mqg_tls_group_name(group_id);
  int i = MQG_METRICS_GROUPS - 2; /* "other" */
  for (int k = 0; k < MQG_METRICS_GROUPS; k++)
    if (strcmp(group_names[k], name) == 0)
      i = k;
  atomic_fetch_add_explicit(&mqg_metrics.by_group[i], 1, memory_order_relaxed);
}

void mqg_metrics_rtt(uint64_t us) {
  size_t i = 0;
  while (i < 12 && (double)us / 1e6 > rtt_bounds[i])
    i++;
  if (i < 12)
    atomic_fetch_add_explicit(&mqg_metrics.rtt_buckets[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&mqg_metrics.rtt_count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&mqg_metrics.rtt_sum_us, us, memory_order_relaxed);
}

void mqg_metrics_refused(mqg_reason r) {
  if (r == MQG_REASON_OK || r == MQG_REASON_CLOSED || r == MQG_REASON_SHUTDOWN ||
      (unsigned)r >= MQG_REASON_COUNT)
    return;
  atomic_fetch_add_explicit(&mqg_metrics.refusals[r], 1, memory_order_relaxed);
}

void mqg_metrics_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
  va_end(ap);
  if (n > 0)
    *len += (size_t)n;
}

#define APPEND(...) mqg_metrics_appendf(buf, cap, &len, __VA_ARGS__)

size_t mqg_metrics_format(char *buf, size_t cap) {
  size_t len = 0;
#define MQG_COUNTER_TEXT(f, name, help)                                        \
  APPEND("# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", \
         (unsigned long long)atomic_load_explicit(&mqg_metrics.f, memory_order_relaxed));
  MQG_COUNTER_MAP(MQG_COUNTER_TEXT)
#undef MQG_COUNTER_TEXT
  APPEND("# HELP mqgate_connections_open Device connections open now\n"
         "# TYPE mqgate_connections_open gauge\nmqgate_connections_open %lld\n",
         (long long)atomic_load_explicit(&mqg_metrics.open, memory_order_relaxed));
  APPEND("# HELP mqgate_refusals_total Connections refused or ended, by reason\n"
         "# TYPE mqgate_refusals_total counter\n");
  for (int r = 0; r < MQG_REASON_COUNT; r++) {
    if (r == MQG_REASON_OK || r == MQG_REASON_CLOSED || r == MQG_REASON_SHUTDOWN)
      continue;
    APPEND("mqgate_refusals_total{reason=\"%s\"} %llu\n", mqg_reason_label((mqg_reason)r),
           (unsigned long long)atomic_load_explicit(&mqg_metrics.refusals[r],
                                                    memory_order_relaxed));
  }
  static const char *const versions[] = {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
  APPEND("# HELP mqgate_handshakes_by_version_total TLS handshakes completed, by version\n"
         "# TYPE mqgate_handshakes_by_version_total counter\n");
  for (int i = 0; i < 4; i++)
    APPEND("mqgate_handshakes_by_version_total{version=\"%s\"} %llu\n", versions[i],
           (unsigned long long)atomic_load(&mqg_metrics.by_version[i]));
  APPEND("# HELP mqgate_handshakes_by_group_total TLS handshakes completed, by key "
         "exchange group (none: a resumed TLS 1.2 session)\n"
         "# TYPE mqgate_handshakes_by_group_total counter\n");
  for (int i = 0; i < MQG_METRICS_GROUPS; i++)
    APPEND("mqgate_handshakes_by_group_total{group=\"%s\"} %llu\n", group_names[i],
           (unsigned long long)atomic_load(&mqg_metrics.by_group[i]));
  int links = atomic_load(&mqg_metrics.registry_links);
  if (links > 0) {
    APPEND("# HELP mqgate_registry_links Workers' links to the registry's Redis\n"
           "# TYPE mqgate_registry_links gauge\nmqgate_registry_links %d\n"
           "# HELP mqgate_registry_links_up Of which up now\n"
           "# TYPE mqgate_registry_links_up gauge\nmqgate_registry_links_up %d\n",
           links, atomic_load(&mqg_metrics.registry_links_ready));
    if (cache_size_fn != NULL)
      APPEND("# HELP mqgate_registry_cache_entries Registry answers cached\n"
             "# TYPE mqgate_registry_cache_entries gauge\nmqgate_registry_cache_entries %zu\n",
             cache_size_fn(cache_size_arg));
    APPEND("# HELP mqgate_registry_round_trip_seconds Registry lookups, sent to answered\n"
           "# TYPE mqgate_registry_round_trip_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < 12; i++) {
      cum += atomic_load(&mqg_metrics.rtt_buckets[i]);
      APPEND("mqgate_registry_round_trip_seconds_bucket{le=\"%g\"} %llu\n", rtt_bounds[i],
             (unsigned long long)cum);
    }
    uint64_t count = atomic_load(&mqg_metrics.rtt_count);
    APPEND("mqgate_registry_round_trip_seconds_bucket{le=\"+Inf\"} %llu\n"
           "mqgate_registry_round_trip_seconds_sum %.6f\n"
           "mqgate_registry_round_trip_seconds_count %llu\n",
           (unsigned long long)count, (double)atomic_load(&mqg_metrics.rtt_sum_us) / 1e6,
           (unsigned long long)count);
  }
  if (extra_fn != NULL)
    len += extra_fn(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, extra_arg);
  return len;
}

char *mqg_metrics_text(size_t *len) {
  /* Measured with room to spare: counters may gain digits before the
   * text is written; if they outgrew the room, once more, larger. */
  size_t cap = mqg_metrics_format(NULL, 0) + 256;
  char *buf = NULL;
  for (;;) {
    char *b = realloc(buf, cap);
    if (b == NULL) {
      free(buf);
      return NULL;
    }
    buf = b;
    size_t n = mqg_metrics_format(buf, cap);
    if (n < cap) {
      *len = n;
      return buf;
    }
    cap = n + 256;
  }
}

/* --- HTTP (httpd.h) ---------------------------------------------------- */

/* The port's limits: a scraper and a health checker need a few
 * connections; 20,000 idle ones must not take the process's descriptors
 * from the device port. */
#define METRICS_MAX_CONNECTIONS 64
#define METRICS_REQUEST_TIMEOUT_MS 5000
#define METRICS_IDLE_TIMEOUT_MS 15000

/* A /readyz probe of the broker, answering its request when done. */
struct probe {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t req;
  mqg_http_req *http; /* NULL once answered */
  int handles;
  struct probe *prev, *next;
};

static mqg_httpd *server;
static struct sockaddr_storage backend_addr;
static struct probe *probes;

static void text_reply(mqg_http_req *req, int code, const char *body) {
  mqg_http_respond(req, code, "text/plain", body, strlen(body));
}

static void on_probe_closed(uv_handle_t *h) {
  struct probe *p = h->data;
  if (--p->handles > 0)
    return;
  if (p->prev)
    p->prev->next = p->next;
  else
    probes = p->next;
  if (p->next)
    p->next->prev = p->prev;
  free(p);
}

static void probe_done(struct probe *p, const char *backend_problem) {
  if (p->http == NULL)
    return;
  mqg_http_req *req = p->http;
  p->http = NULL;
  uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
  uv_close((uv_handle_t *)&p->timer, on_probe_closed);
  int links = atomic_load(&mqg_metrics.registry_links);
  int ready = atomic_load(&mqg_metrics.registry_links_ready);
  if (backend_problem != NULL) {
    char body[160];
    snprintf(body, sizeof(body), "not ready: broker unreachable (%s)\n", backend_problem);
    text_reply(req, 503, body);
  } else if (links > 0 && ready < links) {
    text_reply(req, 503, "not ready: registry (Redis) unreachable\n");
  } else {
    text_reply(req, 200, "ready\n");
  }
}

static void on_probe_connect(uv_connect_t *req, int status) {
  probe_done(req->data, status == 0 ? NULL : uv_strerror(status));
}

static void on_probe_timeout(uv_timer_t *t) { probe_done(t->data, "timed out"); }

static void readyz(mqg_http_req *req, uv_loop_t *loop) {
  struct probe *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    text_reply(req, 503, "not ready: out of memory\n");
    return;
  }
  uv_tcp_init(loop, &p->tcp);
  uv_timer_init(loop, &p->timer);
  p->tcp.data = p->timer.data = p->req.data = p;
  p->handles = 2;
  p->http = req;
  p->next = probes;
  if (probes)
    probes->prev = p;
  probes = p;
  if (uv_tcp_connect(&p->req, &p->tcp, (const struct sockaddr *)&backend_addr,
                     on_probe_connect) != 0) {
    probe_done(p, "cannot connect");
    return;
  }
  uv_timer_start(&p->timer, on_probe_timeout, 1000, 0);
}

static void on_request(mqg_http_req *req, void *arg) {
  const char *m = mqg_http_method(req), *path = mqg_http_path(req);
  if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
    mqg_http_add_header(req, "Allow", "GET, HEAD");
    text_reply(req, 405, "method not allowed\n");
  } else if (strcmp(path, "/metrics") == 0) {
    size_t n;
    char *body = mqg_metrics_text(&n);
    if (body == NULL) {
      text_reply(req, 503, "out of memory\n");
      return;
    }
    mqg_http_respond(req, 200, "text/plain; version=0.0.4", body, n);
    free(body);
  } else if (strcmp(path, "/healthz") == 0) {
    text_reply(req, 200, "ok\n");
  } else if (strcmp(path, "/readyz") == 0) {
    readyz(req, arg);
  } else {
    text_reply(req, 404, "not found\n");
  }
}

int mqg_metrics_listen(uv_loop_t *loop, const char *addr,
                       const struct sockaddr_storage *backend) {
  struct sockaddr_storage ss;
  backend_addr = *backend;
  if (mqg_options_parse_addr(addr, &ss) != 0)
    return UV_EINVAL;
  mqg_httpd_config cfg = {
      .max_connections = METRICS_MAX_CONNECTIONS,
      .max_header_bytes = 4096,
      .max_body_bytes = 0,
      .request_timeout_ms = METRICS_REQUEST_TIMEOUT_MS,
      .idle_timeout_ms = METRICS_IDLE_TIMEOUT_MS,
      .write_timeout_ms = METRICS_REQUEST_TIMEOUT_MS,
      .handler = on_request,
      .arg = loop,
  };
  server = mqg_httpd_new(loop, &cfg);
  if (server == NULL)
    return UV_ENOMEM;
  int rc = mqg_httpd_listen(server, (const struct sockaddr *)&ss);
  if (rc != 0) {
    mqg_httpd_close(server);
    server = NULL;
    return rc;
  }
  mqg_log(MQG_LOG_INFO, "metrics on http://%s/metrics (at most %d connections)", addr,
          METRICS_MAX_CONNECTIONS);
  return 0;
}

void mqg_metrics_close(void) {
  /* Probes in flight answer first (dropped: their connections close). */
  for (struct probe *p = probes; p != NULL; p = p->next)
    probe_done(p, "stopping");
  mqg_httpd_close(server);
  server = NULL;
}
