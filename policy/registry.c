/* registry.c: see registry.h. Connection, errors, the Lua library, id
 * resolution, changes and settings; listings are in registry_list.c. */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lua_library.h"
#include "redis_url.h"
#include "registry_internal.h"
#include "schema.h"

mqg_reg_status registry__fail(mqg_registry *r, mqg_reg_status s,
                              const char *cls, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof(r->err), fmt, ap);
  va_end(ap);
  /* one line: a Redis or Lua message could hold a newline */
  for (char *p = r->err; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  r->err_class = cls;
  return s;
}

static mqg_reg_status io_fail(mqg_registry *r) {
  if (r->c == NULL)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                          "not connected to Redis");
  return registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                        "Redis at %s:%d: %s", r->host, r->port,
                        r->c->errstr[0] ? r->c->errstr : "I/O error");
}

/* checked returns |reply| if it is a usable reply, else frees it and
 * records why (NULL). */
static redisReply *checked(mqg_registry *r, redisReply *reply) {
  if (reply == NULL) {
    io_fail(r);
    return NULL;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "Redis: %s", reply->str);
    freeReplyObject(reply);
    return NULL;
  }
  return reply;
}

redisReply *registry__command(mqg_registry *r, const char *fmt, ...) {
  if (r->c == NULL) {
    io_fail(r);
    return NULL;
  }
  va_list ap;
  va_start(ap, fmt);
  redisReply *reply = redisvCommand(r->c, fmt, ap);
  va_end(ap);
  return checked(r, reply);
}

redisReply *registry__command_argv(mqg_registry *r, int argc, const char **argv,
                                   const size_t *lens) {
  if (r->c == NULL) {
    io_fail(r);
    return NULL;
  }
  return checked(r, redisCommandArgv(r->c, argc, argv, lens));
}

/* pipeline_drop closes the connection after a failure mid-pipeline: the
 * commands and replies still queued on it would otherwise answer the next
 * commands. Those fail as not connected until mqg_registry_connect. */
static void pipeline_drop(mqg_registry *r) {
  redisFree(r->c);
  r->c = NULL;
}

int registry__append(mqg_registry *r, const char *fmt, ...) {
  if (r->c == NULL) {
    io_fail(r);
    return -1;
  }
  va_list ap;
  va_start(ap, fmt);
  int rc = redisvAppendCommand(r->c, fmt, ap);
  va_end(ap);
  if (rc != REDIS_OK) {
    io_fail(r);
    pipeline_drop(r);
    return -1;
  }
  return 0;
}

redisReply *registry__reply(mqg_registry *r) {
  if (r->c == NULL) {
    io_fail(r);
    return NULL;
  }
  void *reply = NULL;
  if (redisGetReply(r->c, &reply) != REDIS_OK)
    reply = NULL;
  redisReply *ok = checked(r, reply);
  if (ok == NULL)
    pipeline_drop(r);
  return ok;
}

/* --- lifetime ------------------------------------------------------------ */

mqg_registry *mqg_registry_new(const char *prefix) {
  mqg_registry *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  snprintf(r->prefix, sizeof(r->prefix), "%s", prefix ? prefix : "");
  snprintf(r->actor, sizeof(r->actor), "unknown");
  r->err_class = "";
  /* An invalid prefix is reported by mqg_registry_connect. */
  if (prefix == NULL || strlen(prefix) > REGISTRY_PREFIX_MAX)
    r->prefix[0] = '\0';
  return r;
}

void mqg_registry_free(mqg_registry *r) {
  if (r == NULL)
    return;
  if (r->c != NULL)
    redisFree(r->c);
  free(r);
}

void mqg_registry_set_actor(mqg_registry *r, const char *actor) {
  snprintf(r->actor, sizeof(r->actor), "%s", actor && actor[0] ? actor : "unknown");
  for (char *p = r->actor; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
}

const char *mqg_registry_error(const mqg_registry *r) { return r->err; }

const char *mqg_registry_error_class(const mqg_registry *r) {
  return r->err_class;
}

/* Connects to |a|, authenticates and selects its database; the caller
 * wipes |a|, which holds the password. */
static mqg_reg_status dial(mqg_registry *r, const mqg_redis_addr *a, int timeout_ms) {
  snprintf(r->host, sizeof(r->host), "%s", a->host);
  r->port = a->port;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  r->c = redisConnectWithTimeout(r->host, r->port, tv);
  if (r->c == NULL)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  if (r->c->err) {
    mqg_reg_status s = registry__fail(
        r, MQG_REG_UNAVAILABLE, "redis", "cannot reach Redis at %s:%d: %s",
        r->host, r->port, r->c->errstr);
    redisFree(r->c);
    r->c = NULL;
    return s;
  }
  redisSetTimeout(r->c, tv);
  const char *auth[3];
  int n = mqg_redis_auth_argv(a, auth);
  if (n > 0) {
    redisReply *reply = redisCommandArgv(r->c, n, auth, NULL);
    if (reply == NULL)
      return io_fail(r);
    if (reply->type == REDIS_REPLY_ERROR) {
      mqg_reg_status s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                                        "Redis at %s:%d refused the credentials: %s",
                                        r->host, r->port, reply->str);
      freeReplyObject(reply);
      redisFree(r->c);
      r->c = NULL;
      return s;
    }
    freeReplyObject(reply);
  }
  if (a->db != 0) {
    redisReply *reply = registry__command(r, "SELECT %d", a->db);
    if (reply == NULL)
      return MQG_REG_UNAVAILABLE;
    freeReplyObject(reply);
  }
  return MQG_REG_OK;
}

mqg_reg_status mqg_registry_connect(mqg_registry *r, const char *url,
                                    const char *password_file, int timeout_ms) {
  mqg_redis_addr a;
  char err[300];
  mqg_reg_status s;
  if (!mqg_redis_prefix_ok(r->prefix))
    return registry__fail(r, MQG_REG_INPUT, "input",
                          "the key prefix must be 1..%d characters without "
                          "spaces or control characters",
                          REGISTRY_PREFIX_MAX);
  if (mqg_redis_url_parse(url, &a) < 0)
    s = registry__fail(r, MQG_REG_INPUT, "input",
                       "bad Redis URL (expected "
                       "redis://[user:password@]host[:port][/db])");
  else if (mqg_redis_password_load(&a, password_file, err, sizeof(err)) < 0)
    s = registry__fail(r, MQG_REG_INPUT, "input", "%s", err);
  else
    s = dial(r, &a, timeout_ms);
  explicit_bzero(&a, sizeof(a));
  return s;
}

/* --- the Lua library ----------------------------------------------------- */

mqg_reg_status mqg_registry_load_library(mqg_registry *r) {
  if (r->c == NULL)
    return io_fail(r);
  const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", mqg_lua_library};
  size_t lens[] = {8, 4, 7, mqg_lua_library_len};
  for (int attempt = 0;; attempt++) {
    redisReply *reply = redisCommandArgv(r->c, 4, argv, lens);
    if (reply == NULL)
      return io_fail(r);
    if (reply->type != REDIS_REPLY_ERROR) {
      freeReplyObject(reply);
      return MQG_REG_OK;
    }
    /* Layout 1's library holds the same function names: replace it. */
    if (attempt == 0 && strstr(reply->str, "already exists") != NULL) {
      freeReplyObject(reply);
      redisReply *del = registry__command(r, "FUNCTION DELETE %s", MQG_LUA_LIBRARY_V1);
      if (del == NULL)
        return MQG_REG_UNAVAILABLE;
      freeReplyObject(del);
      continue;
    }
    mqg_reg_status s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                                      "cannot load the registry's Redis Functions library "
                                      "(Redis 7 or later needed): %s",
                                      reply->str);
    freeReplyObject(reply);
    return s;
  }
}

/* error_classes maps the first word of the library's error replies. */
static const struct {
  const char *word, *cls;
  mqg_reg_status status;
} error_classes[] = {
    {"RULE", "rule", MQG_REG_REFUSED},
    {"RATE", "rate", MQG_REG_REFUSED},
    {"INPUT", "input", MQG_REG_INPUT},
    {"NOTFOUND", "notfound", MQG_REG_INPUT},
};

static mqg_reg_status lua_error(mqg_registry *r, const char *msg) {
  for (size_t i = 0; i < sizeof(error_classes) / sizeof(error_classes[0]);
       i++) {
    size_t n = strlen(error_classes[i].word);
    if (strncmp(msg, error_classes[i].word, n) == 0 && msg[n] == ' ')
      return registry__fail(r, error_classes[i].status, error_classes[i].cls,
                            "%s", msg + n + 1);
  }
  return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "Redis: %s", msg);
}

mqg_reg_status registry__fcall(mqg_registry *r, const char *fn, int ro, int argc,
                               const char *const *args, redisReply **out) {
  const char *argv[4 + REGISTRY_FCALL_MAX_ARGS] = {ro ? "FCALL_RO" : "FCALL", fn, "0",
                                                   r->prefix};
  size_t lens[4 + REGISTRY_FCALL_MAX_ARGS];
  if (out)
    *out = NULL;
  if (r->c == NULL)
    return io_fail(r);
  if (argc > REGISTRY_FCALL_MAX_ARGS)
    return registry__fail(r, MQG_REG_INPUT, "input", "too many arguments");
  for (int i = 0; i < argc; i++)
    argv[4 + i] = args[i];
  for (int i = 0; i < 4 + argc; i++)
    lens[i] = strlen(argv[i]);

  for (int attempt = 0;; attempt++) {
    redisReply *reply = redisCommandArgv(r->c, 4 + argc, argv, lens);
    if (reply == NULL)
      return io_fail(r);
    if (reply->type != REDIS_REPLY_ERROR) {
      if (out)
        *out = reply;
      else
        freeReplyObject(reply);
      return MQG_REG_OK;
    }
    if (attempt == 0 && strstr(reply->str, "Function not found") != NULL) {
      freeReplyObject(reply);
      mqg_reg_status s = mqg_registry_load_library(r);
      if (s != MQG_REG_OK)
        return s;
      continue;
    }
    mqg_reg_status s = lua_error(r, reply->str);
    freeReplyObject(reply);
    return s;
  }
}

/* fcall_status is fcall for functions answering one status string, copied
 * to |status| (|len| bytes) when not NULL. */
static mqg_reg_status fcall_status(mqg_registry *r, const char *fn, int argc,
                                   const char *const *args, char *status,
                                   size_t len) {
  redisReply *reply;
  mqg_reg_status s = registry__fcall(r, fn, 0, argc, args, &reply);
  if (s != MQG_REG_OK)
    return s;
  if (status != NULL)
    snprintf(status, len, "%s",
             reply->type == REDIS_REPLY_STRING ? reply->str : "");
  freeReplyObject(reply);
  return MQG_REG_OK;
}

/* --- changes -------------------------------------------------------------- */

mqg_reg_status mqg_registry_ca_register(mqg_registry *r, const mqg_certinfo *ci,
                                        const char *pem, const char *subject,
                                        int active) {
  char nb[24], na[24];
  snprintf(nb, sizeof(nb), "%" PRId64, ci->not_before);
  snprintf(na, sizeof(na), "%" PRId64, ci->not_after);
  const char *args[] = {ci->fingerprint, pem, subject, ci->cn, ci->serial,
                        nb, na, active ? "1" : "0", r->actor};
  return fcall_status(r, "mqgate_ca_register", 9, args, NULL, 0);
}

mqg_reg_status mqg_registry_ca_set(mqg_registry *r, const char *id,
                                   const char *action) {
  const char *args[] = {id, action, r->actor};
  return fcall_status(r, "mqgate_ca_set", 3, args, NULL, 0);
}

mqg_reg_status mqg_registry_ca_delete(mqg_registry *r, const char *id) {
  const char *args[] = {id, r->actor};
  return fcall_status(r, "mqgate_ca_delete", 2, args, NULL, 0);
}

mqg_reg_status registry__cert_register(mqg_registry *r, const char *fn,
                                      const mqg_certinfo *ci, const char *ca_id,
                                      const mqg_cert_reg_opts *o) {
  char nb[24], na[24];
  snprintf(nb, sizeof(nb), "%" PRId64, ci->not_before);
  snprintf(na, sizeof(na), "%" PRId64, ci->not_after);
  const char *args[] = {ci->fingerprint, ci->serial, ci->cn, ci->ou, ca_id, nb, na,
                        o->client_id ? o->client_id : "", o->activate ? "1" : "0",
                        "manual", o->renews ? o->renews : "", r->actor};
  return fcall_status(r, fn, 12, args, NULL, 0);
}

mqg_reg_status mqg_registry_cert_register(mqg_registry *r,
                                          const mqg_certinfo *ci,
                                          const char *ca_id,
                                          const mqg_cert_reg_opts *o) {
  return registry__cert_register(r, "mqgate_cert_register", ci, ca_id, o);
}

mqg_reg_status mqg_registry_cert_set(mqg_registry *r, const char *fp,
                                     const char *action, char status[32]) {
  const char *args[] = {fp, action, r->actor};
  return fcall_status(r, "mqgate_cert_set", 3, args, status, 32);
}

mqg_reg_status mqg_registry_cert_delete(mqg_registry *r, const char *fp) {
  const char *args[] = {fp, r->actor};
  return fcall_status(r, "mqgate_cert_delete", 2, args, NULL, 0);
}

mqg_reg_status mqg_registry_settings_set(mqg_registry *r, const char *key,
                                         const char *value) {
  const char *args[] = {key, value, r->actor};
  return fcall_status(r, "mqgate_settings_set", 3, args, NULL, 0);
}

mqg_reg_status mqg_registry_settings_get(mqg_registry *r, mqg_settings *out) {
  snprintf(out->registration, sizeof(out->registration), "manual");
  snprintf(out->tls_min, sizeof(out->tls_min), "1.0");
  snprintf(out->tls_max, sizeof(out->tls_max), "1.3");
  snprintf(out->client_id_mode, sizeof(out->client_id_mode), "default");
  redisReply *reply = registry__command(r, "HGETALL %s:settings", r->prefix);
  if (reply == NULL)
    return MQG_REG_UNAVAILABLE;
  for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements;
       i += 2) {
    const char *k = reply->element[i]->str, *v = reply->element[i + 1]->str;
    if (k != NULL && v != NULL)
      mqg_settings_set(out, k, v); /* other fields: not a setting, ignored */
  }
  freeReplyObject(reply);
  return MQG_REG_OK;
}

/* --- ids ------------------------------------------------------------------- */

mqg_reg_status mqg_registry_resolve(mqg_registry *r, mqg_reg_kind kind,
                                    const char *in, char out[65]) {
  const char *what = kind == MQG_REG_KIND_CA ? "CA" : "certificate";
  char hex[65];
  size_t n = 0;
  for (const char *p = in; *p; p++) {
    if (*p == ':')
      continue;
    if (!isxdigit((unsigned char)*p) || n == 64)
      return registry__fail(r, MQG_REG_INPUT, "input",
                            "'%s' is not a %s id: 64 hex digits (SHA-256), "
                            "or a unique prefix of at least 8",
                            in, what);
    hex[n++] = (char)tolower((unsigned char)*p);
  }
  hex[n] = '\0';
  if (n < 8)
    return registry__fail(r, MQG_REG_INPUT, "input",
                          "'%s' is not a %s id: 64 hex digits (SHA-256), or a "
                          "unique prefix of at least 8",
                          in, what);
  if (n == 64) {
    memcpy(out, hex, 65);
    return MQG_REG_OK;
  }

  const char *args[] = {kind == MQG_REG_KIND_CA ? "ca" : "cert", hex};
  redisReply *reply;
  mqg_reg_status s = registry__fcall(r, "mqgate_resolve", 1, 2, args, &reply);
  if (s != MQG_REG_OK)
    return s;
  size_t count = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
  if (count == 1 && reply->element[0]->type == REDIS_REPLY_STRING &&
      reply->element[0]->len == 64)
    memcpy(out, reply->element[0]->str, 65);
  else if (count == 1)
    count = 3; /* not an id: treat as a bad answer below */
  freeReplyObject(reply);
  if (count > 2)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "unexpected resolve reply");
  if (count == 1)
    return MQG_REG_OK;
  if (count == 0)
    return registry__fail(r, MQG_REG_INPUT, "notfound",
                          "no registered %s matches '%s'", what, in);
  return registry__fail(r, MQG_REG_INPUT, "input",
                        "'%s' matches several %ss; give more digits", in, what);
}
