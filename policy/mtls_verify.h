/* mtls_verify.h: verifying a client certificate chain against a fixed CA
 * bundle (auth mode "mtls").
 *
 * A verifier is immutable once built and may be shared by every worker
 * thread; reloading the bundle means building a new one and swapping it in.
 *
 * Errors: constructors return NULL with a message in |err|; the check itself
 * returns a refusal reason (MQG_REASON_OK when the chain is good). */
#ifndef MQG_MTLS_VERIFY_H
#define MQG_MTLS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "reason.h"

typedef struct mqg_mtls_verifier mqg_mtls_verifier;

/* Longest chain accepted, leaf and trust anchor included. */
#define MQG_MTLS_MAX_DEPTH 6

/* mqg_mtls_verifier_new loads every certificate of the PEM file |ca_file|
 * as a trust anchor (roots or intermediates). Returns a new verifier owned by
 * the caller, or NULL with a one-line reason written to |err| (at most
 * |errlen| bytes, NUL-terminated) if the file cannot be read, holds no
 * certificate, or holds a certificate that is not a CA. */
mqg_mtls_verifier *mqg_mtls_verifier_new(const char *ca_file, char *err,
                                         size_t errlen);

/* mqg_mtls_verifier_new_pem is mqg_mtls_verifier_new for a bundle held in
 * memory (|len| bytes of concatenated PEM certificates, e.g. the registered
 * CAs of the registry); |name| names it in messages. */
mqg_mtls_verifier *mqg_mtls_verifier_new_pem(const char *pem, size_t len,
                                             const char *name, char *err,
                                             size_t errlen);

/* mqg_mtls_verifier_free releases |v|; NULL is ignored. */
void mqg_mtls_verifier_free(mqg_mtls_verifier *v);

/* mqg_mtls_verifier_get0_cas returns the certificates of |v|'s bundle, in
 * file order (borrowed: they live as long as |v|; read-only, as other
 * threads may be verifying with them). */
const STACK_OF(X509) *mqg_mtls_verifier_get0_cas(const mqg_mtls_verifier *v);

/* mqg_mtls_verify checks the chain |certs[0..n)| (leaf first, then any
 * intermediates the device sent, as DER CRYPTO_BUFFERs borrowed from the
 * TLS stack) at time |now| (Unix seconds). It returns MQG_REASON_OK, or
 * MQG_REASON_NO_CERT (n == 0), BAD_CERT (unparseable, a CA certificate used
 * as a device certificate, or not usable for TLS client auth), UNKNOWN_CA,
 * CHAIN_TOO_LONG, CERT_EXPIRED or CERT_NOT_YET_VALID. When |leaf| is not
 * NULL and the leaf parses, it is filled in (also on refusal, for the log).
 * When the chain is good and |anchor_id| is not NULL, it receives the
 * SHA-256 of the DER of the trust anchor the chain reached (the nearest
 * one: a registered intermediate before its root). */
mqg_reason mqg_mtls_verify(const mqg_mtls_verifier *v,
                           const CRYPTO_BUFFER *const *certs, size_t n,
                           int64_t now, mqg_certinfo *leaf,
                           uint8_t anchor_id[32]);

/* mqg_mtls_chain puts the certificates of |chain| (the TLS stack's peer
 * chain, NULL for none) in |out|, at most |cap| of them: returns their
 * count, or SIZE_MAX (nothing written) for a longer chain. */
size_t mqg_mtls_chain(const STACK_OF(CRYPTO_BUFFER) *chain, const CRYPTO_BUFFER **out,
                      size_t cap);

/* mqg_mtls_dates says whether |now| falls in a certificate's validity
 * period [|not_before|, |not_after|] (Unix seconds, as certinfo gives them):
 * MQG_REASON_OK, CERT_NOT_YET_VALID or CERT_EXPIRED. For answers kept
 * after a whole check (caches), where only the time has moved. */
mqg_reason mqg_mtls_dates(int64_t now, int64_t not_before, int64_t not_after);

#endif
