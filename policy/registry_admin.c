/* registry_admin.c: see registry_admin.h. */
#include "registry_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "hex.h"
#include "registry_internal.h"

/* --- tokens -------------------------------------------------------------------- */

int mqg_token_generate(char out[MQG_TOKEN_LEN + 1]) {
  uint8_t raw[32];
  char b64[48];
  if (RAND_bytes(raw, sizeof(raw)) != 1)
    return -1;
  size_t n = EVP_EncodeBlock((uint8_t *)b64, raw, sizeof(raw)); /* 44 */
  while (n > 0 && b64[n - 1] == '=')
    n--;
  for (size_t i = 0; i < n; i++)
    b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
  snprintf(out, MQG_TOKEN_LEN + 1, "mqg_%.*s", (int)n, b64);
  return 0;
}

void mqg_token_hash(const char *token, char out[65]) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)token, strlen(token), md);
  mqg_hex_encode(md, sizeof(md), out);
}

mqg_reg_status mqg_registry_token_create(mqg_registry *r, const char *name,
                                         const char *role, const char *hash) {
  const char *args[] = {name, role, hash, r->actor};
  return registry__fcall(r, "mqgate_token_create", 0, 4, args, NULL);
}

mqg_reg_status mqg_registry_token_revoke(mqg_registry *r, const char *name) {
  const char *args[] = {name, r->actor};
  return registry__fcall(r, "mqgate_token_revoke", 0, 2, args, NULL);
}

static const char *field(const redisReply *h, const char *name) {
  for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
    if (h->element[i]->str && strcmp(h->element[i]->str, name) == 0)
      return h->element[i + 1]->str ? h->element[i + 1]->str : "";
  return "";
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const mqg_token_record *)a)->name,
                ((const mqg_token_record *)b)->name);
}

mqg_reg_status mqg_registry_token_list(mqg_registry *r, mqg_token_list *out) {
  memset(out, 0, sizeof(*out));
  redisReply *names = registry__command(r, "HGETALL %s:tokens", r->prefix);
  if (names == NULL)
    return MQG_REG_UNAVAILABLE;
  size_t n = names->type == REDIS_REPLY_ARRAY ? names->elements / 2 : 0;
  out->owners_ = calloc(n + 1, sizeof(*out->owners_));
  out->tokens = calloc(n + 1, sizeof(*out->tokens));
  if (out->owners_ == NULL || out->tokens == NULL) {
    freeReplyObject(names);
    mqg_token_list_cleanup(out);
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  }
  out->owners_[out->nowners_++] = names;
  /* Tokens are few (people and pipelines): one pipeline of HGETALLs. */
  for (size_t i = 0; i < n; i++)
    if (registry__append(r, "HGETALL %s:token:%s", r->prefix,
                         names->element[2 * i + 1]->str) < 0) {
      mqg_token_list_cleanup(out);
      return MQG_REG_UNAVAILABLE;
    }
  mqg_reg_status s = MQG_REG_OK;
  for (size_t i = 0; i < n; i++) {
    redisReply *h = registry__reply(r);
    if (h == NULL) { /* the connection is closed: no more replies */
      s = MQG_REG_UNAVAILABLE;
      break;
    }
    out->owners_[out->nowners_++] = h;
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0)
      continue; /* revoked meanwhile */
    mqg_token_record *t = &out->tokens[out->n++];
    t->name = names->element[2 * i]->str;
    t->role = field(h, "role");
    t->created_by = field(h, "created_by");
    t->created_at = strtoll(field(h, "created_at"), NULL, 10);
  }
  if (s != MQG_REG_OK) {
    mqg_token_list_cleanup(out);
    return s;
  }
  qsort(out->tokens, out->n, sizeof(*out->tokens), by_name);
  return MQG_REG_OK;
}

void mqg_token_list_cleanup(mqg_token_list *l) {
  if (l == NULL)
    return;
  for (size_t i = 0; l->owners_ && i < l->nowners_; i++)
    freeReplyObject(l->owners_[i]);
  free(l->owners_);
  free(l->tokens);
  memset(l, 0, sizeof(*l));
}

mqg_reg_status mqg_registry_api_auth(mqg_registry *r, const char *hash,
                                     unsigned limit, char name[65],
                                     char role[16]) {
  char lim[16];
  snprintf(lim, sizeof(lim), "%u", limit);
  const char *args[] = {hash, lim};
  redisReply *reply;
  name[0] = role[0] = '\0';
  mqg_reg_status s = registry__fcall(r, "mqgate_api_auth", 0, 2, args, &reply);
  if (s != MQG_REG_OK)
    return s;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->str && reply->element[1]->str) {
    snprintf(name, 65, "%s", reply->element[0]->str);
    snprintf(role, 16, "%s", reply->element[1]->str);
  }
  freeReplyObject(reply);
  return MQG_REG_OK;
}

/* --- audit log ------------------------------------------------------------------ */

#define AUDIT_CHUNK 500
#define AUDIT_SCAN_MAX 20000 /* entries one filtered read goes through */

static int cursor_ok(const char *c) {
  size_t n = strlen(c), digits = strspn(c, "0123456789");
  return n < MQG_AUDIT_ID_MAX - 2 && digits > 0 && c[digits] == '-' &&
         strspn(c + digits + 1, "0123456789") == n - digits - 1 && n > digits + 1;
}

static int own(mqg_audit_page *p, redisReply *reply) {
  redisReply **o = realloc(p->owners_, (p->nowners_ + 1) * sizeof(*o));
  if (o == NULL)
    return -1;
  o[p->nowners_++] = reply;
  p->owners_ = o;
  return 0;
}

static void entry_from(mqg_audit_entry *e, const redisReply *item) {
  const redisReply *f = item->element[1];
  e->id = item->element[0]->str;
  e->time_ms = strtoll(e->id, NULL, 10);
  e->actor = field(f, "actor");
  e->action = field(f, "action");
  e->object = field(f, "object");
  e->before = field(f, "before");
  e->after = field(f, "after");
  e->detail = field(f, "detail");
}

static int is_entry(const redisReply *item) {
  return item->type == REDIS_REPLY_ARRAY && item->elements == 2 &&
         item->element[0]->type == REDIS_REPLY_STRING &&
         item->element[1]->type == REDIS_REPLY_ARRAY;
}

mqg_reg_status mqg_registry_audit_list(mqg_registry *r, const char *object,
                                       size_t limit, const char *cursor,
                                       mqg_audit_page *out) {
  memset(out, 0, sizeof(*out));
  if (limit < 1 || limit > MQG_AUDIT_LIMIT_MAX)
    return registry__fail(r, MQG_REG_INPUT, "input",
                          "limit must be 1..%d", MQG_AUDIT_LIMIT_MAX);
  char end[MQG_AUDIT_ID_MAX] = "+";
  if (cursor != NULL && cursor[0] != '\0') {
    if (!cursor_ok(cursor))
      return registry__fail(r, MQG_REG_INPUT, "input",
                            "'%.60s' is not an audit cursor (an entry ID "
                            "such as 1767312000000-0)",
                            cursor);
    snprintf(end, sizeof(end), "(%s", cursor);
  }
  int filtered = object != NULL && object[0] != '\0';
  out->entries = calloc(limit, sizeof(*out->entries));
  if (out->entries == NULL)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  size_t scanned = 0;
  for (;;) {
    /* Unfiltered: the page plus one entry tells whether more follow. */
    size_t count = filtered ? AUDIT_CHUNK : limit + 1;
    redisReply *reply = registry__command(r, "XREVRANGE %s:audit %s - COUNT %d",
                                          r->prefix, end, (int)count);
    if (reply == NULL || own(out, reply) < 0) {
      freeReplyObject(reply); /* NULL-safe only when own() failed */
      mqg_audit_page_cleanup(out);
      return MQG_REG_UNAVAILABLE;
    }
    size_t got = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
    const char *last = NULL;
    for (size_t i = 0; i < got; i++) {
      const redisReply *item = reply->element[i];
      if (!is_entry(item))
        continue;
      if (out->n == limit) { /* one more exists: the page ends before it */
        snprintf(out->next_cursor, sizeof(out->next_cursor), "%s",
                 out->entries[limit - 1].id);
        return MQG_REG_OK;
      }
      last = item->element[0]->str;
      mqg_audit_entry e;
      entry_from(&e, item);
      if (!filtered || strcmp(e.object, object) == 0)
        out->entries[out->n++] = e;
    }
    scanned += got;
    if (got < count || last == NULL)
      return MQG_REG_OK; /* the stream's start */
    if (scanned >= AUDIT_SCAN_MAX) {
      /* Bounded work per call: the caller goes on from here. */
      snprintf(out->next_cursor, sizeof(out->next_cursor), "%s", last);
      return MQG_REG_OK;
    }
    snprintf(end, sizeof(end), "(%s", last);
  }
}

void mqg_audit_page_cleanup(mqg_audit_page *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; p->owners_ && i < p->nowners_; i++)
    freeReplyObject(p->owners_[i]);
  free(p->owners_);
  free(p->entries);
  memset(p, 0, sizeof(*p));
}

/* --- proxies ------------------------------------------------------------------ */

#define PROXIES_MAX 1000

static int by_id(const void *a, const void *b) {
  return strcmp(((const mqg_proxy_record *)a)->id, ((const mqg_proxy_record *)b)->id);
}

mqg_reg_status mqg_registry_proxies(mqg_registry *r, int64_t now_ms,
                                    mqg_proxy_list *out) {
  memset(out, 0, sizeof(*out));
  long long from = (long long)(now_ms - MQG_PROXY_STALE_MS);
  redisReply *trim = registry__command(r, "ZREMRANGEBYSCORE %s:proxies -inf (%lld",
                                       r->prefix, from);
  if (trim == NULL)
    return MQG_REG_UNAVAILABLE;
  freeReplyObject(trim);
  redisReply *ids = registry__command(
      r, "ZRANGEBYSCORE %s:proxies %lld +inf WITHSCORES LIMIT 0 %d", r->prefix, from,
      PROXIES_MAX);
  if (ids == NULL)
    return MQG_REG_UNAVAILABLE;
  out->owners_[0] = ids;
  size_t n = ids->type == REDIS_REPLY_ARRAY ? ids->elements / 2 : 0;
  if (n == 0)
    return MQG_REG_OK;
  const char **argv = calloc(n + 1, sizeof(*argv));
  size_t *lens = calloc(n + 1, sizeof(*lens));
  char **keys = calloc(n, sizeof(*keys));
  out->proxies = calloc(n, sizeof(*out->proxies));
  mqg_reg_status s = MQG_REG_OK;
  if (argv == NULL || lens == NULL || keys == NULL || out->proxies == NULL) {
    s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
    goto done;
  }
  argv[0] = "MGET";
  lens[0] = 4;
  for (size_t i = 0; i < n; i++) {
    const char *id = ids->element[2 * i]->str ? ids->element[2 * i]->str : "";
    if (asprintf(&keys[i], "%s:proxy:%s", r->prefix, id) < 0) {
      keys[i] = NULL;
      s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
      goto done;
    }
    argv[i + 1] = keys[i];
    lens[i + 1] = strlen(keys[i]);
  }
  redisReply *vals = registry__command_argv(r, (int)n + 1, argv, lens);
  if (vals == NULL) {
    s = MQG_REG_UNAVAILABLE;
    goto done;
  }
  out->owners_[1] = vals;
  for (size_t i = 0; vals->type == REDIS_REPLY_ARRAY && i < n && i < vals->elements; i++) {
    if (vals->element[i]->type != REDIS_REPLY_STRING)
      continue; /* expired (its TTL) before the set was trimmed */
    mqg_proxy_record *p = &out->proxies[out->n++];
    p->id = ids->element[2 * i]->str;
    p->json = vals->element[i]->str;
    p->seen_ms = strtoll(ids->element[2 * i + 1]->str ? ids->element[2 * i + 1]->str : "0",
                         NULL, 10);
  }
  qsort(out->proxies, out->n, sizeof(*out->proxies), by_id);
done:
  for (size_t i = 0; keys && i < n; i++)
    free(keys[i]);
  free(keys);
  free(argv);
  free(lens);
  if (s != MQG_REG_OK)
    mqg_proxy_list_cleanup(out);
  return s;
}

void mqg_proxy_list_cleanup(mqg_proxy_list *l) {
  if (l == NULL)
    return;
  freeReplyObject(l->owners_[0]);
  freeReplyObject(l->owners_[1]);
  free(l->proxies);
  memset(l, 0, sizeof(*l));
}
