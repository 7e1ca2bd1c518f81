/* ctl_pem.c: certificates read from files and from the registry's PEM, with
 * BoringSSL, and the registration steps mqgatectl and mqgate-admin share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "registry_internal.h"

#define CERT_FILE_MAX (1 << 20)

void ctl_cert_cleanup(ctl_cert *c) {
  if (c == NULL)
    return;
  X509_free(c->x509);
  free(c->pem);
  memset(c, 0, sizeof(*c));
}

/* fill completes |out| from its parsed |x509|: facts, PEM, subject. */
static int fill(ctl_cert *out, char *err, size_t errlen) {
  uint8_t *der = NULL;
  int len = i2d_X509(out->x509, &der);
  if (len <= 0) {
    snprintf(err, errlen, "cannot encode the certificate");
    return -1;
  }
  int rc = mqg_certinfo_from_der(der, (size_t)len, &out->info);
  OPENSSL_free(der);
  if (rc < 0) {
    snprintf(err, errlen,
             "not a usable certificate (bad extensions, or a CN/OU that is "
             "not printable text of at most %d bytes)",
             MQG_CERTINFO_NAME_MAX);
    return -1;
  }

  BIO *b = BIO_new(BIO_s_mem());
  const uint8_t *data;
  size_t n;
  if (b == NULL || !PEM_write_bio_X509(b, out->x509) ||
      !BIO_mem_contents(b, &data, &n) || (out->pem = malloc(n + 1)) == NULL) {
    BIO_free(b);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  memcpy(out->pem, data, n);
  out->pem[n] = '\0';
  BIO_free(b);

  b = BIO_new(BIO_s_mem());
  if (b == NULL ||
      X509_NAME_print_ex(b, X509_get_subject_name(out->x509), 0,
                         XN_FLAG_RFC2253) < 0 ||
      !BIO_mem_contents(b, &data, &n) || n >= sizeof(out->subject)) {
    BIO_free(b);
    snprintf(err, errlen, "the subject cannot be printed or is too long");
    return -1;
  }
  memcpy(out->subject, data, n);
  out->subject[n] = '\0';
  BIO_free(b);
  return 0;
}

/* parse reads the first certificate of |data| (PEM, else one DER). */
static int parse(const uint8_t *data, size_t len, ctl_cert *out, char *err,
                 size_t errlen) {
  memset(out, 0, sizeof(*out));
  BIO *b = BIO_new_mem_buf(data, len);
  if (b == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  out->x509 = PEM_read_bio_X509(b, NULL, NULL, NULL);
  BIO_free(b);
  if (out->x509 == NULL) {
    const uint8_t *p = data;
    out->x509 = d2i_X509(NULL, &p, (long)len);
    if (out->x509 != NULL && p != data + len) {
      X509_free(out->x509);
      out->x509 = NULL;
    }
  }
  ERR_clear_error();
  if (out->x509 == NULL) {
    snprintf(err, errlen, "no PEM or DER certificate found");
    return -1;
  }
  if (fill(out, err, errlen) < 0) {
    ctl_cert_cleanup(out);
    return -1;
  }
  return 0;
}

int ctl_cert_load(const char *path, ctl_cert *out, char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(err, errlen, "cannot read: %s", strerror(errno));
    return -1;
  }
  uint8_t *buf = malloc(CERT_FILE_MAX);
  size_t n = buf ? fread(buf, 1, CERT_FILE_MAX, f) : 0;
  int bad = buf == NULL || ferror(f) || !feof(f);
  fclose(f);
  int rc;
  if (bad) {
    snprintf(err, errlen, "cannot read (or larger than %d bytes)",
             CERT_FILE_MAX);
    rc = -1;
  } else {
    rc = parse(buf, n, out, err, errlen);
  }
  free(buf);
  return rc;
}

int ctl_cert_from_pem(const char *pem, ctl_cert *out, char *err,
                      size_t errlen) {
  return parse((const uint8_t *)pem, strlen(pem), out, err, errlen);
}

int ctl_cert_signed_by(const ctl_cert *leaf, const ctl_cert *ca) {
  /* Issuer name (and AKI, if both have key ids) first: cheap, and it keeps
   * a same-key re-issued CA of another name from passing. */
  if (X509_check_issued(ca->x509, leaf->x509) != X509_V_OK)
    return 0;
  EVP_PKEY *key = X509_get_pubkey(ca->x509);
  if (key == NULL)
    return 0;
  int ok = X509_verify(leaf->x509, key) == 1;
  EVP_PKEY_free(key);
  ERR_clear_error();
  return ok;
}

mqg_reg_status ctl_ca_load(mqg_registry *reg, const char *ca_id, ctl_cert *ca) {
  memset(ca, 0, sizeof(*ca));
  mqg_ca_record rec;
  mqg_reg_status s = mqg_registry_ca_get(reg, ca_id, &rec);
  if (s != MQG_REG_OK)
    return s;
  char err[256];
  if (ctl_cert_from_pem(rec.pem, ca, err, sizeof(err)) < 0)
    s = registry__fail(reg, MQG_REG_UNAVAILABLE, "redis",
                       "the stored PEM of CA %.16s does not parse: %s", ca_id, err);
  mqg_ca_record_cleanup(&rec);
  return s;
}

mqg_reg_status ctl_cert_check(mqg_registry *reg, const ctl_cert *c, const ctl_cert *ca,
                              const char *ca_id, const char *ca_hint) {
  if (c->info.is_ca)
    return registry__fail(reg, MQG_REG_INPUT, "input",
                          "a CA certificate, not a device certificate; CAs go to %s",
                          ca_hint);
  if (!ctl_cert_signed_by(c, ca))
    return registry__fail(reg, MQG_REG_INPUT, "input", "not signed by CA %.16s (%.256s)",
                          ca_id, ca->info.cn);
  return MQG_REG_OK;
}

int ctl_client_id_ok(const char *id) {
  return id != NULL && strlen(id) <= MQG_CERTINFO_NAME_MAX && strpbrk(id, "\n\r\t") == NULL;
}
