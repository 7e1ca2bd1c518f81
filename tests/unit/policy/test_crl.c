/* test_crl.c: CRLs good and bad against a CA bundle (policy/crl.h), the
 * chain check from leaf to root, and the cost of a 100,000-entry CRL. */
#include "task.h"

#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/mem.h>
#include <openssl/obj.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "pki_pair.h"

#define DAY 86400
static const int64_t NOW = 1700000000; /* 2023-11-14 */

static pair issue(const char *cn, int is_ca, const pair *by) {
  return pair_issue(cn, is_ca, 0, !is_ca, by, NOW - 365 * DAY, NOW + 3650 * DAY);
}

/* A CRL builder: revoke certificates or bare serials, then sign. */
static X509_CRL *crl_begin(const pair *issuer, int64_t this_update, int64_t next_update) {
  X509_CRL *crl = X509_CRL_new();
  ASSERT(crl != NULL);
  ASSERT(X509_CRL_set_version(crl, X509_CRL_VERSION_2));
  ASSERT(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->cert)));
  ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)this_update);
  ASSERT(t != NULL && X509_CRL_set1_lastUpdate(crl, t));
  ASN1_TIME_free(t);
  if (next_update != 0) {
    t = ASN1_TIME_set(NULL, (time_t)next_update);
    ASSERT(t != NULL && X509_CRL_set1_nextUpdate(crl, t));
    ASN1_TIME_free(t);
  }
  return crl;
}

static X509_REVOKED *revoke_serial(X509_CRL *crl, const ASN1_INTEGER *serial) {
  X509_REVOKED *r = X509_REVOKED_new();
  ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)(NOW - DAY));
  ASSERT(r != NULL && t != NULL);
  ASSERT(X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)serial));
  ASSERT(X509_REVOKED_set_revocationDate(r, t));
  ASN1_TIME_free(t);
  ASSERT(X509_CRL_add0_revoked(crl, r));
  return r;
}

static void revoke_cert(X509_CRL *crl, const pair *p) {
  revoke_serial(crl, X509_get0_serialNumber(p->cert));
}

static void revoke_number(X509_CRL *crl, uint64_t v) {
  ASN1_INTEGER *sn = ASN1_INTEGER_new();
  ASSERT(sn != NULL && ASN1_INTEGER_set_uint64(sn, v));
  revoke_serial(crl, sn);
  ASN1_INTEGER_free(sn);
}

/* crl_der signs |crl| with |key| and returns its DER (OPENSSL_free). */
static uint8_t *crl_der(X509_CRL *crl, EVP_PKEY *key, size_t *len) {
  ASSERT(X509_CRL_sort(crl));
  ASSERT(X509_CRL_sign(crl, key, EVP_sha256()));
  uint8_t *der = NULL;
  int n = i2d_X509_CRL(crl, &der);
  ASSERT(n > 0);
  *len = (size_t)n;
  X509_CRL_free(crl);
  return der;
}

static char *crl_pem(const uint8_t *der, size_t len, size_t *out_len) {
  const uint8_t *p = der;
  X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
  BIO *bio = BIO_new(BIO_s_mem());
  ASSERT(crl != NULL && bio != NULL && PEM_write_bio_X509_CRL(bio, crl));
  const uint8_t *data;
  size_t n;
  ASSERT(BIO_mem_contents(bio, &data, &n));
  char *out = malloc(n + 1);
  memcpy(out, data, n);
  out[n] = '\0';
  *out_len = n;
  BIO_free(bio);
  X509_CRL_free(crl);
  return out;
}

static STACK_OF(X509) *bundle(const pair *const *cas, size_t n) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  for (size_t i = 0; i < n; i++) {
    X509_up_ref(cas[i]->cert);
    ASSERT(sk_X509_push(sk, cas[i]->cert));
  }
  return sk;
}

static mqg_crl_set *load1(const uint8_t *data, size_t len, const STACK_OF(X509) *cas,
                          char *err, size_t errlen) {
  mqg_crl_input in = {"test.crl", data, len};
  err[0] = '\0';
  mqg_crl_set *s = mqg_crl_set_new(&in, 1, cas, err, errlen);
  ASSERT((s == NULL) == (err[0] != '\0'));
  return s;
}

/* check runs the chain check on the given certificates, leaf first. */
static mqg_crl_status check(const mqg_crl_set *s, const pair *const *chain, size_t n,
                            int64_t now, mqg_crl_result *res) {
  CRYPTO_BUFFER *bufs[MQG_CRL_CHAIN_MAX + 2];
  ASSERT(n <= MQG_CRL_CHAIN_MAX + 2);
  for (size_t i = 0; i < n; i++) {
    uint8_t *der = NULL;
    int len = i2d_X509(chain[i]->cert, &der);
    ASSERT(len > 0);
    bufs[i] = CRYPTO_BUFFER_new(der, (size_t)len, NULL);
    OPENSSL_free(der);
  }
  mqg_crl_status st = mqg_crl_check_chain(s, (const CRYPTO_BUFFER *const *)bufs, n, now, res);
  for (size_t i = 0; i < n; i++)
    CRYPTO_BUFFER_free(bufs[i]);
  return st;
}

static void issuer_key(const pair *ca, uint8_t out[32]) {
  const uint8_t *der;
  size_t len;
  ASSERT(X509_NAME_get0_der(X509_get_subject_name(ca->cert), &der, &len));
  mqg_crl_name_key(der, len, out);
}

TEST_IMPL(crl_good) {
  pair root = issue("Fleet Root", 1, NULL);
  pair d1 = issue("device-1", 0, &root), d2 = issue("device-2", 0, &root);
  const pair *cas[] = {&root};
  STACK_OF(X509) *sk = bundle(cas, 1);
  X509_CRL *crl = crl_begin(&root, NOW - DAY, NOW + 7 * DAY);
  revoke_cert(crl, &d1);
  revoke_number(crl, 0x1234);
  size_t len, pem_len;
  uint8_t *der = crl_der(crl, root.key, &len);
  char *pem = crl_pem(der, len, &pem_len);
  char err[256];

  for (int form = 0; form < 2; form++) {
    mqg_crl_set *s = form == 0 ? load1(der, len, sk, err, sizeof(err))
                               : load1((const uint8_t *)pem, pem_len, sk, err, sizeof(err));
    ASSERT(s != NULL);
    ASSERT_EQ(mqg_crl_set_count(s), 1);
    ASSERT_EQ(mqg_crl_set_entries(s), 2);
    mqg_crl_info info;
    mqg_crl_set_info(s, 0, &info);
    ASSERT_STR_EQ(info.issuer_cn, "Fleet Root");
    ASSERT_STR_EQ(info.source, "test.crl");
    ASSERT_EQ(strlen(info.issuer_id), 16);
    ASSERT_EQ(info.entries, 2);
    ASSERT_EQ(info.this_update, NOW - DAY);
    ASSERT_EQ(info.next_update, NOW + 7 * DAY);
    ASSERT_EQ(mqg_crl_set_next_change(s, NOW), NOW + 7 * DAY);
    ASSERT(!mqg_crl_set_is_stale(s, 0, NOW));

    mqg_crl_result res;
    const pair *c1[] = {&d1}, *c2[] = {&d2};
    ASSERT_EQ(check(s, c1, 1, NOW, &res), MQG_CRL_REVOKED);
    ASSERT_EQ(res.depth, 0);
    ASSERT_EQ(res.crl, 0);
    ASSERT_EQ(check(s, c2, 1, NOW, &res), MQG_CRL_GOOD);
    /* Serials by their contents, with and without redundant padding. */
    uint8_t key[32];
    issuer_key(&root, key);
    const uint8_t s1234[] = {0x12, 0x34}, padded[] = {0x00, 0x00, 0x12, 0x34};
    const uint8_t s1235[] = {0x12, 0x35};
    ASSERT(mqg_crl_set_lookup(s, key, s1234, 2));
    ASSERT(mqg_crl_set_lookup(s, key, padded, 4));
    ASSERT(!mqg_crl_set_lookup(s, key, s1235, 2));
    uint8_t other[32] = {1};
    ASSERT(!mqg_crl_set_lookup(s, other, s1234, 2));
    mqg_crl_set_free(s);
  }
  /* No input: an empty set, every chain good. */
  mqg_crl_set *empty = mqg_crl_set_new(NULL, 0, sk, err, sizeof(err));
  const pair *c1[] = {&d1};
  ASSERT(empty != NULL && mqg_crl_set_count(empty) == 0);
  ASSERT_EQ(check(empty, c1, 1, NOW, NULL), MQG_CRL_GOOD);
  mqg_crl_set_free(empty);

  free(pem);
  OPENSSL_free(der);
  sk_X509_pop_free(sk, X509_free);
  pair_free(&d1);
  pair_free(&d2);
  pair_free(&root);
  return 0;
}

/* Root -> intermediate -> device: the intermediate's CRL revokes devices,
 * the root's revokes the intermediate, whether the device sends it or the
 * bundle holds it; a CRL is only accepted from a CA of the bundle. */
TEST_IMPL(crl_intermediate) {
  pair root = issue("Fleet Root", 1, NULL);
  pair inter = issue("Fleet Issuing CA", 1, &root);
  pair dev = issue("device-1", 0, &inter), ok = issue("device-2", 0, &inter);
  const pair *both[] = {&root, &inter}, *root_only[] = {&root};
  STACK_OF(X509) *sk2 = bundle(both, 2), *sk1 = bundle(root_only, 1);
  char err[256];
  size_t len_i, len_r, len_empty;

  X509_CRL *crl = crl_begin(&inter, NOW - DAY, NOW + DAY);
  revoke_cert(crl, &dev);
  uint8_t *der_i = crl_der(crl, inter.key, &len_i);
  crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  revoke_cert(crl, &inter);
  uint8_t *der_r = crl_der(crl, root.key, &len_r);
  uint8_t *der_empty = crl_der(crl_begin(&root, NOW - DAY, NOW + DAY), root.key, &len_empty);

  /* The intermediate's CRL, bundle with the intermediate. */
  mqg_crl_set *s = load1(der_i, len_i, sk2, err, sizeof(err));
  ASSERT(s != NULL);
  const pair *a[] = {&dev}, *b[] = {&dev, &inter}, *c[] = {&ok}, *d[] = {&ok, &inter};
  ASSERT_EQ(check(s, a, 1, NOW, NULL), MQG_CRL_REVOKED);
  ASSERT_EQ(check(s, b, 2, NOW, NULL), MQG_CRL_REVOKED);
  ASSERT_EQ(check(s, c, 1, NOW, NULL), MQG_CRL_GOOD);
  mqg_crl_set_free(s);
  /* Without the intermediate in the bundle its CRL has no issuer. */
  ASSERT(load1(der_i, len_i, sk1, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "no CA of the --client-ca bundle") != NULL);

  /* The root revokes the intermediate: every device below it goes, sent
   * intermediate or bundled one. */
  mqg_crl_input two[] = {{"inter.crl", der_i, len_i}, {"root.crl", der_r, len_r}};
  s = mqg_crl_set_new(two, 2, sk2, err, sizeof(err));
  ASSERT(s != NULL && mqg_crl_set_count(s) == 2);
  mqg_crl_result res;
  ASSERT_EQ(check(s, c, 1, NOW, &res), MQG_CRL_REVOKED);
  ASSERT_EQ(res.depth, 1);
  mqg_crl_info info;
  mqg_crl_set_info(s, res.crl, &info);
  ASSERT_STR_EQ(info.issuer_cn, "Fleet Root");
  ASSERT_STR_EQ(info.source, "root.crl");
  ASSERT_EQ(check(s, d, 2, NOW, NULL), MQG_CRL_REVOKED);
  mqg_crl_set_free(s);
  s = load1(der_r, len_r, sk1, err, sizeof(err));
  ASSERT(s != NULL);
  ASSERT_EQ(check(s, d, 2, NOW, NULL), MQG_CRL_REVOKED); /* sent intermediate */
  ASSERT_EQ(check(s, c, 1, NOW, NULL), MQG_CRL_GOOD);    /* nothing to see */
  mqg_crl_set_free(s);
  /* An empty root CRL revokes nothing. */
  s = load1(der_empty, len_empty, sk2, err, sizeof(err));
  ASSERT(s != NULL);
  ASSERT_EQ(check(s, d, 2, NOW, NULL), MQG_CRL_GOOD);
  mqg_crl_set_free(s);

  OPENSSL_free(der_i);
  OPENSSL_free(der_r);
  OPENSSL_free(der_empty);
  sk_X509_pop_free(sk1, X509_free);
  sk_X509_pop_free(sk2, X509_free);
  pair_free(&dev);
  pair_free(&ok);
  pair_free(&inter);
  pair_free(&root);
  return 0;
}

TEST_IMPL(crl_bad_signature) {
  pair root = issue("Fleet Root", 1, NULL);
  pair impostor = issue("Fleet Root", 1, NULL); /* same name, other key */
  pair other = issue("Other CA", 1, NULL);
  pair dev = issue("device-1", 0, &root);
  const pair *cas[] = {&root};
  STACK_OF(X509) *sk = bundle(cas, 1);
  char err[256];
  size_t len;

  X509_CRL *crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  revoke_cert(crl, &dev);
  uint8_t *der = crl_der(crl, impostor.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "bad signature") != NULL);
  ASSERT(strstr(err, "Fleet Root") != NULL);
  OPENSSL_free(der);

  /* A good CRL with one bit of its signature flipped. */
  crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  revoke_cert(crl, &dev);
  der = crl_der(crl, root.key, &len);
  der[len - 3] ^= 0x01;
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  OPENSSL_free(der);

  /* Wrong issuer: a CRL of a CA the bundle does not hold. */
  der = crl_der(crl_begin(&other, NOW - DAY, NOW + DAY), other.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "\"Other CA\" of the CRL is no CA of the --client-ca bundle") != NULL);
  OPENSSL_free(der);

  sk_X509_pop_free(sk, X509_free);
  pair_free(&root);
  pair_free(&impostor);
  pair_free(&other);
  pair_free(&dev);
  return 0;
}

TEST_IMPL(crl_expired) {
  pair root = issue("Fleet Root", 1, NULL);
  pair inter = issue("Fleet Issuing CA", 1, &root);
  pair gone = issue("device-gone", 0, &root), here = issue("device-here", 0, &root);
  pair below = issue("device-below", 0, &inter);
  const pair *cas[] = {&root, &inter};
  STACK_OF(X509) *sk = bundle(cas, 2);
  char err[256];
  size_t len, len2;

  X509_CRL *crl = crl_begin(&root, NOW - 10 * DAY, NOW - DAY);
  revoke_cert(crl, &gone);
  uint8_t *der = crl_der(crl, root.key, &len);
  mqg_crl_set *s = load1(der, len, sk, err, sizeof(err));
  ASSERT(s != NULL); /* expired CRLs load: what to do is the caller's policy */
  ASSERT(mqg_crl_set_is_stale(s, 0, NOW));
  ASSERT(!mqg_crl_set_is_stale(s, 0, NOW - 2 * DAY));
  ASSERT_EQ(mqg_crl_set_next_change(s, NOW), 0);
  ASSERT_EQ(mqg_crl_set_next_change(s, NOW - 2 * DAY), NOW - DAY);
  const pair *a[] = {&gone}, *b[] = {&here}, *c[] = {&below};
  ASSERT_EQ(check(s, a, 1, NOW, NULL), MQG_CRL_REVOKED); /* listed still counts */
  ASSERT_EQ(check(s, b, 1, NOW, NULL), MQG_CRL_STALE);
  ASSERT_EQ(check(s, b, 1, NOW - 2 * DAY, NULL), MQG_CRL_GOOD);
  /* The intermediate's own link to the root's stale CRL makes its devices
   * stale too. */
  ASSERT_EQ(check(s, c, 1, NOW, NULL), MQG_CRL_STALE);
  mqg_crl_set_free(s);

  /* No nextUpdate: never stale. nextUpdate before thisUpdate: refused. */
  der = (OPENSSL_free(der), crl_der(crl_begin(&root, NOW - DAY, 0), root.key, &len));
  s = load1(der, len, sk, err, sizeof(err));
  ASSERT(s != NULL && !mqg_crl_set_is_stale(s, 0, NOW + 3650 * DAY));
  mqg_crl_info info;
  mqg_crl_set_info(s, 0, &info);
  ASSERT_EQ(info.next_update, 0);
  mqg_crl_set_free(s);
  uint8_t *bad = crl_der(crl_begin(&root, NOW, NOW - DAY), root.key, &len2);
  ASSERT(load1(bad, len2, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "nextUpdate is before thisUpdate") != NULL);

  OPENSSL_free(bad);
  OPENSSL_free(der);
  sk_X509_pop_free(sk, X509_free);
  pair_free(&gone);
  pair_free(&here);
  pair_free(&below);
  pair_free(&inter);
  pair_free(&root);
  return 0;
}

/* Every truncation and every one-byte corruption of a good CRL, DER and
 * PEM, is refused with a message (and leaks nothing: LeakSanitizer). */
TEST_IMPL(crl_truncated_and_corrupted) {
  pair root = issue("Fleet Root", 1, NULL);
  const pair *cas[] = {&root};
  STACK_OF(X509) *sk = bundle(cas, 1);
  X509_CRL *crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  for (uint64_t i = 1; i <= 3; i++)
    revoke_number(crl, 1000 + i);
  size_t len, pem_len;
  uint8_t *der = crl_der(crl, root.key, &len);
  char *pem = crl_pem(der, len, &pem_len);
  char err[256];
  mqg_crl_set *s = load1(der, len, sk, err, sizeof(err));
  ASSERT(s != NULL);
  mqg_crl_set_free(s);

  for (size_t cut = 0; cut < len; cut++)
    ASSERT(load1(der, cut, sk, err, sizeof(err)) == NULL);
  /* A PEM cut anywhere in its body or end line does not parse either. */
  for (size_t cut = 30; cut + 2 < pem_len; cut += 3)
    ASSERT(load1((const uint8_t *)pem, cut, sk, err, sizeof(err)) == NULL);
  uint8_t *copy = malloc(len);
  for (size_t i = 0; i < len; i++) {
    memcpy(copy, der, len);
    copy[i] ^= 0x40;
    s = load1(copy, len, sk, err, sizeof(err));
    ASSERT(s == NULL);
  }
  /* Trailing bytes after the DER. */
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, der, len);
  longer[len] = 0;
  ASSERT(load1(longer, len + 1, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "1 bytes after the DER CRL") != NULL);

  free(longer);
  free(copy);
  free(pem);
  OPENSSL_free(der);
  sk_X509_pop_free(sk, X509_free);
  pair_free(&root);
  return 0;
}

TEST_IMPL(crl_garbage) {
  pair root = issue("Fleet Root", 1, NULL);
  const pair *cas[] = {&root};
  STACK_OF(X509) *sk = bundle(cas, 1);
  char err[256];
  static const struct {
    const char *data, *message;
  } cases[] = {
      {"", "empty file"},
      {"hello, world\n", "not a CRL"},
      {"\x30\x03\x02\x01\x01", "not a CRL"},
      {"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "does not parse"},
      {"-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n", "does not parse"},
      {"-----BEGIN X509 CRL-----\nMAA=\n", "does not parse"},
      {"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "no CRL in the file"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT(load1((const uint8_t *)cases[i].data, strlen(cases[i].data), sk, err,
                 sizeof(err)) == NULL);
    if (strstr(err, cases[i].message) == NULL) {
      fprintf(stderr, "case %zu: %s\n", i, err);
      ASSERT(0);
    }
  }
  /* A certificate in DER is not a CRL. */
  uint8_t *der = NULL;
  int len = i2d_X509(root.cert, &der);
  ASSERT(load1(der, (size_t)len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "not a CRL") != NULL);
  OPENSSL_free(der);
  /* 4 KiB of pseudo-random bytes, many times. */
  uint8_t junk[4096];
  uint32_t x = 12345;
  for (int round = 0; round < 200; round++) {
    for (size_t i = 0; i < sizeof(junk); i++)
      junk[i] = (uint8_t)((x = x * 1103515245 + 12345) >> 16);
    junk[0] = 0x30; /* looks like a SEQUENCE */
    ASSERT(load1(junk, (size_t)(round * 20 + 1), sk, err, sizeof(err)) == NULL);
  }
  sk_X509_pop_free(sk, X509_free);
  pair_free(&root);
  return 0;
}

/* re_sign replaces |ca|'s keyUsage with keyCertSign alone (no cRLSign). */
static void drop_crl_sign(pair *ca) {
  ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
  ASSERT(ku != NULL && ASN1_BIT_STRING_set_bit(ku, 5, 1)); /* keyCertSign */
  ASSERT(X509_add1_ext_i2d(ca->cert, NID_key_usage, ku, 1, X509V3_ADD_REPLACE));
  ASN1_BIT_STRING_free(ku);
  ASSERT(X509_sign(ca->cert, ca->key, EVP_sha256()));
  uint8_t *der = NULL;
  int len = i2d_X509(ca->cert, &der);
  const uint8_t *p = der;
  X509 *fresh = d2i_X509(NULL, &p, len);
  ASSERT(fresh != NULL);
  OPENSSL_free(der);
  X509_free(ca->cert);
  ca->cert = fresh;
}

static X509_EXTENSION *odd_extension(int critical) {
  ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
  ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
  ASSERT(obj != NULL && v != NULL && ASN1_OCTET_STRING_set(v, (const uint8_t *)"\x05\x00", 2));
  X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, v);
  ASSERT(ext != NULL);
  ASN1_OBJECT_free(obj);
  ASN1_OCTET_STRING_free(v);
  return ext;
}

/* CRLs that do not mean what they seem to: refused, each with its reason. */
TEST_IMPL(crl_refusals) {
  pair root = issue("Fleet Root", 1, NULL);
  pair nosign = issue("No CRL Signer", 1, NULL);
  drop_crl_sign(&nosign);
  const pair *cas[] = {&root, &nosign};
  STACK_OF(X509) *sk = bundle(cas, 2);
  char err[256];
  size_t len, len2;
  uint8_t *der, *der2;

  der = crl_der(crl_begin(&nosign, NOW - DAY, NOW + DAY), nosign.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "may not sign CRLs") != NULL);
  OPENSSL_free(der);

  /* Two CRLs of one CA. */
  der = crl_der(crl_begin(&root, NOW - DAY, NOW + DAY), root.key, &len);
  der2 = crl_der(crl_begin(&root, NOW - 2 * DAY, NOW + DAY), root.key, &len2);
  mqg_crl_input two[] = {{"a.crl", der, len}, {"b.crl", der2, len2}};
  ASSERT(mqg_crl_set_new(two, 2, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "two CRLs of CA \"Fleet Root\"") != NULL);
  /* The same two in one PEM file: the same answer. */
  size_t p1, p2;
  char *pem1 = crl_pem(der, len, &p1), *pem2 = crl_pem(der2, len2, &p2);
  char *both = malloc(p1 + p2);
  memcpy(both, pem1, p1);
  memcpy(both + p1, pem2, p2);
  ASSERT(load1((const uint8_t *)both, p1 + p2, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "two CRLs") != NULL);
  free(both);
  free(pem1);
  free(pem2);
  OPENSSL_free(der);
  OPENSSL_free(der2);

  /* A delta CRL. */
  X509_CRL *crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  ASN1_INTEGER *num = ASN1_INTEGER_new();
  ASSERT(ASN1_INTEGER_set_uint64(num, 7));
  ASSERT(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0));
  ASSERT(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num, 1, 0));
  ASN1_INTEGER_free(num);
  der = crl_der(crl, root.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "delta CRL") != NULL);
  OPENSSL_free(der);

  /* An indirect CRL. */
  crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
  idp->indirectCRL = 1;
  ASSERT(X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0));
  ISSUING_DIST_POINT_free(idp);
  der = crl_der(crl, root.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "indirect CRL") != NULL);
  OPENSSL_free(der);

  /* An IDP that only says "user certificates only" is fine, and the CRL
   * number is reported. */
  crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  idp = ISSUING_DIST_POINT_new();
  idp->onlyuser = 1;
  ASSERT(X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0));
  ISSUING_DIST_POINT_free(idp);
  num = ASN1_INTEGER_new();
  ASSERT(ASN1_INTEGER_set_uint64(num, 0x2a));
  ASSERT(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0));
  ASN1_INTEGER_free(num);
  der = crl_der(crl, root.key, &len);
  mqg_crl_set *s = load1(der, len, sk, err, sizeof(err));
  ASSERT(s != NULL);
  mqg_crl_info info;
  mqg_crl_set_info(s, 0, &info);
  ASSERT_STR_EQ(info.number, "2A");
  mqg_crl_set_free(s);
  OPENSSL_free(der);

  /* A critical extension nobody knows; a non-critical one is fine. */
  for (int critical = 1; critical >= 0; critical--) {
    crl = crl_begin(&root, NOW - DAY, NOW + DAY);
    X509_EXTENSION *ext = odd_extension(critical);
    ASSERT(X509_CRL_add_ext(crl, ext, -1));
    X509_EXTENSION_free(ext);
    der = crl_der(crl, root.key, &len);
    s = load1(der, len, sk, err, sizeof(err));
    ASSERT((s == NULL) == critical);
    if (critical)
      ASSERT(strstr(err, "unhandled critical extension 1.3.6.1.4.1.55555.1") != NULL);
    mqg_crl_set_free(s);
    OPENSSL_free(der);
  }

  /* An entry with a critical extension. */
  crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  ASN1_INTEGER *sn = ASN1_INTEGER_new();
  ASSERT(ASN1_INTEGER_set_uint64(sn, 0xbeef));
  X509_REVOKED *r = revoke_serial(crl, sn);
  ASN1_INTEGER_free(sn);
  X509_EXTENSION *ext = odd_extension(1);
  ASSERT(X509_REVOKED_add_ext(r, ext, -1));
  X509_EXTENSION_free(ext);
  der = crl_der(crl, root.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "entry 1 (serial BEEF) has a critical extension") != NULL);
  OPENSSL_free(der);

  /* A serial number over 32 bytes. */
  crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  BIGNUM *bn = BN_new();
  ASSERT(bn != NULL && BN_set_bit(bn, 8 * 33));
  sn = BN_to_ASN1_INTEGER(bn, NULL);
  ASSERT(sn != NULL);
  revoke_serial(crl, sn);
  ASN1_INTEGER_free(sn);
  BN_free(bn);
  der = crl_der(crl, root.key, &len);
  ASSERT(load1(der, len, sk, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "over 32 bytes") != NULL);
  OPENSSL_free(der);

  sk_X509_pop_free(sk, X509_free);
  pair_free(&root);
  pair_free(&nosign);
  return 0;
}

/* Chains the check cannot read, or that reach too many certificates. */
TEST_IMPL(crl_chain_limits) {
  pair root = issue("Fleet Root", 1, NULL);
  pair dev = issue("device-1", 0, &root);
  const pair *cas[] = {&root};
  STACK_OF(X509) *sk = bundle(cas, 1);
  char err[256];
  size_t len;
  uint8_t *der = crl_der(crl_begin(&root, NOW - DAY, NOW + DAY), root.key, &len);
  mqg_crl_set *s = load1(der, len, sk, err, sizeof(err));
  ASSERT(s != NULL);
  ASSERT_EQ(mqg_crl_check_chain(s, NULL, 0, NOW, NULL), MQG_CRL_ERROR);
  /* MQG_CRL_CHAIN_MAX + 1 certificates. */
  const pair *many[MQG_CRL_CHAIN_MAX + 1];
  for (size_t i = 0; i < MQG_CRL_CHAIN_MAX + 1; i++)
    many[i] = &dev;
  ASSERT_EQ(check(s, many, MQG_CRL_CHAIN_MAX + 1, NOW, NULL), MQG_CRL_ERROR);
  /* The leaf sent again and again is reached once: fine. */
  ASSERT_EQ(check(s, many, MQG_CRL_CHAIN_MAX, NOW, NULL), MQG_CRL_GOOD);
  /* Bytes that are not a certificate. */
  CRYPTO_BUFFER *junk = CRYPTO_BUFFER_new((const uint8_t *)"\x30\x00", 2, NULL);
  ASSERT_EQ(mqg_crl_check_chain(s, (const CRYPTO_BUFFER *const *)&junk, 1, NOW, NULL),
            MQG_CRL_ERROR);
  CRYPTO_BUFFER_free(junk);
  mqg_crl_set_free(s);
  OPENSSL_free(der);
  sk_X509_pop_free(sk, X509_free);
  pair_free(&dev);
  pair_free(&root);
  return 0;
}

static double ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* 100,000 revoked serials: loading well under a second, a check a few
 * microseconds (a binary search, not a scan). */
TEST_IMPL(crl_large) {
  enum { N = 100000 };
  pair root = issue("Fleet Root", 1, NULL);
  pair dev = issue("device-1", 0, &root), gone = issue("device-gone", 0, &root);
  const pair *cas[] = {&root};
  STACK_OF(X509) *sk = bundle(cas, 1);
  X509_CRL *crl = crl_begin(&root, NOW - DAY, NOW + DAY);
  for (uint64_t i = 0; i < N - 1; i++)
    revoke_number(crl, 0x7f00000000000000ull + i * 7919);
  revoke_cert(crl, &gone);
  size_t len;
  uint8_t *der = crl_der(crl, root.key, &len);
  char err[256];
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  mqg_crl_set *s = load1(der, len, sk, err, sizeof(err));
  double load_ms = ms_since(&t0);
  ASSERT(s != NULL);
  ASSERT_EQ(mqg_crl_set_entries(s), N);

  const pair *a[] = {&dev}, *b[] = {&gone};
  enum { CHECKS = 200000 };
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CRYPTO_BUFFER *buf;
  {
    uint8_t *d = NULL;
    int l = i2d_X509(dev.cert, &d);
    buf = CRYPTO_BUFFER_new(d, (size_t)l, NULL);
    OPENSSL_free(d);
  }
  for (int i = 0; i < CHECKS; i++)
    ASSERT(mqg_crl_check_chain(s, (const CRYPTO_BUFFER *const *)&buf, 1, NOW, NULL) ==
           MQG_CRL_GOOD);
  double check_us = ms_since(&t0) * 1e3 / CHECKS;
  CRYPTO_BUFFER_free(buf);
  ASSERT_EQ(check(s, a, 1, NOW, NULL), MQG_CRL_GOOD);
  ASSERT_EQ(check(s, b, 1, NOW, NULL), MQG_CRL_REVOKED);
  printf("crl_large: %d entries, %zu bytes of DER: loaded in %.1f ms; a chain check "
         "%.2f us\n", N, len, load_ms, check_us);
  fflush(stdout);
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
  const double load_limit = 3000, check_limit = 50; /* instrumented builds */
#else
  const double load_limit = 500, check_limit = 10;
#endif
  ASSERT(load_ms < load_limit);
  ASSERT(check_us < check_limit);
  mqg_crl_set_free(s);
  OPENSSL_free(der);
  sk_X509_pop_free(sk, X509_free);
  pair_free(&dev);
  pair_free(&gone);
  pair_free(&root);
  return 0;
}
