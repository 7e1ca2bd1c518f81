/* fuzz_certinfo: policy/certinfo.h and policy/mtls_verify.h on arbitrary
 * bytes, as a device's certificate chain.
 *
 *   - mqg_certinfo_from_der on the whole input;
 *   - mqg_mtls_verify against one verifier built at start-up (a generated
 *     root CA, through mqg_mtls_verifier_new_pem), with the input cut into
 *     DER elements: the first is the leaf, the others are intermediates, and
 *     bytes that are no element at all make one last buffer.
 *
 * The generated certificates have new keys in every process, so a seed
 * cannot carry them; instead a 3-byte DER INTEGER 0..N-1 (02 01 0n) in the
 * input stands for generated certificate n (see pki[] below), so that the
 * corpus can hold good chains, chains through the intermediate, expired
 * leaves and the like, and the fuzzer can mix them with its own bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include "certgen.h"
#include "certinfo.h"
#include "mtls_verify.h"
#include "fuzz_check.h"

#define DAY 86400
#define T0 1767225600 /* 2026-01-01: "now" of every verification */
#define MAX_CERTS 8   /* above MQG_MTLS_MAX_DEPTH, to reach that check */

/* The generated certificates, by token number. */
enum {
  PKI_ROOT,       /* the verifier's trust anchor */
  PKI_INTER,      /* intermediate CA under the root */
  PKI_DEV_ROOT,   /* device under the root */
  PKI_DEV_INTER,  /* device (RSA) under the intermediate */
  PKI_DEV_EXPIRED,/* device under the root, expired at T0 */
  PKI_DEV_FUTURE, /* device under the root, not yet valid at T0 */
  PKI_SERVER,     /* serverAuth only, under the root */
  PKI_STRANGER,   /* a CA the verifier does not know */
  PKI_DEV_STRANGER,
  PKI_COUNT
};

static CRYPTO_BUFFER *pki[PKI_COUNT];
static mqg_mtls_verifier *verifier;

static X509 *issue(const char *cn, int is_ca, int client, int server,
                   int64_t from, int64_t to, mqg_key_type kt, EVP_PKEY **key,
                   X509 *issuer, EVP_PKEY *issuer_key) {
  mqg_cert_spec s = {.cn = cn, .ou = is_ca ? NULL : "fuzz", .org = "mqgate",
                     .not_before = from, .not_after = to, .is_ca = is_ca,
                     .server = server, .client = client};
  *key = mqg_certgen_key(kt);
  CHECK(*key != NULL);
  X509 *x = mqg_certgen_issue(&s, *key, issuer, issuer_key);
  CHECK(x != NULL);
  return x;
}

static CRYPTO_BUFFER *to_buffer(X509 *x) {
  uint8_t *der = NULL;
  int n = i2d_X509(x, &der);
  CHECK(n > 0);
  CRYPTO_BUFFER *b = CRYPTO_BUFFER_new(der, (size_t)n, NULL);
  CHECK(b != NULL);
  OPENSSL_free(der);
  return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  EVP_PKEY *k[PKI_COUNT];
  X509 *x[PKI_COUNT];
  const int64_t from = T0 - 30 * DAY, to = T0 + 365 * DAY;

  x[PKI_ROOT] = issue("Fuzz Root CA", 1, 0, 0, from, to, MQG_KEY_EC_P256,
                      &k[PKI_ROOT], NULL, NULL);
  x[PKI_INTER] = issue("Fuzz Intermediate CA", 1, 0, 0, from, to,
                       MQG_KEY_EC_P256, &k[PKI_INTER], x[PKI_ROOT],
                       k[PKI_ROOT]);
  x[PKI_DEV_ROOT] = issue("dev-root", 0, 1, 0, from, to, MQG_KEY_EC_P256,
                          &k[PKI_DEV_ROOT], x[PKI_ROOT], k[PKI_ROOT]);
  x[PKI_DEV_INTER] = issue("dev-inter", 0, 1, 0, from, to, MQG_KEY_RSA_2048,
                           &k[PKI_DEV_INTER], x[PKI_INTER], k[PKI_INTER]);
  x[PKI_DEV_EXPIRED] = issue("dev-expired", 0, 1, 0, from, T0 - DAY,
                             MQG_KEY_EC_P256, &k[PKI_DEV_EXPIRED],
                             x[PKI_ROOT], k[PKI_ROOT]);
  x[PKI_DEV_FUTURE] = issue("dev-future", 0, 1, 0, T0 + DAY, to,
                            MQG_KEY_EC_P256, &k[PKI_DEV_FUTURE], x[PKI_ROOT],
                            k[PKI_ROOT]);
  x[PKI_SERVER] = issue("server", 0, 0, 1, from, to, MQG_KEY_EC_P256,
                        &k[PKI_SERVER], x[PKI_ROOT], k[PKI_ROOT]);
  x[PKI_STRANGER] = issue("Stranger CA", 1, 0, 0, from, to, MQG_KEY_EC_P256,
                          &k[PKI_STRANGER], NULL, NULL);
  x[PKI_DEV_STRANGER] = issue("dev-stranger", 0, 1, 0, from, to,
                              MQG_KEY_EC_P256, &k[PKI_DEV_STRANGER],
                              x[PKI_STRANGER], k[PKI_STRANGER]);

  BIO *b = BIO_new(BIO_s_mem());
  const uint8_t *pem;
  size_t pem_len;
  char err[256];
  CHECK(b != NULL && PEM_write_bio_X509(b, x[PKI_ROOT]) &&
        BIO_mem_contents(b, &pem, &pem_len));
  verifier = mqg_mtls_verifier_new_pem((const char *)pem, pem_len, "fuzz CA",
                                       err, sizeof(err));
  if (verifier == NULL) {
    fprintf(stderr, "fuzz_certinfo: %s\n", err);
    abort();
  }
  BIO_free(b);
  for (int i = 0; i < PKI_COUNT; i++) {
    pki[i] = to_buffer(x[i]);
    X509_free(x[i]);
    EVP_PKEY_free(k[i]);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  mqg_certinfo info;
  if (mqg_certinfo_from_der(data, len, &info) == 0) {
    CHECK(strlen(info.fingerprint) == 64 && strlen(info.cn) <= 256 &&
          strlen(info.serial) <= MQG_CERTINFO_SERIAL_MAX);
  }

  /* The chain: DER elements, tokens replaced by generated certificates. */
  CRYPTO_BUFFER *chain[MAX_CERTS];
  size_t n = 0;
  CBS in, elem;
  CBS_init(&in, data, len);
  while (CBS_len(&in) > 0 && n < MAX_CERTS) {
    const uint8_t *p;
    size_t plen;
    if (CBS_get_any_asn1_element(&in, &elem, NULL, NULL)) {
      p = CBS_data(&elem);
      plen = CBS_len(&elem);
    } else {
      p = CBS_data(&in);
      plen = CBS_len(&in);
      CBS_init(&in, NULL, 0);
    }
    if (plen == 3 && p[0] == 0x02 && p[1] == 0x01 && p[2] < PKI_COUNT) {
      chain[n] = pki[p[2]];
      CRYPTO_BUFFER_up_ref(chain[n]);
    } else {
      chain[n] = CRYPTO_BUFFER_new(p, plen, NULL);
      CHECK(chain[n] != NULL);
    }
    n++;
  }

  uint8_t anchor[32];
  mqg_reason r = mqg_mtls_verify(verifier, (const CRYPTO_BUFFER *const *)chain,
                                 n, T0, &info, anchor);
  if (n == 0)
    CHECK(r == MQG_REASON_NO_CERT);
  if (r == MQG_REASON_OK) {
    /* Only the root is trusted, so a good chain ends there. */
    CHECK(info.fingerprint[0] != '\0');
    uint8_t root_id[32];
    mqg_certinfo_fingerprint(CRYPTO_BUFFER_data(pki[PKI_ROOT]),
                             CRYPTO_BUFFER_len(pki[PKI_ROOT]), root_id);
    CHECK(memcmp(anchor, root_id, 32) == 0);
  }
  for (size_t i = 0; i < n; i++)
    CRYPTO_BUFFER_free(chain[i]);
  return 0;
}
