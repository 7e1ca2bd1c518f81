/* test_certgen.c: keys, certificates and their files. */
#include "task.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgen.h"

static const int64_t T0 = 1700000000; /* 2023-11-14 */

static mqg_cert_spec spec_of(const char *cn, int is_ca, int server,
                             int client) {
  mqg_cert_spec s = {cn, NULL, NULL, T0, T0 + 30 * 86400, is_ca, server,
                     client};
  return s;
}

static int64_t to_unix(const ASN1_TIME *t) {
  ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
  int days = 0, secs = 0;
  ASSERT(ASN1_TIME_diff(&days, &secs, epoch, t));
  ASN1_TIME_free(epoch);
  return (int64_t)days * 86400 + secs;
}

static int ext_critical(X509 *x, int nid) {
  int i = X509_get_ext_by_NID(x, nid, -1);
  ASSERT(i >= 0);
  return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* rm_dir removes the flat directory |dir| made by a test. */
static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  struct dirent *e;
  char path[512];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    ASSERT(unlink(path) == 0);
  }
  closedir(d);
  ASSERT(rmdir(dir) == 0);
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

TEST_IMPL(certgen_ca_and_leaf) {
  EVP_PKEY *ca_key = mqg_certgen_key(MQG_KEY_EC_P256);
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  ASSERT(ca_key != NULL && key != NULL);
  ASSERT_EQ(EVP_PKEY_id(key), EVP_PKEY_EC);

  mqg_cert_spec s = spec_of("Test Root", 1, 0, 0);
  s.org = "mqgate tests";
  X509 *ca = mqg_certgen_issue(&s, ca_key, NULL, NULL);
  ASSERT(ca != NULL);
  s = spec_of("device-1", 0, 0, 1);
  s.ou = "fleet-a";
  X509 *leaf = mqg_certgen_issue(&s, key, ca, ca_key);
  ASSERT(leaf != NULL);

  /* Signatures: the CA signs itself, the leaf is signed by the CA. */
  ASSERT_EQ(X509_verify(ca, ca_key), 1);
  ASSERT_EQ(X509_verify(leaf, ca_key), 1);
  ASSERT_EQ(X509_verify(leaf, key), 0);
  ASSERT_EQ(X509_check_issued(ca, leaf), X509_V_OK);
  ASSERT_EQ(X509_check_issued(ca, ca), X509_V_OK);
  ASSERT_EQ(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);

  ASSERT_EQ(X509_get_version(leaf), X509_VERSION_3);
  ASSERT_EQ(to_unix(X509_get0_notBefore(leaf)), T0);
  ASSERT_EQ(to_unix(X509_get0_notAfter(leaf)), T0 + 30 * 86400);

  /* Names. */
  char buf[64];
  ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf),
                                   NID_commonName, buf, sizeof(buf)) > 0);
  ASSERT_STR_EQ(buf, "device-1");
  ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf),
                                   NID_organizationalUnitName, buf,
                                   sizeof(buf)) > 0);
  ASSERT_STR_EQ(buf, "fleet-a");
  ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(ca),
                                   NID_organizationName, buf,
                                   sizeof(buf)) > 0);
  ASSERT_STR_EQ(buf, "mqgate tests");
  ASSERT_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf),
                          X509_get_subject_name(ca)), 0);

  /* Extensions. */
  uint32_t ca_flags = X509_get_extension_flags(ca);
  uint32_t leaf_flags = X509_get_extension_flags(leaf);
  ASSERT(!(ca_flags & EXFLAG_INVALID) && !(leaf_flags & EXFLAG_INVALID));
  ASSERT(ca_flags & EXFLAG_CA);
  ASSERT(!(leaf_flags & EXFLAG_CA));
  ASSERT(leaf_flags & EXFLAG_BCONS); /* CA:FALSE written out */
  ASSERT(ext_critical(ca, NID_basic_constraints));
  ASSERT(ext_critical(leaf, NID_basic_constraints));
  ASSERT_EQ(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  ASSERT_EQ(X509_get_key_usage(leaf),
            KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
  ASSERT_EQ(X509_get_extended_key_usage(leaf), XKU_SSL_CLIENT);
  ASSERT(X509_get_ext_by_NID(ca, NID_ext_key_usage, -1) < 0);
  ASSERT(X509_get_ext_by_NID(leaf, NID_subject_alt_name, -1) < 0);

  /* SKI/AKI: the leaf points at the CA's key, the CA at itself. */
  const ASN1_OCTET_STRING *ca_ski = X509_get0_subject_key_id(ca);
  const ASN1_OCTET_STRING *leaf_ski = X509_get0_subject_key_id(leaf);
  ASSERT(ca_ski != NULL && leaf_ski != NULL);
  ASSERT(ASN1_OCTET_STRING_cmp(ca_ski, X509_get0_authority_key_id(ca)) == 0);
  ASSERT(ASN1_OCTET_STRING_cmp(ca_ski, X509_get0_authority_key_id(leaf)) ==
         0);
  ASSERT(ASN1_OCTET_STRING_cmp(ca_ski, leaf_ski) != 0);

  /* Serial: 16 bytes, positive. */
  const ASN1_INTEGER *serial = X509_get0_serialNumber(leaf);
  ASSERT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
  ASSERT_EQ(ASN1_STRING_length(serial), 16);
  ASSERT(ASN1_STRING_get0_data(serial)[0] != 0);

  X509_free(leaf);
  X509_free(ca);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  return 0;
}

TEST_IMPL(certgen_rsa_server) {
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_RSA_2048);
  ASSERT(key != NULL);
  ASSERT_EQ(EVP_PKEY_id(key), EVP_PKEY_RSA);
  ASSERT_EQ(EVP_PKEY_bits(key), 2048);

  mqg_cert_spec s = spec_of("localhost", 0, 1, 0);
  X509 *x = mqg_certgen_issue(&s, key, NULL, NULL);
  ASSERT(x != NULL);
  ASSERT_EQ(X509_verify(x, key), 1);
  ASSERT_EQ(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
  ASSERT_EQ(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
  ASSERT(!(X509_get_extension_flags(x) & EXFLAG_CA));

  /* SAN: DNS:localhost, IP:127.0.0.1, IP:::1, nothing else. */
  GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  ASSERT(san != NULL);
  ASSERT_EQ(sk_GENERAL_NAME_num(san), 3);
  int dns = 0, v4 = 0, v6 = 0;
  static const uint8_t lo4[4] = {127, 0, 0, 1};
  static const uint8_t lo6[16] = {[15] = 1};
  for (size_t i = 0; i < sk_GENERAL_NAME_num(san); i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
    if (gn->type == GEN_DNS) {
      ASSERT_EQ(ASN1_STRING_length(gn->d.dNSName), 9);
      ASSERT_MEM_EQ(ASN1_STRING_get0_data(gn->d.dNSName), "localhost", 9);
      dns++;
    } else if (gn->type == GEN_IPADD &&
               ASN1_STRING_length(gn->d.iPAddress) == 4) {
      ASSERT_MEM_EQ(ASN1_STRING_get0_data(gn->d.iPAddress), lo4, 4);
      v4++;
    } else if (gn->type == GEN_IPADD &&
               ASN1_STRING_length(gn->d.iPAddress) == 16) {
      ASSERT_MEM_EQ(ASN1_STRING_get0_data(gn->d.iPAddress), lo6, 16);
      v6++;
    }
  }
  ASSERT(dns == 1 && v4 == 1 && v6 == 1);
  GENERAL_NAMES_free(san);

  /* Both EKUs when asked for. */
  mqg_cert_spec both = spec_of("both", 0, 1, 1);
  X509 *y = mqg_certgen_issue(&both, key, NULL, NULL);
  ASSERT(y != NULL);
  ASSERT_EQ(X509_get_extended_key_usage(y), XKU_SSL_SERVER | XKU_SSL_CLIENT);

  X509_free(y);
  X509_free(x);
  EVP_PKEY_free(key);
  return 0;
}

TEST_IMPL(certgen_bad_input) {
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  ASSERT(key != NULL);
  ASSERT(mqg_certgen_key((mqg_key_type)7) == NULL);

  mqg_cert_spec s = spec_of(NULL, 0, 0, 1);
  ASSERT(mqg_certgen_issue(&s, key, NULL, NULL) == NULL);
  s = spec_of("x", 0, 0, 1);
  s.not_after = s.not_before;
  ASSERT(mqg_certgen_issue(&s, key, NULL, NULL) == NULL);
  s = spec_of("x", 1, 0, 0);
  ASSERT(mqg_certgen_issue(&s, NULL, NULL, NULL) == NULL);
  X509 *ca = mqg_certgen_issue(&s, key, NULL, NULL);
  ASSERT(ca != NULL);
  /* An issuer certificate without its key cannot sign. */
  ASSERT(mqg_certgen_issue(&s, key, ca, NULL) == NULL);

  /* Two certificates never share a serial. */
  X509 *ca2 = mqg_certgen_issue(&s, key, NULL, NULL);
  ASSERT(ca2 != NULL);
  ASSERT(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca),
                          X509_get0_serialNumber(ca2)) != 0);

  X509_free(ca2);
  X509_free(ca);
  EVP_PKEY_free(key);
  return 0;
}

TEST_IMPL(certgen_write_load) {
  char dir[] = "/tmp/mqg-certgen-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  char cert_path[256], key_path[256], chain_path[256], junk_path[256];
  snprintf(cert_path, sizeof(cert_path), "%s/leaf.crt", dir);
  snprintf(key_path, sizeof(key_path), "%s/leaf.key", dir);
  snprintf(chain_path, sizeof(chain_path), "%s/chain.crt", dir);
  snprintf(junk_path, sizeof(junk_path), "%s/junk.pem", dir);

  EVP_PKEY *ca_key = mqg_certgen_key(MQG_KEY_EC_P256);
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_RSA_2048);
  mqg_cert_spec s = spec_of("CA", 1, 0, 0);
  X509 *ca = mqg_certgen_issue(&s, ca_key, NULL, NULL);
  s = spec_of("dev", 0, 0, 1);
  X509 *leaf = mqg_certgen_issue(&s, key, ca, ca_key);
  ASSERT(ca != NULL && leaf != NULL);

  /* A umask must not loosen or tighten the promised modes. */
  mode_t old_mask = umask(077);
  ASSERT_EQ(mqg_certgen_write(cert_path, leaf, NULL, key_path, key), 0);
  umask(old_mask);
  struct stat st;
  ASSERT(stat(cert_path, &st) == 0);
  ASSERT_EQ(st.st_mode & 0777, 0644);
  ASSERT(stat(key_path, &st) == 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(mqg_certgen_write(chain_path, leaf, ca, NULL, NULL), 0);
  /* Overwriting works and leaves no temporary file behind. */
  ASSERT_EQ(mqg_certgen_write(cert_path, leaf, NULL, key_path, key), 0);
  ASSERT_EQ(count_entries(dir), 3);

  X509 *cert2 = NULL;
  EVP_PKEY *key2 = NULL;
  ASSERT_EQ(mqg_certgen_load(cert_path, &cert2, key_path, &key2), 0);
  ASSERT(cert2 != NULL && key2 != NULL);
  ASSERT_EQ(X509_cmp(cert2, leaf), 0);
  ASSERT_EQ(EVP_PKEY_cmp(key2, key), 1);
  X509_free(cert2);
  EVP_PKEY_free(key2);

  /* The chain file: leaf first (that is what load returns), then CA. */
  cert2 = NULL;
  ASSERT_EQ(mqg_certgen_load(chain_path, &cert2, NULL, NULL), 0);
  ASSERT_EQ(X509_cmp(cert2, leaf), 0);
  X509_free(cert2);
  FILE *f = fopen(chain_path, "r");
  ASSERT(f != NULL);
  char line[128];
  int begins = 0;
  while (fgets(line, sizeof(line), f) != NULL)
    begins += strcmp(line, "-----BEGIN CERTIFICATE-----\n") == 0;
  fclose(f);
  ASSERT_EQ(begins, 2);

  /* Only one half, or neither output. */
  ASSERT_EQ(mqg_certgen_load(NULL, NULL, key_path, &key2), 0);
  EVP_PKEY_free(key2);
  ASSERT_EQ(mqg_certgen_load(cert_path, NULL, key_path, NULL), 0);

  /* Failures. */
  char missing[300];
  snprintf(missing, sizeof(missing), "%s/none.pem", dir);
  cert2 = NULL;
  ASSERT_EQ(mqg_certgen_load(missing, &cert2, NULL, NULL), -ENOENT);
  ASSERT(cert2 == NULL);
  ASSERT_EQ(mqg_certgen_load(cert_path, &cert2, missing, &key2), -ENOENT);
  ASSERT(cert2 == NULL);
  f = fopen(junk_path, "w");
  ASSERT(f != NULL);
  fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
        "-----END CERTIFICATE-----\n", f);
  fclose(f);
  ASSERT_EQ(mqg_certgen_load(junk_path, &cert2, NULL, NULL), -EINVAL);
  ASSERT_EQ(mqg_certgen_load(NULL, NULL, junk_path, &key2), -EINVAL);
  /* A certificate is not a key. */
  ASSERT_EQ(mqg_certgen_load(NULL, NULL, cert_path, &key2), -EINVAL);
  /* Writing into a missing directory fails cleanly. */
  snprintf(missing, sizeof(missing), "%s/no/such.crt", dir);
  ASSERT_EQ(mqg_certgen_write(missing, leaf, NULL, NULL, NULL), -ENOENT);
  /* A failed key write leaves the certificate alone too. */
  ASSERT_EQ(mqg_certgen_write(cert_path, ca, NULL, missing, key), -ENOENT);
  ASSERT_EQ(mqg_certgen_load(cert_path, &cert2, NULL, NULL), 0);
  ASSERT_EQ(X509_cmp(cert2, leaf), 0);
  X509_free(cert2);

  rm_dir(dir);
  X509_free(leaf);
  X509_free(ca);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  return 0;
}
