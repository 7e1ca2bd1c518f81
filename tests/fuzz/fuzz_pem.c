/* fuzz_pem: the certificate input of mqgatectl (policy/ctl_pem.c) on
 * arbitrary file contents.
 *
 * `mqgatectl ca register FILE` and `cert register FILE` read FILE with
 * ctl_cert_load: the first PEM certificate, else one whole DER certificate,
 * then its facts (mqg_certinfo), its PEM and its RFC 2253 subject. The
 * input is written to a memfd and loaded by its /proc/self/fd path, so the
 * code under test is exactly the CLI's. On success:
 *   - the PEM kept for the registry must load again (ctl_cert_from_pem, as
 *     `cert register` does with the stored CA) to the same fingerprint;
 *   - a DER file is registered under the SHA-256 of its own bytes, the one
 *     mqgate computes over what the device presents;
 *   - ctl_cert_signed_by runs against a fixed generated CA and itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "certgen.h"
#include "ctl.h"
#include "fuzz_check.h"

static int memfd = -1;
static char path[64];
static ctl_cert ca;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  memfd = memfd_create("fuzz_pem", MFD_CLOEXEC);
  CHECK(memfd >= 0);
  snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);

  mqg_cert_spec s = {.cn = "Fuzz CA", .not_before = 1767225600 - 86400,
                     .not_after = 1767225600 + 365 * 86400, .is_ca = 1};
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  CHECK(key != NULL);
  X509 *x = mqg_certgen_issue(&s, key, NULL, NULL);
  CHECK(x != NULL);
  BIO *b = BIO_new(BIO_s_mem());
  CHECK(b != NULL && PEM_write_bio_X509(b, x) && BIO_write(b, "", 1) == 1);
  const uint8_t *pem;
  size_t n;
  CHECK(BIO_mem_contents(b, &pem, &n));
  char err[768];
  CHECK(ctl_cert_from_pem((const char *)pem, &ca, err, sizeof(err)) == 0);
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  CHECK(ftruncate(memfd, 0) == 0);
  CHECK(len == 0 || pwrite(memfd, data, len, 0) == (ssize_t)len);

  ctl_cert c;
  char err[768];
  if (ctl_cert_load(path, &c, err, sizeof(err)) < 0) {
    CHECK(err[0] != '\0' && c.x509 == NULL && c.pem == NULL);
    return 0;
  }
  CHECK(c.x509 != NULL && c.pem != NULL && strlen(c.info.fingerprint) == 64);

  ctl_cert again;
  CHECK(ctl_cert_from_pem(c.pem, &again, err, sizeof(err)) == 0);
  CHECK(memcmp(again.info.sha256, c.info.sha256, 32) == 0);
  CHECK(strcmp(again.subject, c.subject) == 0);
  ctl_cert_cleanup(&again);

  if (memmem(data, len, "-----BEGIN", 10) == NULL) {
    uint8_t sha[32];
    SHA256(data, len, sha);
    CHECK(memcmp(sha, c.info.sha256, 32) == 0);
  }

  ctl_cert_signed_by(&c, &ca);
  ctl_cert_signed_by(&c, &c);
  ctl_cert_cleanup(&c);
  return 0;
}
