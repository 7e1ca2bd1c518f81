/* metrics.c: see metrics.h. The HTTP side is deliberately tiny: one
 * request per connection, read up to the end of its headers (at most
 * 4 KiB), answered and closed. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

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

#define APPEND(...)                                                           \
  do {                                                                        \
    int n_ = snprintf(buf + (len < cap ? len : cap), len < cap ? cap - len : 0, \
                      __VA_ARGS__);                                           \
    if (n_ > 0)                                                               \
      len += (size_t)n_;                                                      \
  } while (0)

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

/* --- HTTP ------------------------------------------------------------ */

#define REQ_MAX 4096

struct http_conn {
  uv_tcp_t tcp;
  uv_tcp_t probe;             /* /readyz: the broker probe */
  uv_timer_t probe_timer;
  uv_connect_t probe_req;
  int probe_handles;          /* probe handles still to close */
  struct http_conn *prev, *next; /* open connections, for mqg_metrics_close */
  uv_write_t wr;
  size_t len;
  char *out;
  char req[REQ_MAX];
};

static uv_tcp_t listener;
static int listening;
static struct sockaddr_storage backend_addr;
static struct http_conn *open_conns;

static void on_http_closed(uv_handle_t *h) {
  struct http_conn *hc = h->data;
  if (hc->probe_handles > 0) { /* the probe's handles close later */
    hc->tcp.data = NULL;
    return;
  }
  if (hc->prev)
    hc->prev->next = hc->next;
  else
    open_conns = hc->next;
  if (hc->next)
    hc->next->prev = hc->prev;
  free(hc->out);
  free(hc);
}

static void on_http_written(uv_write_t *req, int status) {
  uv_close((uv_handle_t *)req->handle, on_http_closed);
}

static void http_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct http_conn *hc = h->data;
  *buf = uv_buf_init(hc->req + hc->len, (unsigned)(REQ_MAX - 1 - hc->len));
}

static void respond(struct http_conn *hc, int code, const char *type, const char *body,
                    size_t body_len) {
  const char *status = code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request";
  size_t cap = body_len + 256;
  hc->out = malloc(cap);
  if (hc->out == NULL) {
    uv_close((uv_handle_t *)&hc->tcp, on_http_closed);
    return;
  }
  int n = snprintf(hc->out, cap,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   code, status, type, body_len);
  memcpy(hc->out + n, body, body_len);
  uv_buf_t b = uv_buf_init(hc->out, (unsigned)(n + body_len));
  uv_read_stop((uv_stream_t *)&hc->tcp);
  if (uv_write(&hc->wr, (uv_stream_t *)&hc->tcp, &b, 1, on_http_written) != 0)
    uv_close((uv_handle_t *)&hc->tcp, on_http_closed);
}

static void readyz(struct http_conn *hc);

static void on_http_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct http_conn *hc = s->data;
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_http_closed);
    return;
  }
  hc->len += (size_t)nread;
  hc->req[hc->len] = '\0';
  if (strstr(hc->req, "\r\n\r\n") == NULL) {
    if (hc->len >= REQ_MAX - 1)
      respond(hc, 400, "text/plain", "request too large\n", 18);
    return;
  }
  if (strncmp(hc->req, "GET /metrics ", 13) == 0) {
    size_t need = mqg_metrics_format(NULL, 0) + 1;
    char *body = malloc(need);
    if (body == NULL) {
      uv_close((uv_handle_t *)s, on_http_closed);
      return;
    }
    size_t n = mqg_metrics_format(body, need);
    respond(hc, 200, "text/plain; version=0.0.4", body, n < need ? n : need - 1);
    free(body);
  } else if (strncmp(hc->req, "GET /healthz ", 13) == 0) {
    respond(hc, 200, "text/plain", "ok\n", 3);
  } else if (strncmp(hc->req, "GET /readyz ", 12) == 0) {
    readyz(hc);
  } else {
    respond(hc, 404, "text/plain", "not found\n", 10);
  }
}

static void on_probe_closed(uv_handle_t *h) {
  struct http_conn *hc = h->data;
  if (--hc->probe_handles == 0 && hc->tcp.data == NULL) {
    hc->tcp.data = hc;
    on_http_closed((uv_handle_t *)&hc->tcp);
  }
}

static void probe_done(struct http_conn *hc, const char *backend_problem) {
  if (uv_is_closing((uv_handle_t *)&hc->probe_timer))
    return;
  uv_close((uv_handle_t *)&hc->probe, on_probe_closed);
  uv_close((uv_handle_t *)&hc->probe_timer, on_probe_closed);
  if (uv_is_closing((uv_handle_t *)&hc->tcp))
    return; /* the asker is gone, or we are stopping */
  int links = atomic_load(&mqg_metrics.registry_links);
  int ready = atomic_load(&mqg_metrics.registry_links_ready);
  if (backend_problem != NULL) {
    char body[160];
    int n = snprintf(body, sizeof(body), "not ready: broker unreachable (%s)\n", backend_problem);
    respond(hc, 503, "text/plain", body, (size_t)n);
  } else if (links > 0 && ready < links) {
    respond(hc, 503, "text/plain", "not ready: registry (Redis) unreachable\n", 40);
  } else {
    respond(hc, 200, "text/plain", "ready\n", 6);
  }
}

static void on_probe_connect(uv_connect_t *req, int status) {
  struct http_conn *hc = req->data;
  probe_done(hc, status == 0 ? NULL : uv_strerror(status));
}

static void on_probe_timeout(uv_timer_t *t) { probe_done(t->data, "timed out"); }

static void readyz(struct http_conn *hc) {
  uv_loop_t *loop = hc->tcp.loop;
  uv_tcp_init(loop, &hc->probe);
  uv_timer_init(loop, &hc->probe_timer);
  hc->probe.data = hc->probe_timer.data = hc->probe_req.data = hc;
  hc->probe_handles = 2;
  uv_read_stop((uv_stream_t *)&hc->tcp);
  if (uv_tcp_connect(&hc->probe_req, &hc->probe, (const struct sockaddr *)&backend_addr,
                     on_probe_connect) != 0) {
    probe_done(hc, "cannot connect");
    return;
  }
  uv_timer_start(&hc->probe_timer, on_probe_timeout, 1000, 0);
}

static void on_http_connection(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  struct http_conn *hc = calloc(1, sizeof(*hc));
  if (hc == NULL)
    return;
  uv_tcp_init(server->loop, &hc->tcp);
  hc->tcp.data = hc;
  hc->next = open_conns;
  if (open_conns)
    open_conns->prev = hc;
  open_conns = hc;
  if (uv_accept(server, (uv_stream_t *)&hc->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&hc->tcp, http_alloc, on_http_read) != 0)
    uv_close((uv_handle_t *)&hc->tcp, on_http_closed);
}

int mqg_metrics_listen(uv_loop_t *loop, const char *addr,
                       const struct sockaddr_storage *backend) {
  struct sockaddr_storage ss;
  backend_addr = *backend;
  if (mqg_config_parse_addr(addr, &ss) != 0)
    return UV_EINVAL;
  int rc = uv_tcp_init(loop, &listener);
  if (rc != 0)
    return rc;
  rc = uv_tcp_bind(&listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&listener, 64, on_http_connection);
  if (rc != 0) {
    uv_close((uv_handle_t *)&listener, NULL);
    return rc;
  }
  listening = 1;
  mqg_log(MQG_LOG_INFO, "metrics on http://%s/metrics", addr);
  return 0;
}

void mqg_metrics_close(void) {
  if (listening)
    uv_close((uv_handle_t *)&listener, NULL);
  listening = 0;
  for (struct http_conn *hc = open_conns; hc != NULL; hc = hc->next) {
    if (hc->probe_handles > 0 && !uv_is_closing((uv_handle_t *)&hc->probe_timer)) {
      uv_close((uv_handle_t *)&hc->probe, on_probe_closed);
      uv_close((uv_handle_t *)&hc->probe_timer, on_probe_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&hc->tcp))
      uv_close((uv_handle_t *)&hc->tcp, on_http_closed);
  }
}
