/* admin_http.c: mqgate-admin on the loop thread (adm.h): every request is
 * answered here (health, the console's files) or becomes one thread-pool
 * job (the API), whose answer comes back here. Nothing here waits on
 * Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "adm.h"
#include "registry_admin.h"

static void op_no_route(adm_job *j, mqg_registry *r);
static void op_no_method(adm_job *j, mqg_registry *r);

#define R_READ ADM_ROLE_READ
#define R_OPER ADM_ROLE_OPERATOR
#define R_ADMIN ADM_ROLE_ADMIN

/* The API: method, path ("*" is one segment, the job's arg), role, job. */
static const struct route {
  const char *method, *pattern;
  adm_role need;
  adm_op op;
} routes[] = {
    {"GET", "/api/v1/whoami", R_READ, adm_op_whoami},
    {"GET", "/api/v1/openapi.json", R_READ, adm_op_openapi},
    {"GET", "/api/v1/cas", R_READ, adm_op_ca_list},
    {"POST", "/api/v1/cas", R_OPER, adm_op_ca_register},
    {"GET", "/api/v1/cas/*", R_READ, adm_op_ca_get},
    {"POST", "/api/v1/cas/*/activate", R_OPER, adm_op_ca_activate},
    {"POST", "/api/v1/cas/*/deactivate", R_OPER, adm_op_ca_deactivate},
    {"DELETE", "/api/v1/cas/*", R_ADMIN, adm_op_ca_delete},
    {"GET", "/api/v1/certificates", R_READ, adm_op_cert_list},
    {"POST", "/api/v1/certificates", R_OPER, adm_op_cert_register},
    {"GET", "/api/v1/certificates/*", R_READ, adm_op_cert_get},
    {"POST", "/api/v1/certificates/*/activate", R_OPER, adm_op_cert_activate},
    {"POST", "/api/v1/certificates/*/deactivate", R_OPER, adm_op_cert_deactivate},
    {"POST", "/api/v1/certificates/*/revoke", R_OPER, adm_op_cert_revoke},
    {"DELETE", "/api/v1/certificates/*", R_ADMIN, adm_op_cert_delete},
    {"GET", "/api/v1/settings", R_READ, adm_op_settings_get},
    {"PATCH", "/api/v1/settings", R_ADMIN, adm_op_settings_patch},
    {"GET", "/api/v1/audit", R_READ, adm_op_audit},
    {"GET", "/api/v1/proxies", R_READ, adm_op_proxies},
    {"GET", "/api/v1/tokens", R_ADMIN, adm_op_token_list},
    {"POST", "/api/v1/tokens", R_ADMIN, adm_op_token_create},
    {"DELETE", "/api/v1/tokens/*", R_ADMIN, adm_op_token_revoke},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const char *adm_security_headers(int tls) {
  /* Only the console's own files: no inline script or style, nothing from
   * elsewhere, no framing. */
  static const char common[] =
      "Content-Security-Policy: default-src 'none'; script-src 'self'; "
      "style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; "
      "form-action 'none'; frame-ancestors 'none'\r\n"
      "X-Content-Type-Options: nosniff\r\n"
      "X-Frame-Options: DENY\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Cache-Control: no-store\r\n";
  static const char with_hsts[] =
      "Content-Security-Policy: default-src 'none'; script-src 'self'; "
      "style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; "
      "form-action 'none'; frame-ancestors 'none'\r\n"
      "X-Content-Type-Options: nosniff\r\n"
      "X-Frame-Options: DENY\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Cache-Control: no-store\r\n"
      "Strict-Transport-Security: max-age=31536000\r\n";
  return tls ? with_hsts : common;
}

static uint64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* access_log writes one line per API answer on stderr. */
static void access_log(const char *peer, const char *method, const char *path, int status,
                       const char *who, uint64_t started) {
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(stderr, "%s mqgate-admin: %s %s %.200s -> %d %s %llums\n", ts, peer, method, path,
          status, who[0] ? who : "-", (unsigned long long)(now_ms() - started));
}

/* match compares |path| with |pattern|, copying the "*" segment to |arg|
 * (|len| bytes): 1 or 0. */
static int match(const char *pattern, const char *path, char *arg, size_t len) {
  while (*pattern && *path) {
    if (*pattern == '*') {
      size_t n = strcspn(path, "/");
      if (n == 0 || n >= len)
        return 0;
      memcpy(arg, path, n);
      arg[n] = '\0';
      path += n;
      pattern++;
      continue;
    }
    if (*pattern++ != *path++)
      return 0;
  }
  return *pattern == '\0' && *path == '\0';
}

static void op_no_route(adm_job *j, mqg_registry *r) {
  (void)r;
  adm_fail(j, "notfound", "no such API path");
}

static void op_no_method(adm_job *j, mqg_registry *r) {
  (void)r;
  adm_fail(j, "input", "method not allowed here");
  j->status = 405;
}

static void job_free(adm_job *j) {
  json_decref(j->out);
  free(j->query);
  free(j->body);
  free(j);
}

struct job_ctx { /* the loop side's notes on a job */
  adm_job job;
  char peer[64], method[16], path[256], allow[64];
};

static void on_job_done(uv_work_t *w, int status) {
  (void)status; /* never UV_ECANCELED: jobs are not cancelled */
  struct job_ctx *x = w->data;
  adm_job *j = &x->job;
  if (j->status == 401)
    mqg_http_add_header(j->req, "WWW-Authenticate", "Bearer realm=\"mqgate-admin\"");
  if (j->status == 429)
    mqg_http_add_header(j->req, "Retry-After", "1");
  if (j->status == 405)
    mqg_http_add_header(j->req, "Allow", x->allow);
  if (j->raw != NULL) {
    mqg_http_respond(j->req, j->status, "application/json", j->raw, j->raw_len);
  } else {
    char *body = j->out ? json_dumps(j->out, JSON_COMPACT) : NULL;
    if (body == NULL)
      mqg_http_respond_error(j->req, adm_error_status("internal"), "internal",
                             "out of memory");
    else
      mqg_http_respond(j->req, j->status, "application/json", body, strlen(body));
    free(body);
  }
  access_log(x->peer, x->method, x->path, j->status, j->actor[0] ? j->actor : j->token_name,
             j->started_ms);
  job_free(j);
}

/* bearer finds the token of "Authorization: Bearer <token>"; NULL if none. */
static const char *bearer(mqg_http_req *req) {
  const char *a = mqg_http_header(req, "Authorization");
  if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
    return NULL;
  a += 7;
  while (*a == ' ')
    a++;
  return *a ? a : NULL;
}

static void api(mqg_http_req *req, const adm_config *cfg, const char *method,
                const char *path, const char *peer) {
  uint64_t started = now_ms();
  const char *token = bearer(req);
  if (token == NULL) {
    mqg_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"mqgate-admin\"");
    mqg_http_respond_error(req, 401, "unauthorized",
                           "an API token is needed: 'Authorization: Bearer <token>' "
                           "(mqgatectl token create)");
    access_log(peer, method, path, 401, "", started);
    return;
  }
  struct job_ctx *x = calloc(1, sizeof(*x));
  if (x == NULL) {
    mqg_http_respond_error(req, adm_error_status("internal"), "internal", "out of memory");
    return;
  }
  adm_job *j = &x->job;
  const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
  int path_known = 0;
  for (size_t i = 0; i < NROUTES; i++) {
    char arg[sizeof(j->arg)];
    if (!match(routes[i].pattern, path, arg, sizeof(arg)))
      continue;
    path_known = 1;
    size_t al = strlen(x->allow);
    snprintf(x->allow + al, sizeof(x->allow) - al, "%s%s", al ? ", " : "", routes[i].method);
    if (strcmp(routes[i].method, m) == 0 && j->op == NULL) {
      j->op = routes[i].op;
      j->need = routes[i].need;
      memcpy(j->arg, arg, sizeof(arg));
    }
  }
  if (j->op == NULL) { /* still behind the token check: 401 before 404 */
    j->op = path_known ? op_no_method : op_no_route;
    j->need = ADM_ROLE_READ;
  }
  size_t blen;
  const char *body = mqg_http_body(req, &blen);
  j->query = strdup(mqg_http_query(req));
  j->body = malloc(blen + 1);
  if (j->query == NULL || j->body == NULL) {
    mqg_http_respond_error(req, adm_error_status("internal"), "internal", "out of memory");
    job_free(j);
    return;
  }
  memcpy(j->body, body, blen);
  j->body[blen] = '\0';
  j->body_len = blen;
  j->req = req;
  j->cfg = cfg;
  j->started_ms = started;
  const char *client = mqg_http_header(req, "X-Mqgate-Client");
  j->console = client != NULL && strcmp(client, "console") == 0;
  mqg_token_hash(token, j->token_hash);
  snprintf(x->peer, sizeof(x->peer), "%s", peer);
  snprintf(x->method, sizeof(x->method), "%s", method);
  snprintf(x->path, sizeof(x->path), "%s", path);
  j->work.data = x;
  if (uv_queue_work(uv_default_loop(), &j->work, adm_job_run, on_job_done) != 0) {
    mqg_http_respond_error(req, 503, "redis", "cannot queue the request");
    job_free(j);
  }
}

void adm_http_handler(mqg_http_req *req, void *arg) {
  const adm_config *cfg = arg;
  const char *method = mqg_http_method(req), *path = mqg_http_path(req);
  char peer[64];
  mqg_http_peer(req, peer, sizeof(peer));
  if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0) {
    api(req, cfg, method, path, peer);
    return;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    mqg_http_add_header(req, "Allow", "GET, HEAD");
    mqg_http_respond_error(req, 405, "input", "the console's files are read with GET");
    return;
  }
  if (strcmp(path, "/healthz") == 0) {
    static const char ok[] = "{\"status\":\"ok\"}";
    mqg_http_respond(req, 200, "application/json", ok, sizeof(ok) - 1);
    return;
  }
  if (adm_static_serve(req, path) != 0)
    mqg_http_respond_error(req, 404, "notfound", "no such file");
}
