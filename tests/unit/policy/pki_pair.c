/* pki_pair.c: see pki_pair.h. */
#include "pki_pair.h"

#include "task.h"

#include "certgen.h"

pair pair_issue(const char *cn, int is_ca, int server, int client, const pair *by, int64_t nb,
                int64_t na) {
  pair p;
  p.key = mqg_certgen_key(MQG_KEY_EC_P256);
  ASSERT(p.key != NULL);
  mqg_cert_spec s = {cn, NULL, NULL, nb, na, is_ca, server, client};
  p.cert = mqg_certgen_issue(&s, p.key, by ? by->cert : NULL, by ? by->key : NULL);
  ASSERT(p.cert != NULL);
  return p;
}

void pair_free(pair *p) {
  X509_free(p->cert);
  EVP_PKEY_free(p->key);
  p->cert = NULL;
  p->key = NULL;
}
