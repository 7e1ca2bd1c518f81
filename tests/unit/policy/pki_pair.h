/* pki_pair.h: certificates with their keys, made on the spot for the unit
 * tests of policy/ that need a PKI (test_crl.c, test_mtls_verify.c). */
#ifndef MQG_TEST_PKI_PAIR_H
#define MQG_TEST_PKI_PAIR_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct {
  X509 *cert;
  EVP_PKEY *key;
} pair;

/* pair_issue makes an ECDSA P-256 key and a certificate for it, valid in
 * [|nb|, |na|], a CA or not, for TLS server and/or client use, issued by
 * |by| (NULL: self-signed). Aborts the test on failure. */
pair pair_issue(const char *cn, int is_ca, int server, int client, const pair *by, int64_t nb,
                int64_t na);

/* pair_free releases what |p| holds and empties it. */
void pair_free(pair *p);

#endif
