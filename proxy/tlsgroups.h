/* tlsgroups.h: which key exchange a device gets.
 *
 * Device stacks list their groups in odd orders: mbedTLS 2.28 and wolfSSL
 * put P-521, brainpool and P-384 before P-256 and X25519, and BoringSSL by
 * default follows the client's order, so such a device costs a P-384 ECDH
 * (about 13x a P-256 one here). mqgate chooses by its own order instead
 * (--tls-groups, default X25519:P-256:P-384: SSL_OP_CIPHER_SERVER_PREFERENCE,
 * which BoringSSL applies to groups as to ciphers).
 *
 * With TLS 1.3 the server order alone would cost a device that sent a key
 * share for an allowed group other than our first choice a
 * HelloRetryRequest: a round trip on a slow link, and a second key pair on
 * the device. So, from the ClientHello (SSL_CTX_set_select_certificate_cb,
 * before BoringSSL picks the group), the best allowed group the device sent
 * a share for is moved to the front of that SSL's list. Our order then
 * decides among the shares sent, and among the groups supported when no
 * allowed share was sent (TLS 1.2, or a HelloRetryRequest that cannot be
 * avoided).
 *
 * The TLS 1.2 cipher order is the server's too: AES-GCM first where the CPU
 * has AES instructions, ChaCha20-Poly1305 first where it does not
 * (EVP_has_aes_hardware). BoringSSL orders TLS 1.3 suites by the same rule
 * itself.
 *
 * Errors: mqg_tls_groups_parse returns 0 or -1 with a one-line message;
 * mqg_tls_groups_apply returns 0 or -1. */
#ifndef MQG_TLSGROUPS_H
#define MQG_TLSGROUPS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define MQG_TLS_GROUPS_MAX 4

/* A server's group order: TLS group IDs (SSL_CURVE_*) and their NIDs. */
typedef struct {
  uint16_t ids[MQG_TLS_GROUPS_MAX];
  int nids[MQG_TLS_GROUPS_MAX];
  size_t n;
} mqg_tls_groups;

/* mqg_tls_groups_parse reads a ':' or ',' separated list of group names
 * (X25519, P-256, P-384, P-521; also prime256v1, secp256r1, secp384r1,
 * secp521r1; case-insensitive) into |out|, in that order. Fails on an
 * unknown or repeated name, or an empty list. */
int mqg_tls_groups_parse(const char *list, mqg_tls_groups *out, char *err, size_t errlen);

/* mqg_tls_groups_apply sets |g| as |ctx|'s group order, server preference
 * for groups and ciphers, and the TLS 1.2 cipher order for this CPU. */
int mqg_tls_groups_apply(SSL_CTX *ctx, const mqg_tls_groups *g);

/* mqg_tls_groups_pick is the decision of mqg_tls_groups_on_hello on the
 * raw extension bodies: |supported_groups| (may be NULL), |key_share| (the
 * ClientHello's, may be NULL) and whether TLS 1.3 can be negotiated. When a
 * key share of an allowed group the device supports was sent and that group
 * is not already our first choice, writes the order to use (the share's
 * group first, then |g|'s order) to |out| and returns 1; otherwise returns
 * 0 (keep |g|). A malformed extension returns 0: BoringSSL rejects it
 * itself later. */
int mqg_tls_groups_pick(const mqg_tls_groups *g, const uint8_t *supported_groups,
                        size_t sg_len, const uint8_t *key_share, size_t ks_len,
                        int tls13, mqg_tls_groups *out);

/* mqg_tls_groups_on_hello applies mqg_tls_groups_pick to the SSL of
 * |hello| (SSL_set1_curves), for a server whose window reaches up to
 * |max_version|. Returns 1 on success, 0 if the SSL could not be changed. */
int mqg_tls_groups_on_hello(const SSL_CLIENT_HELLO *hello, const mqg_tls_groups *g,
                            uint16_t max_version);

/* mqg_tls_group_name returns the name of TLS group |id| for logs and
 * metrics labels ("X25519", "P-256", ...), "" for 0 (no ECDHE: a resumed
 * TLS 1.2 session) and "other" for an unknown one. */
const char *mqg_tls_group_name(uint16_t id);

#endif
