/* conn.c: one device connection from accept to the start of the byte pump:
 * TLS handshake, the MQTT CONNECT (read, check, client-ID rewrite), the
 * broker connection, refusals and closing. See the diagram in internal.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "internal.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_connack.h"
#include "mqtt_connect.h"
#include "proxyproto.h"
#include "tlsgroups.h"

static void on_poll(uv_poll_t *h, int status, int events);
static void on_timer(uv_timer_t *t);
static void read_connect(mqg_conn *c);

static void format_peer(const mqg_conn *c, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  char host[INET6_ADDRSTRLEN] = "?";
  ss.ss_family = AF_UNSPEC; /* getpeername fails on a reset socket */
  int port = 0;
  if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET) {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
      port = ntohs(a->sin6_port);
    }
  }
  snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* Copies at most 64 bytes of a device-chosen string for a log line, with
 * anything but printable ASCII shown as '?' (quotes are escaped by the
 * logger). */
static const char *log_safe(char out[68], const uint8_t *s, size_t len) {
  size_t n = len > 64 ? 64 : len, i;
  for (i = 0; i < n; i++)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
  if (len > n)
    out[i++] = '.', out[i++] = '.', out[i++] = '.';
  out[i] = '\0';
  return out;
}

void conn__log_outcome(mqg_conn *c, mqg_reason reason, const char *detail) {
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
  format_peer(c, peer, sizeof(peer));
  if (c->peer.has_cert)
    mqg_hex32(c->peer.sha256, fp);
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
  };
  mqg_log_event(lvl, refused ? "refused" : "closed", f, sizeof(f) / sizeof(f[0]));
}

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

/* The connection is out of its handshake (done, refused or gone): one
 * fewer against --max-handshakes. */
static void handshake_over(mqg_conn *c) {
  if (!c->handshaking)
    return;
  c->handshaking = 0;
  server__handshake_done(c->w);
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

void conn__finish(mqg_conn *c, mqg_reason reason) {
  if (c->state == CONN_CLOSED)
    return;
  conn__log_outcome(c, reason, NULL);
  c->state = CONN_CLOSED;
  handshake_over(c);
  regcheck__cancel(c);
  mqg_worker *w = c->w;
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->nconns--;
  uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  if (c->up_init && !uv_is_closing((uv_handle_t *)&c->up))
    uv_close((uv_handle_t *)&c->up, on_handle_closed);
  server__conn_gone(w);
}

/* Ends a connection for a shutdown, as cleanly as its state allows. */
void conn__shutdown(mqg_conn *c) {
  switch (c->state) {
    case CONN_PUMP:
    case CONN_CONNACK:
      pump__shutdown(c);
      break;
    case CONN_CONNECT:
      conn__close_graceful(c, MQG_REASON_SHUTDOWN);
      break;
    case CONN_HANDSHAKE:
    case CONN_BACKEND:
      conn__finish(c, MQG_REASON_SHUTDOWN);
      break;
    default: /* already ending, on its own deadline */
      break;
  }
}

/* Ends the connection from our side: close the broker leg, send
 * close_notify, shut our direction and linger on the device's. */
void conn__close_graceful(mqg_conn *c, mqg_reason reason) {
  if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
    return;
  conn__log_outcome(c, reason, NULL);
  handshake_over(c);
  if (c->up_init && !uv_is_closing((uv_handle_t *)&c->up))
    uv_close((uv_handle_t *)&c->up, on_handle_closed);
  if (SSL_is_init_finished(c->ssl))
    SSL_shutdown(c->ssl); /* best effort: the socket may be full or gone */
  ERR_clear_error();
  shutdown(c->fd, SHUT_WR);
  c->state = CONN_LINGER;
  uv_timer_start(&c->timer, on_timer, c->w->opts->linger_ms, 0);
  conn__update_poll(c);
}

/* Refuses after the handshake: a CONNACK where the protocol has a code for
 * |reason|, then close. */
void conn__refuse(mqg_conn *c, mqg_reason reason) {
  uint8_t level = c->level ? c->level : 4;
  uint8_t code = mqg_reason_connack_code(reason, level);
  conn__log_outcome(c, reason, NULL);
  if (code != 0) {
    uint8_t buf[8];
    CBB cbb;
    size_t len;
    if (CBB_init_fixed(&cbb, buf, sizeof(buf)) &&
        mqg_connack_build(level, code, &cbb) && CBB_finish(&cbb, NULL, &len) &&
        pump__dev_send(c, buf, len) != 0)
      return; /* the send failed and closed the connection */
  }
  /* Nothing will come from the broker: deliver the CONNACK and close. */
  c->state = CONN_DRAIN;
  c->up_eof = 1;
  if (c->up_init && !uv_is_closing((uv_handle_t *)&c->up))
    uv_close((uv_handle_t *)&c->up, on_handle_closed);
  uv_timer_start(&c->timer, on_timer, c->w->opts->write_ms, 0);
  pump__drain(c);
}

static void linger_read(mqg_conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, c->w->rbuf, c->w->rbuf_cap);
    if (n > 0)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    conn__finish(c, c->reason);
    return;
  }
}

static void on_timer(uv_timer_t *t) {
  mqg_conn *c = t->data;
  switch (c->state) {
    case CONN_HANDSHAKE:
      conn__log_outcome(c, MQG_REASON_HANDSHAKE_TIMEOUT, NULL);
      conn__finish(c, MQG_REASON_HANDSHAKE_TIMEOUT);
      break;
    case CONN_CONNECT:
      conn__log_outcome(c, MQG_REASON_CONNECT_TIMEOUT, NULL);
      conn__close_graceful(c, MQG_REASON_CONNECT_TIMEOUT);
      break;
    case CONN_BACKEND:
      conn__refuse(c, MQG_REASON_BACKEND_UNAVAILABLE);
      break;
    default:
      conn__finish(c, c->reason);
      break;
  }
}

/* refuse_completed refuses a handshake that completed (a resumed session
 * the registry no longer admits, a failed automatic registration): a fatal
 * alert, then close. */
static void refuse_completed(mqg_conn *c, const char *detail) {
  SSL_send_fatal_alert(c->ssl, mqg_reason_alert(c->peer.reason, (uint16_t)SSL_version(c->ssl)));
  conn__log_outcome(c, c->peer.reason, detail);
  conn__close_graceful(c, c->peer.reason);
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
static int flush_tickets(mqg_conn *c) {
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
    c->state = CONN_CONNECT;
    handshake_over(c);
    uv_timer_start(&c->timer, on_timer, c->w->opts->connect_ms, 0);
    if (flush_tickets(c) < 0) {
      conn__finish(c, MQG_REASON_CLOSED);
      return;
    }
    conn__update_poll(c);
    read_connect(c); /* the CONNECT may have come with the last flight */
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
      conn__log_outcome(c, r, detail);
      /* BoringSSL has already sent the alert. */
      conn__close_graceful(c, r);
      return;
    }
  }
}

static void refuse_connect(mqg_conn *c, mqg_connect_err err, uint8_t level) {
  /* An unknown protocol name or level is answered in the 3.1.1 format, as
   * the MQTT 5 specification allows (section 3.1.2.2). */
  if (err == MQG_CONNECT_ERR_PROTOCOL_NAME || err == MQG_CONNECT_ERR_PROTOCOL_LEVEL)
    level = 4;
  c->level = level;
  conn__log_outcome(c, mqg_connect_err_reason(err), mqg_connect_err_text(err));
  conn__refuse(c, mqg_connect_err_reason(err));
}

static void on_backend_connect(uv_connect_t *req, int status) {
  mqg_conn *c = req->data;
  free(req);
  if (status == UV_ECANCELED || c->state != CONN_BACKEND)
    return;
  if (status < 0) {
    conn__log_outcome(c, MQG_REASON_BACKEND_UNAVAILABLE, uv_strerror(status));
    conn__refuse(c, MQG_REASON_BACKEND_UNAVAILABLE);
    return;
  }
  uv_timer_stop(&c->timer);
  MQG_COUNT(forwarded, 1);
  if (c->filled_id)
    MQG_COUNT(rewrites, 1);
  c->state = c->filled_id && c->level == 5 ? CONN_CONNACK : CONN_PUMP;
  pump__start(c);
}

static void connect_backend(mqg_conn *c) {
  mqg_worker *w = c->w;
  uv_connect_t *req = malloc(sizeof(*req));
  int rc = req ? uv_tcp_init(&w->loop, &c->up) : UV_ENOMEM;
  if (rc == 0) {
    c->up_init = 1;
    c->open_handles++;
    c->up.data = c;
    uv_tcp_nodelay(&c->up, 1);
    req->data = c;
    rc = uv_tcp_connect(req, &c->up, (const struct sockaddr *)&w->opts->backend,
                        on_backend_connect);
  }
  if (rc != 0) {
    free(req);
    conn__log_outcome(c, MQG_REASON_BACKEND_UNAVAILABLE, uv_strerror(rc));
    conn__refuse(c, MQG_REASON_BACKEND_UNAVAILABLE);
    return;
  }
  c->state = CONN_BACKEND;
  /* The device stays registered for reading (a device waiting for its
   * CONNACK sends nothing, and this spares libuv's epoll DEL and re-ADD);
   * if it does send, on_poll pauses it until the broker answers. */
  conn__poll(c, UV_READABLE);
  uv_timer_start(&c->timer, on_timer, w->opts->backend_ms, 0);
}

/* The PROXY v2 header, when configured, goes before the CONNECT. Returns
 * 1 on success or when there is none, 0 if it cannot be built. */
static int proxy_header(mqg_conn *c, CBB *cbb) {
  if (!c->w->opts->proxy_protocol)
    return 1;
  struct sockaddr_storage src, dst;
  socklen_t slen = sizeof(src), dlen = sizeof(dst);
  const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
  if (getpeername(c->fd, (struct sockaddr *)&src, &slen) != 0 ||
      getsockname(c->fd, (struct sockaddr *)&dst, &dlen) != 0)
    return 0;
  return mqg_pp2_build(cbb, (struct sockaddr *)&src, (struct sockaddr *)&dst,
                       SSL_get_version(c->ssl), cipher ? SSL_CIPHER_get_name(cipher) : "",
                       c->peer.cn, SSL_session_reused(c->ssl));
}

/* A whole CONNECT of |plen| bytes starts |c->in|: check it, fill in the
 * client ID, and replace |c->in| with what the broker is to receive. */
static void connect_ready(mqg_conn *c, size_t plen) {
  mqg_connect m;
  mqg_connect_err err = MQG_CONNECT_ERR_NONE;
  const uint8_t *pkt = c->in.data + c->in.off;
  memset(&m, 0, sizeof(m));
  if (mqg_connect_parse(pkt, plen, &m, &err) != MQG_PARSE_OK) {
    refuse_connect(c, err, m.level);
    return;
  }
  c->level = m.level;
  const uint8_t *id = mqg_connect_client_id(pkt, &m);
  size_t id_len = m.client_id_len;
  /* The certificate's identity: its registered client ID, else its CN. */
  const char *own = c->peer.client_id ? c->peer.client_id : c->peer.cn;
  if (id_len == 0 && own != NULL) {
    id = (const uint8_t *)own;
    id_len = strlen(own);
    c->filled_id = 1;
  }
  if (id_len > c->w->opts->max_client_id) {
    conn__log_outcome(c, MQG_REASON_CLIENT_ID_REJECTED, "client ID too long");
    conn__refuse(c, MQG_REASON_CLIENT_ID_REJECTED);
    return;
  }
  if (!c->filled_id && atomic_load_explicit(&c->w->opts->strict_ids, memory_order_relaxed) &&
      (own == NULL || id_len != strlen(own) || memcmp(id, own, id_len) != 0)) {
    /* Strict: one device cannot take over another's session. */
    conn__log_outcome(c, MQG_REASON_CLIENT_ID_REJECTED, own ? own : "no identity");
    conn__refuse(c, MQG_REASON_CLIENT_ID_REJECTED);
    return;
  }
  size_t extra = c->in.len - plen; /* pipelined packets after CONNECT */
  size_t cap = plen - m.client_id_len + id_len + 4 + extra + (c->w->opts->proxy_protocol ? 512 : 0);
  uint8_t *out = malloc(cap);
  CBB cbb;
  size_t out_len = 0;
  if (out == NULL || !CBB_init_fixed(&cbb, out, cap) || !proxy_header(c, &cbb) ||
      !mqg_connect_rewrite(pkt, &m, id, id_len, &cbb) ||
      !CBB_add_bytes(&cbb, pkt + plen, extra) || !CBB_finish(&cbb, NULL, &out_len)) {
    free(out);
    conn__refuse(c, out == NULL ? MQG_REASON_INTERNAL : MQG_REASON_CONNECT_TOO_LARGE);
    return;
  }
  char before[68], after[68];
  log_safe(after, id, id_len);
  c->client_id = strdup(after);
  if (mqg_log_enabled(MQG_LOG_INFO)) {
    char peer[64], level[4];
    format_peer(c, peer, sizeof(peer));
    snprintf(level, sizeof(level), "%u", m.level);
    const mqg_log_field f[] = {
        {"peer", peer},
        {"tls", SSL_get_version(c->ssl)},
        {"group", mqg_tls_group_name(SSL_get_curve_id(c->ssl))},
        {"cn", c->peer.cn},
        {"mqtt", level},
        {"client_id_in", log_safe(before, mqg_connect_client_id(pkt, &m), m.client_id_len)},
        {"client_id", after},
    };
    mqg_log_event(MQG_LOG_INFO, "connect", f, sizeof(f) / sizeof(f[0]));
  }
  /* Associated clients, recorded without waiting for the answer. */
  if (c->w->reg != NULL && c->peer.has_cert)
    mqg_regclient_touch(c->w->reg, c->peer.sha256, (const char *)id, id_len);
  bytes__free(&c->in);
  c->in = (mqg_bytes){out, 0, out_len, cap};
  connect_backend(c);
}

static void read_connect(mqg_conn *c) {
  mqg_worker *w = c->w;
  /* Nothing is written (CONNACK, refusal) before the held ticket is out. */
  if (c->tickets_unsent) {
    int rc = flush_tickets(c);
    if (rc < 0)
      conn__finish(c, MQG_REASON_CLOSED);
    else if (rc == 0)
      conn__update_poll(c);
    if (rc != 0)
      return;
  }
  while (c->state == CONN_CONNECT) {
    int n = SSL_read(c->ssl, w->rbuf, (int)w->rbuf_cap);
    if (n <= 0) {
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_READ) {
        conn__poll(c, UV_READABLE); /* undo a WANT_WRITE's WRITABLE */
        return;
      }
      if (e == SSL_ERROR_WANT_WRITE) {
        conn__poll(c, UV_READABLE | UV_WRITABLE);
        return;
      }
      ERR_clear_error();
      conn__finish(c, MQG_REASON_CLOSED);
      return;
    }
    if (bytes__append(&c->in, w->rbuf, (size_t)n) != 0) {
      conn__refuse(c, MQG_REASON_INTERNAL);
      return;
    }
    size_t plen = 0;
    mqg_connect_err err = MQG_CONNECT_ERR_NONE;
    switch (mqg_connect_frame(c->in.data + c->in.off, c->in.len,
                              w->opts->max_connect_size, &plen, &err)) {
      case MQG_PARSE_NEED_MORE:
        break;
      case MQG_PARSE_OK:
        connect_ready(c, plen);
        return;
      case MQG_PARSE_ERROR:
        refuse_connect(c, err, 0);
        return;
    }
  }
}

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
    conn__finish(c, c->state == CONN_HANDSHAKE ? MQG_REASON_TLS_ERROR : MQG_REASON_CLOSED);
    return;
  }
  switch (c->state) {
    case CONN_HANDSHAKE:
      conn__handshake(c);
      break;
    case CONN_CONNECT:
      read_connect(c);
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

void conn__accept(mqg_worker *w, int fd, mqg_admit_ticket ticket) {
  mqg_conn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    mqg_admit_release(w->opts->admit, ticket);
    close(fd);
    return;
  }
  MQG_COUNT(accepted, 1);
  c->w = w;
  c->fd = fd;
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
  w->nconns++;
  c->state = CONN_HANDSHAKE;
  c->handshaking = 1;
  w->handshakes++;
  uv_timer_start(&c->timer, on_timer, w->opts->handshake_ms, 0);
  conn__poll(c, UV_READABLE);
}
