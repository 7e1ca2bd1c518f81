/* pump.c: the byte pump between device (TLS) and broker (plain TCP), with
 * back-pressure both ways, the MQTT 5 CONNACK rewrite on the way back, and
 * the ends of a session (see the states in internal.h).
 *
 *   device --SSL_read--> rbuf --uv_try_write / uv_write--> broker
 *            paused while |up_queued| > write-queue-limit, resumed at half
 *
 *   broker --uv_read--> rbuf --SSL_write--> device
 *            what the socket does not take waits in |dev_out|; reading the
 *            broker pauses while |dev_out| > write-queue-limit
 *
 * Both directions read into the worker's one buffer and forward at once, so
 * an idle connection holds no buffer at all. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_connack.h"

struct up_write {
  uv_write_t req;
  size_t len;
  uint8_t data[];
};

int bytes__append(mqg_bytes *b, const uint8_t *data, size_t len) {
  if (b->off + b->len + len > b->cap) {
    if (b->off > 0) {
      memmove(b->data, b->data + b->off, b->len);
      b->off = 0;
    }
    if (b->len + len > b->cap) {
      size_t cap = b->cap ? b->cap : 256;
      while (cap < b->len + len)
        cap *= 2;
      uint8_t *p = realloc(b->data, cap);
      if (p == NULL)
        return -1;
      b->data = p;
      b->cap = cap;
    }
  }
  memcpy(b->data + b->off + b->len, data, len);
  b->len += len;
  return 0;
}

void bytes__consume(mqg_bytes *b, size_t n) {
  b->off += n;
  b->len -= n;
  if (b->len == 0)
    bytes__free(b); /* idle connections hold no buffer */
}

void bytes__free(mqg_bytes *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

static void dev_read(mqg_conn *c);
static void on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void up_read_start(mqg_conn *c) {
  if (uv_read_start((uv_stream_t *)&c->up, on_up_alloc, on_up_read) != 0)
    c->up_eof = 1; /* nothing more will come from the broker */
}

static void on_shutdown(uv_shutdown_t *req, int status) { free(req); }

int pump__up_close(mqg_conn *c) {
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->up, on_shutdown) != 0) {
    free(req);
    return -1;
  }
  if (c->up_eof)
    return -1;
  if (c->up_read_paused) {
    c->up_read_paused = 0;
    up_read_start(c);
  }
  return 0;
}

/* The device is gone (EOF, close_notify, error). In a session the broker
 * gets what is queued for it, then a FIN, and what it still sends is
 * dropped until it closes (UP_LINGER); otherwise the connection closes. */
static void device_gone(mqg_conn *c) {
  ERR_clear_error();
  conn__end(c, CONN_END_UP_LINGER, MQG_REASON_CLOSED, "device closed");
}

void pump__drain(mqg_conn *c) {
  if (c->state == CONN_DRAIN && c->up_eof && c->dev_out.len == 0)
    conn__end(c, CONN_END_LINGER, c->reason, NULL);
  else
    conn__update_poll(c);
}

/* The broker is gone or failing: stop reading the device, keep delivering
 * what the broker sent (and may still send) to the device (DRAIN). */
static void broker_gone(mqg_conn *c, int eof, const char *detail) {
  if (eof) {
    c->up_eof = 1;
    uv_read_stop((uv_stream_t *)&c->up);
  }
  conn__end(c, CONN_END_DRAIN, MQG_REASON_CLOSED, detail);
}

static void on_up_written(uv_write_t *req, int status) {
  struct up_write *wr = (struct up_write *)req;
  mqg_conn *c = req->handle->data;
  c->up_queued -= wr->len;
  free(wr);
  if (c->state != CONN_PUMP && c->state != CONN_CONNACK)
    return; /* ending: the broker's write side no longer matters */
  if (status < 0) {
    broker_gone(c, 0, uv_strerror(status));
    return;
  }
  conn__progress(c);
  if (c->dev_read_paused && c->up_queued <= c->w->opts->write_queue_limit / 2) {
    c->dev_read_paused = 0;
    /* SSL may hold decrypted records the socket will not signal again. */
    dev_read(c);
  }
}

/* Sends |data| to the broker: straight away when nothing is queued, the
 * rest (or all) through a queued write. Returns 0, or -1 if the broker side
 * failed (the connection is then draining or closed). */
int pump__up_send(mqg_conn *c, const uint8_t *data, size_t len) {
  MQG_COUNT(bytes_up, (uint64_t)len);
  if (c->up_queued == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->up, &b, 1);
    if (n >= 0) {
      data += n;
      len -= (size_t)n;
    } else if (n != UV_EAGAIN) {
      broker_gone(c, 0, uv_strerror(n));
      return -1;
    }
    if (len == 0)
      return 0;
  }
  struct up_write *wr = malloc(sizeof(*wr) + len);
  if (wr == NULL) {
    broker_gone(c, 0, "out of memory");
    return -1;
  }
  wr->len = len;
  memcpy(wr->data, data, len);
  uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)len);
  int rc = uv_write(&wr->req, (uv_stream_t *)&c->up, &b, 1, on_up_written);
  if (rc != 0) {
    free(wr);
    broker_gone(c, 0, uv_strerror(rc));
    return -1;
  }
  c->up_queued += len;
  if (c->up_queued > c->w->opts->write_queue_limit)
    c->dev_read_paused = 1;
  conn__progress(c);
  return 0;
}

/* Writes queued plaintext to the device until the socket is full. Returns 0,
 * or -1 if the device is gone. */
static int dev_flush(mqg_conn *c) {
  size_t before = c->dev_out.len;
  while (c->dev_out.len > 0) {
    int n = SSL_write(c->ssl, c->dev_out.data + c->dev_out.off, (int)c->dev_out.len);
    if (n > 0) {
      bytes__consume(&c->dev_out, (size_t)n);
      continue;
    }
    if (SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_WRITE)
      break;
    device_gone(c);
    return -1;
  }
  if (c->dev_out.len != before)
    conn__progress(c);
  if (c->up_read_paused && c->dev_out.len <= c->w->opts->write_queue_limit / 2 &&
      !c->up_eof) {
    c->up_read_paused = 0;
    up_read_start(c);
  }
  return 0;
}

int pump__dev_send(mqg_conn *c, const uint8_t *data, size_t len) {
  if (c->dev_out.len == 0) {
    while (len > 0) {
      int n = SSL_write(c->ssl, data, len > 1 << 30 ? 1 << 30 : (int)len);
      if (n > 0) {
        data += n;
        len -= (size_t)n;
        continue;
      }
      if (SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_WRITE)
        break; /* the rest, from this very byte, is retried from dev_out */
      device_gone(c);
      return -1;
    }
  }
  if (len > 0) {
    if (bytes__append(&c->dev_out, data, len) != 0) {
      device_gone(c);
      return -1;
    }
    conn__progress(c);
  }
  if (c->dev_out.len > c->w->opts->write_queue_limit && !c->up_read_paused &&
      c->up_init && !c->up_eof) {
    c->up_read_paused = 1;
    uv_read_stop((uv_stream_t *)&c->up);
  }
  conn__update_poll(c);
  return 0;
}

/* Reads what the device sent, record after record, and forwards it in as
 * few writes as possible: small messages arrive one per TLS record, and a
 * write per record would cost the broker leg a syscall each. */
static void dev_read(mqg_conn *c) {
  mqg_worker *w = c->w;
  size_t have = 0;
  int gone = 0;
  c->read_wants_write = 0;
  while (!c->dev_read_paused &&
         (c->state == CONN_PUMP || c->state == CONN_CONNACK)) {
    if (w->rbuf_cap - have < 16 * 1024 + 512) { /* room for one more record */
      if (pump__up_send(c, w->rbuf, have) != 0)
        return;
      have = 0;
      continue;
    }
    int n = SSL_read(c->ssl, w->rbuf + have, (int)(w->rbuf_cap - have));
    if (n > 0) {
      have += (size_t)n;
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_WRITE)
      c->read_wants_write = 1;
    else if (e != SSL_ERROR_WANT_READ)
      gone = 1; /* close_notify, EOF or a TLS error */
    break;
  }
  if (have > 0 && pump__up_send(c, w->rbuf, have) != 0)
    return;
  if (gone) {
    device_gone(c); /* what it sent before leaving went out first */
    return;
  }
  conn__update_poll(c);
}

void pump__on_device(mqg_conn *c, int events) {
  if ((events & UV_WRITABLE) && dev_flush(c) != 0)
    return;
  if (c->state == CONN_DRAIN) {
    pump__drain(c);
    return;
  }
  if ((events & UV_READABLE) || c->read_wants_write)
    dev_read(c);
  else
    conn__update_poll(c);
}

/* The broker's first packet, for a device whose ID we filled in: add the
 * Assigned Client Identifier to its CONNACK. Returns 0, or -1 if the
 * broker's first packet is not a CONNACK we can read. */
static int connack_gather(mqg_conn *c, const uint8_t *data, size_t len) {
  size_t plen = 0;
  if (bytes__append(&c->in, data, len) != 0)
    return -1;
  switch (mqg_connack_frame(c->in.data + c->in.off, c->in.len, 64 * 1024, &plen)) {
    case MQG_PARSE_NEED_MORE:
      return 0;
    case MQG_PARSE_ERROR:
      mqg_log(MQG_LOG_WARN, "broker's first packet is not a CONNACK");
      return -1;
    case MQG_PARSE_OK:
      break;
  }
  CBB cbb;
  uint8_t *out = NULL;
  size_t out_len = 0;
  const char *id = conn__identity(c) ? conn__identity(c) : "";
  if (!CBB_init(&cbb, plen + strlen(id) + 8) ||
      !mqg_connack_add_assigned_id(c->in.data + c->in.off, plen, (const uint8_t *)id,
                                   strlen(id), &cbb) ||
      !CBB_finish(&cbb, &out, &out_len)) {
    CBB_cleanup(&cbb);
    mqg_log(MQG_LOG_WARN, "broker's CONNACK is malformed");
    return -1;
  }
  conn__to(c, CONN_PUMP);
  mqg_bytes rest = c->in;
  c->in = (mqg_bytes){0};
  if (pump__dev_send(c, out, out_len) == 0 && rest.len > plen)
    pump__dev_send(c, rest.data + rest.off + plen, rest.len - plen);
  OPENSSL_free(out);
  bytes__free(&rest);
  return 0;
}

static void on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  mqg_conn *c = h->data;
  *buf = uv_buf_init((char *)c->w->rbuf, (unsigned)c->w->rbuf_cap);
}

static void on_up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  mqg_conn *c = s->data;
  if (nread == 0)
    return;
  if (c->state == CONN_UP_LINGER) { /* the device is gone: drop, await EOF */
    if (nread < 0)
      conn__end(c, CONN_END_NOW, c->reason, NULL);
    return;
  }
  if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
    return;
  if (nread < 0) {
    if (c->state == CONN_DRAIN) {
      c->up_eof = 1;
      uv_read_stop(s);
      pump__drain(c);
    } else {
      broker_gone(c, 1, nread == UV_EOF ? "broker closed" : uv_strerror((int)nread));
    }
    return;
  }
  MQG_COUNT(bytes_down, (uint64_t)nread);
  if (c->state == CONN_CONNACK) {
    if (connack_gather(c, (const uint8_t *)buf->base, (size_t)nread) != 0)
      conn__end(c, CONN_END_LINGER, MQG_REASON_CLOSED, NULL);
    return;
  }
  pump__dev_send(c, (const uint8_t *)buf->base, (size_t)nread);
}

void pump__start(mqg_conn *c) {
  mqg_bytes connect = c->in;
  c->in = (mqg_bytes){0};
  int rc = pump__up_send(c, connect.data + connect.off, connect.len);
  bytes__free(&connect);
  if (rc != 0)
    return;
  up_read_start(c);
  dev_read(c); /* pipelined packets may already sit decrypted in SSL */
}
