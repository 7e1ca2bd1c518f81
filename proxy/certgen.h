/* certgen.h: making keys and X.509 certificates with BoringSSL.
 *
 * Used for the default server certificate generated at first start, by the
 * demo, by the tests and by the bench's device-certificate pool.
 *
 * Errors: functions returning pointers return NULL on failure; functions
 * returning int return 0 or a negative errno. Ownership as in BoringSSL:
 * "new"/"issue" hand over a reference. */
#ifndef MQG_CERTGEN_H
#define MQG_CERTGEN_H

#include <stdint.h>

#include <openssl/base.h>

typedef enum {
  MQG_KEY_EC_P256 = 0,
  MQG_KEY_RSA_2048 = 1,
} mqg_key_type;

typedef struct {
  const char *cn;         /* subject commonName, required */
  const char *ou;         /* organizationalUnitName, or NULL */
  const char *org;        /* organizationName, or NULL */
  int64_t not_before;     /* Unix seconds */
  int64_t not_after;      /* Unix seconds */
  int is_ca;              /* CA:TRUE, keyCertSign|cRLSign */
  int server;             /* serverAuth EKU + SAN localhost/127.0.0.1/::1 */
  int client;             /* clientAuth EKU */
} mqg_cert_spec;

/* mqg_certgen_key returns a new private key of type |t|, or NULL. */
EVP_PKEY *mqg_certgen_key(mqg_key_type t);

/* mqg_certgen_issue returns a new certificate for |spec| and the public half
 * of |subject_key|, signed (SHA-256) by |issuer_key| with |issuer|'s subject
 * as issuer name, or self-signed by |subject_key| when |issuer| is NULL. The
 * serial is 16 random bytes; SKI/AKI are set. Returns NULL on failure. */
X509 *mqg_certgen_issue(const mqg_cert_spec *spec, EVP_PKEY *subject_key,
                        X509 *issuer, EVP_PKEY *issuer_key);

/* mqg_certgen_write writes |cert| (and, if |chain| is not NULL, |chain|
 * after it) as PEM to |cert_path|, and |key| as PKCS#8 PEM to |key_path|
 * with mode 0600 (0644 for the certificate). Each file is written to a
 * temporary name and renamed, so no half-written file is ever seen. Either
 * path may be NULL to skip that file. */
int mqg_certgen_write(const char *cert_path, X509 *cert, X509 *chain,
                      const char *key_path, EVP_PKEY *key);

/* mqg_certgen_load reads a PEM certificate from |cert_path| and/or a PEM
 * private key from |key_path| (either may be NULL, as may the outputs).
 * Returns 0 with new references in |*out_cert| / |*out_key|, or a negative
 * errno (-ENOENT if a file is missing, -EINVAL if it does not parse). */
int mqg_certgen_load(const char *cert_path, X509 **out_cert,
                     const char *key_path, EVP_PKEY **out_key);

#endif
