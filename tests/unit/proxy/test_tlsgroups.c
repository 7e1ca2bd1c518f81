/* Tests of proxy/tlsgroups.c: the group list option and the choice made
 * from a ClientHello's supported_groups and key_share. */
#include "task.h"

#include "tlsgroups.h"

/* supported_groups body: u16 length, then the groups. */
static size_t sg(uint8_t *out, const uint16_t *ids, size_t n) {
  out[0] = (uint8_t)((n * 2) >> 8);
  out[1] = (uint8_t)(n * 2);
  for (size_t i = 0; i < n; i++) {
    out[2 + 2 * i] = (uint8_t)(ids[i] >> 8);
    out[3 + 2 * i] = (uint8_t)ids[i];
  }
  return 2 + 2 * n;
}

/* key_share body: u16 length, then (group, u16 key length, 4-byte key). */
static size_t ks(uint8_t *out, const uint16_t *ids, size_t n) {
  size_t len = 2;
  for (size_t i = 0; i < n; i++) {
    out[len++] = (uint8_t)(ids[i] >> 8);
    out[len++] = (uint8_t)ids[i];
    out[len++] = 0;
    out[len++] = 4;
    for (int k = 0; k < 4; k++)
      out[len++] = 0xAB;
  }
  out[0] = (uint8_t)((len - 2) >> 8);
  out[1] = (uint8_t)(len - 2);
  return len;
}

TEST_IMPL(tlsgroups_parse) {
  mqg_tls_groups g;
  char err[200];
  ASSERT_EQ(mqg_tls_groups_parse("X25519:P-256:P-384", &g, err, sizeof(err)), 0);
  ASSERT_EQ(g.n, 3);
  ASSERT_EQ(g.ids[0], SSL_CURVE_X25519);
  ASSERT_EQ(g.ids[1], SSL_CURVE_SECP256R1);
  ASSERT_EQ(g.ids[2], SSL_CURVE_SECP384R1);
  ASSERT_EQ(mqg_tls_groups_parse("prime256v1,x25519", &g, err, sizeof(err)), 0);
  ASSERT_EQ(g.n, 2);
  ASSERT_EQ(g.ids[0], SSL_CURVE_SECP256R1);
  ASSERT_EQ(mqg_tls_groups_parse("P-256:brainpoolP256r1", &g, err, sizeof(err)), -1);
  ASSERT(strstr(err, "brainpoolP256r1") != NULL);
  ASSERT_EQ(mqg_tls_groups_parse("P-256:secp256r1", &g, err, sizeof(err)), -1);
  ASSERT(strstr(err, "twice") != NULL);
  ASSERT_EQ(mqg_tls_groups_parse("", &g, err, sizeof(err)), -1);
  ASSERT_EQ(mqg_tls_groups_parse(":::", &g, err, sizeof(err)), -1);
  ASSERT_STR_EQ(mqg_tls_group_name(SSL_CURVE_X25519), "X25519");
  ASSERT_STR_EQ(mqg_tls_group_name(SSL_CURVE_SECP384R1), "P-384");
  ASSERT_STR_EQ(mqg_tls_group_name(0), "");
  ASSERT_STR_EQ(mqg_tls_group_name(0x1d1d), "other");
  return 0;
}

TEST_IMPL(tlsgroups_pick) {
  mqg_tls_groups g, out;
  char err[200];
  uint8_t s[64], k[128];
  size_t sl, kl;
  ASSERT_EQ(mqg_tls_groups_parse("X25519:P-256:P-384", &g, err, sizeof(err)), 0);
  /* wolfSSL-like: P-384 listed first, a P-256 share sent: P-256 first. */
  const uint16_t wolf[] = {SSL_CURVE_SECP521R1, SSL_CURVE_SECP384R1, SSL_CURVE_SECP256R1,
                           SSL_CURVE_X25519};
  const uint16_t p256[] = {SSL_CURVE_SECP256R1};
  sl = sg(s, wolf, 4);
  kl = ks(k, p256, 1);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 1);
  ASSERT_EQ(out.n, 3);
  ASSERT_EQ(out.ids[0], SSL_CURVE_SECP256R1);
  ASSERT_EQ(out.ids[1], SSL_CURVE_X25519);
  ASSERT_EQ(out.ids[2], SSL_CURVE_SECP384R1);
  /* Not for TLS 1.2, nor without the extensions. */
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 0, &out), 0);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, NULL, 0, 1, &out), 0);
  ASSERT_EQ(mqg_tls_groups_pick(&g, NULL, 0, k, kl, 1, &out), 0);
  /* An X25519 share: already our first choice, nothing to change. */
  const uint16_t x[] = {SSL_CURVE_X25519};
  kl = ks(k, x, 1);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 0);
  /* Shares for P-521 (not allowed) and P-384: P-384 first. */
  const uint16_t two[] = {SSL_CURVE_SECP521R1, SSL_CURVE_SECP384R1};
  kl = ks(k, two, 2);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 1);
  ASSERT_EQ(out.ids[0], SSL_CURVE_SECP384R1);
  /* Shares for P-384 and P-256: our order decides between them. */
  const uint16_t both[] = {SSL_CURVE_SECP384R1, SSL_CURVE_SECP256R1};
  kl = ks(k, both, 2);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 1);
  ASSERT_EQ(out.ids[0], SSL_CURVE_SECP256R1);
  /* A share for a group the device does not list as supported is ignored. */
  const uint16_t only384[] = {SSL_CURVE_SECP384R1};
  sl = sg(s, only384, 1);
  kl = ks(k, p256, 1);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 0);
  /* Only a share for a group not allowed: nothing to do (HRR follows). */
  const uint16_t only521[] = {SSL_CURVE_SECP521R1};
  sl = sg(s, wolf, 4);
  kl = ks(k, only521, 1);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 0);
  return 0;
}

/* Truncated, extended and corrupted extension bodies never read out of
 * bounds and never change the order. */
TEST_IMPL(tlsgroups_pick_malformed) {
  mqg_tls_groups g, out;
  char err[200];
  uint8_t s[64], k[128], bad[130];
  ASSERT_EQ(mqg_tls_groups_parse("X25519:P-256", &g, err, sizeof(err)), 0);
  const uint16_t sup[] = {SSL_CURVE_SECP384R1, SSL_CURVE_SECP256R1, SSL_CURVE_X25519};
  const uint16_t p256[] = {SSL_CURVE_SECP256R1};
  size_t sl = sg(s, sup, 3), kl = ks(k, p256, 1);
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, kl, 1, &out), 1);
  for (size_t cut = 0; cut < kl; cut++)
    ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, k, cut, 1, &out), 0);
  for (size_t cut = 0; cut < sl; cut++)
    ASSERT_EQ(mqg_tls_groups_pick(&g, s, cut, k, kl, 1, &out), 0);
  memcpy(bad, k, kl);
  bad[kl] = 0; /* a trailing byte */
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, bad, kl + 1, 1, &out), 0);
  memcpy(bad, k, kl);
  bad[5] = 0; /* an empty key */
  bad[1] = 4;
  ASSERT_EQ(mqg_tls_groups_pick(&g, s, sl, bad, 6, 1, &out), 0);
  for (size_t i = 0; i < kl; i++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(bad, k, kl);
      bad[i] ^= (uint8_t)(1 << bit);
      int r = mqg_tls_groups_pick(&g, s, sl, bad, kl, 1, &out);
      ASSERT(r == 0 || (r == 1 && out.n == g.n));
    }
  return 0;
}
