/* regclient.h: one worker's link to the registry in Redis: a command
 * connection and a subscriber connection, both hiredis async on the
 * worker's libuv loop, reconnected with backoff. Nothing here blocks.
 *
 * The link is "ready" once both connections are up, the database is
 * selected, the function library is loaded and the subscription to
 * P:events is confirmed; only then are invalidations guaranteed to reach
 * us, so the owner must not cache answers outside a ready period.
 *
 * Errors: mqg_regclient_new returns NULL with a message; lookups that cannot
 * be sent return NULL (the caller refuses with REGISTRY_UNAVAILABLE); a
 * lookup whose connection drops is answered with REGISTRY_UNAVAILABLE. */
#ifndef MQG_REGCLIENT_H
#define MQG_REGCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "certinfo.h"
#include "reason.h"
#include "settings.h"

typedef struct mqg_regclient mqg_regclient;
typedef struct mqg_lookup mqg_lookup;

/* What the owner (the worker) is told. All run on the worker's loop. */
typedef struct {
  /* The link became ready (also after a reconnect: drop the cache). */
  void (*on_ready)(void *arg);
  /* The link went down. */
  void (*on_down)(void *arg);
  /* "cert <fp> <status>" arrived; |fp| is 64 hex digits. */
  void (*on_cert_event)(void *arg, const char *fp, const char *status);
  /* A "ca" or "settings" event arrived: whatever was decided may change;
   * called at once, before the CAs or settings are read again (that read
   * comes after the answers computed before the change, on the same
   * command connection). */
  void (*on_invalidate)(void *arg);
  /* The registered CAs were read (at ready and after every "ca" event):
   * the concatenated PEM of every registered CA, active or not (|len| may
   * be 0). Their state is checked by the lookup itself. |pem| NULL: they
   * could not be read or the answer was malformed (fail closed); a new
   * attempt follows within seconds. |recheck|: since the last CAs
   * delivered, a CA was deactivated or deleted, or the link is new, so a
   * live session may have lost its standing (a CA registered or activated
   * takes none away). */
  void (*on_cas)(void *arg, const char *pem, size_t len, int recheck);
  /* Cluster settings were read (at ready and on every "settings" event);
   * a field is "" where P:settings has none. */
  void (*on_settings)(void *arg, const mqg_settings *s);
  /* "tickets ..." arrived: the cluster's session-ticket keys changed. */
  void (*on_tickets_event)(void *arg);
} mqg_regclient_hooks;

/* Where the link goes. */
typedef struct {
  const char *url;           /* redis://[user:password@]host[:port][/db] */
  const char *password_file; /* NULL or "": $MQGATE_REDIS_PASSWORD, or the URL's */
  const char *prefix;        /* the cluster's key prefix */
  unsigned max_records;      /* touches waiting for a reply at most */
  /* NULL or "": Redis at |url|'s address. Else Sentinels, "host:port,..."
   * (at most MQG_REGCLIENT_SENTINELS_MAX): before every (re)connection
   * they are asked in turn for master |master|'s address, and the server
   * reached must be a master (ROLE); |url| still gives the credentials and
   * the database. Sentinels that need a password get
   * $MQGATE_REDIS_SENTINEL_PASSWORD. */
  const char *sentinels;
  const char *master;
} mqg_regclient_cfg;

#define MQG_REGCLIENT_SENTINELS_MAX 8

/* mqg_regclient_new starts connecting as |cfg| says (copied) on |loop|.
 * |hooks| and |arg| are borrowed. Every connection authenticates first
 * when there is a password; credentials Redis refuses are logged and the
 * link stays down (retried with backoff). Returns a new client owned by
 * the caller, or NULL with the reason in |err| (a bad URL or password
 * file). */
mqg_regclient *mqg_regclient_new(uv_loop_t *loop, const mqg_regclient_cfg *cfg,
                                 const mqg_regclient_hooks *hooks, void *arg,
                                 char *err, size_t errlen);

/* mqg_regclient_close disconnects and releases |rc| once its handles have
 * closed (the loop must run on); pending requests are answered with
 * REGISTRY_UNAVAILABLE unless cancelled. NULL is ignored. */
void mqg_regclient_close(mqg_regclient *rc);

/* mqg_regclient_ready returns 1 while the link is ready. */
int mqg_regclient_ready(const mqg_regclient *rc);

/* mqg_regclient_down_ms returns for how long (loop time, ms) the link has
 * not been ready, 0 while it is. */
uint64_t mqg_regclient_down_ms(const mqg_regclient *rc);

/* The registry's answer about one certificate. */
typedef struct {
  /* MQG_REASON_OK or the refusal: UNKNOWN_CA, CA_INACTIVE,
   * CERT_UNREGISTERED, RATE_LIMITED, CERT_INACTIVE, CERT_REVOKED,
   * CERT_DELETED, IDENTITY_CONFLICT; REGISTRY_UNAVAILABLE when there was no
   * answer or a malformed one (counted, logged). */
  mqg_reason verdict;
  /* Automatic registration would admit the certificate (verdict OK): it
   * is registered with mqg_regclient_register once the handshake has
   * completed, never before. */
  int register_after;
  /* mqg_regclient_register's answer: this call registered it (not
   * someone else meanwhile). */
  int registered_now;
  const char *client_id; /* the registered client ID, "" if none; borrowed */
} mqg_reg_answer;

typedef void (*mqg_lookup_cb)(void *arg, const mqg_reg_answer *a);

/* mqg_regclient_lookup sends one handshake's check, read-only (FCALL_RO
 * mqgate_lookup): certificate |fp| (32 bytes) whose chain reached the CA
 * |ca_id| (SHA-256, 32 bytes), CN |cn|. |cb| runs once with the answer,
 * unless cancelled first. Returns the request handle, or NULL if the link
 * is not ready. */
mqg_lookup *mqg_regclient_lookup(mqg_regclient *rc, const uint8_t fp[32],
                                 const uint8_t ca_id[32], const char *cn,
                                 mqg_lookup_cb cb, void *arg);

/* mqg_regclient_register registers certificate |info| (its chain reached
 * CA |ca_id|) automatically, after its handshake completed: the registry
 * checks everything again (FCALL mqgate_auto_register, audited as actor
 * "auto"). |cb| as for mqg_regclient_lookup (verdict OK once
 * registered). */
mqg_lookup *mqg_regclient_register(mqg_regclient *rc, const mqg_certinfo *info,
                                   const uint8_t ca_id[32], mqg_lookup_cb cb, void *arg);

/* mqg_lookup_cancel makes sure |l|'s callback never runs (the request
 * itself is freed when Redis answers). */
void mqg_lookup_cancel(mqg_lookup *l);

/* |answered| 0: the link dropped first; else |r| is what the certificate
 * now means for a live session (MQG_REASON_OK: it may go on). */
typedef void (*mqg_status_cb)(void *arg, int answered, mqg_reason r);

/* mqg_regclient_status reads the state of certificate |fp| (32 bytes) as a
 * live session sees it (FCALL_RO mqgate_status; a read, no registration).
 * |cb| runs exactly once. Returns 0, or -1 (|cb| not called) if the link
 * is not ready. */
int mqg_regclient_status(mqg_regclient *rc, const uint8_t fp[32], mqg_status_cb cb,
                         void *arg);

/* mqg_regclient_touch records that |client_id| connected with certificate
 * |fp| (32 bytes), fire and forget. While Redis is slow, at most
 * cfg->max_records wait for their reply; more are dropped and counted
 * (mqgate_registry_touch_dropped_total). */
void mqg_regclient_touch(mqg_regclient *rc, const uint8_t fp[32], const char *client_id,
                         size_t client_id_len);

/* mqg_regclient_heartbeat publishes this proxy's heartbeat |json| under
 * P:proxy:<id> for |ttl_s| seconds and in P:proxies (schema.h), fire and
 * forget. */
void mqg_regclient_heartbeat(mqg_regclient *rc, const char *id, const char *json,
                             unsigned ttl_s);

/* |keys| NULL: no answer (the link dropped, or a malformed one); else the
 * cluster's ticket keys, |len| bytes (schema.h P:tickets), borrowed. */
typedef void (*mqg_tickets_cb)(void *arg, int64_t at, const uint8_t *keys, size_t len);

/* mqg_regclient_ticket_keys asks for the cluster's session-ticket keys
 * (FCALL mqgate_ticket_keys), offering |candidate| (two fresh keys, 160
 * bytes) for when the set is created or rotated (every |rotate_s|). |cb|
 * runs once. Returns 0, or -1 (|cb| not called) if the link is not
 * ready. */
int mqg_regclient_ticket_keys(mqg_regclient *rc, const uint8_t candidate[160],
                              unsigned rotate_s, mqg_tickets_cb cb, void *arg);

#endif
