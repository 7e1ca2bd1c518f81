/* registry_admin.h: the control plane's calls on a registry connection
 * (registry.h): API tokens, the audit log (read side) and the heartbeats of
 * the cluster's proxies. Keys and functions: schema_admin.h.
 *
 * Errors as in registry.h: an mqg_reg_status, with the message and class
 * in mqg_registry_error() / mqg_registry_error_class(). Records borrow
 * their strings from the replies they own: release them with their cleanup
 * function (NULL-safe). */
#ifndef MQG_REGISTRY_ADMIN_H
#define MQG_REGISTRY_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "schema_admin.h"

/* --- tokens ------------------------------------------------------------ */

#define MQG_TOKEN_LEN 47 /* "mqg_" + 43 base64url characters (32 bytes) */

/* mqg_token_generate writes a new random token (NUL-terminated) into
 * |out|; 0, or -1 if the random generator failed. */
int mqg_token_generate(char out[MQG_TOKEN_LEN + 1]);

/* mqg_token_hash writes the SHA-256 (lowercase hex) of |token|, the only
 * form stored, into |out|. */
void mqg_token_hash(const char *token, char out[65]);

/* mqg_registry_token_create stores a token of |role| (read, operator,
 * admin) named |name| (unique) by its hash |hash|, audited as the
 * connection's actor (mqg_registry_set_actor). */
mqg_reg_status mqg_registry_token_create(mqg_registry *r, const char *name,
                                         const char *role, const char *hash);

/* mqg_registry_token_revoke deletes token |name| (class "notfound" if
 * unknown), audited as the connection's actor. */
mqg_reg_status mqg_registry_token_revoke(mqg_registry *r, const char *name);

typedef struct {
  const char *name, *role, *created_by;
  int64_t created_at;
} mqg_token_record;

typedef struct {
  mqg_token_record *tokens; /* by name */
  size_t n;
  struct redisReply **owners_;
  size_t nowners_;
} mqg_token_list;

/* mqg_registry_token_list fills |out| with every token (never their
 * text). */
mqg_reg_status mqg_registry_token_list(mqg_registry *r, mqg_token_list *out);
void mqg_token_list_cleanup(mqg_token_list *l);

/* mqg_registry_api_auth checks the token of hash |hash| and counts one API
 * call against its |limit| per second (0: none), cluster-wide. On
 * MQG_REG_OK, |name| (65 bytes) and |role| (16) are "" for an unknown
 * token. Over the limit: MQG_REG_REFUSED, class "rate". */
mqg_reg_status mqg_registry_api_auth(mqg_registry *r, const char *hash,
                                     unsigned limit, char name[65],
                                     char role[16]);

/* --- audit log ----------------------------------------------------------- */

typedef struct {
  const char *id; /* stream entry ID "<ms>-<seq>": time and cursor */
  const char *actor, *action, *object, *before, *after, *detail;
  int64_t time_ms;
} mqg_audit_entry;

#define MQG_AUDIT_LIMIT_MAX 1000
#define MQG_AUDIT_ID_MAX 48

typedef struct {
  mqg_audit_entry *entries; /* newest first */
  size_t n;
  /* where the next page starts (pass as |cursor|), "" at the stream's end */
  char next_cursor[MQG_AUDIT_ID_MAX];
  struct redisReply **owners_;
  size_t nowners_;
} mqg_audit_page;

/* mqg_registry_audit_list fills |out| with up to |limit| (1..
 * MQG_AUDIT_LIMIT_MAX) entries, newest first, older than entry |cursor|
 * (NULL or "" for the newest), whose object is |object| (NULL or "": any).
 * A filtered read goes through the stream in XREVRANGE chunks and stops
 * after a bounded number of entries even when the page is not full; the
 * cursor then continues from there. A bad cursor: MQG_REG_INPUT. */
mqg_reg_status mqg_registry_audit_list(mqg_registry *r, const char *object,
                                       size_t limit, const char *cursor,
                                       mqg_audit_page *out);
void mqg_audit_page_cleanup(mqg_audit_page *p);

/* --- proxies ----------------------------------------------------------------- */

typedef struct {
  const char *id;
  const char *json; /* the heartbeat as the proxy wrote it */
  int64_t seen_ms;  /* its score in P:proxies */
} mqg_proxy_record;

typedef struct {
  mqg_proxy_record *proxies; /* by id */
  size_t n;
  struct redisReply *owners_[2];
} mqg_proxy_list;

/* mqg_registry_proxies lists the proxies whose heartbeat is younger than
 * MQG_PROXY_STALE_MS at |now_ms| and still present, and drops older
 * members from P:proxies. */
mqg_reg_status mqg_registry_proxies(mqg_registry *r, int64_t now_ms,
                                    mqg_proxy_list *out);
void mqg_proxy_list_cleanup(mqg_proxy_list *l);

#endif
