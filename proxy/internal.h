/* internal.h: what the proxy/ files share privately: the worker and the
 * connection, and the functions conn.c, pump.c and server.c call in each
 * other (named <module>__<verb>).
 *
 * One connection and its states. conn.c owns the lifecycle: conn__to is
 * the only writer of |state| (other files ask it for a transition), each
 * state's deadline comes from one table there and runs on |timer| with one
 * callback, and conn__end is the one way out (it logs the outcome once,
 * counts it, and closes as the state allows). Every transition, with its
 * cause, is listed in conn.c; the main ones:
 *
 *                handshake      whole        broker         its
 *                  done        CONNECT     connected      CONNACK
 *   accept --> HANDSHAKE --> CONNECT --> BACKEND ---> CONNACK ---> PUMP
 *                  |            |           |   '---------------------^
 *                  |            | refused   | unreachable            | |
 *                  |            v           v                        | |
 *                  |          DRAIN <------------- broker gone ------+ |
 *                  |            | all                                | |
 *                  |            | delivered                          | | device gone,
 *                  | TLS        v                                    | | shutdown
 *                  '------->  LINGER <------------ cut --------------' v
 *                  refusal      | device EOF,                      UP_LINGER
 *                               | deadline                           | broker EOF,
 *                               v                                    | deadline
 *                             CLOSED <-------------------------------'
 *                               |  (also straight from any state: a reset,
 *                               |   a deadline that ends it at once, ...)
 *                               v
 *                             free, once every handle's close callback ran
 *
 * (The lines leaving PUMP leave CONNACK as well.)
 *
 *   HANDSHAKE  TLS handshake, device socket polled directly (sockbio.h);
 *              counted against --max-handshakes until it leaves
 *   CONNECT    reading the first MQTT packet into |in|; entering it sends
 *              the TLS 1.3 tickets BoringSSL holds back
 *   BACKEND    connecting to the broker; the device is not read meanwhile
 *   CONNACK    MQTT 5 with a filled-in client ID: the broker's first packet
 *              is gathered in |in| to add Assigned Client Identifier
 *   PUMP       bytes both ways, with back-pressure
 *   DRAIN      the broker is gone (EOF, or a failed write), or a refusal
 *              CONNACK is on its way: nothing more is read from the device;
 *              what the broker still sends goes to the device, then LINGER
 *   UP_LINGER  the device is gone: the broker's write side is shut once its
 *              queue is written (a FIN, not a reset that would lose a
 *              DISCONNECT), and what it still sends is dropped until EOF
 *   LINGER     the broker leg is closed, close_notify sent and our side of
 *              the device socket shut (SHUT_WR); reading and dropping what
 *              the device still sends, so that its kernel does not turn our
 *              last bytes (alert, CONNACK) into a reset
 *   CLOSED     the outcome is logged; every handle is closing
 *
 * Deadlines: HANDSHAKE --handshake-timeout, CONNECT --connect-timeout,
 * BACKEND --backend-timeout, DRAIN --write-timeout, UP_LINGER and LINGER
 * 1 s. In CONNACK and PUMP the deadline (--write-timeout) runs only while
 * bytes wait in either direction and restarts whenever they move
 * (conn__progress), so a peer that stops reading cannot hold a connection
 * forever.
 *
 * Ownership: the worker owns its connections (a list); a connection owns its
 * SSL, its socket, its handles and its buffers, and is freed only after the
 * close callbacks of all its handles have run (hiredis' libuv adapter). */
#ifndef MQG_PROXY_INTERNAL_H
#define MQG_PROXY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <uv.h>

#include "admit.h"
#include "cache.h"
#include "config.h"
#include "heartbeat.h"
#include "regtickets.h"
#include "mtls_verify.h"
#include "reason.h"
#include "regclient.h"
#include "sockbio.h"
#include "tlsctx.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum conn_state {
  CONN_HANDSHAKE,
  CONN_CONNECT,
  CONN_BACKEND,
  CONN_CONNACK,
  CONN_PUMP,
  CONN_DRAIN,
  CONN_UP_LINGER,
  CONN_LINGER,
  CONN_CLOSED,
};

/* A byte queue: the bytes [off, off + len) of |data| (malloc'd, |cap|). */
typedef struct {
  uint8_t *data;
  size_t off, len, cap;
} mqg_bytes;

typedef struct mqg_worker mqg_worker;
typedef struct mqg_conn mqg_conn;

struct mqg_conn {
  mqg_worker *w;
  mqg_conn *prev, *next; /* the worker's list */
  SSL *ssl;
  mqg_tls *tls;          /* the context |ssl| came from (a reference) */
  int fd;                /* device socket, closed after |poll| closes */
  union {                /* the device's address, as accept4 gave it */
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
  } addr;
  mqg_sockbio sb;        /* |ssl|'s BIO state: the socket, bytes read ahead */
  uv_poll_t poll;        /* device socket readiness */
  uv_timer_t timer;      /* the deadline of the current state */
  uv_tcp_t up;           /* broker connection, once |up_init| */
  uint8_t state;         /* enum conn_state */
  uint8_t level;         /* MQTT protocol level, 0 before CONNECT */
  uint8_t open_handles;  /* handles whose close callback has not run */
  uint8_t up_init : 1;   /* |up| was initialised */
  uint8_t dev_read_paused : 1; /* broker queue over the limit */
  uint8_t up_read_paused : 1;  /* device queue over the limit */
  uint8_t read_wants_write : 1; /* SSL_read needs the socket writable */
  uint8_t up_eof : 1;    /* the broker will send nothing more */
  uint8_t filled_id : 1; /* mqgate filled in the client ID */
  uint8_t logged : 1;    /* the outcome was recorded (conn__end) */
  uint8_t tickets_unsent : 1; /* TLS 1.3 tickets held: socket was full */
  uint8_t lookup_state;  /* LOOKUP_*: the registry check of the handshake */
  uint8_t register_after : 1; /* register automatically once completed */
  uint8_t have_ca : 1;   /* |reg_ca| is the registered CA the chain reached */
  uint8_t resume_checked : 1; /* a resumed session passed the check */
  uint8_t rechecks;      /* checks made again at completion */
  mqg_reason lookup_verdict;  /* its answer, once LOOKUP_DONE */
  mqg_lookup *lookup;    /* the registry call in flight, if any */
  mqg_cache_entry *pending; /* what the answer will be cached as; its
                            * fetched_ms holds the send time until then */
  mqg_cache_token token; /* what the cache knew when the answer was asked */
  mqg_certinfo *reg_info; /* the leaf's facts while a registration may come */
  uint8_t reg_ca[32];    /* the registered CA its chain reached */
  char *client_id;       /* the client ID sent to the broker (log-safe copy) */
  int poll_events;       /* what |poll| currently waits for */
  mqg_reason reason;     /* why the connection ended (once it does) */
  mqg_tls_peer peer;     /* certificate facts from the handshake */
  mqg_bytes in;          /* CONNECT (device) or CONNACK (broker) being read */
  mqg_bytes dev_out;     /* plaintext waiting for SSL_write to the device */
  size_t up_queued;      /* bytes in write requests to the broker */
  uint64_t t_start;      /* loop time at accept, ms */
  mqg_admit_ticket admit_ticket; /* released when the connection goes */
};

enum { LOOKUP_NONE, LOOKUP_PENDING, LOOKUP_DONE };

/* Settings shared by the workers, derived from the configuration; the
 * atomics change at run time (cluster settings). */
typedef struct {
  struct sockaddr_storage backend;
  /* Reloadable on SIGHUP, so atomic (plain reads are atomic loads). */
  _Atomic uint64_t handshake_ms, connect_ms, backend_ms, write_ms;
  uint64_t linger_ms;
  _Atomic size_t max_connect_size;
  _Atomic size_t max_client_id;
  _Atomic size_t write_queue_limit;
  int registry;              /* auth mode registry */
  int proxy_protocol;        /* send a PROXY v2 header to the broker */
  const char *redis_url, *redis_prefix; /* borrowed from the config */
  const char *redis_password_file;
  const char *redis_sentinels, *redis_master;
  uint64_t redis_stale_ms;
  uint64_t ticket_rotate_ms; /* registry mode: shared ticket keys; 0: own */
  mqg_cache *cache;          /* registry answers, shared */
  pthread_mutex_t tls_lock;  /* guards |tls| */
  mqg_tls *tls;              /* the context for new connections (a ref) */
  mqg_admit *admit;          /* connection limit, per-source rate */
  unsigned max_pending;      /* --max-pending-lookups */
  unsigned max_records;      /* --max-pending-records */
  _Atomic unsigned max_handshakes; /* --max-handshakes, per worker */
  _Atomic unsigned pending;  /* registry lookups in flight, all workers */
  uint64_t drain_ms;         /* set by mqg_server_stop */
  _Atomic int strict_ids_default; /* --client-id-mode strict */
  _Atomic int strict_ids;    /* in force now */
  _Atomic uint16_t tls_min_default, tls_max_default;
  /* Readiness (mqg_server_on_ready): workers not ready yet, and whom the
   * last one tells. */
  _Atomic unsigned unready;
  void (*ready_cb)(void *arg);
  void *ready_arg;
} mqg_proxy_opts;

struct mqg_worker {
  uv_loop_t loop;
  uv_thread_t thread;
  int index;
  int lfd;                /* listening socket (SO_REUSEPORT), -1 if closed */
  uv_poll_t accept_poll;
  uv_timer_t accept_retry; /* resumes accepting after EMFILE */
  uv_async_t wakeup;       /* stop requests from the main thread */
  uv_async_t crl_recheck;  /* the CRLs in force changed (crls.c) */
  uv_timer_t drain;        /* the drain deadline, then the last linger */
  int drain_phase;         /* 0 accepting, 1 draining, 2 closing, 3 done */
  _Atomic int stopping;    /* set by the main thread, then |wakeup| */
  mqg_proxy_opts *opts;    /* shared, borrowed */
  mqg_regclient *reg;      /* auth mode registry: this worker's Redis link */
  mqg_heartbeat *heartbeat; /* worker 0 in registry mode: the proxy's */
  mqg_regtickets *tickets;  /* worker 0 in registry mode: shared ticket keys */
  mqg_mtls_verifier *verifier; /* the registered CAs, as last read */
  int ready;               /* reported ready (server__worker_ready) */
  int cas_failed;          /* the last read of the CAs failed: fail closed */
  uint8_t *rbuf;           /* read buffer shared by this worker's callbacks */
  size_t rbuf_cap;
  uint8_t *rxbuf;          /* the device sockets' read-ahead scratch */
  size_t rxbuf_cap;
  mqg_conn *conns;         /* live connections */
  unsigned handshakes;     /* connections in HANDSHAKE */
  int accept_paused;       /* at --max-handshakes: the listener is not polled */
  uv_timer_t hs_check;     /* while paused: resumes once the loop is not busy */
  uint64_t busy_t, busy_idle; /* start of the busy window: time, loop idle time */
  int busy;                /* the loop was idle < 20% of the last window */
};

/* conn.c: the lifecycle. */

/* How a connection ends, by what is still owed to its peers (conn__end). */
enum conn_end {
  CONN_END_NOW,       /* nothing: close both legs at once (-> CLOSED) */
  CONN_END_LINGER,    /* close the broker leg, send close_notify and a FIN
                       * to the device, read it until EOF (-> LINGER) */
  CONN_END_REFUSE,    /* a refusal CONNACK where the protocol has a code
                       * for the reason, then as LINGER (-> DRAIN) */
  CONN_END_DRAIN,     /* CONNACK, PUMP: the broker is gone; what it sent
                       * still goes to the device, then LINGER (-> DRAIN) */
  CONN_END_UP_LINGER, /* CONNACK, PUMP: the device is gone; the broker gets
                       * its queue and a FIN (-> UP_LINGER); in any other
                       * state nothing is owed to it: as NOW */
};

/* conn__identity is the certificate's identity: its registered client ID,
 * else its CN; NULL without either. */
static inline const char *conn__identity(const mqg_conn *c) {
  return c->peer.client_id ? c->peer.client_id : c->peer.cn;
}

/* conn__accept takes over |fd|, accepted from |peer| (|plen| bytes). */
void conn__accept(mqg_worker *w, int fd, const struct sockaddr *peer, socklen_t plen,
                  mqg_admit_ticket ticket);
/* conn__to moves |c| to |to|: the only writer of c->state. Leaving
 * HANDSHAKE gives back its --max-handshakes slot; the deadline of |to| is
 * armed from conn.c's table; a debug line names both states. */
void conn__to(mqg_conn *c, enum conn_state to);
/* conn__state_name returns the name of |state| for log lines ("pump"). */
const char *conn__state_name(unsigned state);
/* conn__progress: bytes moved or were queued. In CONNACK and PUMP the
 * deadline restarts while bytes wait and stops when none do; in every other
 * state it does nothing (their deadlines are fixed). */
void conn__progress(mqg_conn *c);
/* conn__end ends |c| for |reason| (|detail|, if any, goes on the log line):
 * the one way out. The outcome is logged and counted here, once: the first
 * reason recorded stands, later calls only move the connection on. Then
 * |how| (enum conn_end) takes it towards CLOSED; |c| may be closed on
 * return (it is freed later, once its handles' callbacks have run). */
void conn__end(mqg_conn *c, enum conn_end how, mqg_reason reason, const char *detail);
/* conn__cut ends a live connection for a registry change or a CRL (|detail|
 * says which), counted as a cut: a handshake at once, anything later with
 * close_notify (LINGER). Returns 0 without doing anything when |c| is
 * already ending (LINGER or CLOSED), else 1. */
int conn__cut(mqg_conn *c, mqg_reason reason, const char *detail);
/* conn__shutdown ends |c| for a shutdown, as cleanly as its state allows;
 * a connection already ending goes on to its own deadline. */
void conn__shutdown(mqg_conn *c);
void conn__handshake(mqg_conn *c);
/* conn__flush_tickets sends the TLS 1.3 tickets BoringSSL holds back until
 * the server's first write (entering CONNECT). Returns 0 when none is held
 * any more, 1 while the socket is full (c->tickets_unsent), -1 if the
 * connection failed. */
int conn__flush_tickets(mqg_conn *c);
void conn__poll(mqg_conn *c, int events);
void conn__update_poll(mqg_conn *c);
/* conn__format_peer writes the device's address ("host:port", "[v6]:port")
 * for a log line. */
void conn__format_peer(const mqg_conn *c, char *out, size_t cap);

/* conn_connect.c: the CONNECT stage. conn__read_connect reads what the
 * device sent in CONNECT; a whole CONNECT that passes goes to the broker
 * (BACKEND), anything else is refused. */
void conn__read_connect(mqg_conn *c);

/* server.c */
void server__conn_gone(mqg_worker *w);
void server__handshake_done(mqg_worker *w);
mqg_tls *server__tls(mqg_proxy_opts *o);
/* server__worker_ready: |w| can serve (registry mode: its Redis link
 * answered and the registered CAs were read). Only the first call counts. */
void server__worker_ready(mqg_worker *w);

/* regcheck.c */
enum ssl_verify_result_t regcheck__verify(mqg_tls_peer *peer, SSL *ssl, uint8_t *out_alert);
/* regcheck__complete runs when |c|'s handshake has completed, before its
 * session: the automatic registration, or a new check when the registry
 * changed since the answer. REGCHECK_WAIT: a call is under way and
 * conn__handshake runs again with its answer; REGCHECK_REFUSE:
 * c->peer.reason says why. */
enum { REGCHECK_OK, REGCHECK_WAIT, REGCHECK_REFUSE };
int regcheck__complete(mqg_conn *c);
void regcheck__cancel(mqg_conn *c);
int regcheck__start(mqg_worker *w, char *err, size_t errlen);
void regcheck__stop(mqg_worker *w);

/* crls.c: cut this worker's sessions that the CRLs in force revoke. */
void crls__recheck(mqg_worker *w);

/* pump.c */
void pump__start(mqg_conn *c);
void pump__on_device(mqg_conn *c, int events);
int pump__dev_send(mqg_conn *c, const uint8_t *data, size_t len);
int pump__up_send(mqg_conn *c, const uint8_t *data, size_t len);
/* pump__drain: in DRAIN, LINGER once the broker has nothing more to send
 * and the device has been given all of it; else wait for that. */
void pump__drain(mqg_conn *c);
/* pump__up_close: entering UP_LINGER, the broker's write side is shut once
 * its queue is written and its reading resumes (to drop until EOF).
 * Returns 0, or -1 when there is nothing to wait for (no FIN could be
 * queued, or the broker has already closed): close now. */
int pump__up_close(mqg_conn *c);

/* mqg_bytes helpers (pump.c) */
int bytes__append(mqg_bytes *b, const uint8_t *data, size_t len);
void bytes__consume(mqg_bytes *b, size_t n);
void bytes__free(mqg_bytes *b);

#endif
