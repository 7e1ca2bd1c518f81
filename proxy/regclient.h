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

typedef struct mqg_regclient mqg_regclient;
typedef struct mqg_lookup mqg_lookup;

/* Cluster settings as read from P:settings; "" where unset. */
typedef struct {
  char tls_min[8], tls_max[8];
  char registration[16];
  char client_id_mode[16];
} mqg_reg_settings;

/* What the owner (the worker) is told. All run on the worker's loop. */
typedef struct {
  /* The link became ready (also after a reconnect: drop the cache). */
  void (*on_ready)(void *arg);
  /* The link went down. */
  void (*on_down)(void *arg);
  /* "cert <fp> <status>" arrived; |fp| is 64 hex digits. */
  void (*on_cert_event)(void *arg, const char *fp, const char *status);
  /* The registered CAs were read (at ready and after every "ca" event):
   * the concatenated PEM of every registered CA, active or not (|len| may
   * be 0). Their state is checked by the lookup itself. */
  void (*on_cas)(void *arg, const char *pem, size_t len);
  /* Cluster settings were read (at ready and on every "settings" event). */
  void (*on_settings)(void *arg, const mqg_reg_settings *s);
} mqg_regclient_hooks;

/* mqg_regclient_new starts connecting to |url| (redis://host:port/db) for
 * key prefix |prefix| on |loop|. |hooks| and |arg| are borrowed. Returns a
 * new client owned by the caller, or NULL with the reason in |err|. */
mqg_regclient *mqg_regclient_new(uv_loop_t *loop, const char *url, const char *prefix,
                                 const mqg_regclient_hooks *hooks, void *arg,
                                 char *err, size_t errlen);

/* mqg_regclient_use_sentinels makes |rc| find its Redis through the
 * Sentinels |list| ("host:port,host:port") for master |name|: before every
 * (re)connection it asks them in turn for the master's address, and it
 * checks that the server it reaches is a master (ROLE). Call it right after
 * mqg_regclient_new. Returns 0, or -1 with a message in |err|. */
int mqg_regclient_use_sentinels(mqg_regclient *rc, const char *list, const char *name,
                                char *err, size_t errlen);

/* mqg_regclient_close disconnects and releases |rc| once its handles have
 * closed (the loop must run on); pending lookups get REGISTRY_UNAVAILABLE
 * unless cancelled. NULL is ignored. */
void mqg_regclient_close(mqg_regclient *rc);

/* mqg_regclient_ready returns 1 while the link is ready. */
int mqg_regclient_ready(const mqg_regclient *rc);

/* mqg_regclient_down_ms returns for how long (loop time, ms) the link has
 * not been ready, 0 while it is. */
uint64_t mqg_regclient_down_ms(const mqg_regclient *rc);

typedef void (*mqg_lookup_cb)(void *arg, mqg_reason verdict, const char *client_id);

/* mqg_regclient_lookup sends one handshake's check (FCALL mqgate_lookup):
 * certificate |info| (fingerprint, fields) whose chain reached the CA
 * |ca_id| (SHA-256, 32 bytes), with its DER |der| for automatic
 * registration. |cb| runs once with the verdict (MQG_REASON_OK, UNKNOWN_CA,
 * CA_INACTIVE, CERT_UNREGISTERED, RATE_LIMITED, CERT_INACTIVE,
 * CERT_REVOKED or REGISTRY_UNAVAILABLE) and the registered client ID
 * (borrowed for the call), unless cancelled first. Returns the request
 * handle, or NULL if the link is not ready. */
mqg_lookup *mqg_regclient_lookup(mqg_regclient *rc, const mqg_certinfo *info,
                                 const uint8_t ca_id[32], const uint8_t *der,
                                 size_t der_len, mqg_lookup_cb cb, void *arg);

/* mqg_lookup_cancel makes sure |l|'s callback never runs (the request
 * itself is freed when Redis answers). */
void mqg_lookup_cancel(mqg_lookup *l);

typedef void (*mqg_status_cb)(void *arg, const char *status);

/* mqg_regclient_status reads the state of certificate |fp| (32 bytes) as a
 * live session sees it (a read, no registration). |cb| runs exactly once:
 * with "active", a certificate status, "deleted", "ca_inactive", or NULL if
 * the link dropped first. Returns 0, or -1 (|cb| not called) if the link is
 * not ready. Used to re-check live sessions after a reconnect, when
 * invalidations may have been missed. */
int mqg_regclient_status(mqg_regclient *rc, const uint8_t fp[32], mqg_status_cb cb,
                         void *arg);

/* mqg_regclient_touch records that |client_id| connected with certificate
 * |fp| (32 bytes), fire and forget. */
void mqg_regclient_touch(mqg_regclient *rc, const uint8_t fp[32], const char *client_id,
                         size_t client_id_len);

/* mqg_hex writes the 64 lowercase hex digits of |b| (32 bytes) and a NUL. */
void mqg_hex32(const uint8_t b[32], char out[65]);

#endif
