/* test_certinfo.c: what mqgate reads out of a certificate, and what it
 * refuses to read. Certificates come from proxy/certgen. */
#include "task.h"

#include <errno.h>

#include <openssl/bn.h>
#include <openssl/digest.h>
#include <openssl/mem.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include "certgen.h"
#include "certinfo.h"

static const int64_t T0 = 1700000000; /* 2023-11-14 */

/* A name entry written raw, bypassing the checks of MBSTRING_UTF8 so that
 * tests can build the names a hostile CA could sign. */
typedef struct {
  int nid;
  int type; /* V_ASN1_UTF8STRING, V_ASN1_BMPSTRING, ... */
  const char *bytes;
  int len;
} raw_entry;

/* make_der returns the DER of a certificate for |cn|/|ou| (either may be
 * NULL) issued by a fresh CA named "Issuer CA"; with |raw|, the subject is
 * replaced by those entries and the certificate re-signed. The caller frees
 * the result with OPENSSL_free. */
static uint8_t *make_der(const char *cn, const char *ou, const raw_entry *raw,
                         size_t nraw, int is_ca, size_t *len) {
  EVP_PKEY *ca_key = mqg_certgen_key(MQG_KEY_EC_P256);
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  ASSERT(ca_key != NULL && key != NULL);
  mqg_cert_spec s = {"Issuer CA", NULL, NULL, T0, T0 + 86400 * 3650, 1, 0, 0};
  X509 *ca = mqg_certgen_issue(&s, ca_key, NULL, NULL);
  ASSERT(ca != NULL);
  mqg_cert_spec d = {cn ? cn : "placeholder", ou,   "Org", T0 - 86400,
                     T0 + 86400 * 825,        is_ca, 0,     !is_ca};
  X509 *x = mqg_certgen_issue(&d, key, ca, ca_key);
  ASSERT(x != NULL);
  if (raw != NULL) {
    X509_NAME *name = X509_NAME_new();
    ASSERT(name != NULL);
    for (size_t i = 0; i < nraw; i++)
      ASSERT(X509_NAME_add_entry_by_NID(name, raw[i].nid, raw[i].type,
                                        (const uint8_t *)raw[i].bytes,
                                        raw[i].len, -1, 0));
    ASSERT(X509_set_subject_name(x, name));
    X509_NAME_free(name);
    ASSERT(X509_sign(x, ca_key, EVP_sha256()));
  }
  uint8_t *der = NULL;
  int n = i2d_X509(x, &der);
  ASSERT(n > 0);
  *len = (size_t)n;
  X509_free(x);
  X509_free(ca);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  return der;
}

static int info_of_raw(const raw_entry *raw, size_t n, mqg_certinfo *info) {
  size_t len;
  uint8_t *der = make_der(NULL, NULL, raw, n, 0, &len);
  int rc = mqg_certinfo_from_der(der, len, info);
  OPENSSL_free(der);
  return rc;
}

/* info_with_cn_bytes reads a certificate whose CN is "mark:" followed by
 * the |len| raw bytes |bytes|, patched into the DER of a certificate made
 * with placeholders. The signature no longer matches; certinfo does not
 * look at it. */
static int info_with_cn_bytes(const char *bytes, size_t len,
                              mqg_certinfo *info) {
  char cn[32] = "mark:";
  ASSERT(len <= 16);
  memset(cn + 5, 'Q', len);
  size_t der_len;
  uint8_t *der = make_der(cn, NULL, NULL, 0, 0, &der_len);
  uint8_t *at = memmem(der, der_len, cn, 5 + len);
  ASSERT(at != NULL);
  ASSERT(memmem(at + 1, der_len - (size_t)(at + 1 - der), cn, 5 + len) ==
         NULL);
  memcpy(at + 5, bytes, len);
  int rc = mqg_certinfo_from_der(der, der_len, info);
  OPENSSL_free(der);
  return rc;
}

TEST_IMPL(certinfo_fields) {
  size_t len;
  uint8_t *der = make_der("device-0042", "fleet-a", NULL, 0, 0, &len);
  mqg_certinfo info;
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &info), 0);
  ASSERT_STR_EQ(info.cn, "device-0042");
  ASSERT_STR_EQ(info.ou, "fleet-a");
  ASSERT_STR_EQ(info.issuer_cn, "Issuer CA");
  ASSERT_EQ(info.not_before, T0 - 86400);
  ASSERT_EQ(info.not_after, T0 + 86400 * 825);
  ASSERT_EQ(info.is_ca, 0);

  /* Fingerprint: SHA-256 of the DER through another API, and its hex. */
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  ASSERT(EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL));
  ASSERT_EQ(mdlen, 32);
  ASSERT_MEM_EQ(info.sha256, md, 32);
  char hex[65];
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  ASSERT_STR_EQ(info.fingerprint, hex);
  uint8_t fp[32];
  mqg_certinfo_fingerprint(der, len, fp);
  ASSERT_MEM_EQ(fp, md, 32);

  /* Serial: the same number as BoringSSL reads it, uppercase. */
  const uint8_t *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  ASSERT(x != NULL);
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  char *bnhex = BN_bn2hex(bn);
  ASSERT_EQ(strlen(info.serial), 32);
  ASSERT(strcasecmp(info.serial, bnhex) == 0);
  for (const char *c = info.serial; *c; c++)
    ASSERT((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'F'));
  OPENSSL_free(bnhex);
  BN_free(bn);
  X509_free(x);
  OPENSSL_free(der);

  /* A CA, and a certificate without OU. */
  der = make_der("Sub CA", NULL, NULL, 0, 1, &len);
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &info), 0);
  ASSERT_EQ(info.is_ca, 1);
  ASSERT_STR_EQ(info.cn, "Sub CA");
  ASSERT_STR_EQ(info.ou, "");
  OPENSSL_free(der);
  return 0;
}

TEST_IMPL(certinfo_serial_and_time) {
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  /* After 2049 the time is a GeneralizedTime rather than a UTCTime. */
  mqg_cert_spec s = {"t", NULL, NULL, 946684800 /* 2000 */,
                     4102444800 /* 2100 */, 0, 0, 1};
  X509 *x = mqg_certgen_issue(&s, key, NULL, NULL);
  ASSERT(x != NULL);
  /* 0x80 is encoded 00 80: the sign pad is not part of the hex. */
  ASN1_INTEGER *serial = ASN1_INTEGER_new();
  ASSERT(ASN1_INTEGER_set(serial, 0x80));
  ASSERT(X509_set_serialNumber(x, serial));
  ASSERT(X509_sign(x, key, EVP_sha256()));
  uint8_t *der = NULL;
  int len = i2d_X509(x, &der);
  ASSERT(len > 0);
  mqg_certinfo info;
  ASSERT_EQ(mqg_certinfo_from_der(der, (size_t)len, &info), 0);
  ASSERT_STR_EQ(info.serial, "80");
  ASSERT_EQ(info.not_before, 946684800);
  ASSERT_EQ(info.not_after, 4102444800);
  OPENSSL_free(der);
  der = NULL;

  ASSERT(ASN1_INTEGER_set(serial, 0x0a0b0c));
  ASSERT(X509_set_serialNumber(x, serial));
  ASSERT(X509_sign(x, key, EVP_sha256()));
  len = i2d_X509(x, &der);
  ASSERT_EQ(mqg_certinfo_from_der(der, (size_t)len, &info), 0);
  ASSERT_STR_EQ(info.serial, "0A0B0C");
  OPENSSL_free(der);

  ASN1_INTEGER_free(serial);
  X509_free(x);
  EVP_PKEY_free(key);
  return 0;
}

TEST_IMPL(certinfo_garbage) {
  mqg_certinfo info;
  static const uint8_t junk[] = "this is not a certificate at all";
  ASSERT_EQ(mqg_certinfo_from_der(junk, sizeof(junk), &info), -EINVAL);
  ASSERT_EQ(mqg_certinfo_from_der(junk, 0, &info), -EINVAL);
  ASSERT_EQ(mqg_certinfo_from_der(NULL, 0, &info), -EINVAL);
  /* A SEQUENCE header promising more than there is. */
  static const uint8_t seq[] = {0x30, 0x82, 0x01, 0x00, 0x30, 0x00};
  ASSERT_EQ(mqg_certinfo_from_der(seq, sizeof(seq), &info), -EINVAL);
  ASSERT_STR_EQ(info.cn, "");
  return 0;
}

TEST_IMPL(certinfo_truncated_and_corrupted) {
  size_t len;
  uint8_t *der = make_der("device-1", "ou", NULL, 0, 0, &len);
  mqg_certinfo info;

  /* Every truncation fails, without reading past the end (ASan). */
  for (size_t n = 0; n < len; n++) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, der, n);
    ASSERT_EQ(mqg_certinfo_from_der(copy, n, &info), -EINVAL);
    free(copy);
  }
  /* One byte too many: two encodings of one certificate are refused. */
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, der, len);
  longer[len] = 0;
  ASSERT_EQ(mqg_certinfo_from_der(longer, len + 1, &info), -EINVAL);
  free(longer);

  /* Every single corrupted byte gives a clean result, either way. */
  for (size_t i = 0; i < len; i++) {
    uint8_t *copy = malloc(len);
    memcpy(copy, der, len);
    copy[i] ^= 0x5a;
    int rc = mqg_certinfo_from_der(copy, len, &info);
    ASSERT(rc == 0 || rc == -EINVAL);
    if (rc == 0)
      ASSERT_EQ(strlen(info.fingerprint), 64);
    free(copy);
  }
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &info), 0);
  OPENSSL_free(der);
  return 0;
}

TEST_IMPL(certinfo_unclean_names) {
  mqg_certinfo info;
  size_t len;
  /* Control bytes go through certgen as valid UTF-8 ... */
  uint8_t *der = make_der("dev\x01ice", NULL, NULL, 0, 0, &len);
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &info), -EINVAL);
  OPENSSL_free(der);
  der = make_der("device", "line\nbreak", NULL, 0, 0, &len);
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &info), -EINVAL);
  OPENSSL_free(der);
  der = make_der("del\x7f", NULL, NULL, 0, 0, &len);
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &info), -EINVAL);
  OPENSSL_free(der);
  /* ... and the rest is patched into the DER, since BoringSSL will not
   * even build a name that is not valid UTF-8. */
  ASSERT_EQ(info_with_cn_bytes("a\0b", 3, &info), -EINVAL);
  ASSERT_EQ(info_with_cn_bytes("ab\xff", 3, &info), -EINVAL);
  ASSERT_EQ(info_with_cn_bytes("\xc0\xaf", 2, &info), -EINVAL); /* overlong */
  ASSERT_EQ(info_with_cn_bytes("\xed\xa0\x80", 3, &info), -EINVAL); /* D800 */
  ASSERT_EQ(info_with_cn_bytes("\xc2\x85", 2, &info), -EINVAL); /* C1 NEL */
  ASSERT_EQ(info_with_cn_bytes("\xc3", 1, &info), -EINVAL);     /* cut */
  /* The patching itself is sound: clean bytes go through. */
  ASSERT_EQ(info_with_cn_bytes("\xc3\xa9", 2, &info), 0);
  ASSERT_STR_EQ(info.cn, "mark:\xc3\xa9");
  const raw_entry bad_ou = {NID_organizationalUnitName, V_ASN1_UTF8STRING,
                            "x\x1b[2J", 5};
  ASSERT_EQ(info_of_raw(&bad_ou, 1, &info), -EINVAL);
  ASSERT_STR_EQ(info.cn, "");

  /* Length: MQG_CERTINFO_NAME_MAX bytes fit, one more does not. */
  char name[MQG_CERTINFO_NAME_MAX + 2];
  memset(name, 'n', sizeof(name));
  raw_entry longest = {NID_commonName, V_ASN1_UTF8STRING, name,
                       MQG_CERTINFO_NAME_MAX};
  ASSERT_EQ(info_of_raw(&longest, 1, &info), 0);
  ASSERT_EQ(strlen(info.cn), MQG_CERTINFO_NAME_MAX);
  longest.len = MQG_CERTINFO_NAME_MAX + 1;
  ASSERT_EQ(info_of_raw(&longest, 1, &info), -EINVAL);
  return 0;
}

TEST_IMPL(certinfo_name_forms) {
  mqg_certinfo info;
  /* Several CNs and OUs: the last one counts. */
  const raw_entry several[] = {
      {NID_commonName, V_ASN1_UTF8STRING, "first", 5},
      {NID_organizationalUnitName, V_ASN1_UTF8STRING, "ou-1", 4},
      {NID_commonName, V_ASN1_UTF8STRING, "second", 6},
      {NID_organizationalUnitName, V_ASN1_UTF8STRING, "ou-2", 4},
  };
  ASSERT_EQ(info_of_raw(several, 4, &info), 0);
  ASSERT_STR_EQ(info.cn, "second");
  ASSERT_STR_EQ(info.ou, "ou-2");

  /* Other string types come out as UTF-8. */
  const raw_entry bmp = {NID_commonName, V_ASN1_BMPSTRING,
                         "\x00" "d\x00\xe9\x00v", 6};
  ASSERT_EQ(info_of_raw(&bmp, 1, &info), 0);
  ASSERT_STR_EQ(info.cn, "d\xc3\xa9v");
  const raw_entry printable = {NID_commonName, V_ASN1_PRINTABLESTRING,
                               "Device 7", 8};
  ASSERT_EQ(info_of_raw(&printable, 1, &info), 0);
  ASSERT_STR_EQ(info.cn, "Device 7");
  static const char accents[] = "capteur-\xc3\xa9t\xc3\xa9-\xe2\x82\xac";
  const raw_entry utf8 = {NID_commonName, V_ASN1_UTF8STRING, accents,
                          (int)strlen(accents)};
  ASSERT_EQ(info_of_raw(&utf8, 1, &info), 0);
  ASSERT_STR_EQ(info.cn, accents);

  /* No CN at all is not an error. */
  const raw_entry only_o = {NID_organizationName, V_ASN1_UTF8STRING, "o", 1};
  ASSERT_EQ(info_of_raw(&only_o, 1, &info), 0);
  ASSERT_STR_EQ(info.cn, "");
  ASSERT_STR_EQ(info.ou, "");
  return 0;
}

/* The TLS path reads the leaf BoringSSL has already parsed: the same facts
 * as from its DER, and the same refusals. */
TEST_IMPL(certinfo_from_parsed) {
  size_t len;
  uint8_t *der = make_der("device-0042", "fleet-a", NULL, 0, 0, &len);
  CRYPTO_BUFFER *buf = CRYPTO_BUFFER_new(der, len, NULL);
  X509 *x = X509_parse_from_buffer(buf);
  ASSERT(x != NULL);
  mqg_certinfo a, b;
  ASSERT_EQ(mqg_certinfo_from_der(der, len, &a), 0);
  ASSERT_EQ(mqg_certinfo_from_x509(x, der, len, &b), 0);
  ASSERT_MEM_EQ(&a, &b, sizeof(a));
  X509_free(x);
  CRYPTO_BUFFER_free(buf);
  OPENSSL_free(der);

  der = make_der("dev\x01ice", NULL, NULL, 0, 0, &len);
  buf = CRYPTO_BUFFER_new(der, len, NULL);
  x = X509_parse_from_buffer(buf);
  ASSERT(x != NULL);
  ASSERT_EQ(mqg_certinfo_from_x509(x, der, len, &b), -EINVAL);
  ASSERT_STR_EQ(b.cn, "");
  X509_free(x);
  CRYPTO_BUFFER_free(buf);
  OPENSSL_free(der);
  return 0;
}
