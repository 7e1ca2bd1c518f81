#include "task.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <uv.h>

#include "httpd.h"

TEST_IMPL(httpd_status_text) {
  ASSERT_STR_EQ(mqg_http_status_text(200), "OK");
  ASSERT_STR_EQ(mqg_http_status_text(400), "Bad Request");
  ASSERT_STR_EQ(mqg_http_status_text(408), "Request Timeout");
  ASSERT_STR_EQ(mqg_http_status_text(429), "Too Many Requests");
  ASSERT_STR_EQ(mqg_http_status_text(503), "Service Unavailable");
  ASSERT_STR_EQ(mqg_http_status_text(299), "Unknown");
  return 0;
}

TEST_IMPL(httpd_query_get) {
  char v[16];
  ASSERT_EQ(mqg_http_query_get("a=1&cn=dev%2D1+x&b=", "cn", v, sizeof(v)), 1);
  ASSERT_STR_EQ(v, "dev-1 x");
  ASSERT_EQ(mqg_http_query_get("a=1&b=", "b", v, sizeof(v)), 1);
  ASSERT_STR_EQ(v, "");
  ASSERT_EQ(mqg_http_query_get("flag&x=2", "flag", v, sizeof(v)), 1);
  ASSERT_STR_EQ(v, "");
  ASSERT_EQ(mqg_http_query_get("cnx=1&xcn=2", "cn", v, sizeof(v)), 0);
  ASSERT_EQ(mqg_http_query_get("", "cn", v, sizeof(v)), 0);
  /* the first of a repeated parameter */
  ASSERT_EQ(mqg_http_query_get("cn=a&cn=b", "cn", v, sizeof(v)), 1);
  ASSERT_STR_EQ(v, "a");
  /* truncated and corrupted escapes, NUL, too long */
  ASSERT_EQ(mqg_http_query_get("cn=%", "cn", v, sizeof(v)), -1);
  ASSERT_EQ(mqg_http_query_get("cn=%4", "cn", v, sizeof(v)), -1);
  ASSERT_EQ(mqg_http_query_get("cn=%4&x=1", "cn", v, sizeof(v)), -1);
  ASSERT_EQ(mqg_http_query_get("cn=%zz", "cn", v, sizeof(v)), -1);
  ASSERT_EQ(mqg_http_query_get("cn=%00", "cn", v, sizeof(v)), -1);
  ASSERT_EQ(mqg_http_query_get("cn=0123456789abcdef", "cn", v, sizeof(v)), -1);
  ASSERT_EQ(mqg_http_query_get("cn=0123456789abcde", "cn", v, sizeof(v)), 1);
  /* every prefix of a valid query parses or is refused, never overruns */
  const char *q = "serial=0A%3Ab&cn=%3Cimg%3E";
  char buf[64];
  for (size_t n = 0; n <= strlen(q); n++) {
    snprintf(buf, sizeof(buf), "%.*s", (int)n, q);
    int r = mqg_http_query_get(buf, "cn", v, sizeof(v));
    ASSERT(r >= -1 && r <= 1);
  }
  ASSERT_EQ(mqg_http_query_get(q, "cn", v, sizeof(v)), 1);
  ASSERT_STR_EQ(v, "<img>");
  return 0;
}

/* --- a request split at every byte, through a real server on a loop --- */

static const char request[] =
    "POST /p/x?k=v%20w HTTP/1.1\r\nHost: h\r\nX-Long-Header: abcdefghij\r\n"
    "Content-Length: 5\r\n\r\nhello";

struct split_state {
  int port;
  int answered, good;
  mqg_httpd *h;
  _Atomic int done; /* the client thread has finished */
};

/* connect_to opens a connection to 127.0.0.1:|port| with Nagle off. */
static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

static void on_close_timer(uv_timer_t *t) {
  struct split_state *s = t->data;
  if (!atomic_load(&s->done))
    return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, NULL);
  mqg_httpd_close(s->h);
}

/* serve runs a server as |cfg| says (its arg: |s|) on a loop of its own
 * until |client|, run on a thread, has finished (it sets s->done). */
static int serve(mqg_httpd_config *cfg, void (*client)(void *), struct split_state *s) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  cfg->arg = s;
  s->h = mqg_httpd_new(&loop, cfg);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  ASSERT_EQ(mqg_httpd_listen(s->h, (const struct sockaddr *)&a), 0);
  s->port = mqg_httpd_port(s->h);
  ASSERT(s->port > 0);
  uv_thread_t th;
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = s;
  uv_timer_start(&t, on_close_timer, 10, 10);
  ASSERT_EQ(uv_thread_create(&th, client, s), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_thread_join(&th);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  return 0;
}

static void on_req(mqg_http_req *req, void *arg) {
  struct split_state *s = arg;
  size_t len;
  const char *body = mqg_http_body(req, &len);
  char k[16];
  int ok = strcmp(mqg_http_method(req), "POST") == 0 &&
           strcmp(mqg_http_path(req), "/p/x") == 0 &&
           mqg_http_query_get(mqg_http_query(req), "k", k, sizeof(k)) == 1 &&
           strcmp(k, "v w") == 0 && len == 5 && memcmp(body, "hello", 5) == 0 &&
           strcmp(mqg_http_header(req, "x-long-header"), "abcdefghij") == 0;
  s->answered++;
  s->good += ok;
  mqg_http_respond(req, ok ? 200 : 400, "text/plain", "ok", 2);
}

static void client(void *arg) {
  struct split_state *s = arg;
  int fd = connect_to(s->port);
  size_t n = sizeof(request) - 1;
  /* One keep-alive connection, the request split at every byte. */
  for (size_t cut = 1; cut < n; cut++) {
    ASSERT_EQ(write(fd, request, cut), (ssize_t)cut);
    usleep(300);
    ASSERT_EQ(write(fd, request + cut, n - cut), (ssize_t)(n - cut));
    char resp[512] = "";
    size_t got = 0;
    while (strstr(resp, "\r\n\r\nok") == NULL) {
      ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);
      ASSERT(r > 0);
      got += (size_t)r;
      resp[got] = '\0';
    }
    ASSERT(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
  }
  close(fd);
  atomic_store(&s->done, 1);
}

TEST_IMPL(httpd_request_split) {
  struct split_state s = {0};
  mqg_httpd_config cfg = {.max_body_bytes = 64, .handler = on_req};
  ASSERT_EQ(serve(&cfg, client, &s), 0);
  ASSERT_EQ(s.answered, (int)sizeof(request) - 2);
  ASSERT_EQ(s.good, s.answered);
  return 0;
}

/* --- a keep-alive request that arrives with half the next one ------------- */

/* The first request and the start of the second in one write, the rest of
 * the second a moment later: both answered at once, not after the request
 * timeout (the server must read again after it set the held-back half
 * aside). */
static const char pipelined[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                                "GET /2 HTTP/1.1\r\nHo";
static const char pipelined_rest[] = "st: h\r\n\r\n";

static void on_req_pipelined(mqg_http_req *req, void *arg) {
  struct split_state *s = arg;
  s->answered++;
  s->good += strcmp(mqg_http_path(req), s->answered == 1 ? "/1" : "/2") == 0;
  mqg_http_respond(req, 200, "text/plain", "ok", 2);
}

static void client_pipelined(void *arg) {
  struct split_state *s = arg;
  int fd = connect_to(s->port);
  /* well under the server's request timeout (5 s): a stall fails the read */
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ASSERT_EQ(write(fd, pipelined, sizeof(pipelined) - 1), (ssize_t)sizeof(pipelined) - 1);
  usleep(100 * 1000);
  ASSERT_EQ(write(fd, pipelined_rest, sizeof(pipelined_rest) - 1),
            (ssize_t)sizeof(pipelined_rest) - 1);
  char resp[1024] = "";
  size_t got = 0;
  for (;;) {
    const char *second = strstr(resp, "\r\n\r\nok");
    if (second != NULL && strstr(second + 6, "\r\n\r\nok") != NULL)
      break;
    ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);
    ASSERT(r > 0); /* not EAGAIN: the second answer came in time */
    got += (size_t)r;
    resp[got] = '\0';
  }
  ASSERT(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
  ASSERT(strstr(resp + 17, "HTTP/1.1 200 OK\r\n") != NULL);
  close(fd);
  atomic_store(&s->done, 1);
}

TEST_IMPL(httpd_pipelined_partial) {
  struct split_state s = {0};
  mqg_httpd_config cfg = {.request_timeout_ms = 5000, .handler = on_req_pipelined};
  ASSERT_EQ(serve(&cfg, client_pipelined, &s), 0);
  ASSERT_EQ(s.answered, 2);
  ASSERT_EQ(s.good, 2);
  return 0;
}

/* --- over the connection cap: a 503 with the common headers --------------- */

static void client_busy(void *arg) {
  struct split_state *s = arg;
  int first = connect_to(s->port);
  usleep(100 * 1000); /* accepted: it holds the one place */
  int second = connect_to(s->port);
  char resp[1024] = "";
  size_t got = 0;
  ssize_t r;
  while ((r = read(second, resp + got, sizeof(resp) - 1 - got)) > 0)
    got += (size_t)r;
  resp[got] = '\0';
  ASSERT(strncmp(resp, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
  ASSERT(strstr(resp, "\r\nX-Common: yes\r\n") != NULL);
  ASSERT(strstr(resp, "\r\nConnection: close\r\n") != NULL);
  ASSERT(strstr(resp, "\r\n\r\n{\"error\":\"busy\",\"message\":\"too many connections\"}") !=
         NULL);
  close(second);
  close(first);
  atomic_store(&s->done, 1);
}

TEST_IMPL(httpd_busy_headers) {
  struct split_state s = {0};
  mqg_httpd_config cfg = {.max_connections = 1, .common_headers = "X-Common: yes\r\n",
                          .handler = on_req};
  return serve(&cfg, client_busy, &s);
}
