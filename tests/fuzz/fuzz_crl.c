/* fuzz_crl: the CRL loader of policy/crl.h on arbitrary file bytes (PEM or
 * DER), against a bundle made at start-up: a root "mqgate fuzz root" and an
 * intermediate "mqgate fuzz intermediate" under it, the issuer names of the
 * seed CRLs (make_corpus.py makes them with mqgate-certgen and `openssl ca
 * -gencrl`; certgen writes a name the same way in every process, so the
 * seeds' issuer names match).
 *
 * The fuzz build defines MQG_UNSAFE_FUZZER_MODE: crl.c then does not verify
 * CRL signatures (keys differ from process to process, and a mutated CRL
 * never carries a good signature), so inputs get past the signature to the
 * rest: extensions, times, entries, the set. Bad signatures are the unit
 * tests' (tests/unit/policy/test_crl.c).
 *
 * Checks beyond "no crash, no leak": the message is set exactly on
 * failure; a second load gives the same answer; a loaded set is consistent
 * (its CRLs' entries add up; every serial BoringSSL reads from the input
 * is found by mqg_crl_set_lookup under its CRL's issuer); chain checks of
 * the bundle's own devices return a status of the enum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include "certgen.h"
#include "crl.h"
#include "fuzz_check.h"

#define T0 1767225600 /* 2026-01-01 */

static STACK_OF(X509) *cas;
static CRYPTO_BUFFER *chains[3][2]; /* device under root; under inter (+inter) */

static X509 *make(const char *cn, int is_ca, X509 *issuer, EVP_PKEY *issuer_key,
                  EVP_PKEY **out_key) {
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  mqg_cert_spec s = {cn, NULL, NULL, T0 - 86400, T0 + 86400 * 365, is_ca, 0, !is_ca};
  CHECK(key != NULL);
  X509 *x = mqg_certgen_issue(&s, key, issuer, issuer_key ? issuer_key : NULL);
  CHECK(x != NULL);
  *out_key = key;
  return x;
}

static CRYPTO_BUFFER *buffer(X509 *x) {
  uint8_t *der = NULL;
  int len = i2d_X509(x, &der);
  CHECK(len > 0);
  CRYPTO_BUFFER *b = CRYPTO_BUFFER_new(der, (size_t)len, NULL);
  OPENSSL_free(der);
  CHECK(b != NULL);
  return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  EVP_PKEY *root_key, *inter_key, *k1, *k2;
  X509 *root = make("mqgate fuzz root", 1, NULL, NULL, &root_key);
  X509 *inter = make("mqgate fuzz intermediate", 1, root, root_key, &inter_key);
  X509 *d1 = make("device-1", 0, root, root_key, &k1);
  X509 *d2 = make("device-2", 0, inter, inter_key, &k2);
  cas = sk_X509_new_null();
  CHECK(cas != NULL && sk_X509_push(cas, root) && sk_X509_push(cas, inter));
  chains[0][0] = buffer(d1);
  chains[1][0] = buffer(d2);
  chains[2][0] = buffer(d2);
  chains[2][1] = buffer(inter);
  X509_free(d1);
  X509_free(d2);
  EVP_PKEY_free(root_key);
  EVP_PKEY_free(inter_key);
  EVP_PKEY_free(k1);
  EVP_PKEY_free(k2);
  return 0;
}

/* every_serial_found parses |crl| as BoringSSL does and checks that each
 * of its serials is listed in |s| under the CRL's issuer. */
static void every_serial_found(const mqg_crl_set *s, X509_CRL *crl) {
  const uint8_t *der;
  size_t len;
  uint8_t key[32];
  CHECK(X509_NAME_get0_der(X509_CRL_get_issuer(crl), &der, &len));
  mqg_crl_name_key(der, len, key);
  STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
  for (size_t i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
    const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
    uint8_t buf[MQG_CRL_SERIAL_MAX], *p = buf;
    int n = i2c_ASN1_INTEGER(sn, NULL);
    CHECK(n > 0 && n <= MQG_CRL_SERIAL_MAX && i2c_ASN1_INTEGER(sn, &p) == n);
    CHECK(mqg_crl_set_lookup(s, key, buf, (size_t)n));
  }
}

static void check_consistent(const mqg_crl_set *s, const uint8_t *data, size_t size) {
  size_t total = 0;
  for (size_t i = 0; i < mqg_crl_set_count(s); i++) {
    mqg_crl_info info;
    mqg_crl_set_info(s, i, &info);
    CHECK(info.issuer_cn != NULL && strlen(info.issuer_id) == 16);
    CHECK(info.next_update == 0 || info.next_update >= info.this_update);
    total += info.entries;
  }
  CHECK(total == mqg_crl_set_entries(s));
  /* The same input, read by BoringSSL alone: DER, or each PEM block. */
  BIO *bio = BIO_new_mem_buf(data, size);
  CHECK(bio != NULL);
  X509_CRL *crl = d2i_X509_CRL_bio(bio, NULL);
  if (crl != NULL) {
    every_serial_found(s, crl);
    X509_CRL_free(crl);
  } else {
    BIO_free(bio);
    bio = BIO_new_mem_buf(data, size);
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
      every_serial_found(s, crl);
      X509_CRL_free(crl);
    }
  }
  BIO_free(bio);
  ERR_clear_error();
  for (size_t c = 0; c < 3; c++) {
    mqg_crl_result res;
    size_t n = chains[c][1] != NULL ? 2 : 1;
    mqg_crl_status st = mqg_crl_check_chain(s, (const CRYPTO_BUFFER *const *)chains[c], n,
                                            T0, &res);
    CHECK(st == MQG_CRL_GOOD || st == MQG_CRL_REVOKED || st == MQG_CRL_STALE);
    if (st != MQG_CRL_GOOD)
      CHECK(res.crl < mqg_crl_set_count(s));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512], err2[512];
  mqg_crl_input in = {"fuzz.crl", data, size};
  err[0] = err2[0] = '\0';
  mqg_crl_set *s = mqg_crl_set_new(&in, 1, cas, err, sizeof(err));
  CHECK((s == NULL) == (err[0] != '\0'));
  mqg_crl_set *again = mqg_crl_set_new(&in, 1, cas, err2, sizeof(err2));
  CHECK((s == NULL) == (again == NULL));
  CHECK(strcmp(err, err2) == 0);
  if (s != NULL) {
    CHECK(mqg_crl_set_entries(s) == mqg_crl_set_entries(again));
    check_consistent(s, data, size);
  }
  mqg_crl_set_free(s);
  mqg_crl_set_free(again);
  return 0;
}
