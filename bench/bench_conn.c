/* bench_conn.c: one device connection, driven by its socket's readiness.
 *
 *   TLS --SSL_do_handshake 1--> CONNACK --CONNACK 0---------> READY
 *   (ClientHello written right   (CONNECT sent)    |                 ^
 *    after connect(2))                      SUB role: SUBSCRIBE      |
 *                                                  +--> SUBACK ------+
 *                                                       granted
 *   any state --error, timeout, close--> CLOSED (counted, then freed once
 *   libuv has closed the poll handle)
 *
 * BoringSSL reads and writes the socket itself (SSL_set_fd); the poll
 * handle only says when to call it again. Received bytes land in the run's
 * shared read buffer and are parsed there; only a partial packet is copied
 * into the connection's own buffer. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench.h"

/* The largest packet a device accepts (a payload of 16 MiB and change). */
#define MAX_PACKET ((size_t)17 << 20)

static void on_poll(uv_poll_t *h, int status, int events);

static int buf_append(mqb_buf *b, const uint8_t *p, size_t n) {
  if (b->off > 0 && b->off + b->len + n > b->cap) {
    memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL)
      return -ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->off + b->len, p, n);
  b->len += n;
  return 0;
}

static void buf_consume(mqb_buf *b, size_t n) {
  b->off += n;
  b->len -= n;
  if (b->len == 0)
    b->off = 0;
}

static void set_poll(mqb_conn *c, int events) {
  if (events == c->poll_events || c->state == MQB_ST_CLOSED)
    return;
  c->poll_events = events;
  if (events == 0)
    uv_poll_stop(&c->poll);
  else
    uv_poll_start(&c->poll, events, on_poll);
}

static void update_poll(mqb_conn *c) {
  int ev = UV_READABLE;
  if (c->out.len > 0 || c->read_wants_write)
    ev |= UV_WRITABLE;
  set_poll(c, ev);
}

static void free_conn(mqb_conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  SSL_free(c->ssl);
  free(c->in.data);
  free(c->out.data);
  free(c->topic);
  free(c->sent_at);
  free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  free_conn(h->data);
}

void mqb_conn_close(mqb_conn *c, const char *err_kind, const char *detail) {
  mqb_run *run = c->run;
  if (c->state == MQB_ST_CLOSED)
    return;
  int failed = err_kind != NULL;
  if (failed)
    mqb_errors_add(&run->errors, err_kind, detail);
  if (!failed && c->state == MQB_ST_READY && c->out.len == 0) {
    /* Politely: MQTT DISCONNECT (no will), TLS close_notify. Best effort;
     * a full socket just loses them. */
    static const uint8_t disconnect[2] = {0xe0, 0x00};
    int one = 1;
    /* Corked, the two records leave with the FIN of close(2): one
     * segment instead of three. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
    SSL_write(c->ssl, disconnect, sizeof(disconnect));
    SSL_shutdown(c->ssl);
    ERR_clear_error();
  }
  int was_ready = c->state == MQB_ST_READY;
  c->state = MQB_ST_CLOSED;
  mqb_sched_conn_gone(run, c->dev, c, failed, was_ready);
  if (c->poll_init)
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  else
    free_conn(c);
}

/* tls_result looks at an SSL call on |c| that returned |ret| <= 0: if it
 * only waits for the socket, sets |*want| (1 readable, 2 writable) and
 * returns 0 for the caller to poll; else counts the failure, closes |c|
 * and returns -1. */
static int tls_result(mqb_conn *c, int ret, int saved_errno, int *want) {
  char kind[MQB_ERR_NAME_MAX], detail[256];
  *want = mqb_tls_error_kind(c->ssl, ret, saved_errno, kind, sizeof(kind),
                             detail, sizeof(detail));
  if (*want != 0)
    return 0;
  mqb_conn_close(c, kind, detail);
  return -1;
}

static int flush_out(mqb_conn *c) {
  int want = 0;
  while (c->out.len > 0) {
    size_t n = c->out.len > (1u << 30) ? (1u << 30) : c->out.len;
    int w = SSL_write(c->ssl, c->out.data + c->out.off, (int)n);
    if (w > 0) {
      buf_consume(&c->out, (size_t)w);
      continue;
    }
    if (tls_result(c, w, errno, &want) != 0)
      return -1;
    break;
  }
  update_poll(c);
  if (c->out.len == 0 && c->role == MQB_ROLE_PUB)
    mqb_scen_writable(c->run, c);
  return 0;
}

int mqb_conn_send(mqb_conn *c, const uint8_t *p, size_t len) {
  int want = 0;
  if (c->state == MQB_ST_CLOSED)
    return -1;
  c->t_last_tx = mqb_now();
  /* Behind a queue, bytes wait their turn; else straight to the socket. */
  while (c->out.len == 0 && len > 0) {
    size_t n = len > (1u << 30) ? (1u << 30) : len;
    int w = SSL_write(c->ssl, p, (int)n);
    if (w > 0) {
      p += w;
      len -= (size_t)w;
      continue;
    }
    if (tls_result(c, w, errno, &want) != 0)
      return -1;
    break; /* retried from the queue, which may move (ACCEPT_MOVING_...) */
  }
  if (len == 0)
    return 0;
  if (buf_append(&c->out, p, len) != 0) {
    mqb_conn_close(c, "other", "out of memory");
    return -1;
  }
  update_poll(c);
  return 0;
}

size_t mqb_conn_queued(const mqb_conn *c) {
  return c->out.len;
}

static void become_ready(mqb_conn *c, uint64_t now) {
  c->state = MQB_ST_READY;
  c->t_ready = now;
  mqb_sched_setup_done(c->run, c, now);
  mqb_scen_on_ready(c->run, c);
}

static int send_connect(mqb_conn *c) {
  const mqb_opts *o = c->run->o;
  char id[256];
  uint8_t pkt[600];
  int id_len = 0;
  if (!o->empty_id)
    id_len = snprintf(id, sizeof(id), "%s%u", o->client_id_prefix, c->dev);
  if (id_len < 0 || (size_t)id_len >= sizeof(id))
    id_len = 0;
  size_t n = mqb_mqtt_connect(pkt, sizeof(pkt), o->mqtt_level, id,
                              (size_t)id_len, o->keepalive);
  c->state = MQB_ST_CONNACK;
  return mqb_conn_send(c, pkt, n);
}

/* on_packet handles one whole packet. Returns -1 once |c| is closed. */
static int on_packet(mqb_conn *c, const uint8_t *pkt, size_t hdr, size_t len,
                     uint64_t now) {
  const mqb_opts *o = c->run->o;
  const uint8_t *body = pkt + hdr;
  size_t blen = len - hdr;
  char kind[MQB_ERR_NAME_MAX], detail[128];
  uint8_t code = 0, out[600];
  uint16_t pid;
  mqb_publish p;

  switch (pkt[0] >> 4) {
    case MQB_MQTT_CONNACK:
      if (c->state != MQB_ST_CONNACK || !mqb_mqtt_read_connack(body, blen, &code))
        break;
      if (code != 0) {
        snprintf(kind, sizeof(kind), "connack:%u", code);
        snprintf(detail, sizeof(detail), "CONNACK refused with code %u (0x%02x)",
                 code, code);
        mqb_conn_close(c, kind, detail);
        return -1;
      }
      if (c->role == MQB_ROLE_SUB) {
        char topic[300];
        if (o->scenario == MQB_SCEN_LATENCY)
          snprintf(topic, sizeof(topic), "%s/lat/%u", o->topic, c->dev - o->connections);
        else
          snprintf(topic, sizeof(topic), "%s/fanout", o->topic);
        size_t n = mqb_mqtt_subscribe(out, sizeof(out), o->mqtt_level, 1, topic, o->qos);
        c->state = MQB_ST_SUBACK;
        return mqb_conn_send(c, out, n);
      }
      become_ready(c, now);
      return c->state == MQB_ST_CLOSED ? -1 : 0;
    case MQB_MQTT_SUBACK:
      if (c->state != MQB_ST_SUBACK || !mqb_mqtt_read_suback(body, blen, o->mqtt_level, &code))
        break;
      if (code >= 0x80) {
        snprintf(detail, sizeof(detail), "SUBACK refused the subscription (0x%02x)", code);
        mqb_conn_close(c, "other", detail);
        return -1;
      }
      become_ready(c, now);
      return c->state == MQB_ST_CLOSED ? -1 : 0;
    case MQB_MQTT_PUBLISH:
      if (c->state != MQB_ST_READY || !mqb_mqtt_read_publish(pkt[0], body, blen, o->mqtt_level, &p))
        break;
      if (p.qos > 0 && mqb_conn_send(c, out, mqb_mqtt_puback(out, sizeof(out), p.pid)) != 0)
        return -1;
      mqb_scen_on_publish(c->run, c, &p, now);
      return c->state == MQB_ST_CLOSED ? -1 : 0;
    case MQB_MQTT_PUBACK:
      if (!mqb_mqtt_read_pid(body, blen, &pid) || c->sent_at == NULL || pid == 0 ||
          pid > o->inflight || c->sent_at[pid - 1] == 0)
        break;
      uint64_t ns = now > c->sent_at[pid - 1] ? now - c->sent_at[pid - 1] : 0;
      c->sent_at[pid - 1] = 0;
      c->inflight_n--;
      mqb_scen_on_puback(c->run, c, ns);
      return c->state == MQB_ST_CLOSED ? -1 : 0;
    case MQB_MQTT_DISCONNECT:
      snprintf(detail, sizeof(detail), "the server sent DISCONNECT (reason 0x%02x)",
               blen > 0 ? body[0] : 0);
      mqb_conn_close(c, "reset", detail);
      return -1;
    default: /* PINGRESP and anything else a device may ignore */
      return 0;
  }
  snprintf(detail, sizeof(detail), "unexpected or malformed packet type %u in state %u",
           pkt[0] >> 4, c->state);
  mqb_conn_close(c, "other", detail);
  return -1;
}

/* parse handles the whole packets at |data|; returns the bytes consumed,
 * or -1 once |c| is closed. */
static long parse(mqb_conn *c, const uint8_t *data, size_t len, uint64_t now) {
  size_t off = 0, hdr, plen;
  while (off < len) {
    mqb_frame_status st = mqb_mqtt_frame(data + off, len - off, MAX_PACKET, &hdr, &plen);
    if (st == MQB_FRAME_NEED_MORE)
      break;
    if (st == MQB_FRAME_ERROR) {
      mqb_conn_close(c, "other", "malformed MQTT framing from the server");
      return -1;
    }
    if (on_packet(c, data + off, hdr, plen, now) != 0)
      return -1;
    off += plen;
  }
  return (long)off;
}

static void do_read(mqb_conn *c) {
  mqb_run *run = c->run;
  int want;
  while (c->state != MQB_ST_CLOSED) {
    int n = SSL_read(c->ssl, run->rbuf, (int)sizeof(run->rbuf));
    if (n <= 0) {
      if (tls_result(c, n, errno, &want) != 0)
        return;
      c->read_wants_write = want == 2;
      update_poll(c);
      return;
    }
    /* Per read: what is handled here may send messages whose answers the
     * next read brings. */
    uint64_t now = mqb_now();
    long used;
    if (c->in.len == 0) {
      used = parse(c, run->rbuf, (size_t)n, now);
      if (used < 0)
        return;
      size_t rest = (size_t)n - (size_t)used;
      if (rest > 0 && buf_append(&c->in, run->rbuf + used, rest) != 0) {
        mqb_conn_close(c, "other", "out of memory");
        return;
      }
    } else {
      if (buf_append(&c->in, run->rbuf, (size_t)n) != 0) {
        mqb_conn_close(c, "other", "out of memory");
        return;
      }
      used = parse(c, c->in.data + c->in.off, c->in.len, now);
      if (used < 0)
        return;
      buf_consume(&c->in, (size_t)used);
    }
  }
}

static void set_cork(mqb_conn *c, int on) {
  setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static void do_handshake(mqb_conn *c) {
  int want, err;
  /* Past the ClientHello, the call that finishes the handshake writes our
   * last flight; corked, the CONNECT written right after it leaves in the
   * same segment. */
  int cork = c->hello_sent && !c->run->o->nagle;
  c->hello_sent = 1;
  if (cork)
    set_cork(c, 1);
  int rc = SSL_do_handshake(c->ssl);
  err = errno;
  if (rc == 1) {
    c->run->handshakes++;
    if (SSL_session_reused(c->ssl))
      c->run->resumed++;
    switch (SSL_get_curve_id(c->ssl)) {
      case SSL_CURVE_X25519: c->run->groups[0]++; break;
      case SSL_CURVE_SECP256R1: c->run->groups[1]++; break;
      case SSL_CURVE_SECP384R1: c->run->groups[2]++; break;
      case SSL_CURVE_SECP521R1: c->run->groups[3]++; break;
      default: c->run->groups[4]++; break;
    }
    if (send_connect(c) == 0) {
      if (cork)
        set_cork(c, 0);
      update_poll(c);
    }
    return;
  }
  if (cork)
    set_cork(c, 0);
  if (tls_result(c, rc, err, &want) == 0)
    set_poll(c, want == 1 ? UV_READABLE : UV_WRITABLE);
}

static int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  return err;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  mqb_conn *c = h->data;
  if (c->state == MQB_ST_CLOSED)
    return;
  if (status < 0) {
    /* libuv stopped the handle (POLLERR). What the server sent before its
     * reset is still readable: an alert names the refusal better than the
     * reset does. */
    int err = socket_error(c->fd);
    c->poll_events = 0;
    if (c->state == MQB_ST_TLS)
      do_handshake(c);
    else
      do_read(c);
    if (c->state != MQB_ST_CLOSED)
      mqb_conn_close(c, mqb_errno_kind(err ? err : ECONNRESET),
                     strerror(err ? err : ECONNRESET));
    return;
  }
  switch (c->state) {
    case MQB_ST_TLS:
      do_handshake(c);
      return;
    default:
      if (events & UV_WRITABLE) {
        if (c->read_wants_write) {
          c->read_wants_write = 0;
          do_read(c);
          if (c->state == MQB_ST_CLOSED)
            return;
        }
        if (flush_out(c) != 0)
          return;
      }
      if (events & UV_READABLE)
        do_read(c);
      return;
  }
}

/* open_socket makes the non-blocking socket, bound to the next source
 * address when asked. Returns the fd or a negative errno. */
static int open_socket(mqb_run *run) {
  const mqb_opts *o = run->o;
  int one = 1;
  int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (!o->nagle)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (o->source_addrs > 0) {
    struct sockaddr_in src;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000002u + run->next_src++ % o->source_addrs);
    /* The port is picked at connect(), per destination: many more
     * connections than ephemeral ports per source address. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
      int err = errno;
      close(fd);
      return -err;
    }
  }
  return fd;
}

void mqb_conn_start(mqb_run *run, uint32_t dev, mqb_role role) {
  mqb_conn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    mqb_errors_add(&run->errors, "other", "out of memory");
    mqb_sched_conn_gone(run, dev, NULL, 1, 0);
    return;
  }
  c->run = run;
  c->dev = dev;
  c->role = (uint8_t)role;
  c->fd = -1;
  c->pub_slot = UINT32_MAX;
  c->t_start = mqb_now();
  c->state = MQB_ST_TLS;
  run->started++;
  run->devs[dev].conn = c;
  mqb_list_push(run, c, 1);

  int fd = open_socket(run);
  if (fd < 0) {
    mqb_conn_close(c, mqb_errno_kind(-fd), strerror(-fd));
    return;
  }
  c->fd = fd;
  SSL_SESSION *sess = run->o->resume ? run->devs[dev].session : NULL;
  c->ssl = mqb_tls_ssl_new(&run->tls, fd, dev, sess, c);
  if (c->ssl == NULL) {
    mqb_conn_close(c, "other", "SSL_new failed");
    return;
  }
  if (uv_poll_init_socket(&run->loop, &c->poll, fd) != 0) {
    mqb_conn_close(c, "other", "uv_poll_init_socket failed");
    return;
  }
  c->poll_init = 1;
  c->poll.data = c;
  if (connect(fd, (const struct sockaddr *)&run->o->addr, run->o->addr_len) == 0 ||
      errno == EINPROGRESS) {
    /* On loopback the TCP handshake is usually over by now: send the
     * ClientHello at once. If it is not, the write wants the socket
     * writable, which is also when connect(2) has finished; a failed
     * connect shows as the write's errno. This saves a wake-up and two
     * epoll changes per connection. */
    do_handshake(c);
  } else {
    int err = errno;
    mqb_conn_close(c, err == EADDRNOTAVAIL ? "other" : mqb_errno_kind(err),
                   err == EADDRNOTAVAIL ? "no local port left (try --source-addrs)"
                                        : strerror(err));
  }
}
