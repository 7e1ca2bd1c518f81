/* certgen.c: see certgen.h. */
#include "certgen.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

EVP_PKEY *mqg_certgen_key(mqg_key_type t) {
  if (t != MQG_KEY_EC_P256 && t != MQG_KEY_RSA_2048)
    return NULL;
  EVP_PKEY *key = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(
      t == MQG_KEY_EC_P256 ? EVP_PKEY_EC : EVP_PKEY_RSA, NULL);
  if (ctx == NULL || !EVP_PKEY_keygen_init(ctx))
    goto out;
  if (t == MQG_KEY_EC_P256 &&
      !EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1))
    goto out;
  if (t == MQG_KEY_RSA_2048 && !EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048))
    goto out;
  if (!EVP_PKEY_keygen(ctx, &key))
    key = NULL;
out:
  EVP_PKEY_CTX_free(ctx);
  return key;
}

/* set_random_serial gives |x| a positive 16-byte serial. The top bit is
 * cleared (positive without a 00 pad) and the next one set, so the serial is
 * always exactly 16 bytes and never has a leading zero byte. */
static int set_random_serial(X509 *x) {
  uint8_t buf[16];
  RAND_bytes(buf, sizeof(buf)); /* BoringSSL's never fails (it aborts) */
  buf[0] = (uint8_t)((buf[0] & 0x7f) | 0x40);
  int ok = 0;
  BIGNUM *bn = BN_bin2bn(buf, sizeof(buf), NULL);
  ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
  if (serial != NULL)
    ok = X509_set_serialNumber(x, serial);
  ASN1_INTEGER_free(serial);
  BN_free(bn);
  return ok;
}

static int add_name_entry(X509_NAME *name, int nid, const char *value) {
  if (value == NULL)
    return 1;
  return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                    (const uint8_t *)value, -1, -1, 0);
}

static int set_time(X509 *x, int64_t t, int before) {
  ASN1_TIME *at = ASN1_TIME_set(NULL, (time_t)t);
  if (at == NULL)
    return 0;
  int ok = before ? X509_set1_notBefore(x, at) : X509_set1_notAfter(x, at);
  ASN1_TIME_free(at);
  return ok;
}

/* add_ext adds one extension written in OpenSSL's config syntax; that
 * syntax is the shortest correct way to build SAN, EKU and AKI. */
static int add_ext(X509V3_CTX *ctx, X509 *x, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
  if (ext == NULL)
    return 0;
  int ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

static int add_extensions(const mqg_cert_spec *spec, X509 *x, X509 *issuer) {
  X509V3_CTX ctx;
  /* A self-signed certificate is its own issuer: its AKI repeats its SKI,
   * which therefore has to be added first. */
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
  char eku[32] = "";
  if (spec->server)
    strcat(eku, "serverAuth");
  if (spec->client)
    strcat(eku, spec->server ? ",clientAuth" : "clientAuth");

  if (!add_ext(&ctx, x, NID_basic_constraints,
               spec->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
      !add_ext(&ctx, x, NID_key_usage,
               spec->is_ca ? "critical,keyCertSign,cRLSign"
                           : "critical,digitalSignature,keyEncipherment") ||
      (eku[0] != '\0' && !add_ext(&ctx, x, NID_ext_key_usage, eku)) ||
      (spec->server &&
       !add_ext(&ctx, x, NID_subject_alt_name,
                "DNS:localhost,IP:127.0.0.1,IP:::1")) ||
      !add_ext(&ctx, x, NID_subject_key_identifier, "hash"))
    return 0;
  /* An issuer loaded from elsewhere may lack an SKI; then there is no key
   * ID to point at and the AKI is left out rather than failing. */
  if (issuer != NULL && X509_get0_subject_key_id(issuer) == NULL)
    return 1;
  return add_ext(&ctx, x, NID_authority_key_identifier, "keyid:always");
}

X509 *mqg_certgen_issue(const mqg_cert_spec *spec, EVP_PKEY *subject_key,
                        X509 *issuer, EVP_PKEY *issuer_key) {
  if (spec == NULL || spec->cn == NULL || subject_key == NULL ||
      spec->not_after <= spec->not_before ||
      (issuer != NULL && issuer_key == NULL))
    return NULL;
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  if (x == NULL || name == NULL)
    goto err;
  if (!add_name_entry(name, NID_organizationName, spec->org) ||
      !add_name_entry(name, NID_organizationalUnitName, spec->ou) ||
      !add_name_entry(name, NID_commonName, spec->cn))
    goto err;
  if (!X509_set_version(x, X509_VERSION_3) || !set_random_serial(x) ||
      !X509_set_subject_name(x, name) ||
      !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
      !set_time(x, spec->not_before, 1) || !set_time(x, spec->not_after, 0) ||
      !X509_set_pubkey(x, subject_key) || !add_extensions(spec, x, issuer) ||
      !X509_sign(x, issuer ? issuer_key : subject_key, EVP_sha256()))
    goto err;
  X509_NAME_free(name);
  return x;

err:
  X509_NAME_free(name);
  X509_free(x);
  return NULL;
}

/* write_all writes |len| bytes to |fd|, retrying short writes. */
static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* write_tmp writes the contents of |bio| to a new temporary file beside
 * |path| (same directory, so the rename is atomic) with |mode|, synced to
 * disk. On success the temporary name is left in |tmp| (|tmplen| bytes) for
 * the caller to rename or unlink. */
static int write_tmp(const char *path, BIO *bio, mode_t mode, char *tmp,
                     size_t tmplen) {
  const uint8_t *data;
  size_t len;
  if (!BIO_mem_contents(bio, &data, &len))
    return -ENOMEM;
  if ((size_t)snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path) >= tmplen)
    return -ENAMETOOLONG;
  /* mkstemp creates the file 0600, so a key is never readable by others,
   * not even for an instant. */
  int fd = mkstemp(tmp);
  if (fd < 0)
    return -errno;
  int rc = 0;
  if (fchmod(fd, mode) < 0)
    rc = -errno;
  if (rc == 0)
    rc = write_all(fd, (const char *)data, len);
  if (rc == 0 && fsync(fd) < 0)
    rc = -errno;
  if (close(fd) < 0 && rc == 0)
    rc = -errno;
  if (rc < 0)
    unlink(tmp);
  return rc;
}

/* sync_dir makes the renames in |path|'s directory durable. */
static void sync_dir(const char *path) {
  char buf[4096];
  if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
    return;
  int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  (void)fsync(fd);
  close(fd);
}

int mqg_certgen_write(const char *cert_path, X509 *cert, X509 *chain,
                      const char *key_path, EVP_PKEY *key) {
  char cert_tmp[4096] = "", key_tmp[4096] = "";
  BIO *cbio = NULL, *kbio = NULL;
  int rc = -EINVAL;
  if ((cert_path != NULL && cert == NULL) || (key_path != NULL && key == NULL))
    return -EINVAL;

  if (cert_path != NULL) {
    cbio = BIO_new(BIO_s_mem());
    if (cbio == NULL || !PEM_write_bio_X509(cbio, cert) ||
        (chain != NULL && !PEM_write_bio_X509(cbio, chain))) {
      rc = -ENOMEM;
      goto out;
    }
    if ((rc = write_tmp(cert_path, cbio, 0644, cert_tmp, sizeof(cert_tmp))) <
        0) {
      cert_tmp[0] = '\0';
      goto out;
    }
  }
  if (key_path != NULL) {
    kbio = BIO_new(BIO_s_mem());
    if (kbio == NULL ||
        !PEM_write_bio_PKCS8PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL)) {
      rc = -ENOMEM;
      goto out;
    }
    if ((rc = write_tmp(key_path, kbio, 0600, key_tmp, sizeof(key_tmp))) < 0) {
      key_tmp[0] = '\0';
      goto out;
    }
  }
  /* Both files are complete before either is renamed, so a failure leaves
   * the old pair in place rather than a new certificate with an old key.
   * The key goes first: a reader seeing the new certificate then also
   * finds the new key. */
  if (key_tmp[0] != '\0') {
    if (rename(key_tmp, key_path) < 0) {
      rc = -errno;
      goto out;
    }
    key_tmp[0] = '\0';
    sync_dir(key_path);
  }
  if (cert_tmp[0] != '\0') {
    if (rename(cert_tmp, cert_path) < 0) {
      rc = -errno;
      goto out;
    }
    cert_tmp[0] = '\0';
    sync_dir(cert_path);
  }
  rc = 0;

out:
  if (cert_tmp[0] != '\0')
    unlink(cert_tmp);
  if (key_tmp[0] != '\0')
    unlink(key_tmp);
  BIO_free(kbio);
  BIO_free(cbio);
  return rc;
}

/* open_pem opens |path| as a BIO, keeping the errno of a failed open
 * (BIO_new_file would hide it in the error queue). */
static int open_pem(const char *path, BIO **out) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -errno;
  *out = BIO_new_fp(f, BIO_CLOSE);
  if (*out == NULL) {
    fclose(f);
    return -ENOMEM;
  }
  return 0;
}

int mqg_certgen_load(const char *cert_path, X509 **out_cert,
                     const char *key_path, EVP_PKEY **out_key) {
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  BIO *bio = NULL;
  int rc;

  if (cert_path != NULL) {
    if ((rc = open_pem(cert_path, &bio)) < 0)
      goto err;
    /* The first certificate of a chain file is the one the key belongs
     * to; the rest is for the peer. */
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (cert == NULL) {
      rc = -EINVAL;
      goto err;
    }
  }
  if (key_path != NULL) {
    if ((rc = open_pem(key_path, &bio)) < 0)
      goto err;
    /* No password callback: an encrypted key fails instead of prompting. */
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL) {
      rc = -EINVAL;
      goto err;
    }
  }
  ERR_clear_error();
  if (out_cert != NULL)
    *out_cert = cert;
  else
    X509_free(cert);
  if (out_key != NULL)
    *out_key = key;
  else
    EVP_PKEY_free(key);
  return 0;

err:
  ERR_clear_error();
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}
