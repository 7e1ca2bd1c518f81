/* metrics.h: process-wide counters, and a small HTTP listener that serves
 * them in the Prometheus text format (GET /metrics) plus GET /healthz.
 *
 * Counters are relaxed atomics, bumped from any worker thread; the listener
 * runs on the main thread's loop and only reads them.
 *
 * Errors: mqg_metrics_listen returns 0 or a negative libuv error. */
#ifndef MQG_METRICS_H
#define MQG_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "reason.h"

/*  X(field, metric name, help) -- every one a counter (_total) */
#define MQG_COUNTER_MAP(X)                                                       \
  X(accepted, "mqgate_connections_accepted_total", "TCP connections accepted")   \
  X(handshakes, "mqgate_handshakes_total", "TLS handshakes completed")           \
  X(resumed, "mqgate_handshakes_resumed_total", "of which resumed sessions")     \
  X(forwarded, "mqgate_sessions_forwarded_total",                                \
    "sessions whose CONNECT went to the broker")                                 \
  X(rewrites, "mqgate_client_id_rewrites_total", "empty client IDs filled in")   \
  X(cuts, "mqgate_registry_cuts_total",                                          \
    "live sessions ended by a registry change or a CRL")                         \
  X(cache_hits, "mqgate_registry_cache_hits_total", "registry answers from the cache") \
  X(cache_misses, "mqgate_registry_cache_misses_total", "registry lookups sent to Redis") \
  X(auto_registered, "mqgate_registry_auto_registrations_total",                 \
    "certificates registered automatically after their handshake")              \
  X(rechecks, "mqgate_registry_rechecks_total",                                  \
    "handshakes checked again because the registry changed during them")        \
  X(registry_errors, "mqgate_registry_errors_total",                             \
    "registry answers that could not be used (malformed, CA set unreadable): "   \
    "refused, fail closed")                                                      \
  X(touch_dropped, "mqgate_registry_touch_dropped_total",                        \
    "associated-client records dropped while Redis was slow")                   \
  X(accept_pauses, "mqgate_accept_pauses_total",                                 \
    "times a worker stopped accepting at --max-handshakes")                      \
  X(bytes_up, "mqgate_bytes_to_broker_total", "bytes forwarded device -> broker") \
  X(bytes_down, "mqgate_bytes_to_device_total", "bytes forwarded broker -> device") \
  X(crl_reloads, "mqgate_crl_reloads_total", "CRL sets read and put in force")   \
  X(crl_reload_failures, "mqgate_crl_reload_failures_total",                     \
    "CRL sets refused (the CRLs in force stayed)")                               \
  X(crl_expired_admissions, "mqgate_crl_expired_admissions_total",               \
    "certificates admitted while their CA's CRL was past its nextUpdate")

/* Key exchange groups counted apart; "none" is a resumed TLS 1.2 session
 * (no ECDHE), "other" any group not listed. */
#define MQG_METRICS_GROUP_NAMES {"X25519", "P-256", "P-384", "P-521", "other", "none"}
#define MQG_METRICS_GROUPS 6

typedef struct {
#define MQG_COUNTER_FIELD(f, name, help) _Atomic uint64_t f;
  MQG_COUNTER_MAP(MQG_COUNTER_FIELD)
#undef MQG_COUNTER_FIELD
  _Atomic uint64_t refusals[MQG_REASON_COUNT]; /* by reason */
  _Atomic int64_t open;                        /* connections now */
  _Atomic int registry_links;       /* workers with a Redis link (registry) */
  _Atomic int registry_links_ready; /* of which ready now */
  _Atomic uint64_t by_version[4];   /* handshakes: TLS 1.0, 1.1, 1.2, 1.3 */
  _Atomic uint64_t by_group[MQG_METRICS_GROUPS]; /* handshakes, by key exchange */
  /* Registry round trips (lookup sent -> answer), a Prometheus histogram:
   * counts per upper bound of MQG_RTT_BUCKETS (cumulated when printed). */
  _Atomic uint64_t rtt_buckets[12];
  _Atomic uint64_t rtt_count, rtt_sum_us;
} mqg_metrics_t;

/* Upper bounds (seconds) of the round-trip histogram's buckets. */
#define MQG_RTT_BUCKETS \
  {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0}

/* mqg_metrics_handshake counts a completed handshake of |tls_version|. */
void mqg_metrics_handshake(uint16_t tls_version);

/* mqg_metrics_handshake_group counts a completed handshake whose key
 * exchange used TLS group |group_id| (SSL_get_curve_id; 0 for none). */
void mqg_metrics_handshake_group(uint16_t group_id);

/* mqg_metrics_rtt records one registry round trip of |us| microseconds. */
void mqg_metrics_rtt(uint64_t us);

/* A gauge read when /metrics is served: the registry cache's size. */
void mqg_metrics_set_cache_size_fn(size_t (*fn)(void *), void *arg);

/* mqg_metrics_set_extra_fn registers one function that appends series to
 * /metrics (NULL removes it): it writes Prometheus text into |buf| (|cap|
 * bytes; |buf| may be NULL when |cap| is 0) and returns the length, or the
 * length needed when |cap| was too small. Called on the metrics thread. */
void mqg_metrics_set_extra_fn(size_t (*fn)(char *buf, size_t cap, void *arg), void *arg);

/* mqg_metrics_appendf appends printf-formatted text at |*len| of |buf|
 * (|cap| bytes), as much as fits, and adds its whole length to |*len|:
 * past |cap|, |*len| is the length the text needs. For such functions. */
__attribute__((format(printf, 4, 5))) void mqg_metrics_appendf(char *buf, size_t cap,
                                                               size_t *len, const char *fmt,
                                                               ...);

/* The process's counters. */
extern mqg_metrics_t mqg_metrics;

#define MQG_COUNT(field, n) \
  atomic_fetch_add_explicit(&mqg_metrics.field, (n), memory_order_relaxed)

/* mqg_metrics_refused counts one connection ended for |r| (refusals only:
 * OK, CLOSED and SHUTDOWN are not refusals and are not counted). */
void mqg_metrics_refused(mqg_reason r);

/* mqg_metrics_format writes the Prometheus text of every counter into
 * |buf| (|cap| bytes). Returns the length, or the length needed if |cap|
 * was too small. */
size_t mqg_metrics_format(char *buf, size_t cap);

/* mqg_metrics_text returns the text of mqg_metrics_format in a new
 * NUL-terminated buffer (the caller frees it), its length in |*len|: whole
 * lines even while workers count on and the text grows between measuring
 * and writing it. NULL when out of memory. */
char *mqg_metrics_text(size_t *len);

/* mqg_metrics_listen serves GET /metrics, GET /healthz (the process is
 * alive) and GET /readyz (the broker at |backend| accepts a TCP connection
 * within a second and, in registry mode, every worker's Redis link is up:
 * 200, else 503 with the reason) on |addr| ("HOST:PORT") from |loop|,
 * through policy/httpd.h: at most 64 connections (more are answered 503
 * and closed at once), a request must arrive within 5 s (408), an idle
 * keep-alive connection is closed after 15 s.
 * |backend| is copied. Returns 0 or a negative libuv error. */
struct sockaddr_storage;
int mqg_metrics_listen(uv_loop_t *loop, const char *addr,
                       const struct sockaddr_storage *backend);

/* mqg_metrics_close stops the listener (and its connections) if any. */
void mqg_metrics_close(void);

#endif
