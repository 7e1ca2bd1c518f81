/* httpd.h: a small HTTP/1.1 server on a libuv loop, plain or HTTPS
 * (BoringSSL), used by mqgate's metrics/health port and by mqgate-admin.
 *
 * Requests are parsed by http-parser (libhttp-parser); the server enforces
 * its own limits so that whoever reaches the port cannot exhaust the
 * process:
 *   - a connection cap: past |max_connections| a new connection is
 *     answered 503 (plain) or closed (TLS) at once and holds no descriptor;
 *   - the request line and headers at most |max_header_bytes| (431), the
 *     body at most |max_body_bytes| (413, checked against Content-Length
 *     before anything is read);
 *   - |request_timeout_ms| from the first byte of a request (or from
 *     accept, which covers the TLS handshake) to its last: 408 and close,
 *     so a slow or partial request cannot hold a connection;
 *   - |idle_timeout_ms| between keep-alive requests: closed silently;
 *   - |write_timeout_ms| for a response to leave: closed.
 * One request per connection is handled at a time (keep-alive, pipelined
 * bytes wait until the response is sent).
 *
 * The handler is called on the loop's thread with a request it may answer
 * at once or later (after a thread-pool job, a probe...), always on the
 * same thread, with mqg_http_respond; it must answer every request exactly
 * once, also after the client went away (the answer is then dropped) and
 * after mqg_httpd_close (every request still gets its answer call).
 *
 * Errors: functions returning int return 0 or a negative libuv error;
 * constructors return NULL when out of memory. Errors the server answers by
 * itself (400, 408, 413, 431, 503) carry a JSON body {"error": class,
 * "message": text} like the API's. */
#ifndef MQG_HTTPD_H
#define MQG_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>
#include <uv.h>

/* X(code, reason phrase) of every status the server and its users send. */
#define MQG_HTTP_STATUS_MAP(X)                                                \
  X(200, "OK")                                                                \
  X(201, "Created")                                                           \
  X(204, "No Content")                                                        \
  X(304, "Not Modified")                                                      \
  X(400, "Bad Request")                                                       \
  X(401, "Unauthorized")                                                      \
  X(403, "Forbidden")                                                         \
  X(404, "Not Found")                                                         \
  X(405, "Method Not Allowed")                                                \
  X(408, "Request Timeout")                                                   \
  X(409, "Conflict")                                                          \
  X(413, "Content Too Large")                                                 \
  X(415, "Unsupported Media Type")                                            \
  X(429, "Too Many Requests")                                                 \
  X(431, "Request Header Fields Too Large")                                   \
  X(500, "Internal Server Error")                                             \
  X(503, "Service Unavailable")

/* mqg_http_status_text returns the reason phrase of |code| ("Unknown" for a
 * code outside MQG_HTTP_STATUS_MAP). */
const char *mqg_http_status_text(int code);

typedef struct mqg_http_req mqg_http_req;

typedef struct {
  size_t max_connections;      /* open at once; 0 = 64 */
  size_t max_header_bytes;     /* request line + headers; 0 = 8 KiB */
  size_t max_body_bytes;       /* 0 = no body accepted (413) */
  uint64_t request_timeout_ms; /* 0 = 10 s */
  uint64_t idle_timeout_ms;    /* 0 = 30 s */
  uint64_t write_timeout_ms;   /* 0 = 30 s */
  SSL_CTX *tls;                /* NULL: plain HTTP; else HTTPS (a reference
                                  is taken) */
  /* Extra header lines ("Name: value\r\n"...) sent with every response,
   * including the server's own errors; NULL for none. Copied. */
  const char *common_headers;
  void (*handler)(mqg_http_req *req, void *arg);
  void *arg;
} mqg_httpd_config;

typedef struct mqg_httpd mqg_httpd;

/* mqg_httpd_new returns a server on |loop| with |cfg| (copied), not yet
 * listening, or NULL when out of memory. */
mqg_httpd *mqg_httpd_new(uv_loop_t *loop, const mqg_httpd_config *cfg);

/* mqg_httpd_listen binds |addr| and starts accepting. 0 or a negative
 * libuv error (the server stays usable for mqg_httpd_close). */
int mqg_httpd_listen(mqg_httpd *h, const struct sockaddr *addr);

/* mqg_httpd_close stops accepting and closes every connection; the server
 * frees itself once every handle is closed and every request answered. */
void mqg_httpd_close(mqg_httpd *h);

/* mqg_httpd_port returns the port the server listens on (after
 * mqg_httpd_listen; useful with port 0), or -1. */
int mqg_httpd_port(const mqg_httpd *h);

/* --- a request (valid from the handler call to its mqg_http_respond) --- */

/* The method ("GET", ...), the path without the query ("/api/v1/cas", not
 * percent-decoded) and the query ("a=1&b=2", "" if none). */
const char *mqg_http_method(const mqg_http_req *req);
const char *mqg_http_path(const mqg_http_req *req);
const char *mqg_http_query(const mqg_http_req *req);

/* mqg_http_header returns the value of header |name| (any case), or NULL.
 * When a header is repeated, the first. */
const char *mqg_http_header(const mqg_http_req *req, const char *name);

/* mqg_http_body returns the body (NUL-terminated; |*len| bytes, which may
 * hold NULs). */
const char *mqg_http_body(const mqg_http_req *req, size_t *len);

/* mqg_http_peer writes the client's address as text into |buf|. */
void mqg_http_peer(const mqg_http_req *req, char *buf, size_t len);

/* mqg_http_add_header adds one response header before mqg_http_respond
 * (|name| and |value| copied; CR and LF refused). 0, or -1 when out of
 * memory or the header is invalid. */
int mqg_http_add_header(mqg_http_req *req, const char *name, const char *value);

/* mqg_http_respond answers |req| with |code| and |body| (|len| bytes,
 * copied; NULL for none) of |content_type|. After it |req| is gone. A HEAD
 * request gets the headers only. */
void mqg_http_respond(mqg_http_req *req, int code, const char *content_type,
                      const char *body, size_t len);

/* mqg_http_respond_error answers a JSON error body {"error": |cls|,
 * "message": |message|}. */
void mqg_http_respond_error(mqg_http_req *req, int code, const char *cls,
                            const char *message);

/* mqg_http_query_get finds parameter |name| in |query| and writes its
 * percent-decoded value ('+' is a space) to |out| (|len| bytes). Returns 1
 * if found, 0 if absent, -1 if it does not fit or is malformed. */
int mqg_http_query_get(const char *query, const char *name, char *out,
                       size_t len);

#endif
