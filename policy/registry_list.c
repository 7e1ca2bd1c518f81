/* registry_list.c: see registry.h. Reading records, listing and searching:
 * each read is one read-only function call (FCALL_RO, policy/lua/40-read.lua),
 * so it sees one instant of the registry and costs Redis O(page + log n).
 * Records borrow their strings from the reply, which the record (or the
 * page, or the list) owns. */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "registry_internal.h"

static const char empty[] = "";

static int64_t to_i64(const char *s) { return s ? strtoll(s, NULL, 10) : 0; }

/* str returns element |i| of array reply |a| as a string, "" if missing. */
static const char *str(const redisReply *a, size_t i) {
  if (a == NULL || a->type != REDIS_REPLY_ARRAY || i >= a->elements)
    return empty;
  const redisReply *e = a->element[i];
  return e->type == REDIS_REPLY_STRING && e->str ? e->str : empty;
}

static mqg_reg_status bad_reply(mqg_registry *r, const char *what) {
  return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "unexpected %s reply", what);
}

/* --- records -------------------------------------------------------------- */

/* cert_from_row fills |c| from a listing row (fp, serial, cn, ou, ca, nb,
 * na, cid, src, status, reg, chg, ren) starting at |row|[|at|]. */
static void cert_from_row(mqg_cert_record *c, const redisReply *row, size_t at) {
  memset(c, 0, sizeof(*c));
  c->fp = str(row, at + 0);
  c->serial = str(row, at + 1);
  c->cn = str(row, at + 2);
  c->ou = str(row, at + 3);
  c->ca = str(row, at + 4);
  c->not_before = to_i64(str(row, at + 5));
  c->not_after = to_i64(str(row, at + 6));
  c->client_id = str(row, at + 7);
  c->source = str(row, at + 8);
  c->status = str(row, at + 9);
  c->registered_at = to_i64(str(row, at + 10));
  c->status_changed_at = to_i64(str(row, at + 11));
  c->renews = str(row, at + 12);
}

/* CA rows: id subject cn serial not_before not_after status registered_at
 * active_certs [pem] certs. */
static void ca_from_row(mqg_ca_record *c, const redisReply *row, int with_pem) {
  memset(c, 0, sizeof(*c));
  c->id = str(row, 0);
  c->subject = str(row, 1);
  c->cn = str(row, 2);
  c->serial = str(row, 3);
  c->not_before = to_i64(str(row, 4));
  c->not_after = to_i64(str(row, 5));
  c->status = str(row, 6);
  c->registered_at = to_i64(str(row, 7));
  c->active_certs = to_i64(str(row, 8));
  c->pem = with_pem ? str(row, 9) : empty;
  c->certs = to_i64(str(row, with_pem ? 10 : 9));
}

void mqg_ca_record_cleanup(mqg_ca_record *c) {
  if (c == NULL)
    return;
  if (c->owner_)
    freeReplyObject(c->owner_);
  memset(c, 0, sizeof(*c));
}

/* A list's records share one reply, kept by the hidden record past the
 * last. */
void mqg_ca_list_free(mqg_ca_record *list, size_t n) {
  if (list == NULL)
    return;
  mqg_ca_record_cleanup(&list[n]);
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
  free(p->certs);
  for (size_t i = 0; i < MQG_REG_PAGE_CALLS; i++)
    if (p->owners_[i])
      freeReplyObject(p->owners_[i]);
  memset(p, 0, sizeof(*p));
}

void mqg_cert_filter_init(mqg_cert_filter *f) {
  memset(f, 0, sizeof(*f));
  f->not_after_from = INT64_MIN;
  f->not_after_until = INT64_MAX;
  f->limit = 50;
}

/* normalize_serial writes serial |in| ("0x..", colons, any case) as the
 * registry stores it (uppercase hex, whole bytes, no leading zero bytes)
 * into |out| (|len| bytes); -1 if it is not hex or does not fit. */
static int normalize_serial(const char *in, char *out, size_t len) {
  size_t n = 0;
  if (strncmp(in, "0x", 2) == 0 || strncmp(in, "0X", 2) == 0)
    in += 2;
  for (; *in; in++) {
    if (*in == ':')
      continue;
    if (!isxdigit((unsigned char)*in) || n + 1 >= len)
      return -1;
    out[n++] = (char)toupper((unsigned char)*in);
  }
  out[n] = '\0';
  if (n == 0)
    return -1;
  if (n % 2) { /* certinfo keeps whole bytes: "ABC" is 0ABC */
    if (n + 1 >= len)
      return -1;
    memmove(out + 1, out, n + 1);
    out[0] = '0';
    n++;
  }
  size_t skip = 0;
  while (n - skip > 2 && out[skip] == '0' && out[skip + 1] == '0')
    skip += 2;
  memmove(out, out + skip, n - skip + 1);
  return 0;
}

/* status_name returns the status |in| names (any case, '-' for '_') as a
 * static string, or NULL. */
static const char *status_name(const char *in) {
  static const char *const statuses[] = {"active", "inactive", "registered_inactive",
                                         "revoked"};
  char st[32];
  size_t n = 0;
  for (; in[n] != '\0'; n++) {
    if (n + 1 == sizeof(st))
      return NULL;
    st[n] = in[n] == '-' ? '_' : (char)tolower((unsigned char)in[n]);
  }
  st[n] = '\0';
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
    if (strcmp(st, statuses[i]) == 0)
      return statuses[i];
  return NULL;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#define STR_(x) #x
#define STR(x) STR_(x)

int mqg_cert_filter_set(mqg_cert_filter *f, const char *name, const char *value,
                        int64_t now, char *err, size_t errlen) {
  const char *must = NULL;
  uint64_t days;
  if (strcmp(name, "serial") == 0) {
    if (normalize_serial(value, f->serial_, sizeof(f->serial_)) == 0)
      f->serial = f->serial_;
    else
      must = "must be hex";
  } else if (strcmp(name, "cn") == 0) {
    f->cn = value;
  } else if (strcmp(name, "ou") == 0) {
    f->ou = value;
  } else if (strcmp(name, "status") == 0) {
    if ((f->status = status_name(value)) == NULL)
      must = "must be active, inactive, registered_inactive or revoked";
  } else if (strcmp(name, "expired") == 0) {
    if (strcmp(value, "true") == 0)
      f->not_after_until = min64(f->not_after_until, now);
    else if (strcmp(value, "false") == 0)
      f->not_after_from = now;
    else
      must = "must be true or false";
  } else if (strcmp(name, "expiring_within_days") == 0) {
    if (mqg_options_parse_uint(value, MQG_CERT_FILTER_DAYS_MAX, &days) == 0)
      f->not_after_until = min64(f->not_after_until, now + (int64_t)days * 86400);
    else
      must = "must be a number of days (0.." STR(MQG_CERT_FILTER_DAYS_MAX) ")";
  } else {
    must = "is not a filter";
  }
  if (must == NULL)
    return 0;
  snprintf(err, errlen, "%s", must);
  return -1;
}

/* --- CAs ------------------------------------------------------------------- */

mqg_reg_status mqg_registry_ca_get(mqg_registry *r, const char *id,
                                   mqg_ca_record *out) {
  memset(out, 0, sizeof(*out));
  const char *args[] = {id};
  redisReply *reply;
  mqg_reg_status s = registry__fcall(r, "mqgate_ca_read", 1, 1, args, &reply);
  if (s != MQG_REG_OK)
    return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    freeReplyObject(reply);
    return registry__fail(r, MQG_REG_INPUT, "notfound", "CA %.16s is not registered", id);
  }
  ca_from_row(out, reply, 1);
  out->owner_ = reply;
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
  redisReply *reply;
  mqg_reg_status s = registry__fcall(r, "mqgate_ca_list", 1, 0, NULL, &reply);
  if (s != MQG_REG_OK)
    return s;
  if (reply->type != REDIS_REPLY_ARRAY) {
    freeReplyObject(reply);
    return bad_reply(r, "CA list");
  }
  mqg_ca_record *list = calloc(reply->elements + 1, sizeof(*list));
  if (list == NULL) {
    freeReplyObject(reply);
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  }
  for (size_t i = 0; i < reply->elements; i++)
    ca_from_row(&list[i], reply->element[i], 0);
  qsort(list, reply->elements, sizeof(*list), ca_cmp);
  list[reply->elements].owner_ = reply;
  *out = list;
  *n = reply->elements;
  return MQG_REG_OK;
}

/* --- certificates ---------------------------------------------------------- */

mqg_reg_status mqg_registry_cert_get(mqg_registry *r, const char *fp,
                                     mqg_cert_details *out,
                                     mqg_cert_tombstone *tomb) {
  memset(out, 0, sizeof(*out));
  if (tomb)
    memset(tomb, 0, sizeof(*tomb));
  const char *args[] = {fp};
  redisReply *reply;
  mqg_reg_status s = registry__fcall(r, "mqgate_cert_read", 1, 1, args, &reply);
  if (s != MQG_REG_OK)
    return s;
  const char *kind = str(reply, 0);
  if (strcmp(kind, "tombstone") == 0) {
    int revoked = strcmp(str(reply, 1), "revoked") == 0;
    if (tomb) {
      tomb->revoked = revoked;
      tomb->revoked_at = revoked ? to_i64(str(reply, 2)) : 0;
      tomb->deleted_at = to_i64(str(reply, revoked ? 3 : 2));
      snprintf(tomb->last_status, sizeof(tomb->last_status), "%s",
               revoked ? "revoked" : str(reply, 3));
    }
    freeReplyObject(reply);
    return registry__fail(r, MQG_REG_INPUT, "notfound",
                          revoked ? "certificate %.16s was revoked and deleted (refused "
                                    "forever)"
                                  : "certificate %.16s was deleted (it does not register "
                                    "itself again)",
                          fp);
  }
  if (strcmp(kind, "cert") != 0 || reply->elements < 13) {
    int none = strcmp(kind, "none") == 0;
    freeReplyObject(reply);
    return none ? registry__fail(r, MQG_REG_INPUT, "notfound",
                                 "certificate %.16s is not registered", fp)
                : bad_reply(r, "certificate");
  }
  /* "cert", then the row without its fp, then client/last-seen pairs. */
  cert_from_row(&out->cert, reply, 0);
  out->cert.fp = fp;
  out->owner_ = reply;
  size_t n = (reply->elements - 13) / 2;
  out->clients = calloc(n + 1, sizeof(*out->clients));
  if (out->clients == NULL) {
    mqg_cert_details_cleanup(out);
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    out->clients[i].client_id = str(reply, 13 + 2 * i);
    out->clients[i].last_seen = to_i64(str(reply, 14 + 2 * i));
  }
  out->nclients = n;
  return MQG_REG_OK;
}

mqg_reg_status mqg_registry_cert_list(mqg_registry *r, const mqg_cert_filter *f,
                                      mqg_cert_page *out) {
  memset(out, 0, sizeof(*out));
  if (f->limit < 1 || f->limit > MQG_REG_PAGE_MAX)
    return registry__fail(r, MQG_REG_INPUT, "input", "a page holds 1..%d certificates",
                          MQG_REG_PAGE_MAX);
  if (f->not_after_from >= f->not_after_until)
    return MQG_REG_OK; /* an empty window */
  char from[24] = "", until[24] = "";
  if (f->not_after_from != INT64_MIN)
    snprintf(from, sizeof(from), "%" PRId64, f->not_after_from);
  if (f->not_after_until != INT64_MAX)
    snprintf(until, sizeof(until), "%" PRId64, f->not_after_until);
  out->certs = calloc(f->limit, sizeof(*out->certs));
  if (out->certs == NULL)
    return registry__fail(r, MQG_REG_UNAVAILABLE, "redis", "out of memory");
  snprintf(out->cursor, sizeof(out->cursor), "%s", f->cursor ? f->cursor : "");
  /* Calls of at most MQG_REG_CALL_ROWS records, each from where the last
   * ended, until the page is full, the listing ends, or the calls a page
   * may take are spent. */
  for (size_t call = 0; call < MQG_REG_PAGE_CALLS && out->n < f->limit; call++) {
    size_t want = f->limit - out->n;
    char limit[24];
    snprintf(limit, sizeof(limit), "%zu", want < MQG_REG_CALL_ROWS ? want : MQG_REG_CALL_ROWS);
#define OR_EMPTY(x) ((x) ? (x) : "")
    const char *args[] = {out->cursor,         limit,           OR_EMPTY(f->status),
                          OR_EMPTY(f->ca),     OR_EMPTY(f->ou), OR_EMPTY(f->cn),
                          OR_EMPTY(f->serial), from,            until};
#undef OR_EMPTY
    redisReply *reply;
    mqg_reg_status s = registry__fcall(r, "mqgate_cert_list", 1, 9, args, &reply);
    if (s != MQG_REG_OK) {
      mqg_cert_page_cleanup(out);
      return s;
    }
    out->owners_[call] = reply;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[1]->type != REDIS_REPLY_INTEGER ||
        reply->elements - 2 > want) {
      mqg_cert_page_cleanup(out);
      return bad_reply(r, "listing");
    }
    if (call == 0)
      out->total = reply->element[1]->integer;
    for (size_t i = 2; i < reply->elements; i++)
      cert_from_row(&out->certs[out->n++], reply->element[i], 0);
    snprintf(out->cursor, sizeof(out->cursor), "%s", str(reply, 0));
    if (out->cursor[0] == '\0')
      break;
  }
  return MQG_REG_OK;
}
