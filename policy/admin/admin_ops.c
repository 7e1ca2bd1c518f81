/* admin_ops.c: the thread-pool side of mqgate-admin's jobs (adm.h): the
 * registry connection of each thread, the token check, and the operations
 * on CAs, settings, the audit log, proxies and tokens. Client certificates
 * are in admin_certs.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "adm.h"
#include "ctl.h"
#include "registry_admin.h"
#include "registry_json.h"

/* One blocking registry connection per thread-pool thread; every one is
 * also on a list, so that adm_registries_free can close them at exit. */
static __thread mqg_registry *thread_reg;
static uv_mutex_t regs_lock;
static uv_once_t regs_once = UV_ONCE_INIT;
static mqg_registry *regs[64 + 1];
static size_t nregs;

static void regs_init(void) { uv_mutex_init(&regs_lock); }

/* regs_set replaces |old| (NULL: none) by |r| (NULL: none) on the list. */
static void regs_set(mqg_registry *old, mqg_registry *r) {
  uv_once(&regs_once, regs_init);
  uv_mutex_lock(&regs_lock);
  size_t i = 0;
  while (i < nregs && regs[i] != old)
    i++;
  if (i == nregs && nregs < sizeof(regs) / sizeof(regs[0]))
    nregs++;
  if (i < nregs)
    regs[i] = r;
  if (r == NULL && i < nregs) /* keep the list dense */
    regs[i] = regs[--nregs];
  uv_mutex_unlock(&regs_lock);
}

void adm_registries_free(void) {
  uv_once(&regs_once, regs_init);
  uv_mutex_lock(&regs_lock);
  for (size_t i = 0; i < nregs; i++)
    mqg_registry_free(regs[i]);
  nregs = 0;
  uv_mutex_unlock(&regs_lock);
}

static void thread_reg_drop(void) {
  regs_set(thread_reg, NULL);
  mqg_registry_free(thread_reg);
  thread_reg = NULL;
}

int adm_error_status(const char *cls) {
#define ADM_ERROR_CASE(c, code) \
  if (strcmp(cls, c) == 0)      \
    return code;
  ADM_ERROR_MAP(ADM_ERROR_CASE)
#undef ADM_ERROR_CASE
  return 500;
}

void adm_fail(adm_job *j, const char *cls, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_decref(j->out);
  j->status = adm_error_status(cls);
  j->out = json_object();
  mqg_json_set_text(j->out, "error", cls);
  mqg_json_set_text(j->out, "message", msg);
}

void adm_reg_fail(adm_job *j, mqg_registry *r) {
  const char *cls = mqg_registry_error_class(r);
  adm_fail(j, cls[0] ? cls : "redis", "%s", mqg_registry_error(r));
}

void adm_ok(adm_job *j, int code, json_t *out) {
  json_decref(j->out);
  j->status = out ? code : 500;
  j->out = out;
}

json_t *adm_body_json(adm_job *j) {
  json_error_t e;
  json_t *o = j->body_len ? json_loadb(j->body, j->body_len, 0, &e) : NULL;
  if (o == NULL) {
    adm_fail(j, "input", "the body must be a JSON object%s%s",
             j->body_len ? ": " : "", j->body_len ? e.text : "");
    return NULL;
  }
  if (!json_is_object(o)) {
    json_decref(o);
    adm_fail(j, "input", "the body must be a JSON object");
    return NULL;
  }
  return o;
}

int adm_resolve(adm_job *j, mqg_registry *r, mqg_reg_kind kind, const char *in,
                char out[65]) {
  if (mqg_registry_resolve(r, kind, in, out) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return -1;
  }
  return 0;
}

static mqg_registry *thread_registry(adm_job *j) {
  if (thread_reg != NULL)
    return thread_reg;
  mqg_registry *r = mqg_registry_new(j->cfg->redis_prefix);
  if (r == NULL) {
    adm_fail(j, "internal", "out of memory");
    return NULL;
  }
  if (mqg_registry_connect(r, j->cfg->redis, j->cfg->redis_password_file,
                           (int)j->cfg->redis_timeout) != MQG_REG_OK) {
    /* Never the request's fault, whatever the class: the URL and the
     * password file were good at start (a file since removed, say). */
    adm_fail(j, "redis", "%s", mqg_registry_error(r));
    mqg_registry_free(r);
    return NULL;
  }
  thread_reg = r;
  regs_set(NULL, r);
  return r;
}

static const char *const role_names[] = {"read", "operator", "admin"};

static adm_role role_of(const char *s) {
  for (int i = 0; i < 3; i++)
    if (strcmp(s, role_names[i]) == 0)
      return (adm_role)i;
  return ADM_ROLE_NONE;
}

void adm_job_run(uv_work_t *w) {
  adm_job *j = w->data;
  int fresh = thread_reg == NULL;
  mqg_registry *r = thread_registry(j);
  if (r == NULL)
    return;
  char *role = j->role;
  mqg_reg_status s = mqg_registry_api_auth(r, j->token_hash, j->cfg->rate_limit,
                                           j->token_name, role);
  if (s == MQG_REG_UNAVAILABLE && !fresh) {
    /* A connection kept from before Redis restarted: the token check is
     * the first command of every job, so a new connection is tried once
     * before the job is answered 503. */
    thread_reg_drop();
    if ((r = thread_registry(j)) == NULL)
      return;
    s = mqg_registry_api_auth(r, j->token_hash, j->cfg->rate_limit, j->token_name, role);
  }
  if (s != MQG_REG_OK) {
    adm_reg_fail(j, r);
  } else if (j->token_name[0] == '\0') {
    adm_fail(j, "unauthorized", "unknown or revoked token");
  } else if (role_of(role) < j->need) {
    adm_fail(j, "forbidden", "token %s has role %s; this needs %s", j->token_name, role,
             role_names[j->need]);
  } else {
    snprintf(j->actor, sizeof(j->actor), "%s:%s", j->console ? "console" : "token",
             j->token_name);
    mqg_registry_set_actor(r, j->actor); /* every change audited as the token */
    j->op(j, r);
  }
  if (j->status == 503) /* the connection may be gone: a new one next time */
    thread_reg_drop();
}

/* --- who am I, OpenAPI ------------------------------------------------------- */

void adm_op_whoami(adm_job *j, mqg_registry *r) {
  (void)r;
  json_t *o = json_object();
  mqg_json_set_text(o, "name", j->token_name);
  mqg_json_set_text(o, "role", j->role);
  mqg_json_set_text(o, "actor", j->actor);
  adm_ok(j, 200, o);
}

void adm_op_openapi(adm_job *j, mqg_registry *r) {
  (void)r;
  j->status = 200;
  j->raw = mqg_openapi_json;
  j->raw_len = mqg_openapi_json_len;
}

/* --- CAs -------------------------------------------------------------------- */

void adm_op_ca_list(adm_job *j, mqg_registry *r) {
  mqg_ca_record *list;
  size_t n;
  if (mqg_registry_ca_list(r, &list, &n) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, mqg_json_ca(&list[i], 0));
  mqg_ca_list_free(list, n);
  adm_ok(j, 200, json_pack("{s:o,s:I}", "cas", a, "total", (json_int_t)n));
}

void adm_op_ca_get(adm_job *j, mqg_registry *r) {
  char id[65];
  mqg_ca_record c;
  if (adm_resolve(j, r, MQG_REG_KIND_CA, j->arg, id) < 0)
    return;
  if (mqg_registry_ca_get(r, id, &c) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  adm_ok(j, 200, mqg_json_ca(&c, 1));
  mqg_ca_record_cleanup(&c);
}

void adm_op_ca_register(adm_job *j, mqg_registry *r) {
  json_t *body = adm_body_json(j);
  if (body == NULL)
    return;
  const char *pem = json_string_value(json_object_get(body, "pem"));
  json_t *act = json_object_get(body, "active");
  ctl_cert ca = {0};
  char err[256];
  if (pem == NULL) {
    adm_fail(j, "input", "\"pem\" (the CA certificate, PEM) is required");
  } else if (act != NULL && !json_is_boolean(act)) {
    adm_fail(j, "input", "\"active\" must be true or false");
  } else if (ctl_cert_from_pem(pem, &ca, err, sizeof(err)) < 0) {
    adm_fail(j, "input", "pem: %s", err);
  } else if (!ca.info.is_ca) {
    adm_fail(j, "input", "not a CA certificate (basicConstraints CA:TRUE missing); "
                         "device certificates go to /api/v1/certificates");
  } else {
    int active = act == NULL || json_is_true(act);
    if (mqg_registry_ca_register(r, &ca.info, ca.pem, ca.subject, active) != MQG_REG_OK) {
      adm_reg_fail(j, r);
    } else {
      adm_ok(j, 201, mqg_json_ca_registered(&ca.info, ca.subject, active));
    }
  }
  ctl_cert_cleanup(&ca);
  json_decref(body);
}

static void ca_change(adm_job *j, mqg_registry *r, const char *action) {
  char id[65];
  if (adm_resolve(j, r, MQG_REG_KIND_CA, j->arg, id) < 0)
    return;
  int del = strcmp(action, "delete") == 0;
  mqg_reg_status s = del ? mqg_registry_ca_delete(r, id) : mqg_registry_ca_set(r, id, action);
  if (s != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  const char *status = del ? "deleted" : strcmp(action, "activate") == 0 ? "active" : "inactive";
  adm_ok(j, 200, json_pack("{s:s,s:s}", "id", id, "status", status));
}

void adm_op_ca_activate(adm_job *j, mqg_registry *r) { ca_change(j, r, "activate"); }
void adm_op_ca_deactivate(adm_job *j, mqg_registry *r) { ca_change(j, r, "deactivate"); }
void adm_op_ca_delete(adm_job *j, mqg_registry *r) { ca_change(j, r, "delete"); }

/* --- settings ------------------------------------------------------------------ */

void adm_op_settings_get(adm_job *j, mqg_registry *r) {
  mqg_settings st;
  if (mqg_registry_settings_get(r, &st) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  adm_ok(j, 200, mqg_json_settings(&st));
}

static const char *const settings_keys[] = {"registration", "tls_min", "tls_max",
                                            "client_id_mode"};

static int tls_rank(const char *v) {
  static const char *const v_[] = {"1.0", "1.1", "1.2", "1.3"};
  for (int i = 0; i < 4; i++)
    if (strcmp(v, v_[i]) == 0)
      return i;
  return -1;
}

/* PATCH: any of the four keys; each is one registry change (atomic and
 * audited by itself). Values are checked first, and so is the TLS window
 * they make with the stored bounds, so a bad one changes nothing; a TLS
 * window given whole is applied in the order that keeps it valid in
 * between. */
void adm_op_settings_patch(adm_job *j, mqg_registry *r) {
  json_t *body = adm_body_json(j);
  if (body == NULL)
    return;
  const char *key;
  json_t *v;
  const char *val[4] = {NULL, NULL, NULL, NULL};
  json_object_foreach(body, key, v) {
    int k = -1;
    for (int i = 0; i < 4; i++)
      if (strcmp(key, settings_keys[i]) == 0)
        k = i;
    if (k < 0) {
      adm_fail(j, "input", "unknown setting \"%.64s\" (registration, tls_min, tls_max, "
                           "client_id_mode)", key);
      goto out;
    }
    const char *s = json_string_value(v);
    int ok = s != NULL && (k == 0 ? strcmp(s, "manual") == 0 || strcmp(s, "auto") == 0
                           : k == 3 ? strcmp(s, "default") == 0 || strcmp(s, "strict") == 0
                                    : tls_rank(s) >= 0);
    if (!ok) {
      adm_fail(j, "input", "bad value for %s: %s", key,
               k == 0 ? "manual or auto" : k == 3 ? "default or strict" : "1.0, 1.1, 1.2 or 1.3");
      goto out;
    }
    val[k] = s;
  }
  if (json_object_size(body) == 0) {
    adm_fail(j, "input", "nothing to change");
    goto out;
  }
  mqg_settings cur;
  if (mqg_registry_settings_get(r, &cur) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    goto out;
  }
  /* The library refuses an inverted window too, but only at the TLS
   * write, after the keys before it were written. A stored bound that is
   * not a version counts as its default, as in the library. */
  const char *lo = val[1] ? val[1] : tls_rank(cur.tls_min) >= 0 ? cur.tls_min : "1.0";
  const char *hi = val[2] ? val[2] : tls_rank(cur.tls_max) >= 0 ? cur.tls_max : "1.3";
  if (tls_rank(lo) > tls_rank(hi)) {
    adm_fail(j, "rule", "the TLS window needs tls_min <= tls_max (would be %s..%s)", lo, hi);
    goto out;
  }
  int order[4] = {0, 3, 1, 2}; /* tls_min before tls_max ... */
  if (val[1] && val[2] && tls_rank(val[1]) > tls_rank(cur.tls_max)) {
    order[2] = 2; /* ... unless the new min is above the old max */
    order[3] = 1;
  }
  for (int i = 0; i < 4; i++) {
    int k = order[i];
    if (val[k] && mqg_registry_settings_set(r, settings_keys[k], val[k]) != MQG_REG_OK) {
      adm_reg_fail(j, r);
      goto out;
    }
  }
  adm_op_settings_get(j, r);
out:
  json_decref(body);
}

/* --- audit, proxies -------------------------------------------------------------- */

/* query_size reads parameter |name| as a number in 1..|max| (|def| when
 * absent); -1 after adm_fail. */
int adm_query_size(adm_job *j, const char *name, size_t def, size_t max, size_t *out) {
  char v[24];
  uint64_t n;
  int got = mqg_http_query_get(j->query, name, v, sizeof(v));
  *out = def;
  if (got == 0)
    return 0;
  if (got < 0 || mqg_options_parse_uint(v, max, &n) != 0 || n < 1) {
    adm_fail(j, "input", "%s must be a number from 1 to %zu", name, max);
    return -1;
  }
  *out = (size_t)n;
  return 0;
}

void adm_op_audit(adm_job *j, mqg_registry *r) {
  char object[200] = "", cursor[MQG_AUDIT_ID_MAX] = "";
  size_t limit;
  if (mqg_http_query_get(j->query, "object", object, sizeof(object)) < 0 ||
      mqg_http_query_get(j->query, "cursor", cursor, sizeof(cursor)) < 0) {
    adm_fail(j, "input", "object or cursor malformed or too long");
    return;
  }
  if (adm_query_size(j, "limit", 50, 100, &limit) < 0)
    return;
  mqg_audit_page p;
  if (mqg_registry_audit_list(r, object, limit, cursor, &p) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < p.n; i++)
    json_array_append_new(a, mqg_json_audit(&p.entries[i]));
  adm_ok(j, 200, json_pack("{s:o,s:s}", "entries", a, "next_cursor", p.next_cursor));
  mqg_audit_page_cleanup(&p);
}

void adm_op_proxies(adm_job *j, mqg_registry *r) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  int64_t now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
  mqg_proxy_list l;
  if (mqg_registry_proxies(r, now, &l) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < l.n; i++) {
    json_t *o = json_loads(l.proxies[i].json, 0, NULL);
    if (!json_is_object(o)) { /* shown, not hidden: a proxy is there */
      json_decref(o);
      o = json_object();
      mqg_json_set_text(o, "error", "unreadable heartbeat");
    }
    mqg_json_set_text(o, "id", l.proxies[i].id);
    json_object_set_new(o, "last_seen_ms", json_integer(l.proxies[i].seen_ms));
    json_array_append_new(a, o);
  }
  mqg_proxy_list_cleanup(&l);
  adm_ok(j, 200, json_pack("{s:o,s:I}", "proxies", a, "now_ms", (json_int_t)now));
}

/* --- tokens ------------------------------------------------------------------------ */

void adm_op_token_list(adm_job *j, mqg_registry *r) {
  mqg_token_list l;
  if (mqg_registry_token_list(r, &l) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < l.n; i++)
    json_array_append_new(a, mqg_json_token(&l.tokens[i]));
  mqg_token_list_cleanup(&l);
  adm_ok(j, 200, json_pack("{s:o}", "tokens", a));
}

void adm_op_token_create(adm_job *j, mqg_registry *r) {
  json_t *body = adm_body_json(j);
  if (body == NULL)
    return;
  const char *name = json_string_value(json_object_get(body, "name"));
  const char *role = json_string_value(json_object_get(body, "role"));
  char token[MQG_TOKEN_LEN + 1], hash[65];
  if (name == NULL || role == NULL) {
    adm_fail(j, "input", "\"name\" and \"role\" (read, operator, admin) are required");
  } else if (mqg_token_generate(token) < 0) {
    adm_fail(j, "internal", "no random bytes");
  } else {
    mqg_token_hash(token, hash);
    if (mqg_registry_token_create(r, name, role, hash) != MQG_REG_OK)
      adm_reg_fail(j, r);
    else
      adm_ok(j, 201, json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "token", token));
  }
  json_decref(body);
}

void adm_op_token_revoke(adm_job *j, mqg_registry *r) {
  if (mqg_registry_token_revoke(r, j->arg) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  adm_ok(j, 200, json_pack("{s:s,s:s}", "name", j->arg, "status", "revoked"));
}
