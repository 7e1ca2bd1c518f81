/* registry_list.c: see registry.h. Reading records, listing and searching.
 *
 * A listing picks its candidates in one of two ways:
 *   - only a not_after window: ZCOUNT and ZRANGEBYSCORE ... LIMIT on P:certs
 *     give the total and the page directly (members of equal score come in
 *     fingerprint order, which is the order promised);
 *   - serial/CN/OU/status/CA filters: SINTER of their index sets, ZMSCORE on
 *     P:certs for the not_after of each, window and sort here.
 * The page's records are then read with one pipeline of HGETALLs. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

static const char empty[] = "";

/* --- records -------------------------------------------------------------- */

static int64_t to_i64(const char *s) { return s ? strtoll(s, NULL, 10) : 0; }

/* hash_get returns field |name| of the HGETALL reply |h|, or "". */
static const char *hash_get(const redisReply *h, const char *name) {
  for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements;
       i += 2)
    if (h->element[i]->str && strcmp(h->element[i]->str, name) == 0)
      return h->element[i + 1]->str ? h->element[i + 1]->str : empty;
  return empty;
}

/* ca_from_hash fills |c| from HGETALL reply |h|, taking it over. */
static void ca_from_hash(mqg_ca_record *c, redisReply *h) {
  memset(c, 0, sizeof(*c));
  c->owner_ = h;
  c->id = hash_get(h, "id");
  c->pem = hash_get(h, "pem");
  c->subject = hash_get(h, "subject");
  c->cn = hash_get(h, "cn");
  c->serial = hash_get(h, "serial");
  c->status = hash_get(h, "status");
  c->not_before = to_i64(hash_get(h, "not_before"));
  c->not_after = to_i64(hash_get(h, "not_after"));
  c->registered_at = to_i64(hash_get(h, "registered_at"));
}

static void cert_from_hash(mqg_cert_record *c, redisReply *h) {
  memset(c, 0, sizeof(*c));
  c->owner_ = h;
  c->fp = hash_get(h, "fp");
  c->pem = hash_get(h, "pem");
  c->serial = hash_get(h, "serial");
  c->cn = hash_get(h, "cn");
  c->ou = hash_get(h, "ou");
  c->ca = hash_get(h, "ca");
  c->client_id = hash_get(h, "client_id");
  c->source = hash_get(h, "source");
  c->status = hash_get(h, "status");
  c->not_before = to_i64(hash_get(h, "not_before"));
  c->not_after = to_i64(hash_get(h, "not_after"));
  c->registered_at = to_i64(hash_get(h, "registered_at"));
  c->status_changed_at = to_i64(hash_get(h, "status_changed_at"));
}

void mqg_ca_record_cleanup(mqg_ca_record *c) {
  if (c == NULL)
    return;
  if (c->owner_)
    freeReplyObject(c->owner_);
  memset(c, 0, sizeof(*c));
}

void mqg_ca_list_free(mqg_ca_record *list, size_t n) {
  for (size_t i = 0; list && i < n; i++)
    mqg_ca_record_cleanup(&list[i]);
  free(list);
}

void mqg_cert_record_cleanup(mqg_cert_record *c) {
  if (c == NULL)
    return;
  if (c->owner_)
    freeReplyObject(c->owner_);
  memset(c, 0, sizeof(*c));
}

void mqg_cert_details_cleanup(mqg_cert_details *d) {
  if (d == NULL)
    return;
  mqg_cert_record_cleanup(&d->cert);
  free(d->clients);
  if (d->owner_)
    freeReplyObject(d->owner_);
  memset(d, 0, sizeof(*d));
}

void mqg_cert_page_cleanup(mqg_cert_page *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; p->certs && i < p->n; i++)
    mqg_cert_record_cleanup(&p->certs[i]);
  free(p->certs);
  memset(p, 0, sizeof(*p));
}

void mqg_cert_filter_init(mqg_cert_filter *f) {
  memset(f, 0, sizeof(*f));
  f->not_after_from = INT64_MIN;
  f->not_after_until = INT64_MAX;
  f->page = 1;
  f->page_size = 50;
}

static int is_empty_hash(const redisReply *h) {
  return h->type != REDIS_REPLY_ARRAY || h->elements == 0;
}

/* --- CAs ------------------------------------------------------------------- */

/* ca_counts queues the two counts of CA |id|'s client certificates. */
static int ca_counts_append(mqg_registry *r, const char *id) {
  return registry__append(r, "SCARD %s:idx:ca:%s", r->prefix, id) < 0 ||
                 registry__append(r, "SINTERCARD 2 %s:idx:ca:%s "
                                     "%s:idx:status:active",
                                  r->prefix, id, r->prefix) < 0
             ? -1
             : 0;
}

static int ca_counts_read(mqg_registry *r, mqg_ca_record *c) {
  for (int i = 0; i < 2; i++) {
    redisReply *n = registry__reply(r);
    if (n == NULL)
      return -1;
    if (n->type == REDIS_REPLY_INTEGER)
      *(i == 0 ? &c->certs : &c->active_certs) = n->integer;
    freeReplyObject(n);
  }
  return 0;
}

mqg_reg_status mqg_registry_ca_get(mqg_registry *r, const char *id,
                                   mqg_ca_record *out) {
  memset(out, 0, sizeof(*out));
  if (registry__append(r, "HGETALL %s:ca:%s", r->prefix, id) < 0 ||
      ca_counts_append(r, id) < 0)
    return MQG_REG_UNAVAILABLE;
  redisReply *h = registry__reply(r);
  if (h == NULL)
    return MQG_REG_UNAVAILABLE;
  ca_from_hash(out, h);
  if (ca_counts_read(r, out) < 0) {
    mqg_ca_record_cleanup(out);
    return MQG_REG_UNAVAILABLE;
  }
  if (is_empty_hash(h)) {
    mqg_ca_record_cleanup(out);
    return registry__fail(r, MQG_REG_INPUT, "notfound",
                          "CA %.16s is not registered", id);
  }
  return MQG_REG_OK;
}

static int ca_cmp(const void *a, const void *b) {
  const mqg_ca_record *x = a, *y = b;
  int c = strcmp(x->cn, y->cn);
  return c ? c : strcmp(x->id, y->id);
}

mqg_reg_status mqg_registry_ca_list(mqg_registry *r, mqg_ca_record **out,
                                    size_t *n) {
  *out = NULL;
  *n = 0;
  redisReply *ids = registry__command(r, "SMEMBERS %s:cas", r->prefix);
  if (ids == NULL)
    return MQG_REG_UNAVAILABLE;
  mqg_reg_status s = MQG_REG_OK;
  mqg_ca_record *list = calloc(ids->elements + 1, sizeof(*list));
  size_t got = 0;
  if (list == NULL) {
    s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
    goto out;
  }
  for (size_t i = 0; i < ids->elements; i++)
    if (registry__append(r, "HGETALL %s:ca:%s", r->prefix,
                         ids->element[i]->str) < 0 ||
        ca_counts_append(r, ids->element[i]->str) < 0) {
      s = MQG_REG_UNAVAILABLE;
      goto out;
    }
  for (size_t i = 0; i < ids->elements; i++) {
    redisReply *h = registry__reply(r);
    if (h == NULL) {
      s = MQG_REG_UNAVAILABLE;
      goto out;
    }
    ca_from_hash(&list[got], h);
    if (ca_counts_read(r, &list[got]) < 0) {
      got++;
      s = MQG_REG_UNAVAILABLE;
      goto out;
    }
    if (is_empty_hash(h)) /* deleted since SMEMBERS */
      mqg_ca_record_cleanup(&list[got]);
    else
      got++;
  }
  qsort(list, got, sizeof(*list), ca_cmp);
out:
  freeReplyObject(ids);
  if (s != MQG_REG_OK) {
    mqg_ca_list_free(list, got);
    return s;
  }
  *out = list;
  *n = got;
  return MQG_REG_OK;
}

/* --- certificates ---------------------------------------------------------- */

mqg_reg_status mqg_registry_cert_get(mqg_registry *r, const char *fp,
                                     mqg_cert_details *out) {
  memset(out, 0, sizeof(*out));
  redisReply *h = registry__command(r, "HGETALL %s:cert:%s", r->prefix, fp);
  if (h == NULL)
    return MQG_REG_UNAVAILABLE;
  cert_from_hash(&out->cert, h);
  if (is_empty_hash(h)) {
    mqg_cert_details_cleanup(out);
    return registry__fail(r, MQG_REG_INPUT, "notfound",
                          "certificate %.16s is not registered", fp);
  }
  redisReply *a = registry__command(r, "ZREVRANGE %s:assoc:%s 0 -1 WITHSCORES",
                                    r->prefix, fp);
  if (a == NULL) {
    mqg_cert_details_cleanup(out);
    return MQG_REG_UNAVAILABLE;
  }
  out->owner_ = a;
  size_t n = a->type == REDIS_REPLY_ARRAY ? a->elements / 2 : 0;
  out->clients = calloc(n + 1, sizeof(*out->clients));
  if (out->clients == NULL) {
    mqg_cert_details_cleanup(out);
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    out->clients[i].client_id = a->element[2 * i]->str;
    out->clients[i].last_seen = to_i64(a->element[2 * i + 1]->str);
  }
  out->nclients = n;
  return MQG_REG_OK;
}

/* A candidate of a filtered listing: its not_after and fingerprint (borrowed
 * from the SINTER reply). */
typedef struct {
  int64_t score;
  const char *fp;
} candidate;

static int candidate_cmp(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  if (x->score != y->score)
    return x->score < y->score ? -1 : 1;
  return strcmp(x->fp, y->fp);
}

#define ZMSCORE_CHUNK 500

/* filtered_candidates intersects the index sets the filter names, keeps
 * the members whose not_after lies in the window and sorts them. |*out|
 * borrows from |*owner|, which the caller frees. */
static mqg_reg_status filtered_candidates(mqg_registry *r,
                                          const mqg_cert_filter *f,
                                          redisReply **owner, candidate **out,
                                          size_t *n) {
  const char *names[] = {"serial", "cn", "ou", "status", "ca"};
  const char *values[] = {f->serial, f->cn, f->ou, f->status, f->ca};
  char *keys[5];
  const char *argv[6];
  size_t lens[6];
  int argc = 0;
  mqg_reg_status s = MQG_REG_OK;

  *owner = NULL;
  *out = NULL;
  *n = 0;
  argv[argc] = "SINTER";
  lens[argc++] = 6;
  for (int i = 0; i < 5; i++) {
    if (values[i] == NULL)
      continue;
    if (asprintf(&keys[argc - 1], "%s:idx:%s:%s", r->prefix, names[i],
                 values[i]) < 0) {
      s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
      break;
    }
    argv[argc] = keys[argc - 1];
    lens[argc] = strlen(argv[argc]);
    argc++;
  }
  redisReply *members = NULL;
  if (s == MQG_REG_OK &&
      (members = registry__command_argv(r, argc, argv, lens)) == NULL)
    s = MQG_REG_UNAVAILABLE;
  for (int i = 1; i < argc; i++)
    free(keys[i - 1]);
  if (s != MQG_REG_OK)
    return s;

  if (members->type != REDIS_REPLY_ARRAY) {
    freeReplyObject(members);
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                          "unexpected SINTER reply");
  }
  *owner = members;
  candidate *list = calloc(members->elements + 1, sizeof(*list));
  if (list == NULL)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  size_t got = 0;
  for (size_t base = 0; base < members->elements; base += ZMSCORE_CHUNK) {
    size_t m = members->elements - base;
    if (m > ZMSCORE_CHUNK)
      m = ZMSCORE_CHUNK;
    const char *zargv[2 + ZMSCORE_CHUNK];
    size_t zlens[2 + ZMSCORE_CHUNK];
    char zkey[REGISTRY_PREFIX_MAX + 8];
    snprintf(zkey, sizeof(zkey), "%s:certs", r->prefix);
    zargv[0] = "ZMSCORE";
    zlens[0] = 7;
    zargv[1] = zkey;
    zlens[1] = strlen(zkey);
    for (size_t i = 0; i < m; i++) {
      zargv[2 + i] = members->element[base + i]->str;
      zlens[2 + i] = members->element[base + i]->len;
    }
    redisReply *scores =
        registry__command_argv(r, (int)(2 + m), zargv, zlens);
    if (scores == NULL || scores->type != REDIS_REPLY_ARRAY ||
        scores->elements != m) {
      if (scores)
        freeReplyObject(scores);
      free(list);
      return scores ? registry__fail(r, MQG_REG_UNAVAILABLE, "redis",
                                     "unexpected ZMSCORE reply")
                    : MQG_REG_UNAVAILABLE;
    }
    for (size_t i = 0; i < m; i++) {
      const redisReply *sc = scores->element[i];
      if (sc->type != REDIS_REPLY_STRING) /* deleted meanwhile */
        continue;
      int64_t v = strtoll(sc->str, NULL, 10);
      if (v < f->not_after_from || v >= f->not_after_until)
        continue;
      list[got].score = v;
      list[got].fp = members->element[base + i]->str;
      got++;
    }
    freeReplyObject(scores);
  }
  qsort(list, got, sizeof(*list), candidate_cmp);
  *out = list;
  *n = got;
  return MQG_REG_OK;
}

/* read_page reads the records of |fps[0..n)| into |out| with one pipeline;
 * certificates deleted meanwhile are left out. */
static mqg_reg_status read_page(mqg_registry *r, const char *const *fps,
                                size_t n, mqg_cert_page *out) {
  out->certs = calloc(n + 1, sizeof(*out->certs));
  if (out->certs == NULL)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  for (size_t i = 0; i < n; i++)
    if (registry__append(r, "HGETALL %s:cert:%s", r->prefix, fps[i]) < 0)
      return MQG_REG_UNAVAILABLE;
  for (size_t i = 0; i < n; i++) {
    redisReply *h = registry__reply(r);
    if (h == NULL)
      return MQG_REG_UNAVAILABLE;
    if (is_empty_hash(h)) {
      freeReplyObject(h);
      continue;
    }
    cert_from_hash(&out->certs[out->n++], h);
  }
  return MQG_REG_OK;
}

mqg_reg_status mqg_registry_cert_list(mqg_registry *r, const mqg_cert_filter *f,
                                      mqg_cert_page *out) {
  memset(out, 0, sizeof(*out));
  if (f->page < 1 || f->page_size < 1 || f->page_size > MQG_REG_PAGE_MAX ||
      f->page > SIZE_MAX / f->page_size)
    return registry__fail(r, MQG_REG_INPUT, "input",
                          "page must be >= 1 and page size 1..%d",
                          MQG_REG_PAGE_MAX);
  size_t offset = (f->page - 1) * f->page_size;
  if (f->not_after_from >= f->not_after_until)
    return MQG_REG_OK; /* an empty window */

  mqg_reg_status s;
  if (!f->serial && !f->cn && !f->ou && !f->status && !f->ca) {
    char min[24], max[24];
    if (f->not_after_from == INT64_MIN)
      snprintf(min, sizeof(min), "-inf");
    else
      snprintf(min, sizeof(min), "%" PRId64, f->not_after_from);
    if (f->not_after_until == INT64_MAX)
      snprintf(max, sizeof(max), "+inf");
    else
      snprintf(max, sizeof(max), "(%" PRId64, f->not_after_until);
    redisReply *count =
        registry__command(r, "ZCOUNT %s:certs %s %s", r->prefix, min, max);
    if (count == NULL)
      return MQG_REG_UNAVAILABLE;
    out->total = count->type == REDIS_REPLY_INTEGER ? (size_t)count->integer : 0;
    freeReplyObject(count);
    redisReply *fps = registry__command(
        r, "ZRANGEBYSCORE %s:certs %s %s LIMIT %llu %llu", r->prefix, min, max,
        (unsigned long long)offset, (unsigned long long)f->page_size);
    if (fps == NULL)
      return MQG_REG_UNAVAILABLE;
    const char **list = calloc(fps->elements + 1, sizeof(*list));
    if (list == NULL) {
      freeReplyObject(fps);
      return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
    }
    for (size_t i = 0; i < fps->elements; i++)
      list[i] = fps->element[i]->str;
    s = read_page(r, list, fps->elements, out);
    free(list);
    freeReplyObject(fps);
  } else {
    redisReply *owner;
    candidate *cands;
    size_t n;
    s = filtered_candidates(r, f, &owner, &cands, &n);
    if (s == MQG_REG_OK) {
      out->total = n;
      size_t m = offset < n ? n - offset : 0;
      if (m > f->page_size)
        m = f->page_size;
      const char **list = calloc(m + 1, sizeof(*list));
      if (list == NULL) {
        s = registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
      } else {
        for (size_t i = 0; i < m; i++)
          list[i] = cands[offset + i].fp;
        s = read_page(r, list, m, out);
        free(list);
      }
    }
    free(cands);
    if (owner)
      freeReplyObject(owner);
  }
  if (s != MQG_REG_OK)
    mqg_cert_page_cleanup(out);
  return s;
}
