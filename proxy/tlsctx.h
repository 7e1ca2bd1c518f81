/* tlsctx.h: the TLS side shared by every worker: one SSL_CTX (BoringSSL,
 * TLS_with_buffers_method: peer certificates stay DER buffers, never X509
 * objects), the server certificate, the TLS version window and the client
 * certificate check.
 *
 * The window is applied to each new SSL (SSL_set_min/max_proto_version), not
 * to the shared SSL_CTX, so mqg_tls_set_window may be called from any thread
 * at any time: the next handshake uses the new window, live sessions keep the
 * version they negotiated.
 *
 * Errors: mqg_tls_new returns NULL with a one-line message; the rest cannot
 * fail except mqg_tls_ssl_new (NULL on allocation failure). */
#ifndef MQG_TLSCTX_H
#define MQG_TLSCTX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"
#include "mtls_verify.h"
#include "reason.h"

typedef struct mqg_tls mqg_tls;

/* mqg_tls_peer is what the certificate check learned about one device. The
 * connection owns it and hands a pointer to mqg_tls_ssl_new; the verify
 * callback fills it in during the handshake. */
typedef struct mqg_tls_peer mqg_tls_peer;

/* A certificate check that replaces the --client-ca one (auth mode
 * registry): called from the verify callback with the peer's chain; it may
 * return ssl_verify_retry to pause the handshake until an answer arrives. */
typedef enum ssl_verify_result_t (*mqg_tls_check_fn)(mqg_tls_peer *peer, SSL *ssl,
                                                     uint8_t *out_alert);

struct mqg_tls_peer {
  mqg_reason reason;  /* MQG_REASON_OK until a check refuses */
  uint8_t has_cert;   /* a leaf certificate was parsed */
  uint8_t sha256[32]; /* fingerprint of the leaf's DER */
  char *cn;           /* leaf subject CN (malloc'd, may be NULL); owned here */
  char *client_id;    /* registered client ID (malloc'd, may be NULL) */
  mqg_tls_check_fn check; /* NULL: the --client-ca check */
};

/* mqg_tls_peer_cleanup frees what |p| holds and resets it. */
void mqg_tls_peer_cleanup(mqg_tls_peer *p);

/* mqg_tls_new builds the shared TLS context from |cfg|: the server chain and
 * key from --cert/--key, or the default one in --state-dir (generated once,
 * ECDSA P-256, self-signed for "localhost"); the --client-ca bundle. (The
 * window is process-wide: mqg_tls_set_window.) In auth mode registry there is no --client-ca:
 * every connection's peer carries its own check. Returns a new object owned
 * by the caller, or NULL with the reason in |err|. */
mqg_tls *mqg_tls_new(const mqg_config *cfg, char *err, size_t errlen);

/* mqg_tls_get0_verifier returns the --client-ca bundle's verifier of |t|
 * (auth mode mtls), or NULL (registry). Borrowed: it lives as long as |t|. */
const mqg_mtls_verifier *mqg_tls_get0_verifier(const mqg_tls *t);

/* mqg_tls_up_ref takes one more reference on |t| and returns it. A context
 * is reference-counted because a reload replaces it for new connections
 * while live ones (and their handshakes) still use the old one. */
mqg_tls *mqg_tls_up_ref(mqg_tls *t);

/* mqg_tls_free drops one reference to |t| and releases it with the last
 * (NULL is ignored). Thread-safe. */
void mqg_tls_free(mqg_tls *t);

/* mqg_tls_retire empties the caches of |t| once a reload has replaced it:
 * the connections made on |t| keep it alive until they close (weeks, for an
 * MQTT session), but it serves no new handshake, so what it cached would
 * only be held. Thread-safe. */
void mqg_tls_retire(mqg_tls *t);

/* mqg_tls_set_window makes |min|..|max| (TLS1_x_VERSION values, min <= max)
 * the window of every handshake that starts after the call, whatever
 * context it uses. Thread-safe. */
void mqg_tls_set_window(uint16_t min, uint16_t max);

/* mqg_tls_get_window reads the current window. Thread-safe. */
void mqg_tls_get_window(uint16_t *min, uint16_t *max);

/* mqg_tls_ssl_new returns a new server-side SSL reading and writing
 * through |bio| (taken over on success; the caller frees it on failure),
 * with the current window and |peer| (borrowed; must outlive the SSL) as
 * the target of the certificate check. NULL on allocation failure. */
SSL *mqg_tls_ssl_new(mqg_tls *t, BIO *bio, mqg_tls_peer *peer);

/* mqg_tls_check_peer is the certificate check, the SSL_CTX's custom verify
 * callback: the peer's own |check| if set, else the --client-ca chain
 * check. BoringSSL does not call it for a resumed session on a server, so
 * the caller runs it once more when such a handshake completes; it may then
 * return ssl_verify_retry like the callback (call it again when the answer
 * came), and on ssl_verify_invalid |*out_alert| is the alert to send. */
enum ssl_verify_result_t mqg_tls_check_peer(SSL *ssl, uint8_t *out_alert);

/* mqg_tls_failure_reason classifies a failed handshake on |ssl| (after
 * SSL_do_handshake returned |ret| <= 0 with SSL_ERROR_SSL or
 * SSL_ERROR_SYSCALL): the check's own reason if it refused, else
 * TLS_VERSION, NO_CERT or TLS_ERROR. A short description of the underlying
 * error goes to |detail|. Clears the thread's error queue. */
mqg_reason mqg_tls_failure_reason(SSL *ssl, const mqg_tls_peer *peer,
                                  char *detail, size_t detail_len);

#endif
