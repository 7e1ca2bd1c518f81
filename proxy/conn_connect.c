/* conn_connect.c: a connection's CONNECT stage (states CONNECT and
 * BACKEND, see internal.h): the first MQTT packet read after the handshake,
 * checked, its client ID filled in or checked against the certificate, and
 * the broker connected; a refusal goes out as a CONNACK where the protocol
 * has a code (conn__end, CONN_END_REFUSE). The transitions themselves are
 * conn.c's (conn__to, conn__end). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_connect.h"
#include "proxyproto.h"
#include "tlsgroups.h"

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

static void refuse_connect(mqg_conn *c, mqg_connect_err err, uint8_t level) {
  /* An unknown protocol name or level is answered in the 3.1.1 format, as
   * the MQTT 5 specification allows (section 3.1.2.2). */
  if (err == MQG_CONNECT_ERR_PROTOCOL_NAME || err == MQG_CONNECT_ERR_PROTOCOL_LEVEL)
    level = 4;
  c->level = level;
  conn__end(c, CONN_END_REFUSE, mqg_connect_err_reason(err), mqg_connect_err_text(err));
}

static void on_backend_connect(uv_connect_t *req, int status) {
  mqg_conn *c = req->data;
  free(req);
  if (status == UV_ECANCELED || c->state != CONN_BACKEND)
    return;
  if (status < 0) {
    conn__end(c, CONN_END_REFUSE, MQG_REASON_BACKEND_UNAVAILABLE, uv_strerror(status));
    return;
  }
  MQG_COUNT(forwarded, 1);
  if (c->filled_id)
    MQG_COUNT(rewrites, 1);
  conn__to(c, c->filled_id && c->level == 5 ? CONN_CONNACK : CONN_PUMP);
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
    conn__end(c, CONN_END_REFUSE, MQG_REASON_BACKEND_UNAVAILABLE, uv_strerror(rc));
    return;
  }
  conn__to(c, CONN_BACKEND);
  /* The device stays registered for reading (a device waiting for its
   * CONNACK sends nothing, and this spares libuv's epoll DEL and re-ADD);
   * if it does send, on_poll pauses it until the broker answers. */
  conn__poll(c, UV_READABLE);
}

/* The PROXY v2 header, when configured, goes before the CONNECT. Returns
 * 1 on success or when there is none, 0 if it cannot be built. */
static int proxy_header(mqg_conn *c, CBB *cbb) {
  if (!c->w->opts->proxy_protocol)
    return 1;
  struct sockaddr_storage dst;
  socklen_t dlen = sizeof(dst);
  const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
  if (getsockname(c->fd, (struct sockaddr *)&dst, &dlen) != 0)
    return 0;
  return mqg_pp2_build(cbb, &c->addr.sa, (struct sockaddr *)&dst,
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
  const char *own = conn__identity(c);
  if (id_len == 0 && own != NULL) {
    id = (const uint8_t *)own;
    id_len = strlen(own);
    c->filled_id = 1;
  }
  if (id_len > c->w->opts->max_client_id) {
    conn__end(c, CONN_END_REFUSE, MQG_REASON_CLIENT_ID_REJECTED, "client ID too long");
    return;
  }
  if (!c->filled_id && atomic_load_explicit(&c->w->opts->strict_ids, memory_order_relaxed) &&
      (own == NULL || id_len != strlen(own) || memcmp(id, own, id_len) != 0)) {
    /* Strict: one device cannot take over another's session. */
    conn__end(c, CONN_END_REFUSE, MQG_REASON_CLIENT_ID_REJECTED, own ? own : "no identity");
    return;
  }
  size_t extra = c->in.len - plen; /* pipelined packets after CONNECT */
  size_t cap = plen - m.client_id_len + id_len + 4 + extra + (c->w->opts->proxy_protocol ? 512 : 0);
  uint8_t *out = malloc(cap);
  CBB cbb;
  size_t out_len = 0;
  if (out == NULL || !CBB_init_fixed(&cbb, out, cap) || !proxy_header(c, &cbb)) {
    free(out);
    conn__end(c, CONN_END_REFUSE, MQG_REASON_INTERNAL, NULL);
    return;
  }
  if (!mqg_connect_rewrite(pkt, &m, id, id_len, &cbb) ||
      !CBB_add_bytes(&cbb, pkt + plen, extra) || !CBB_finish(&cbb, NULL, &out_len)) {
    free(out);
    conn__end(c, CONN_END_REFUSE, MQG_REASON_CONNECT_TOO_LARGE, NULL);
    return;
  }
  char before[68], after[68];
  log_safe(after, id, id_len);
  c->client_id = strdup(after);
  if (mqg_log_enabled(MQG_LOG_INFO)) {
    char peer[64], level[4];
    conn__format_peer(c, peer, sizeof(peer));
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
  /* Associated clients, recorded without waiting for the answer (an empty
   * ID, from a certificate without a CN, is not a client to record). */
  if (c->w->reg != NULL && c->peer.has_cert && id_len > 0)
    mqg_regclient_touch(c->w->reg, c->peer.sha256, (const char *)id, id_len);
  bytes__free(&c->in);
  c->in = (mqg_bytes){out, 0, out_len, cap};
  connect_backend(c);
}

void conn__read_connect(mqg_conn *c) {
  mqg_worker *w = c->w;
  /* Nothing is written (CONNACK, refusal) before the held ticket is out. */
  if (c->tickets_unsent) {
    int rc = conn__flush_tickets(c);
    if (rc < 0)
      conn__end(c, CONN_END_NOW, MQG_REASON_CLOSED, NULL);
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
      conn__end(c, CONN_END_NOW, MQG_REASON_CLOSED, NULL);
      return;
    }
    if (bytes__append(&c->in, w->rbuf, (size_t)n) != 0) {
      conn__end(c, CONN_END_REFUSE, MQG_REASON_INTERNAL, NULL);
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
