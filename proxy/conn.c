/* conn.c: one device connection's lifecycle, in one place (the diagram is in
 * internal.h): its states and every transition between them (conn__to, the
 * only writer of c->state), the deadline of each state and the one timer
 * callback that acts on it, and the one way out (conn__end), which logs and
 * counts the outcome once and closes. Also the TLS handshake; the CONNECT
 * and the broker connection are in conn_connect.c, the byte pump in pump.c.
 *
 * Every transition, its cause, and how conn__end gets there (CONN_END_*):
 *
 *   from           to         cause                                     how
 *   HANDSHAKE      CONNECT    handshake complete (in registry mode, the
 *                             check at completion passed)
 *   HANDSHAKE      LINGER     the handshake failed or was refused
 *                             (BoringSSL sent the alert), a refusal
 *                             after completion (our alert)              LINGER
 *   HANDSHAKE      CLOSED     deadline, reset, cut, shutdown            NOW
 *   CONNECT        BACKEND    a whole CONNECT, accepted
 *   CONNECT        DRAIN      CONNECT refused                           REFUSE
 *   CONNECT        LINGER     deadline, cut, shutdown                   LINGER
 *   CONNECT        CLOSED     device EOF or error, tickets unsendable   NOW
 *   BACKEND        CONNACK    connected; MQTT 5 with a filled-in ID
 *   BACKEND        PUMP       connected; otherwise
 *   BACKEND        DRAIN      broker unreachable, deadline              REFUSE
 *   BACKEND        LINGER     cut                                       LINGER
 *   BACKEND        CLOSED     shutdown                                  NOW
 *   CONNACK        PUMP       the broker's CONNACK, rewritten
 *   CONNACK        LINGER     the broker's first packet is no CONNACK   LINGER
 *   CONNACK, PUMP  DRAIN      broker EOF or a failed write              DRAIN
 *   CONNACK, PUMP  UP_LINGER  device EOF, error or close_notify;
 *                             shutdown (close_notify and FIN first)     UP_LINGER
 *   CONNACK, PUMP  LINGER     cut                                       LINGER
 *   CONNACK, PUMP  CLOSED     write deadline                            NOW
 *   DRAIN          LINGER     all the broker sent delivered; cut        LINGER
 *   DRAIN          CLOSED     deadline, device gone                     NOW
 *   UP_LINGER      LINGER     cut                                       LINGER
 *   UP_LINGER      CLOSED     broker EOF (or seen before), deadline,
 *                             no FIN could be queued                    NOW
 *   LINGER         CLOSED     device EOF or error, deadline             NOW
 *   any            CLOSED     the drain's last deadline (shutdown)      NOW */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "hex.h"
#include "internal.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_connack.h"
#include "tlsgroups.h"

static void on_poll(uv_poll_t *h, int status, int events);
static void on_timer(uv_timer_t *t);

/* Which timeout runs in a state. */
enum { DL_NONE, DL_HANDSHAKE, DL_CONNECT, DL_BACKEND, DL_WRITE, DL_LINGER, DL_STALLED };

/* The states: name, deadline, and what happens when the deadline passes. */
static const struct {
  const char *name;
  uint8_t deadline; /* DL_*; DL_STALLED: --write-timeout while bytes wait */
  uint8_t expiry;   /* enum conn_end: how the connection then ends */
  mqg_reason why;   /* ... and why (OK: for the reason recorded already) */
} states[] = {
    [CONN_HANDSHAKE] = {"handshake", DL_HANDSHAKE, CONN_END_NOW, MQG_REASON_HANDSHAKE_TIMEOUT},
    [CONN_CONNECT] = {"connect", DL_CONNECT, CONN_END_LINGER, MQG_REASON_CONNECT_TIMEOUT},
    [CONN_BACKEND] = {"backend", DL_BACKEND, CONN_END_REFUSE, MQG_REASON_BACKEND_UNAVAILABLE},
    [CONN_CONNACK] = {"connack", DL_STALLED, CONN_END_NOW, MQG_REASON_WRITE_TIMEOUT},
    [CONN_PUMP] = {"pump", DL_STALLED, CONN_END_NOW, MQG_REASON_WRITE_TIMEOUT},
    [CONN_DRAIN] = {"drain", DL_WRITE, CONN_END_NOW, MQG_REASON_OK},
    [CONN_UP_LINGER] = {"up_linger", DL_LINGER, CONN_END_NOW, MQG_REASON_OK},
    [CONN_LINGER] = {"linger", DL_LINGER, CONN_END_NOW, MQG_REASON_OK},
    [CONN_CLOSED] = {"closed", DL_NONE, CONN_END_NOW, MQG_REASON_OK},
};

const char *conn__state_name(unsigned state) {
  return state < sizeof(states) / sizeof(states[0]) ? states[state].name : "?";
}

void conn__format_peer(const mqg_conn *c, char *out, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (c->addr.sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &c->addr.in.sin_addr, host, sizeof(host));
    port = ntohs(c->addr.in.sin_port);
  } else if (c->addr.sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &c->addr.in6.sin6_addr, host, sizeof(host));
    port = ntohs(c->addr.in6.sin6_port);
  }
  snprintf(out, cap, c->addr.sa.sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* --- transitions and deadlines ---------------------------------------- */

static uint64_t deadline_ms(const mqg_proxy_opts *o, unsigned dl) {
  switch (dl) {
    case DL_HANDSHAKE:
      return o->handshake_ms;
    case DL_CONNECT:
      return o->connect_ms;
    case DL_BACKEND:
      return o->backend_ms;
    case DL_LINGER:
      return o->linger_ms;
    default: /* DL_WRITE, DL_STALLED */
      return o->write_ms;
  }
}

/* Arms the deadline of the state |c| has just entered from |from|. */
static void arm_deadline(mqg_conn *c, unsigned from) {
  switch (states[c->state].deadline) {
    case DL_NONE:
      uv_timer_stop(&c->timer);
      break;
    case DL_STALLED:
      /* Armed by conn__progress while bytes wait; none wait yet when a
       * session starts, and CONNACK -> PUMP keeps the running one. */
      if (states[from].deadline != DL_STALLED)
        uv_timer_stop(&c->timer);
      break;
    default:
      uv_timer_start(&c->timer, on_timer, deadline_ms(c->w->opts, states[c->state].deadline), 0);
      break;
  }
}

/* The debug line of a transition; out of line, so that conn__to stays a
 * few instructions when debug lines are off. */
__attribute__((noinline)) static void log_transition(const mqg_conn *c, unsigned from,
                                                     unsigned to) {
  char peer[64];
  conn__format_peer(c, peer, sizeof(peer));
  const mqg_log_field f[] = {
      {"peer", peer}, {"from", conn__state_name(from)}, {"to", conn__state_name(to)}};
  mqg_log_event(MQG_LOG_DEBUG, "state", f, sizeof(f) / sizeof(f[0]));
}

void conn__to(mqg_conn *c, enum conn_state to) {
  unsigned from = c->state;
  if (mqg_log_enabled(MQG_LOG_DEBUG))
    log_transition(c, from, to);
  c->state = to;
  if (from == CONN_HANDSHAKE && to != CONN_HANDSHAKE)
    server__handshake_done(c->w); /* one fewer against --max-handshakes */
  arm_deadline(c, from);
}

void conn__progress(mqg_conn *c) {
  if (states[c->state].deadline != DL_STALLED)
    return;
  if (c->dev_out.len > 0 || c->up_queued > 0)
    uv_timer_start(&c->timer, on_timer, c->w->opts->write_ms, 0);
  else
    uv_timer_stop(&c->timer);
}

/* The one timer callback: the state says what its deadline meant. */
static void on_timer(uv_timer_t *t) {
  mqg_conn *c = t->data;
  mqg_reason why = states[c->state].why;
  conn__end(c, states[c->state].expiry, why != MQG_REASON_OK ? why : c->reason, NULL);
}

/* --- the way out ------------------------------------------------------- */

/* Records why |c| ends: the outcome line and the refusal counter, once. */
static void outcome(mqg_conn *c, mqg_reason reason, const char *detail) {
  if (c->logged)
    return;
  c->logged = 1;
  c->reason = reason;
  mqg_metrics_refused(reason);
  int refused = reason != MQG_REASON_CLOSED && reason != MQG_REASON_SHUTDOWN &&
                reason != MQG_REASON_OK;
  mqg_log_level lvl = refused ? MQG_LOG_WARN : MQG_LOG_INFO;
  if (!mqg_log_enabled(lvl))
    return;
  char peer[64], fp[65] = "", dur[24], why[256];
  const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
  conn__format_peer(c, peer, sizeof(peer));
  if (c->peer.has_cert)
    mqg_hex_encode(c->peer.sha256, 32, fp);
  snprintf(dur, sizeof(dur), "%llu", (unsigned long long)(uv_now(&c->w->loop) - c->t_start));
  snprintf(why, sizeof(why), "%s%s%s", mqg_reason_text(reason), detail && detail[0] ? ": " : "",
           detail ? detail : "");
  const mqg_log_field f[] = {
      {"peer", peer},
      {"tls", cipher ? SSL_get_version(c->ssl) : ""},
      {"cipher", cipher ? SSL_CIPHER_get_name(cipher) : ""},
      {"group", mqg_tls_group_name(SSL_get_curve_id(c->ssl))},
      {"fp", fp},
      {"cn", c->peer.cn},
      {"client_id_in", c->client_id && !c->filled_id ? c->client_id : ""},
      {"client_id", c->client_id},
      {"reason", mqg_reason_label(reason)},
      {"detail", why},
      {"duration_ms", dur},
      {"state", conn__state_name(c->state)}, /* where it was when it ended */
  };
  mqg_log_event(lvl, refused ? "refused" : "closed", f, sizeof(f) / sizeof(f[0]));
}

static void on_handle_closed(uv_handle_t *h) {
  mqg_conn *c = h->data;
  if (h == (uv_handle_t *)&c->poll)
    close(c->fd);
  if (--c->open_handles > 0)
    return;
  MQG_COUNT(open, -1);
  mqg_admit_release(c->w->opts->admit, c->admit_ticket);
  SSL_free(c->ssl);
  mqg_sockbio_cleanup(&c->sb);
  mqg_tls_free(c->tls);
  mqg_tls_peer_cleanup(&c->peer);
  free(c->client_id);
  bytes__free(&c->in);
  bytes__free(&c->dev_out);
  free(c);
}

static void close_up(mqg_conn *c) {
  if (c->up_init && !uv_is_closing((uv_handle_t *)&c->up))
    uv_close((uv_handle_t *)&c->up, on_handle_closed);
}

/* CONN_END_NOW: every handle closes; |c| is freed once all have. */
static void close_now(mqg_conn *c) {
  mqg_worker *w = c->w;
  conn__to(c, CONN_CLOSED);
  regcheck__cancel(c);
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  close_up(c);
  server__conn_gone(w);
}

/* CONN_END_LINGER: close the broker leg, send close_notify, shut our
 * direction and linger on the device's. */
static void linger(mqg_conn *c) {
  if (c->state == CONN_LINGER)
    return;
  close_up(c);
  if (SSL_is_init_finished(c->ssl))
    SSL_shutdown(c->ssl); /* best effort: the socket may be full or gone */
  ERR_clear_error();
  shutdown(c->fd, SHUT_WR);
  conn__to(c, CONN_LINGER);
  conn__update_poll(c);
}

/* CONN_END_REFUSE, after the handshake: a CONNACK where the protocol has a
 * code for |reason|, delivered in DRAIN, then LINGER. */
static void refuse(mqg_conn *c, mqg_reason reason) {
  uint8_t level = c->level ? c->level : 4;
  uint8_t code = mqg_reason_connack_code(reason, level);
  if (code != 0) {
    uint8_t buf[8];
    CBB cbb;
    size_t len;
    if (CBB_init_fixed(&cbb, buf, sizeof(buf)) &&
        mqg_connack_build(level, code, &cbb) && CBB_finish(&cbb, NULL, &len) &&
        pump__dev_send(c, buf, len) != 0)
      return; /* the send failed and closed the connection */
  }
  /* Nothing will come from the broker. */
  c->up_eof = 1;
  close_up(c);
  conn__to(c, CONN_DRAIN);
  pump__drain(c);
}

void conn__end(mqg_conn *c, enum conn_end how, mqg_reason reason, const char *detail) {
  if (c->state == CONN_CLOSED)
    return;
  outcome(c, reason, detail);
  switch (how) {
    case CONN_END_NOW:
      close_now(c);
      break;
    case CONN_END_LINGER:
      linger(c);
      break;
    case CONN_END_REFUSE:
      refuse(c, reason);
      break;
    case CONN_END_DRAIN:
      conn__to(c, CONN_DRAIN);
      pump__drain(c);
      break;
    case CONN_END_UP_LINGER:
      if (c->state != CONN_PUMP && c->state != CONN_CONNACK) {
        close_now(c); /* nothing is owed to the broker */
        break;
      }
      conn__to(c, CONN_UP_LINGER);
      conn__poll(c, 0);
      if (pump__up_close(c) != 0)
        close_now(c); /* uv_close lets a queued shutdown finish */
      break;
  }
}

int conn__cut(mqg_conn *c, mqg_reason reason, const char *detail) {
  if (c->state >= CONN_LINGER)
    return 0;
  MQG_COUNT(cuts, 1);
  conn__end(c, c->state == CONN_HANDSHAKE ? CONN_END_NOW : CONN_END_LINGER, reason, detail);
  return 1;
}

void conn__shutdown(mqg_conn *c) {
  switch (c->state) {
    case CONN_PUMP:
    case CONN_CONNACK:
      /* A live session: close_notify and a FIN to the device, the broker's
       * queue and a FIN to the broker, then linger briefly. */
      SSL_shutdown(c->ssl);
      ERR_clear_error();
      shutdown(c->fd, SHUT_WR);
      conn__end(c, CONN_END_UP_LINGER, MQG_REASON_SHUTDOWN, NULL);
      break;
    case CONN_CONNECT:
      conn__end(c, CONN_END_LINGER, MQG_REASON_SHUTDOWN, NULL);
      break;
    case CONN_HANDSHAKE:
    case CONN_BACKEND:
      conn__end(c, CONN_END_NOW, MQG_REASON_SHUTDOWN, NULL);
      break;
    default: /* already ending, on its own deadline */
      break;
  }
}

/* --- polling ----------------------------------------------------------- */

void conn__poll(mqg_conn *c, int events) {
  if (events == c->poll_events || c->state == CONN_CLOSED)
    return;
  c->poll_events = events;
  if (events == 0)
    uv_poll_stop(&c->poll);
  else
    uv_poll_start(&c->poll, events, on_poll);
}

void conn__update_poll(mqg_conn *c) {
  int ev = 0;
  switch (c->state) {
    case CONN_CONNACK:
    case CONN_PUMP:
      if (!c->dev_read_paused)
        ev |= UV_READABLE;
      /* fall through */
    case CONN_DRAIN:
      if (c->dev_out.len > 0 || c->read_wants_write)
        ev |= UV_WRITABLE;
      break;
    case CONN_CONNECT:
      ev = UV_READABLE | (c->tickets_unsent ? UV_WRITABLE : 0);
      break;
    case CONN_LINGER:
      ev = UV_READABLE;
      break;
    default:
      return; /* HANDSHAKE and BACKEND set their own; CLOSED waits */
  }
  conn__poll(c, ev);
}

static void linger_read(mqg_conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, c->w->rbuf, c->w->rbuf_cap);
    if (n > 0)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    conn__end(c, CONN_END_NOW, c->reason, NULL);
    return;
  }
}

/* --- the handshake ----------------------------------------------------- */

/* refuse_completed refuses a handshake that completed (a resumed session
 * the registry no longer admits, a failed automatic registration): a fatal
 * alert, then close. */
static void refuse_completed(mqg_conn *c, const char *detail) {
  SSL_send_fatal_alert(c->ssl, mqg_reason_alert(c->peer.reason, (uint16_t)SSL_version(c->ssl)));
  conn__end(c, CONN_END_LINGER, c->peer.reason, detail);
}

/* Sends what BoringSSL holds back after a TLS 1.3 handshake: its
 * NewSessionTicket waits for the server's next write (tls13_server.cc,
 * do_send_new_session_ticket: "we defer until the server performs a
 * write"). mqgate writes nothing before the CONNACK, so the ticket, and with
 * it the ACK of the device's last flight, would leave only with the CONNACK:
 * a device with Nagle on then holds its CONNECT until our kernel's delayed
 * ACK (~40 ms). A zero-byte write sends the ticket now. Returns 0 when
 * nothing is held any more, 1 while the socket is full (|tickets_unsent|),
 * -1 if the connection failed. */
int conn__flush_tickets(mqg_conn *c) {
  int n = SSL_write(c->ssl, NULL, 0);
  c->tickets_unsent = 0;
  if (n >= 0)
    return 0;
  if (SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_WRITE) {
    c->tickets_unsent = 1;
    return 1;
  }
  ERR_clear_error();
  return -1;
}

void conn__handshake(mqg_conn *c) {
  int rc = SSL_do_handshake(c->ssl);
  if (rc == 1 && SSL_session_reused(c->ssl) && !c->resume_checked) {
    /* The check BoringSSL skips for resumed sessions on a server. */
    uint8_t alert = SSL_AD_INTERNAL_ERROR;
    switch (mqg_tls_check_peer(c->ssl, &alert)) {
      case ssl_verify_ok:
        c->resume_checked = 1;
        break;
      case ssl_verify_retry:
        conn__poll(c, 0); /* the registry answers; regcheck.c resumes us */
        return;
      case ssl_verify_invalid:
        refuse_completed(c, "resumed session");
        return;
    }
  }
  if (rc == 1 && c->w->reg != NULL) {
    /* The peer has proved its key: now the registry may be written to
     * (automatic registration), and an answer overtaken by a change
     * during the handshake is checked again. */
    switch (regcheck__complete(c)) {
      case REGCHECK_OK:
        break;
      case REGCHECK_WAIT:
        conn__poll(c, 0); /* regcheck.c resumes us */
        return;
      case REGCHECK_REFUSE:
        refuse_completed(c, "after the handshake");
        return;
    }
  }
  if (rc == 1) {
    MQG_COUNT(handshakes, 1);
    mqg_metrics_handshake((uint16_t)SSL_version(c->ssl));
    mqg_metrics_handshake_group(SSL_get_curve_id(c->ssl));
    if (SSL_session_reused(c->ssl))
      MQG_COUNT(resumed, 1);
    conn__to(c, CONN_CONNECT);
    if (conn__flush_tickets(c) < 0) {
      conn__end(c, CONN_END_NOW, MQG_REASON_CLOSED, NULL);
      return;
    }
    conn__update_poll(c);
    conn__read_connect(c); /* the CONNECT may have come with the last flight */
    return;
  }
  switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      conn__poll(c, UV_READABLE);
      return;
    case SSL_ERROR_WANT_WRITE:
      conn__poll(c, UV_WRITABLE);
      return;
    case SSL_ERROR_WANT_CERTIFICATE_VERIFY:
      conn__poll(c, 0); /* the registry answers; regcheck.c resumes us */
      return;
    default: {
      char detail[160];
      mqg_reason r = mqg_tls_failure_reason(c->ssl, &c->peer, detail, sizeof(detail));
      /* BoringSSL has already sent the alert: linger so that it arrives. */
      conn__end(c, CONN_END_LINGER, r, detail);
      return;
    }
  }
}

/* --- readiness -------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events) {
  mqg_conn *c = h->data;
  if (status < 0) {
    /* libuv has stopped the handle (POLLERR, typically a reset). What the
     * device sent before the reset is still readable: in PUMP it goes to
     * the broker before the broker side is closed properly. */
    c->poll_events = 0;
    if (c->state == CONN_PUMP || c->state == CONN_CONNACK) {
      pump__on_device(c, UV_READABLE);
      return;
    }
    conn__end(c, CONN_END_NOW,
              c->state == CONN_HANDSHAKE ? MQG_REASON_TLS_ERROR : MQG_REASON_CLOSED, NULL);
    return;
  }
  switch (c->state) {
    case CONN_HANDSHAKE:
      conn__handshake(c);
      break;
    case CONN_CONNECT:
      conn__read_connect(c);
      break;
    case CONN_CONNACK:
    case CONN_PUMP:
    case CONN_DRAIN:
      pump__on_device(c, events);
      break;
    case CONN_BACKEND: /* early data or EOF: read once the broker is there */
    case CONN_UP_LINGER:
      conn__poll(c, 0);
      break;
    case CONN_LINGER:
      linger_read(c);
      break;
    default:
      break;
  }
}

void conn__accept(mqg_worker *w, int fd, const struct sockaddr *peer, socklen_t plen,
                  mqg_admit_ticket ticket) {
  mqg_conn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    mqg_admit_release(w->opts->admit, ticket);
    close(fd);
    return;
  }
  MQG_COUNT(accepted, 1);
  c->w = w;
  c->fd = fd;
  memcpy(&c->addr, peer, plen < sizeof(c->addr) ? plen : sizeof(c->addr));
  c->admit_ticket = ticket;
  c->t_start = uv_now(&w->loop);
  if (w->opts->registry)
    c->peer.check = regcheck__verify;
  c->tls = server__tls(w->opts);
  c->sb = (mqg_sockbio){.fd = fd, .scratch = w->rxbuf, .scratch_cap = w->rxbuf_cap};
  BIO *bio = mqg_sockbio_new(&c->sb);
  c->ssl = bio ? mqg_tls_ssl_new(c->tls, bio, &c->peer) : NULL;
  if (c->ssl == NULL)
    BIO_free(bio);
  if (c->ssl == NULL || uv_poll_init_socket(&w->loop, &c->poll, fd) != 0) {
    mqg_admit_release(w->opts->admit, ticket);
    SSL_free(c->ssl);
    mqg_tls_free(c->tls);
    close(fd);
    free(c);
    return;
  }
  uv_timer_init(&w->loop, &c->timer);
  c->poll.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  MQG_COUNT(open, 1);
  c->next = w->conns;
  if (w->conns)
    w->conns->prev = c;
  w->conns = c;
  /* Born in HANDSHAKE (conn__to moves it on from there): counted against
   * --max-handshakes until it leaves. */
  c->state = CONN_HANDSHAKE;
  w->handshakes++;
  arm_deadline(c, CONN_CLOSED);
  conn__poll(c, UV_READABLE);
}
