/* bench.h: what the files of mqgate-bench share.
 *
 * mqgate-bench is one process, one libuv loop, many MQTT-over-mTLS
 * connections. Each connection is a socket fd driven by BoringSSL directly
 * (SSL_set_fd) and watched by one uv_poll_t, as in the proxy, so that a
 * handshake costs the client little more than its cryptography.
 *
 *   bench_opts.c    the command line            -> mqb_opts
 *   bench_tls.c     SSL_CTX, device identities, sessions, TLS error kinds
 *   bench_mqtt.c    MQTT packets out and in (CONNECT .. PUBACK)
 *   bench_conn.c    one connection: TCP -> TLS -> CONNECT/CONNACK
 *                   [-> SUBSCRIBE/SUBACK] -> READY -> closed
 *   bench_sched.c   the run: starting connections (rate, concurrency),
 *                   timeouts, phases, the deadline
 *   bench_scen.c    what each scenario does with ready connections
 *                   (publishing, receiving, holding)
 *   bench_report.c  error counts, progress line, the final summary
 *   histo.c         the latency histogram
 *
 * Errors: functions returning int return 0 or a negative errno unless their
 * comment says otherwise. Failures of a connection are never fatal: they are
 * counted by kind in the run's mqb_errors and the run goes on. */
#ifndef MQB_BENCH_H
#define MQB_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "histo.h"

struct mqb_run;

/* --- options (bench_opts.c) ----------------------------------------------- */

typedef enum {
  MQB_SCEN_CONN,
  MQB_SCEN_PUB,
  MQB_SCEN_SUB,
  MQB_SCEN_LATENCY,
  MQB_SCEN_IDLE,
  MQB_SCEN_STORM,
} mqb_scenario;

#define MQB_PIDS_MAX 8

typedef struct {
  mqb_scenario scenario;
  const char *scenario_name;
  char target[80];                /* "host:port", for the report */
  struct sockaddr_storage addr;   /* the target, loopback only */
  socklen_t addr_len;
  int insecure;                   /* skip verifying the server certificate */
  const char *ca;                 /* else verify it against this file */
  const char *pool_dir;           /* identities: a mqgate-certgen pool */
  const char *cert, *key;         /* or one identity for every device */
  uint16_t tls_version;           /* TLS1_2_VERSION or TLS1_3_VERSION */
  const char *groups;             /* key-exchange groups, NULL = default */
  int resume;                     /* reuse each device's session */
  uint32_t connections;           /* devices (pairs for latency) */
  uint32_t subscribers;           /* sub: fan-out width */
  uint32_t concurrency;           /* handshakes in flight when rate is 0 */
  int concurrency_set;            /* given explicitly: applies to --rate too */
  uint32_t repeat;                /* conn: reconnections per device */
  uint32_t source_addrs;          /* bind to 127.0.0.2 .. 127.0.0.(K+1) */
  uint32_t inflight;              /* QoS 1 window per publisher */
  uint32_t payload;               /* PUBLISH payload bytes */
  double rate;                    /* connections started per second, 0 = max */
  double msg_rate;                /* messages/s per device (pair, publisher) */
  double total_rate;              /* messages/s in all, wins over msg_rate */
  double hold;                    /* conn: seconds a connection stays open */
  double duration;                /* pub/sub/latency/idle: measured phase */
  double settle;                  /* idle: wait before reading the RSS */
  double timeout;                 /* the whole run, at most */
  double conn_timeout;            /* one connection's setup, at most */
  double drain;                   /* waiting for the last messages, at most */
  int mqtt_level;                 /* 3, 4 or 5 */
  const char *client_id_prefix;
  int empty_id;                   /* send an empty client ID */
  int qos;                        /* 0 or 1 */
  int cork;                       /* flood: TCP_CORK around each burst */
  uint16_t keepalive;             /* CONNECT keep alive, seconds */
  long pid;                       /* idle: the process whose RSS is read */
  long pids[MQB_PIDS_MAX];        /* --pid list: the target's processes */
  unsigned npids;
  int nagle;                      /* leave Nagle on, no TCP_CORK: a device */
  double backoff, backoff_max;    /* storm: reconnect backoff base and cap */
  const char *topic;              /* topic prefix */
  int json;                       /* one JSON object on stdout */
  int quiet;                      /* no progress line */
} mqb_opts;

/* mqb_opts_parse fills |o| from the command line. Returns -1 when the run
 * is to go ahead, else the exit code (0 after --help, 2 for a usage error,
 * already explained on stderr). */
int mqb_opts_parse(mqb_opts *o, int argc, char **argv);

/* --- error counts (bench_report.c) ---------------------------------------- */

#define MQB_ERR_KINDS_MAX 64
#define MQB_ERR_NAME_MAX 48

typedef struct {
  struct {
    char name[MQB_ERR_NAME_MAX];
    uint64_t count;
  } kind[MQB_ERR_KINDS_MAX];
  unsigned n;
  uint64_t total;
  int quiet; /* no first-occurrence line on stderr */
} mqb_errors;

/* mqb_errors_add counts one error of |kind| ("timeout", "tls_alert:..."),
 * and on its first occurrence writes |detail| (may be NULL) to stderr, so a
 * run says once why each kind happened. Kinds past the table's capacity
 * count as "other". */
void mqb_errors_add(mqb_errors *e, const char *kind, const char *detail);

/* mqb_errors_add_n counts |n| errors of |kind| at once. */
void mqb_errors_add_n(mqb_errors *e, const char *kind, uint64_t n,
                      const char *detail);

/* --- TLS (bench_tls.c) ---------------------------------------------------- */

typedef struct {
  CRYPTO_BUFFER *chain[4]; /* leaf first */
  size_t n;
  EVP_PKEY *key;
} mqb_identity;

#define MQB_VERIFIED_MAX 4

typedef struct {
  SSL_CTX *ctx;
  mqb_identity *ids; /* the pool, loaded once; NULL with one identity */
  size_t n_ids;
  X509_STORE *store; /* --ca */
  /* Server leaves verified in full, and until when they are valid. */
  CRYPTO_BUFFER *verified[MQB_VERIFIED_MAX];
  time_t verified_until[MQB_VERIFIED_MAX];
  size_t n_verified;
} mqb_tls;

/* mqb_tls_init makes the client SSL_CTX for |o| and loads the identities
 * that |devices| devices will use (at most one per pool entry), before
 * anything is measured. Returns 0, or -1 with a message in |err|. */
int mqb_tls_init(mqb_tls *t, const mqb_opts *o, uint32_t devices, char *err,
                 size_t errlen);

/* mqb_tls_cleanup frees what mqb_tls_init made; |t| may be zeroed. */
void mqb_tls_cleanup(mqb_tls *t);

/* mqb_tls_ssl_new returns a new client SSL on |fd| with device |dev|'s
 * identity and, if not NULL, |session| to resume (not taken). Its app data
 * is |app|. Returns NULL on allocation failure. */
SSL *mqb_tls_ssl_new(mqb_tls *t, int fd, uint32_t dev, SSL_SESSION *session,
                     void *app);

/* mqb_tls_pool_size returns how many distinct identities there are. */
size_t mqb_tls_pool_size(const mqb_tls *t);

/* mqb_tls_error_kind looks at an SSL call on |ssl| that returned |ret|
 * (|saved_errno| as right after the call). Returns 1 if it only wants the
 * socket readable, 2 if writable; else returns 0 with the failure's kind
 * ("tls_alert:unknown_ca", "reset", ...) in |kind| and a detail text in
 * |detail|. The thread's error queue is clear afterwards. */
int mqb_tls_error_kind(SSL *ssl, int ret, int saved_errno, char *kind,
                       size_t kind_len, char *detail, size_t detail_len);

/* mqb_errno_kind maps a socket errno to an error kind. */
const char *mqb_errno_kind(int err);

/* mqb_tls_alert_name returns the RFC 8446 name of TLS alert |alert|
 * ("unknown_ca"), or NULL for a number without one. */
const char *mqb_tls_alert_name(int alert);

/* --- MQTT packets (bench_mqtt.c) ------------------------------------------ */

#define MQB_MQTT_CONNACK 2
#define MQB_MQTT_PUBLISH 3
#define MQB_MQTT_PUBACK 4
#define MQB_MQTT_SUBACK 9
#define MQB_MQTT_PINGRESP 13
#define MQB_MQTT_DISCONNECT 14

/* Builders write one packet to |out| (|cap| bytes) and return its length,
 * or 0 if it does not fit. */
size_t mqb_mqtt_connect(uint8_t *out, size_t cap, int level, const char *id,
                        size_t id_len, uint16_t keepalive);
size_t mqb_mqtt_subscribe(uint8_t *out, size_t cap, int level, uint16_t pid,
                          const char *topic, int qos);
/* mqb_mqtt_publish_header writes the PUBLISH up to its payload, which the
 * caller appends (|payload_len| bytes). */
size_t mqb_mqtt_publish_header(uint8_t *out, size_t cap, int level,
                               const char *topic, size_t topic_len, int qos,
                               uint16_t pid, size_t payload_len);
size_t mqb_mqtt_puback(uint8_t *out, size_t cap, uint16_t pid);

typedef enum {
  MQB_FRAME_OK = 0,
  MQB_FRAME_NEED_MORE = 1,
  MQB_FRAME_ERROR = 2,
} mqb_frame_status;

/* mqb_mqtt_frame finds the first packet in |buf|: on OK its total length is
 * |*pkt_len| and its body starts at |*hdr_len|. ERROR: a remaining length
 * longer than 4 bytes or a packet above |max| bytes. */
mqb_frame_status mqb_mqtt_frame(const uint8_t *buf, size_t len, size_t max,
                                size_t *hdr_len, size_t *pkt_len);

typedef struct {
  uint8_t qos;
  uint16_t pid;
  const uint8_t *topic, *payload;
  size_t topic_len, payload_len;
} mqb_publish;

/* Readers take one packet's first byte and body; return 1 or 0 if
 * malformed. */
int mqb_mqtt_read_publish(uint8_t b0, const uint8_t *body, size_t len,
                          int level, mqb_publish *out);
int mqb_mqtt_read_connack(const uint8_t *body, size_t len, uint8_t *code);
int mqb_mqtt_read_suback(const uint8_t *body, size_t len, int level,
                         uint8_t *code);
int mqb_mqtt_read_pid(const uint8_t *body, size_t len, uint16_t *pid);

/* --- connections (bench_conn.c) ------------------------------------------- */

typedef enum {
  MQB_ROLE_PLAIN, /* connect, then hold or close (conn, idle) */
  MQB_ROLE_PUB,   /* publishes once ready */
  MQB_ROLE_SUB,   /* subscribes, then receives */
} mqb_role;

typedef enum {
  MQB_ST_TLS,     /* connect(2) and handshake */
  MQB_ST_CONNACK, /* CONNECT sent */
  MQB_ST_SUBACK,  /* SUBSCRIBE sent */
  MQB_ST_READY,
  MQB_ST_CLOSED,
} mqb_state;

typedef struct {
  uint8_t *data;
  size_t off, len, cap;
} mqb_buf;

typedef struct mqb_conn mqb_conn;
struct mqb_conn {
  struct mqb_run *run;
  mqb_conn *prev, *next; /* in run->setup or run->open */
  uint32_t dev;
  uint8_t role, state;
  uint8_t in_list;       /* 0 none, 1 setup, 2 open */
  uint8_t poll_init;
  uint8_t read_wants_write;
  uint8_t hello_sent;    /* SSL_do_handshake called before */
  int fd;
  int poll_events;
  SSL *ssl;
  uv_poll_t poll;
  uint64_t t_start;   /* ns: socket created */
  uint64_t t_ready;   /* ns: READY */
  uint64_t t_last_tx; /* ns: last packet sent, for keep alive */
  mqb_buf in, out;
  /* Publishers. */
  uint32_t pub_slot;  /* index in run->pubs, UINT32_MAX when not there */
  char *topic;
  size_t topic_len;
  uint64_t *sent_at;  /* QoS 1: send time per packet id, 0 = free */
  uint16_t next_pid;
  uint32_t inflight_n;
};

/* mqb_conn_start opens a connection for device |dev| in |role|. Immediate
 * failures (EMFILE, refused) are counted and reported to the scenario
 * through mqb_scen_on_closed before this returns. */
void mqb_conn_start(struct mqb_run *run, uint32_t dev, mqb_role role);

/* mqb_conn_close ends |c| from our side: DISCONNECT and close_notify
 * (best effort), then the socket. |err_kind| non-NULL counts the close as
 * an error of that kind (with |detail|). The memory goes once libuv has
 * closed the poll handle; |c| must not be used after this call. */
void mqb_conn_close(mqb_conn *c, const char *err_kind, const char *detail);

/* mqb_conn_send sends one MQTT packet on a connection past its handshake,
 * queueing what the socket does not take. Returns 0, or -1 if the
 * connection failed and was closed (and counted). */
int mqb_conn_send(mqb_conn *c, const uint8_t *p, size_t len);

/* mqb_conn_queued returns the bytes waiting to be written on |c|. */
size_t mqb_conn_queued(const mqb_conn *c);

/* --- the run (bench_sched.c) ---------------------------------------------- */

typedef enum {
  MQB_PHASE_RAMP,  /* opening connections */
  MQB_PHASE_RUN,   /* the measured phase of pub/sub/latency/idle */
  MQB_PHASE_DRAIN, /* waiting for the last deliveries / PUBACKs */
  MQB_PHASE_DONE,
} mqb_phase;

typedef struct {
  mqb_conn *conn;       /* its connection now, or NULL */
  SSL_SESSION *session; /* the device's latest, with --resume */
  uint32_t rounds;      /* connections completed or failed */
  uint8_t role;
} mqb_device;

typedef struct {
  mqb_conn *head, *tail;
  uint32_t n;
} mqb_list;

typedef struct mqb_storm mqb_storm;

typedef struct mqb_run {
  const mqb_opts *o;
  mqb_storm *storm;  /* scenario storm (bench_storm.c) */
  uv_loop_t loop;
  mqb_tls tls;
  mqb_device *devs;
  uint32_t ndevs;
  uint32_t rounds; /* conn: connections per device */
  /* Devices waiting to (re)connect, a ring of ndevs. */
  uint32_t *queue;
  uint32_t q_head, q_len;
  int in_pump, pump_again;
  mqb_list setup, open; /* setup is in start order, open in ready order */
  uint32_t max_open;
  uint32_t next_src;    /* round robin over --source-addrs */
  /* Counts. */
  uint64_t started, handshakes, resumed, connected;
  uint64_t groups[5]; /* handshakes by group: X25519, P-256, P-384, P-521, other */
  uint64_t ok;          /* the scenario's units */
  uint64_t published, pub_attempts, pub_skipped, pub_bytes, delivered_bytes;
  uint64_t inflight_total;
  uint64_t ok_at_last_progress;
  mqb_errors errors;
  mqb_histo lat;      /* the scenario's unit latency, microseconds */
  mqb_histo conn_lat; /* connect -> CONNACK (-> SUBACK), microseconds */
  /* Phases and time, ns from uv_hrtime. */
  mqb_phase phase;
  uint64_t t0, t_last_setup, t_ramp_end, t_run_start, t_run_end, t_drain_end,
      t_end, t_rss_at;
  int timed_out, interrupted, rss_read;
  long rss_before_kb, rss_after_kb;
  uint32_t open_at_rss;
  double cpu_before, cpu_after;
  double target_cpu_before, target_cpu_after;
  /* Publishing (bench_scen.c). */
  mqb_conn **pubs; /* ready publishers, for round robin */
  uint32_t n_pubs, cap_pubs, pub_cursor;
  uint32_t subs_ready, subs_at_run;
  double pub_rate; /* messages/s in all during RUN, 0 = flood */
  uint8_t *pub_buf; /* header room + one payload */
  uv_timer_t tick, progress;
  uv_signal_t sigint;
  uint8_t rbuf[65536]; /* every connection reads into this */
} mqb_run;

/* mqb_run_main runs the scenario of |o| to its end and prints the
 * summary. Returns the exit code: 0 when every unit succeeded, 1 when some
 * failed or the run hit --timeout, 2 when it could not start. */
int mqb_run_main(const mqb_opts *o);

/* mqb_sched_kick starts what may start now (rate, concurrency). */
void mqb_sched_kick(mqb_run *run);

/* mqb_sched_setup_done moves |c|, READY at |now|, from the setup list to
 * the open list and records its setup latency. */
void mqb_sched_setup_done(mqb_run *run, mqb_conn *c, uint64_t now);

/* mqb_sched_conn_gone is called once per connection attempt of device
 * |dev| when it ends (|c| NULL if it never had a connection object):
 * takes it off its list, tells the scenario, and schedules what follows
 * (the device's next round, more starts). |was_ready|: it had reached
 * READY. */
void mqb_sched_conn_gone(mqb_run *run, uint32_t dev, mqb_conn *c, int failed,
                         int was_ready);

/* mqb_list_* keep the intrusive lists; |which| is 1 (setup) or 2 (open). */
void mqb_list_push(mqb_run *run, mqb_conn *c, int which);
void mqb_list_remove(mqb_run *run, mqb_conn *c);

/* mqb_now returns monotonic nanoseconds (uv_hrtime). */
uint64_t mqb_now(void);

/* --- scenarios (bench_scen.c) --------------------------------------------- */

/* mqb_scen_init allocates what the scenario needs; mqb_scen_cleanup frees
 * it. */
int mqb_scen_init(mqb_run *run);
void mqb_scen_cleanup(mqb_run *run);

/* Called by the connection when it is READY (CONNACK accepted, and for
 * subscribers SUBACK too). */
void mqb_scen_on_ready(mqb_run *run, mqb_conn *c);

/* Called with each PUBLISH a subscriber receives, at |now| ns. */
void mqb_scen_on_publish(mqb_run *run, mqb_conn *c, const mqb_publish *p,
                         uint64_t now);

/* Called when a publisher's QoS 1 message |pid| is acknowledged after
 * |ns| nanoseconds. */
void mqb_scen_on_puback(mqb_run *run, mqb_conn *c, uint64_t ns);

/* Called once per connection when it is gone, |failed| when it ended by an
 * error (already counted), |was_ready| if it had been READY. The
 * connection must not be kept. */
void mqb_scen_on_closed(mqb_run *run, mqb_conn *c, int failed, int was_ready);

/* mqb_scen_tick publishes what is due during RUN; called every tick. */
void mqb_scen_tick(mqb_run *run, uint64_t now);

/* mqb_scen_enter_run starts the measured phase (publishers listed). */
void mqb_scen_enter_run(mqb_run *run, uint64_t now);

/* mqb_scen_drained returns 1 when nothing more is expected to arrive. */
int mqb_scen_drained(const mqb_run *run);

/* mqb_scen_finish counts what never arrived once the run is over. */
void mqb_scen_finish(mqb_run *run);

/* --- the reconnect storm (bench_storm.c) --------------------------------- */

/* mqb_storm_init / mqb_storm_cleanup: the storm's state for run->ndevs
 * devices (init returns 0 or -1). */
int mqb_storm_init(mqb_run *run);
void mqb_storm_cleanup(mqb_run *run);

/* mqb_storm_begin drops every open connection at |now| and schedules each
 * device's first reconnect. */
void mqb_storm_begin(mqb_run *run, uint64_t now);

/* mqb_storm_tick starts the reconnects that are due. */
void mqb_storm_tick(mqb_run *run, uint64_t now);

/* mqb_storm_done returns 1 once every device is back. */
int mqb_storm_done(const mqb_run *run);

/* mqb_storm_on_ready records device |c| back (its CONNACK). */
void mqb_storm_on_ready(mqb_run *run, mqb_conn *c);

/* mqb_storm_gone schedules device |dev|'s next attempt after a failed one. */
void mqb_storm_gone(mqb_run *run, uint32_t dev, int failed, int was_ready);

/* mqb_storm_finish closes the storm's accounts at the end of the run. */
void mqb_storm_finish(mqb_run *run, uint64_t now);

/* mqb_storm_report writes the storm's figures (text lines, or JSON members
 * starting with a comma). */
void mqb_storm_report(const mqb_run *run, FILE *f, int json);

/* mqb_scen_writable is called when a publisher's queue drained (flood). */
void mqb_scen_writable(mqb_run *run, mqb_conn *c);

/* --- report (bench_report.c) ---------------------------------------------- */

/* mqb_cpu_seconds returns this process's user + system CPU seconds. */
double mqb_cpu_seconds(void);

/* mqb_proc_rss_kb returns VmRSS of process |pid| in KiB, or -1. */
long mqb_proc_rss_kb(long pid);

/* mqb_proc_cpu_seconds returns utime + stime of |pid|, or -1. */
double mqb_proc_cpu_seconds(long pid);

/* mqb_report_progress writes the once-a-second line to stderr. */
void mqb_report_progress(mqb_run *run, uint64_t now);

/* mqb_report_final writes the summary (text or JSON) to stdout. */
void mqb_report_final(mqb_run *run);

#endif
