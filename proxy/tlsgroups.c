/* tlsgroups.c: see tlsgroups.h. */
#include "tlsgroups.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/aead.h>
#include <openssl/bytestring.h>
#include <openssl/nid.h>

#define EXT_SUPPORTED_GROUPS 10
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_KEY_SHARE 51

static const struct {
  const char *name, *alias1, *alias2;
  uint16_t id;
  int nid;
} known[] = {
    {"X25519", "x25519", "x25519", SSL_CURVE_X25519, NID_X25519},
    {"P-256", "prime256v1", "secp256r1", SSL_CURVE_SECP256R1, NID_X9_62_prime256v1},
    {"P-384", "secp384r1", "secp384r1", SSL_CURVE_SECP384R1, NID_secp384r1},
    {"P-521", "secp521r1", "secp521r1", SSL_CURVE_SECP521R1, NID_secp521r1},
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

int mqg_tls_groups_parse(const char *list, mqg_tls_groups *out, char *err, size_t errlen) {
  char buf[256], *save = NULL;
  memset(out, 0, sizeof(*out));
  if (strlen(list) >= sizeof(buf)) {
    snprintf(err, errlen, "tls-groups \"%.40s...\" is too long", list);
    return -1;
  }
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *t = strtok_r(buf, ":,", &save); t; t = strtok_r(NULL, ":,", &save)) {
    size_t k;
    for (k = 0; k < NKNOWN; k++)
      if (strcasecmp(t, known[k].name) == 0 || strcasecmp(t, known[k].alias1) == 0 ||
          strcasecmp(t, known[k].alias2) == 0)
        break;
    if (k == NKNOWN) {
      snprintf(err, errlen, "tls-groups: unknown group \"%s\" (X25519, P-256, P-384, P-521)", t);
      return -1;
    }
    for (size_t i = 0; i < out->n; i++)
      if (out->ids[i] == known[k].id) {
        snprintf(err, errlen, "tls-groups: %s listed twice", known[k].name);
        return -1;
      }
    out->ids[out->n] = known[k].id;
    out->nids[out->n] = known[k].nid;
    out->n++;
  }
  if (out->n == 0) {
    snprintf(err, errlen, "tls-groups is empty");
    return -1;
  }
  return 0;
}

int mqg_tls_groups_apply(SSL_CTX *ctx, const mqg_tls_groups *g) {
  /* TLS 1.2 suites (TLS 1.3's are BoringSSL's, ordered by the same rule):
   * ECDHE with AES-GCM or ChaCha20 first, in this CPU's order, then the rest
   * of BoringSSL's default set for old devices (TLS 1.0/1.1 windows). */
  const char *ciphers = EVP_has_aes_hardware() ? "ECDHE+AESGCM:ECDHE+CHACHA20:ALL"
                                               : "ECDHE+CHACHA20:ECDHE+AESGCM:ALL";
  if (!SSL_CTX_set1_curves(ctx, g->nids, g->n) || !SSL_CTX_set_strict_cipher_list(ctx, ciphers))
    return -1;
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  return 0;
}

/* Whether the u16 list |cbs| (already stripped of its length) holds |v|. */
static int u16_list_has(CBS cbs, uint16_t v) {
  uint16_t x;
  while (CBS_get_u16(&cbs, &x))
    if (x == v)
      return 1;
  return 0;
}

int mqg_tls_groups_pick(const mqg_tls_groups *g, const uint8_t *supported_groups,
                        size_t sg_len, const uint8_t *key_share, size_t ks_len,
                        int tls13, mqg_tls_groups *out) {
  CBS sg, sg_list, ks, ks_list;
  if (!tls13 || key_share == NULL || supported_groups == NULL)
    return 0;
  CBS_init(&sg, supported_groups, sg_len);
  CBS_init(&ks, key_share, ks_len);
  if (!CBS_get_u16_length_prefixed(&sg, &sg_list) || CBS_len(&sg) != 0 ||
      !CBS_get_u16_length_prefixed(&ks, &ks_list) || CBS_len(&ks) != 0)
    return 0;
  /* The shares sent, checked whole before any is used. */
  uint16_t sent[16];
  size_t nsent = 0;
  while (CBS_len(&ks_list) > 0) {
    uint16_t group;
    CBS key;
    if (!CBS_get_u16(&ks_list, &group) || !CBS_get_u16_length_prefixed(&ks_list, &key) ||
        CBS_len(&key) == 0)
      return 0;
    if (nsent < sizeof(sent) / sizeof(sent[0]))
      sent[nsent++] = group;
  }
  /* Our first choice among the groups the device supports: if it sent a
   * share for it there is nothing to change. */
  size_t best = g->n, share = g->n;
  for (size_t i = 0; i < g->n; i++) {
    if (!u16_list_has(sg_list, g->ids[i]))
      continue;
    if (best == g->n)
      best = i;
    int has = 0;
    for (size_t j = 0; j < nsent; j++)
      has |= sent[j] == g->ids[i];
    if (has) {
      share = i;
      break;
    }
  }
  if (share == g->n || share == best)
    return 0;
  out->n = 0;
  out->ids[out->n] = g->ids[share];
  out->nids[out->n++] = g->nids[share];
  for (size_t i = 0; i < g->n; i++) {
    if (i == share)
      continue;
    out->ids[out->n] = g->ids[i];
    out->nids[out->n++] = g->nids[i];
  }
  return 1;
}

/* Whether the ClientHello offers TLS 1.3 (supported_versions). */
static int offers_tls13(const SSL_CLIENT_HELLO *hello) {
  const uint8_t *data;
  size_t len;
  CBS ext, list;
  if (!SSL_early_callback_ctx_extension_get(hello, EXT_SUPPORTED_VERSIONS, &data, &len))
    return 0;
  CBS_init(&ext, data, len);
  if (!CBS_get_u8_length_prefixed(&ext, &list) || CBS_len(&ext) != 0 || CBS_len(&list) % 2)
    return 0;
  return u16_list_has(list, TLS1_3_VERSION);
}

int mqg_tls_groups_on_hello(const SSL_CLIENT_HELLO *hello, const mqg_tls_groups *g,
                            uint16_t max_version) {
  const uint8_t *sg = NULL, *ks = NULL;
  size_t sg_len = 0, ks_len = 0;
  mqg_tls_groups order;
  if (max_version < TLS1_3_VERSION || !offers_tls13(hello) ||
      !SSL_early_callback_ctx_extension_get(hello, EXT_SUPPORTED_GROUPS, &sg, &sg_len) ||
      !SSL_early_callback_ctx_extension_get(hello, EXT_KEY_SHARE, &ks, &ks_len))
    return 1;
  if (!mqg_tls_groups_pick(g, sg, sg_len, ks, ks_len, 1, &order))
    return 1;
  return SSL_set1_curves(hello->ssl, order.nids, order.n);
}

const char *mqg_tls_group_name(uint16_t id) {
  if (id == 0)
    return "";
  for (size_t k = 0; k < NKNOWN; k++)
    if (known[k].id == id)
      return known[k].name;
  return "other";
}
