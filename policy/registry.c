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
    return -1;
  }
  return 0;
}

redisReply *registry__reply(mqg_registry *r) {
  void *reply = NULL;
  if (redisGetReply(r->c, &reply) != REDIS_OK)
    return checked(r, NULL);
  return checked(r, reply);
}

/* --- lifetime ------------------------------------------------------------ */

static int prefix_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > REGISTRY_PREFIX_MAX)
    return 0;
  for (; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return 0;
  return 1;
}

mqg_registry *mqg_registry_new(const char *prefix) {
  mqg_registry *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  snprintf(r->prefix, sizeof(r->prefix), "%s", prefix ? prefix : "");
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

const char *mqg_registry_error(const mqg_registry *r) { return r->err; }

const char *mqg_registry_error_class(const mqg_registry *r) {
  return r->err_class;
}

mqg_reg_status mqg_registry_connect(mqg_registry *r, const char *url,
                                    int timeout_ms) {
  int db;
  if (!prefix_ok(r->prefix))
    return registry__fail(r, MQG_REG_INPUT, "input",
                          "the key prefix must be 1..%d characters without "
                          "spaces or control characters",
                          REGISTRY_PREFIX_MAX);
  if (mqg_redis_url_parse(url, r->host, sizeof(r->host), &r->port, &db) < 0)
    return registry__fail(r, MQG_REG_INPUT, "input",
                          "bad Redis URL '%s' (expected "
                          "redis://host[:port][/db])",
                          url);
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
  if (db != 0) {
    redisReply *reply = registry__command(r, "SELECT %d", db);
    if (reply == NULL)
      return MQG_REG_UNAVAILABLE;
    freeReplyObject(reply);
  }
  return MQG_REG_OK;
}

/* --- the Lua library ----------------------------------------------------- */

mqg_reg_status mqg_registry_load_library(mqg_registry *r) {
  if (r->c == NULL)
    return io_fail(r);
  const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", mqg_lua_library};
  size_t lens[] = {8, 4, 7, mqg_lua_library_len};
  redisReply *reply = redisCommandArgv(r->c, 4, argv, lens);
  if (reply == NULL)
    return io_fail(r);
  mqg_reg_status s = MQG_REG_OK;
  if (reply->type == REDIS_REPLY_ERROR)
    s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                       "cannot load the registry's Redis Functions library "
                       "(Redis 7 or later needed): %s",
                       reply->str);
  freeReplyObject(reply);
  return s;
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

#define FCALL_MAX_ARGS 12

/* fcall calls library function |fn| with the prefix and |argc| arguments;
 * on MQG_REG_OK |*out| (if not NULL) receives the reply. When Redis does not
 * know the function (a fresh Redis, or one flushed), the library is loaded
 * and the call made once more. */
static mqg_reg_status fcall(mqg_registry *r, const char *fn, int argc,
                            const char *const *args, redisReply **out) {
  const char *argv[4 + FCALL_MAX_ARGS] = {"FCALL", fn, "0", r->prefix};
  size_t lens[4 + FCALL_MAX_ARGS];
  if (out)
    *out = NULL;
  if (r->c == NULL)
    return io_fail(r);
  for (int i = 0; i < argc && i < FCALL_MAX_ARGS; i++)
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
  mqg_reg_status s = fcall(r, fn, argc, args, &reply);
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
                        nb, na, active ? "1" : "0"};
  return fcall_status(r, "mqgate_ca_register", 8, args, NULL, 0);
}

mqg_reg_status mqg_registry_ca_set(mqg_registry *r, const char *id,
                                   const char *action) {
  const char *args[] = {id, action};
  return fcall_status(r, "mqgate_ca_set", 2, args, NULL, 0);
}

mqg_reg_status mqg_registry_ca_delete(mqg_registry *r, const char *id) {
  const char *args[] = {id};
  return fcall_status(r, "mqgate_ca_delete", 1, args, NULL, 0);
}

mqg_reg_status mqg_registry_cert_register(mqg_registry *r,
                                          const mqg_certinfo *ci,
                                          const char *pem, const char *ca_id,
                                          const char *client_id, int activate) {
  char nb[24], na[24];
  snprintf(nb, sizeof(nb), "%" PRId64, ci->not_before);
  snprintf(na, sizeof(na), "%" PRId64, ci->not_after);
  const char *args[] = {ci->fingerprint, pem, ci->serial, ci->cn, ci->ou,
                        ca_id, nb, na, client_id ? client_id : "",
                        activate ? "1" : "0", "manual"};
  return fcall_status(r, "mqgate_cert_register", 11, args, NULL, 0);
}

mqg_reg_status mqg_registry_cert_set(mqg_registry *r, const char *fp,
                                     const char *action, char status[32]) {
  const char *args[] = {fp, action};
  return fcall_status(r, "mqgate_cert_set", 2, args, status, 32);
}

mqg_reg_status mqg_registry_cert_delete(mqg_registry *r, const char *fp) {
  const char *args[] = {fp};
  return fcall_status(r, "mqgate_cert_delete", 1, args, NULL, 0);
}

mqg_reg_status mqg_registry_settings_set(mqg_registry *r, const char *key,
                                         const char *value) {
  const char *args[] = {key, value};
  return fcall_status(r, "mqgate_settings_set", 2, args, NULL, 0);
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
    if (k == NULL || v == NULL)
      continue;
    if (strcmp(k, "registration") == 0)
      snprintf(out->registration, sizeof(out->registration), "%s", v);
    else if (strcmp(k, "tls_min") == 0)
      snprintf(out->tls_min, sizeof(out->tls_min), "%s", v);
    else if (strcmp(k, "tls_max") == 0)
      snprintf(out->tls_max, sizeof(out->tls_max), "%s", v);
    else if (strcmp(k, "client_id_mode") == 0)
      snprintf(out->client_id_mode, sizeof(out->client_id_mode), "%s", v);
  }
  freeReplyObject(reply);
  return MQG_REG_OK;
}

/* --- ids ------------------------------------------------------------------- */

/* glob_escape writes |s| to |out| (|len| bytes) with SCAN's glob
 * metacharacters escaped; -1 if it does not fit. */
static int glob_escape(const char *s, char *out, size_t len) {
  size_t o = 0;
  for (; *s; s++) {
    if (o + 3 > len)
      return -1;
    if (strchr("*?[]\\", *s) != NULL)
      out[o++] = '\\';
    out[o++] = *s;
  }
  out[o] = '\0';
  return 0;
}

/* match_add notes candidate |id| for |hex|: the first goes to |out|, the
 * count tells whether it is unique. */
static void match_add(const char *id, const char *hex, char out[65],
                      int *count) {
  if (strlen(id) != 64 || strncmp(id, hex, strlen(hex)) != 0)
    return;
  if ((*count)++ == 0)
    memcpy(out, id, 65);
}

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

  int count = 0;
  if (kind == MQG_REG_KIND_CA) {
    redisReply *reply = registry__command(r, "SMEMBERS %s:cas", r->prefix);
    if (reply == NULL)
      return MQG_REG_UNAVAILABLE;
    for (size_t i = 0; i < reply->elements; i++)
      if (reply->element[i]->str)
        match_add(reply->element[i]->str, hex, out, &count);
    freeReplyObject(reply);
  } else {
    char pat[2 * REGISTRY_PREFIX_MAX + 100], esc[2 * REGISTRY_PREFIX_MAX + 1];
    if (glob_escape(r->prefix, esc, sizeof(esc)) < 0)
      return registry__fail(r, MQG_REG_INPUT, "input", "prefix too long");
    snprintf(pat, sizeof(pat), "%s:cert:%s*", esc, hex);
    size_t plen = strlen(r->prefix) + 6; /* "P:cert:" minus the NUL */
    char cursor[32] = "0";
    do {
      redisReply *reply = registry__command(r, "SCAN %s MATCH %s COUNT 1000",
                                            cursor, pat);
      if (reply == NULL)
        return MQG_REG_UNAVAILABLE;
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        freeReplyObject(reply);
        return registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                              "unexpected SCAN reply");
      }
      snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
      redisReply *keys = reply->element[1];
      for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->str && keys->element[i]->len > plen)
          match_add(keys->element[i]->str + plen, hex, out, &count);
      freeReplyObject(reply);
    } while (strcmp(cursor, "0") != 0 && count < 2);
  }
  if (count == 1)
    return MQG_REG_OK;
  if (count == 0)
    return registry__fail(r, MQG_REG_INPUT, "notfound",
                          "no registered %s matches '%s'", what, in);
  return registry__fail(r, MQG_REG_INPUT, "input",
                        "'%s' matches several %ss; give more digits", in, what);
}
