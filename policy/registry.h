/* registry.h: the registry's synchronous admin client, used by mqgatectl.
 *
 * One blocking hiredis connection (with timeouts) and one key prefix, i.e.
 * one cluster (schema.h). Every change is one FCALL of the Lua library
 * (lua_library.h), loaded on demand, so each is atomic and publishes its
 * event; reads (show, list, search) go to the keys of schema.h directly.
 *
 * Errors: every operation returns an mqg_reg_status, whose values are
 * mqgatectl's exit codes, and when it is not MQG_REG_OK leaves a one-line
 * message in mqg_registry_error() and a short class name ("rule", "rate",
 * "input", "notfound", "redis") in mqg_registry_error_class(). After
 * MQG_REG_UNAVAILABLE the connection is unusable.
 *
 * Records returned by reads borrow their strings from the Redis replies
 * they own: release them with their cleanup function (NULL-safe, zeroed
 * records too). Missing fields read as "" or 0. */
#ifndef MQG_REGISTRY_H
#define MQG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "schema.h"
#include "settings.h"

/*  X(name, exit code, class of the message) */
#define MQG_REG_STATUS_MAP(X)                                                 \
  X(OK, 0, "ok")                  /* done */                                  \
  X(REFUSED, 1, "rule")           /* refused by the rules (RULE, RATE) */     \
  X(INPUT, 2, "input")            /* bad argument, unknown id (INPUT,         \
                                     NOTFOUND) */                             \
  X(UNAVAILABLE, 3, "redis")      /* Redis unreachable or failing */

typedef enum {
#define MQG_REG_STATUS_ENUM(name, code, cls) MQG_REG_##name = code,
  MQG_REG_STATUS_MAP(MQG_REG_STATUS_ENUM)
#undef MQG_REG_STATUS_ENUM
} mqg_reg_status;

typedef struct mqg_registry mqg_registry;
struct redisReply;

/* mqg_registry_new returns a new, unconnected client for the cluster of
 * key prefix |prefix|, or NULL when out of memory. Its changes are made as
 * actor "unknown" until mqg_registry_set_actor. */
mqg_registry *mqg_registry_new(const char *prefix);

/* mqg_registry_free closes the connection and frees |r|; NULL is ignored. */
void mqg_registry_free(mqg_registry *r);

/* mqg_registry_set_actor names who makes the changes that follow (copied,
 * at most 128 bytes of text): "mqgatectl@host", "token:<name>", ... as the
 * audit log (P:audit) records them. */
void mqg_registry_set_actor(mqg_registry *r, const char *actor);

/* mqg_registry_connect connects to the Redis of |url| (redis_url.h) within
 * |timeout_ms|, which also bounds every later command, authenticates with
 * the URL's credentials or the password of |password_file| (a path, or
 * NULL / "" for $MQGATE_REDIS_PASSWORD or none) and selects its database.
 * MQG_REG_INPUT for a bad URL, prefix or password file;
 * MQG_REG_UNAVAILABLE when Redis cannot be reached or refuses the
 * credentials (the message says which). */
mqg_reg_status mqg_registry_connect(mqg_registry *r, const char *url,
                                    const char *password_file, int timeout_ms);

/* mqg_registry_error returns the last failure's message (borrowed, valid
 * until the next call on |r|), "" if none. */
const char *mqg_registry_error(const mqg_registry *r);

/* mqg_registry_error_class returns the last failure's class: "rule",
 * "rate", "input", "notfound" or "redis" ("" if none). */
const char *mqg_registry_error_class(const mqg_registry *r);

/* mqg_registry_load_library loads the Lua library with FUNCTION LOAD
 * REPLACE (replacing a layout-1 library, mqgate_v1, if one is loaded).
 * Every call loads it by itself when Redis answers that a function does
 * not exist; exposed for tests and tools. */
mqg_reg_status mqg_registry_load_library(mqg_registry *r);

/* --- ids -------------------------------------------------------------- */

typedef enum { MQG_REG_KIND_CA, MQG_REG_KIND_CERT } mqg_reg_kind;

/* mqg_registry_resolve turns |in| (a fingerprint or CA id in hex, any
 * case, colons allowed, or a unique prefix of at least 8 hex digits) into
 * the full lowercase id in |out|. A full id is not looked up (the operation
 * using it reports NOTFOUND); a prefix must match exactly one registered
 * object (for certificates: or tombstone), else MQG_REG_INPUT. */
mqg_reg_status mqg_registry_resolve(mqg_registry *r, mqg_reg_kind kind,
                                    const char *in, char out[65]);

/* --- changes (one FCALL each, audited as the actor) -------------------- */

/* mqg_registry_ca_register registers the CA certificate |ci| with its PEM
 * |pem| and one-line |subject|, active or inactive. */
mqg_reg_status mqg_registry_ca_register(mqg_registry *r, const mqg_certinfo *ci,
                                        const char *pem, const char *subject,
                                        int active);

/* mqg_registry_ca_set applies |action| ("activate" or "deactivate") to CA
 * |id|. */
mqg_reg_status mqg_registry_ca_set(mqg_registry *r, const char *id,
                                   const char *action);

/* mqg_registry_ca_delete deletes CA |id| (refused while it has ACTIVE
 * client certificates). */
mqg_reg_status mqg_registry_ca_delete(mqg_registry *r, const char *id);

/* Options of a client certificate's registration. */
typedef struct {
  const char *client_id; /* registered client ID; NULL or "" for none */
  int activate;          /* active, else registered_inactive */
  const char *renews;    /* fp of the same device's certificate it renews
                            (shares its identity), NULL or "" */
} mqg_cert_reg_opts;

/* mqg_registry_cert_register registers the client certificate |ci| issued
 * by CA |ca_id| as |o| says; source manual. Counts against the cluster's
 * registration rate limit. Refused (RULE) for a
 * duplicate, a revoked-and-deleted fingerprint, or an identity (client ID,
 * else CN) held by another device's certificate. */
mqg_reg_status mqg_registry_cert_register(mqg_registry *r,
                                          const mqg_certinfo *ci,
                                          const char *ca_id,
                                          const mqg_cert_reg_opts *o);

/* mqg_registry_cert_set applies |action| ("activate", "deactivate",
 * "revoke") to certificate |fp| and writes the new status to |status|
 * (32 bytes). */
mqg_reg_status mqg_registry_cert_set(mqg_registry *r, const char *fp,
                                     const char *action, char status[32]);

/* mqg_registry_cert_delete deletes certificate |fp| (never an ACTIVE one)
 * from every index and leaves its tombstone. */
mqg_reg_status mqg_registry_cert_delete(mqg_registry *r, const char *fp);

/* mqg_registry_settings_set sets cluster setting |key| (schema.h name:
 * registration, tls_min, tls_max, client_id_mode) to |value|. */
mqg_reg_status mqg_registry_settings_set(mqg_registry *r, const char *key,
                                         const char *value);

/* --- reads ------------------------------------------------------------ */

typedef struct {
  const char *id, *pem, *subject, *cn, *serial, *status;
  int64_t not_before, not_after, registered_at;
  long long certs;        /* client certificates naming this CA */
  long long active_certs; /* of which ACTIVE */
  struct redisReply *owner_;
} mqg_ca_record;

typedef struct {
  const char *fp, *serial, *cn, *ou, *ca, *client_id, *source, *status;
  const char *renews; /* "" if none */
  int64_t not_before, not_after, registered_at, status_changed_at;
  struct redisReply *owner_;
} mqg_cert_record;

typedef struct {
  const char *client_id;
  int64_t last_seen;
} mqg_assoc;

typedef struct {
  mqg_cert_record cert;
  mqg_assoc *clients; /* newest first */
  size_t nclients;
  struct redisReply *owner_;
} mqg_cert_details;

/* What is left of a deleted certificate (its tombstone). */
typedef struct {
  int revoked;           /* revoked, then deleted: refused forever */
  int64_t revoked_at;    /* when revoked (revoked only) */
  int64_t deleted_at;
  char last_status[32];  /* its status when deleted (not revoked) */
} mqg_cert_tombstone;

/* Filters of a certificate listing; combined with AND. */
typedef struct {
  const char *serial, *cn, *ou, *status, *ca; /* exact match; NULL: any */
  int64_t not_after_from;  /* not_after >= this; INT64_MIN: no bound */
  int64_t not_after_until; /* not_after < this; INT64_MAX: no bound */
  const char *cursor;      /* where the previous page ended; NULL: start */
  size_t limit;            /* records per page, 1..MQG_REG_PAGE_MAX */
  char serial_[MQG_CERTINFO_SERIAL_MAX + 3]; /* what |serial| points to after
                                                mqg_cert_filter_set */
} mqg_cert_filter;

#define MQG_CERT_FILTER_DAYS_MAX 999999 /* expiring_within_days at most */

#define MQG_REG_PAGE_CALLS 6 /* listing calls at most per page */

typedef struct {
  mqg_cert_record *certs; /* this page, by not_after then fp */
  size_t n;
  char cursor[81];        /* the next page's cursor, "" after the last */
  long long total;        /* matching certificates on all pages, or -1
                             where counting would cost more than a page */
  struct redisReply *owners_[MQG_REG_PAGE_CALLS];
} mqg_cert_page;

/* mqg_cert_filter_init sets |f| to "everything, from the start, 50 a
 * page". */
void mqg_cert_filter_init(mqg_cert_filter *f);

/* mqg_cert_filter_set sets filter |name| of |f| from the text |value|, as
 * mqgate-admin's query parameters and mqgatectl's options give it (|now|:
 * Unix seconds):
 *   serial                hex, "0x..", colons, any case: as stored
 *   cn, ou                exact (|value| is borrowed)
 *   status                active, inactive, registered_inactive, revoked;
 *                         any case, '-' for '_'
 *   expired               "true": not_after before now; "false": from now
 *   expiring_within_days  0..MQG_CERT_FILTER_DAYS_MAX: not_after before
 *                         now + that many days (so the expired too)
 * Time bounds narrow what |f| already holds. Returns 0, or -1 for an
 * unknown |name| or a bad |value|, with what the value must be ("must be
 * hex") in |err| (|errlen| bytes), to follow the caller's name for it. |f|
 * must not be copied afterwards (|serial| may point into it). */
int mqg_cert_filter_set(mqg_cert_filter *f, const char *name, const char *value,
                        int64_t now, char *err, size_t errlen);

/* mqg_registry_ca_get fills |out| with CA |id|; MQG_REG_INPUT (class
 * "notfound") if it is not registered. */
mqg_reg_status mqg_registry_ca_get(mqg_registry *r, const char *id,
                                   mqg_ca_record *out);

/* mqg_registry_ca_list returns every CA, by CN then id, in a new array
 * |*out| of |*n| records (free with mqg_ca_list_free). */
mqg_reg_status mqg_registry_ca_list(mqg_registry *r, mqg_ca_record **out,
                                    size_t *n);

/* mqg_registry_cert_get fills |out| with certificate |fp| and its
 * associated clients. When it was deleted, MQG_REG_INPUT (class
 * "notfound") with |*tomb| (if not NULL) filled and its "revoked"/"deleted"
 * flags set, the message saying so; when it never was, MQG_REG_INPUT
 * (class "notfound") with |*tomb| zeroed. */
mqg_reg_status mqg_registry_cert_get(mqg_registry *r, const char *fp,
                                     mqg_cert_details *out,
                                     mqg_cert_tombstone *tomb);

/* mqg_registry_cert_list fills |out| with the page |f| asks for of the
 * certificates matching |f|, ordered by not_after then fingerprint: at
 * most MQG_REG_PAGE_CALLS function calls of MQG_REG_CALL_ROWS records each
 * (policy/lua/40-read.lua), each under a millisecond of Redis time and
 * O(rows + log n). A page may hold fewer than |limit| records and still
 * have a next cursor when the conditions the chosen index does not cover
 * rule out many members. */
mqg_reg_status mqg_registry_cert_list(mqg_registry *r, const mqg_cert_filter *f,
                                      mqg_cert_page *out);

/* mqg_registry_settings_get fills |out| with the cluster settings, the
 * defaults (manual, 1.0, 1.3, default) where none is stored. */
mqg_reg_status mqg_registry_settings_get(mqg_registry *r, mqg_settings *out);

/* mqg_ca_record_cleanup, mqg_ca_list_free, mqg_cert_record_cleanup,
 * mqg_cert_details_cleanup and mqg_cert_page_cleanup release what a read
 * filled in (the replies the strings borrow from). NULL and zeroed records
 * are ignored. */
void mqg_ca_record_cleanup(mqg_ca_record *c);
void mqg_ca_list_free(mqg_ca_record *list, size_t n);
void mqg_cert_record_cleanup(mqg_cert_record *c);
void mqg_cert_details_cleanup(mqg_cert_details *d);
void mqg_cert_page_cleanup(mqg_cert_page *p);

#endif
