/* fuzz_keyshare: proxy/tlsgroups.h's reading of a ClientHello's
 * supported_groups and key_share extensions (device bytes, read before
 * BoringSSL has checked them).
 *
 * Input: one byte |k|, then the supported_groups body (its first |k|
 * bytes, at most what is there), then the key_share body (the rest).
 *   - mqg_tls_groups_pick for TLS 1.3 and 1.2 with two server orders; a
 *     new order must hold the server's groups exactly once each, the one
 *     moved first being one the device sent a share for and supports;
 *   - every prefix of the key_share body, which must not read past it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsgroups.h"
#include "fuzz_check.h"

static void check_order(const mqg_tls_groups *g, const mqg_tls_groups *out) {
  CHECK(out->n == g->n);
  for (size_t i = 0; i < g->n; i++) {
    int seen = 0;
    for (size_t j = 0; j < out->n; j++)
      seen += out->ids[j] == g->ids[i] && out->nids[j] == g->nids[i];
    CHECK(seen == 1);
  }
  CHECK(out->ids[0] != g->ids[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  static mqg_tls_groups orders[2];
  static int ready;
  char err[128];
  if (!ready) {
    CHECK(mqg_tls_groups_parse("X25519:P-256:P-384", &orders[0], err, sizeof(err)) == 0);
    CHECK(mqg_tls_groups_parse("P-256:X25519:P-521:P-384", &orders[1], err,
                               sizeof(err)) == 0);
    ready = 1;
  }
  if (len < 1)
    return 0;
  size_t k = data[0] < len - 1 ? data[0] : len - 1;
  /* Exact-size copies, so that ASan sees a read past either body. */
  uint8_t *sg = malloc(k ? k : 1), *ks = malloc(len - 1 - k ? len - 1 - k : 1);
  CHECK(sg != NULL && ks != NULL);
  memcpy(sg, data + 1, k);
  memcpy(ks, data + 1 + k, len - 1 - k);
  size_t ks_len = len - 1 - k;
  for (int o = 0; o < 2; o++) {
    mqg_tls_groups out;
    CHECK(mqg_tls_groups_pick(&orders[o], sg, k, ks, ks_len, 0, &out) == 0);
    if (mqg_tls_groups_pick(&orders[o], sg, k, ks, ks_len, 1, &out))
      check_order(&orders[o], &out);
    for (size_t cut = 0; cut < ks_len && cut < 64; cut++)
      (void)mqg_tls_groups_pick(&orders[o], sg, k, ks, cut, 1, &out);
  }
  free(sg);
  free(ks);
  return 0;
}
