/* httpd.c: see httpd.h.
 *
 * A connection's states (one owner: this file; conn_set_state moves them):
 *
 *   READING --request complete--> HANDLING --respond--> WRITING
 *      ^  (timer: request timeout,     (no timer)          | (timer: write
 *      |   408 + close)                                    |  timeout)
 *      |                                                   v
 *      +----first byte---- IDLE <--written, keep-alive-----+
 *                     (timer: idle timeout, close)     written, close -> closed
 *
 * HTTPS runs BoringSSL over two memory BIOs: bytes read from the socket go
 * into the read BIO, SSL_read hands the plaintext to http-parser, and what
 * BoringSSL writes (handshake, records) is taken from the write BIO and
 * sent with uv_write. A connection is freed when both its handles are
 * closed and its request (if any) has been answered. */
#include "httpd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#define MAX_HEADERS 64

typedef enum { C_READING, C_HANDLING, C_WRITING, C_IDLE } conn_state;

struct hdr {
  size_t name, value; /* offsets of NUL-terminated strings in head */
};

struct mqg_http_req {
  struct conn *c;
  const char *method;
  char *head;      /* url, then header names and values, each NUL-ended */
  size_t head_len; /* bytes used */
  size_t path, query;
  struct hdr hdrs[MAX_HEADERS];
  int nhdrs;
  int last; /* 0 url, 1 field, 2 value: what the last callback appended */
  char *body;
  size_t body_len, body_cap;
  char *extra; /* response headers added by the handler */
  size_t extra_len;
  int error; /* a limit was hit: the HTTP status to answer */
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  mqg_httpd *h;
  struct conn *prev, *next;
  conn_state state;
  int handles;   /* open handles (2 until closed) */
  int closing;   /* handles closing or closed */
  int pending;   /* the handler holds the request */
  int keep_alive;
  int writes;    /* uv_writes in flight */
  SSL *ssl;
  http_parser parser;
  mqg_http_req req;
  char *rest; /* plaintext received after a complete request */
  size_t rest_len;
};

struct mqg_httpd {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listener_open, closing;
  int extra_handles; /* over-cap connections being closed */
  mqg_httpd_config cfg;
  char *common;
  char *busy; /* the whole 503 answer past max_connections (plain HTTP) */
  size_t busy_len;
  struct conn *conns;
  size_t nconns;
  char rbuf[65536];
};

struct wreq {
  uv_write_t w;
  struct conn *c;
  char data[];
};

static const http_parser_settings settings;

/* --- lifetime ------------------------------------------------------------ */

static void server_maybe_free(mqg_httpd *h) {
  if (!h->closing || h->listener_open || h->extra_handles > 0 || h->conns)
    return;
  if (h->cfg.tls)
    SSL_CTX_free(h->cfg.tls);
  free(h->common);
  free(h->busy);
  free(h);
}

static void req_reset(mqg_http_req *r) {
  r->head_len = r->path = r->query = 0;
  r->nhdrs = 0;
  r->last = 0;
  r->body_len = 0;
  r->method = "";
  free(r->extra);
  r->extra = NULL;
  r->extra_len = 0;
  r->error = 0;
}

static void conn_maybe_free(struct conn *c) {
  if (c->handles > 0 || c->pending)
    return;
  mqg_httpd *h = c->h;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  h->nconns--;
  SSL_free(c->ssl);
  free(c->req.head);
  free(c->req.body);
  free(c->req.extra);
  free(c->rest);
  free(c);
  server_maybe_free(h);
}

static void on_conn_closed(uv_handle_t *hd) {
  struct conn *c = hd->data;
  c->handles--;
  conn_maybe_free(c);
}

static void conn_close(struct conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_timeout(uv_timer_t *t);

/* conn_set_state moves |c| to |s| and arms the timer that state has. */
static void conn_set_state(struct conn *c, conn_state s) {
  const mqg_httpd_config *cfg = &c->h->cfg;
  c->state = s;
  uint64_t ms = s == C_READING   ? cfg->request_timeout_ms
                : s == C_IDLE    ? cfg->idle_timeout_ms
                : s == C_WRITING ? cfg->write_timeout_ms
                                 : 0;
  if (ms == 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timeout, ms, 0);
}

/* --- output ----------------------------------------------------------------- */

static void on_written(uv_write_t *w, int status);

/* send_raw queues |len| bytes on the socket; -1 if that failed (the
 * connection is then closing). */
static int send_raw(struct conn *c, const char *data, size_t len) {
  if (len == 0)
    return 0;
  struct wreq *w = malloc(sizeof(*w) + len);
  if (w == NULL) {
    conn_close(c);
    return -1;
  }
  memcpy(w->data, data, len);
  w->c = c;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    free(w);
    conn_close(c);
    return -1;
  }
  c->writes++;
  return 0;
}

/* tls_flush sends what BoringSSL wrote to the write BIO. */
static int tls_flush(struct conn *c) {
  BIO *wbio = SSL_get_wbio(c->ssl);
  size_t n = BIO_pending(wbio);
  while (n > 0) {
    char buf[16384];
    int got = BIO_read(wbio, buf, (int)(n < sizeof(buf) ? n : sizeof(buf)));
    if (got <= 0)
      break;
    if (send_raw(c, buf, (size_t)got) < 0)
      return -1;
    n = BIO_pending(wbio);
  }
  return 0;
}

/* send_bytes sends plaintext |data|, through TLS when the connection has
 * it. */
static int send_bytes(struct conn *c, const char *data, size_t len) {
  if (c->closing)
    return -1;
  if (c->ssl == NULL)
    return send_raw(c, data, len);
  while (len > 0) {
    int chunk = len > 16384 ? 16384 : (int)len;
    int n = SSL_write(c->ssl, data, chunk);
    if (n <= 0) {
      conn_close(c);
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return tls_flush(c);
}

static void process(struct conn *c, const char *data, size_t len);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf);

/* response_done continues after a response has left: the next request or
 * the end of the connection. */
static void response_done(struct conn *c) {
  if (!c->keep_alive || c->h->closing) {
    if (c->ssl && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
      SSL_shutdown(c->ssl); /* close_notify */
      tls_flush(c);
    }
    if (c->writes == 0)
      conn_close(c);
    return;
  }
  conn_set_state(c, C_IDLE);
  req_reset(&c->req);
  http_parser_pause(&c->parser, 0);
  if (c->rest_len > 0) {
    char *rest = c->rest;
    size_t n = c->rest_len;
    c->rest = NULL;
    c->rest_len = 0;
    process(c, rest, n);
    free(rest);
  }
  /* IDLE, or READING when the held-back bytes were only part of a
   * request: the rest is still to come from the socket. */
  if (!c->closing && (c->state == C_IDLE || c->state == C_READING))
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_written(uv_write_t *w, int status) {
  struct wreq *wr = (struct wreq *)w;
  struct conn *c = wr->c;
  free(wr);
  c->writes--;
  if (status != 0) {
    conn_close(c);
    return;
  }
  if (c->writes == 0 && c->state == C_WRITING && !c->closing)
    response_done(c);
}

/* response_head returns a new response head: the status line, the type,
 * the server's common headers, |extra| (|extra_len| bytes of the
 * handler's), the length of a |len|-byte body and whether the connection
 * stays; its length in |*n|. NULL when out of memory. */
static char *response_head(const mqg_httpd *h, int code, const char *type,
                           const char *extra, size_t extra_len, size_t len,
                           int keep_alive, size_t *n) {
  const char *common = h->common ? h->common : "";
  size_t cap = 256 + strlen(common) + extra_len + strlen(type ? type : "");
  char *head = malloc(cap);
  if (head == NULL)
    return NULL;
  int got = snprintf(head, cap,
                     "HTTP/1.1 %d %s\r\n%s%s%s%s%.*sContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     code, mqg_http_status_text(code), type ? "Content-Type: " : "",
                     type ? type : "", type ? "\r\n" : "", common, (int)extra_len,
                     extra ? extra : "", len, keep_alive ? "keep-alive" : "close");
  if (got < 0 || (size_t)got >= cap) {
    free(head);
    return NULL;
  }
  *n = (size_t)got;
  return head;
}

/* send_response writes one response; the request's added headers are
 * included. |c| must not be closing. */
static void send_response(struct conn *c, int code, const char *type,
                          const char *body, size_t len, int head_only) {
  mqg_http_req *r = &c->req;
  size_t n;
  char *head = response_head(c->h, code, type, r->extra, r->extra_len, len,
                             c->keep_alive, &n);
  if (head == NULL) {
    conn_close(c);
    return;
  }
  conn_set_state(c, C_WRITING);
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (send_bytes(c, head, n) == 0 && !head_only && body && len)
    send_bytes(c, body, len);
  free(head);
  if (!c->closing && c->writes == 0)
    response_done(c);
}

static char *error_json(const char *cls, const char *message, size_t *len) {
  json_t *o = json_pack("{s:s,s:s}", "error", cls, "message", message);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  *len = s ? strlen(s) : 0;
  return s;
}

/* send_error answers a request the server refuses by itself and closes the
 * connection afterwards. */
static void send_error(struct conn *c, int code, const char *cls,
                       const char *message) {
  size_t len;
  char *body = error_json(cls, message, &len);
  c->keep_alive = 0;
  send_response(c, code, "application/json", body, len, 0);
  free(body);
}

/* --- input ------------------------------------------------------------------ */

static mqg_http_req *req_of(http_parser *p) {
  return &((struct conn *)p->data)->req;
}

/* head_append adds |n| bytes to the request head, after a NUL when a new
 * part (|part|: 0 url, 1 field, 2 value) starts; -1 past the limit. */
static int head_append(struct conn *c, int part, const char *at, size_t n) {
  mqg_http_req *r = &c->req;
  size_t max = c->h->cfg.max_header_bytes;
  int fresh = part != r->last || (part == 0 && r->head_len == 0);
  if (r->head_len + n + 2 > max) {
    r->error = 431;
    return -1;
  }
  if (fresh && r->head_len > 0)
    r->head[r->head_len++] = '\0';
  if (fresh && part == 1) {
    if (r->nhdrs == MAX_HEADERS) {
      r->error = 431;
      return -1;
    }
    r->hdrs[r->nhdrs].name = r->head_len;
    r->hdrs[r->nhdrs].value = 0;
    r->nhdrs++;
  } else if (fresh && part == 2 && r->nhdrs > 0) {
    r->hdrs[r->nhdrs - 1].value = r->head_len;
  }
  memcpy(r->head + r->head_len, at, n);
  r->head_len += n;
  r->head[r->head_len] = '\0';
  r->last = part;
  return 0;
}

static int on_message_begin(http_parser *p) {
  req_reset(req_of(p));
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  return head_append(p->data, 0, at, n);
}

static int on_field(http_parser *p, const char *at, size_t n) {
  return head_append(p->data, 1, at, n);
}

static int on_value(http_parser *p, const char *at, size_t n) {
  return head_append(p->data, 2, at, n);
}

static int on_headers_complete(http_parser *p) {
  struct conn *c = p->data;
  mqg_http_req *r = &c->req;
  if (r->last == 1 && head_append(c, 2, "", 0) < 0) /* a field, no value */
    return -1;
  /* url "/a/b?x=1#frag": path and query split in place */
  char *url = r->head;
  char *hash = strchr(url, '#');
  if (hash)
    *hash = '\0';
  char *q = strchr(url, '?');
  r->path = 0;
  if (q) {
    *q = '\0';
    r->query = (size_t)(q + 1 - r->head);
  } else {
    r->query = strlen(url); /* the NUL: "" */
  }
  r->method = http_method_str((enum http_method)p->method);
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->h->cfg.max_body_bytes) {
    r->error = 413;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  struct conn *c = p->data;
  mqg_http_req *r = &c->req;
  if (r->body_len + n > c->h->cfg.max_body_bytes) {
    r->error = 413;
    return -1;
  }
  if (r->body_len + n + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 4096;
    while (cap < r->body_len + n + 1)
      cap *= 2;
    char *b = realloc(r->body, cap);
    if (b == NULL) {
      r->error = 413;
      return -1;
    }
    r->body = b;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  http_parser_pause(p, 1); /* one request at a time */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* keep_rest holds plaintext that arrived while a request is being
 * answered; a client that sends more than one whole request ahead is cut. */
static void keep_rest(struct conn *c, const char *data, size_t len) {
  size_t max = c->h->cfg.max_header_bytes + c->h->cfg.max_body_bytes;
  if (c->rest_len + len > max) {
    conn_close(c);
    return;
  }
  char *r = realloc(c->rest, c->rest_len + len);
  if (r == NULL) {
    conn_close(c);
    return;
  }
  memcpy(r + c->rest_len, data, len);
  c->rest = r;
  c->rest_len += len;
}

static void dispatch(struct conn *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->keep_alive = http_should_keep_alive(&c->parser) && !c->h->closing;
  conn_set_state(c, C_HANDLING);
  c->pending = 1;
  c->h->cfg.handler(&c->req, c->h->cfg.arg);
}

/* process feeds plaintext to the parser. */
static void process(struct conn *c, const char *data, size_t len) {
  if (c->closing || len == 0)
    return;
  if (c->state == C_HANDLING || c->state == C_WRITING) {
    keep_rest(c, data, len);
    uv_read_stop((uv_stream_t *)&c->tcp);
    return;
  }
  if (c->state == C_IDLE)
    conn_set_state(c, C_READING);
  size_t n = http_parser_execute(&c->parser, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_PAUSED) {
    if (n < len)
      keep_rest(c, data + n, len - n);
    if (!c->closing)
      dispatch(c);
    return;
  }
  if (e != HPE_OK) {
    int code = c->req.error ? c->req.error : 400;
    char msg[160];
    if (code == 431)
      snprintf(msg, sizeof(msg), "request line and headers exceed %zu bytes",
               c->h->cfg.max_header_bytes);
    else if (code == 413)
      snprintf(msg, sizeof(msg), "request body exceeds %zu bytes",
               c->h->cfg.max_body_bytes);
    else
      snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
               http_errno_description(e));
    send_error(c, code, "input", msg);
  }
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
  struct conn *c = hd->data;
  *buf = uv_buf_init(c->h->rbuf, sizeof(c->h->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    /* The client is gone (or half-closed: nothing more will come). A
     * request being answered keeps the connection until its answer. */
    conn_close(c);
    return;
  }
  if (c->ssl == NULL) {
    process(c, buf->base, (size_t)nread);
    return;
  }
  if (BIO_write(SSL_get_rbio(c->ssl), buf->base, (int)nread) != (int)nread) {
    conn_close(c);
    return;
  }
  char plain[16384];
  for (;;) {
    int n = SSL_read(c->ssl, plain, sizeof(plain));
    if (n > 0) {
      process(c, plain, (size_t)n);
      if (c->closing)
        return;
      continue;
    }
    int err = SSL_get_error(c->ssl, n);
    if (tls_flush(c) < 0)
      return;
    if (err != SSL_ERROR_WANT_READ) /* alert sent, close_notify, ... */
      conn_close(c);
    return;
  }
}

static void on_timeout(uv_timer_t *t) {
  struct conn *c = t->data;
  if (c->state == C_READING && (c->ssl == NULL || SSL_is_init_finished(c->ssl)) &&
      c->writes == 0)
    send_error(c, 408, "timeout", "the request did not arrive in time");
  else
    conn_close(c);
}

/* --- accepting ---------------------------------------------------------------- */

static void on_extra_closed(uv_handle_t *hd) {
  mqg_httpd *h = hd->data;
  free(hd);
  h->extra_handles--;
  server_maybe_free(h);
}

/* busy_answer makes h->busy: the whole 503 a connection over the cap
 * gets, the server's other errors' body and headers. -1 when out of
 * memory. */
static int busy_answer(mqg_httpd *h) {
  size_t blen, hlen;
  char *body = error_json("busy", "too many connections", &blen);
  char *head = body ? response_head(h, 503, "application/json", NULL, 0, blen, 0, &hlen)
                    : NULL;
  if (head != NULL && (h->busy = malloc(hlen + blen)) != NULL) {
    memcpy(h->busy, head, hlen);
    memcpy(h->busy + hlen, body, blen);
    h->busy_len = hlen + blen;
  }
  free(head);
  free(body);
  return h->busy ? 0 : -1;
}

/* refuse_busy takes a connection over the cap off the backlog and closes it
 * at once, after a best-effort 503 on a plain port. */
static void refuse_busy(mqg_httpd *h, uv_stream_t *server) {
  uv_tcp_t *t = malloc(sizeof(*t));
  if (t == NULL)
    return;
  uv_tcp_init(h->loop, t);
  t->data = h;
  h->extra_handles++;
  if (uv_accept(server, (uv_stream_t *)t) == 0 && h->cfg.tls == NULL) {
    uv_buf_t b = uv_buf_init(h->busy, (unsigned)h->busy_len);
    uv_try_write((uv_stream_t *)t, &b, 1);
  }
  uv_close((uv_handle_t *)t, on_extra_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  mqg_httpd *h = server->data;
  if (status < 0 || h->closing)
    return;
  if (h->nconns >= h->cfg.max_connections) {
    refuse_busy(h, server);
    return;
  }
  struct conn *c = calloc(1, sizeof(*c));
  if (c == NULL || (c->req.head = malloc(h->cfg.max_header_bytes + 1)) == NULL) {
    free(c);
    refuse_busy(h, server);
    return;
  }
  c->h = h;
  c->next = h->conns;
  if (h->conns)
    h->conns->prev = c;
  h->conns = c;
  h->nconns++;
  uv_tcp_init(h->loop, &c->tcp);
  uv_timer_init(h->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  req_reset(&c->req);
  c->req.c = c;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  if (h->cfg.tls) {
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    c->ssl = SSL_new(h->cfg.tls);
    if (rb == NULL || wb == NULL || c->ssl == NULL) {
      BIO_free(rb);
      BIO_free(wb);
      conn_close(c);
      return;
    }
    BIO_set_mem_eof_return(rb, -1);
    BIO_set_mem_eof_return(wb, -1);
    SSL_set_bio(c->ssl, rb, wb);
    SSL_set_accept_state(c->ssl);
  }
  conn_set_state(c, C_READING); /* the TLS handshake counts as reading */
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
}

mqg_httpd *mqg_httpd_new(uv_loop_t *loop, const mqg_httpd_config *cfg) {
  mqg_httpd *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->loop = loop;
  h->cfg = *cfg;
  if (h->cfg.max_connections == 0)
    h->cfg.max_connections = 64;
  if (h->cfg.max_header_bytes == 0)
    h->cfg.max_header_bytes = 8192;
  if (h->cfg.request_timeout_ms == 0)
    h->cfg.request_timeout_ms = 10000;
  if (h->cfg.idle_timeout_ms == 0)
    h->cfg.idle_timeout_ms = 30000;
  if (h->cfg.write_timeout_ms == 0)
    h->cfg.write_timeout_ms = 30000;
  if ((cfg->common_headers && (h->common = strdup(cfg->common_headers)) == NULL) ||
      busy_answer(h) < 0) {
    free(h->common);
    free(h);
    return NULL;
  }
  h->cfg.common_headers = NULL;
  if (h->cfg.tls)
    SSL_CTX_up_ref(h->cfg.tls);
  return h;
}

int mqg_httpd_listen(mqg_httpd *h, const struct sockaddr *addr) {
  int rc = uv_tcp_init(h->loop, &h->listener);
  if (rc != 0)
    return rc;
  h->listener.data = h;
  h->listener_open = 1;
  rc = uv_tcp_bind(&h->listener, addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&h->listener, 511, on_connection);
  return rc;
}

static void on_listener_closed(uv_handle_t *hd) {
  mqg_httpd *h = hd->data;
  h->listener_open = 0;
  server_maybe_free(h);
}

void mqg_httpd_close(mqg_httpd *h) {
  if (h == NULL || h->closing)
    return;
  h->closing = 1;
  if (h->listener_open)
    uv_close((uv_handle_t *)&h->listener, on_listener_closed);
  for (struct conn *c = h->conns, *next; c != NULL; c = next) {
    next = c->next;
    conn_close(c);
  }
  server_maybe_free(h);
}

int mqg_httpd_port(const mqg_httpd *h) {
  struct sockaddr_storage ss;
  int n = sizeof(ss);
  if (!h->listener_open ||
      uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &n) != 0)
    return -1;
  return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                        : ((struct sockaddr_in *)&ss)->sin_port);
}

/* --- requests ------------------------------------------------------------------- */

const char *mqg_http_method(const mqg_http_req *r) { return r->method; }
const char *mqg_http_path(const mqg_http_req *r) { return r->head + r->path; }
const char *mqg_http_query(const mqg_http_req *r) { return r->head + r->query; }

const char *mqg_http_header(const mqg_http_req *r, const char *name) {
  for (int i = 0; i < r->nhdrs; i++)
    if (strcasecmp(r->head + r->hdrs[i].name, name) == 0)
      return r->hdrs[i].value ? r->head + r->hdrs[i].value : "";
  return NULL;
}

const char *mqg_http_body(const mqg_http_req *r, size_t *len) {
  *len = r->body_len;
  return r->body_len ? r->body : "";
}

void mqg_http_peer(const mqg_http_req *r, char *buf, size_t len) {
  struct sockaddr_storage ss;
  int n = sizeof(ss);
  snprintf(buf, len, "?");
  if (r->c->closing ||
      uv_tcp_getpeername(&r->c->tcp, (struct sockaddr *)&ss, &n) != 0)
    return;
  if (ss.ss_family == AF_INET)
    uv_ip4_name((struct sockaddr_in *)&ss, buf, len);
  else if (ss.ss_family == AF_INET6)
    uv_ip6_name((struct sockaddr_in6 *)&ss, buf, len);
}

int mqg_http_add_header(mqg_http_req *r, const char *name, const char *value) {
  if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || !*name)
    return -1;
  size_t add = strlen(name) + strlen(value) + 4;
  char *e = realloc(r->extra, r->extra_len + add + 1);
  if (e == NULL)
    return -1;
  snprintf(e + r->extra_len, add + 1, "%s: %s\r\n", name, value);
  r->extra = e;
  r->extra_len += add;
  return 0;
}

void mqg_http_respond(mqg_http_req *r, int code, const char *type,
                      const char *body, size_t len) {
  struct conn *c = r->c;
  if (!c->pending)
    return;
  c->pending = 0;
  if (c->closing) {
    conn_maybe_free(c);
    return;
  }
  send_response(c, code, type, body, len, strcmp(r->method, "HEAD") == 0);
}

void mqg_http_respond_error(mqg_http_req *r, int code, const char *cls,
                            const char *message) {
  size_t len;
  char *body = error_json(cls, message, &len);
  mqg_http_respond(r, code, "application/json", body, len);
  free(body);
}
