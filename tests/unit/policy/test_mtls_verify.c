/* test_mtls_verify.c: chains good and bad against a CA bundle, and which
 * refusal wins when a chain is wrong in several ways. */
#include "task.h"

#include <pthread.h>
#include <unistd.h>

#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include "mtls_verify.h"
#include "pki_pair.h"

#define DAY 86400
static const int64_t NOW = 1700000000; /* 2023-11-14 */

static pair ca(const char *cn, const pair *by) {
  return pair_issue(cn, 1, 0, 0, by, NOW - 365 * DAY, NOW + 3650 * DAY);
}

static pair device(const char *cn, const pair *by) {
  return pair_issue(cn, 0, 0, 1, by, NOW - DAY, NOW + 825 * DAY);
}

/* A temporary directory for bundles, removed by tmp_cleanup. */
typedef struct {
  char dir[64];
  char paths[8][128];
  int n;
} tmp;

static void tmp_init(tmp *t) {
  snprintf(t->dir, sizeof(t->dir), "/tmp/mqg-mtls-XXXXXX");
  ASSERT(mkdtemp(t->dir) != NULL);
  t->n = 0;
}

static const char *tmp_bundle(tmp *t, const pair *const *certs, size_t n) {
  ASSERT(t->n < 8);
  char *path = t->paths[t->n];
  char name[sizeof(t->paths[0])]; /* a separate buffer: GCC cannot tell
                                      t->dir and t->paths[] apart */
  snprintf(name, sizeof(name), "%s/bundle-%d.pem", t->dir, t->n++);
  memcpy(path, name, sizeof(name));
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  for (size_t i = 0; i < n; i++)
    ASSERT(PEM_write_X509(f, certs[i]->cert));
  ASSERT(fclose(f) == 0);
  return path;
}

static void tmp_cleanup(tmp *t) {
  for (int i = 0; i < t->n; i++)
    unlink(t->paths[i]);
  ASSERT(rmdir(t->dir) == 0);
}

static mqg_mtls_verifier *verifier_of(tmp *t, const pair *const *cas,
                                      size_t n) {
  char err[256] = "";
  mqg_mtls_verifier *v = mqg_mtls_verifier_new(tmp_bundle(t, cas, n), err,
                                               sizeof(err));
  if (v == NULL)
    fprintf(stderr, "verifier: %s\n", err);
  ASSERT(v != NULL);
  return v;
}

static CRYPTO_BUFFER *buffer_of(X509 *x) {
  uint8_t *der = NULL;
  int len = i2d_X509(x, &der);
  ASSERT(len > 0);
  CRYPTO_BUFFER *b = CRYPTO_BUFFER_new(der, (size_t)len, NULL);
  ASSERT(b != NULL);
  OPENSSL_free(der);
  return b;
}

/* check verifies the chain |chain[0..n)| at |now|, as the TLS stack would
 * hand it over. */
static mqg_reason check_at(const mqg_mtls_verifier *v,
                           const pair *const *chain, size_t n, int64_t now,
                           mqg_certinfo *leaf) {
  CRYPTO_BUFFER *bufs[16];
  ASSERT(n <= 16);
  for (size_t i = 0; i < n; i++)
    bufs[i] = buffer_of(chain[i]->cert);
  mqg_reason r =
      mqg_mtls_verify(v, (const CRYPTO_BUFFER *const *)bufs, n, now, leaf, NULL);
  for (size_t i = 0; i < n; i++)
    CRYPTO_BUFFER_free(bufs[i]);
  return r;
}

static mqg_reason check(const mqg_mtls_verifier *v, const pair *const *chain,
                        size_t n) {
  return check_at(v, chain, n, NOW, NULL);
}

#define CHAIN(...) ((const pair *const[]){__VA_ARGS__})
#define NCHAIN(...) (sizeof(CHAIN(__VA_ARGS__)) / sizeof(const pair *))
#define CHECK(v, ...) check((v), CHAIN(__VA_ARGS__), NCHAIN(__VA_ARGS__))

TEST_IMPL(mtls_verify_good_chains) {
  tmp t;
  tmp_init(&t);
  pair root = ca("Root", NULL);
  pair inter = ca("Intermediate", &root);
  pair leaf_r = device("dev-root", &root);
  pair leaf_i = device("dev-inter", &inter);

  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root), 1);
  /* A leaf of the root, alone; the CN comes back for the log. */
  mqg_certinfo info;
  ASSERT_EQ(check_at(v, CHAIN(&leaf_r), 1, NOW, &info), MQG_REASON_OK);
  ASSERT_STR_EQ(info.cn, "dev-root");
  ASSERT_STR_EQ(info.issuer_cn, "Root");
  /* The device sends its intermediate. */
  ASSERT_EQ(CHECK(v, &leaf_i, &inter), MQG_REASON_OK);
  /* It may even send the root itself. */
  ASSERT_EQ(CHECK(v, &leaf_i, &inter, &root), MQG_REASON_OK);
  /* Without the intermediate, the chain does not reach the root. */
  ASSERT_EQ(CHECK(v, &leaf_i), MQG_REASON_UNKNOWN_CA);
  mqg_mtls_verifier_free(v);

  /* Only the intermediate registered: it is the anchor (partial chain). */
  v = verifier_of(&t, CHAIN(&inter), 1);
  ASSERT_EQ(CHECK(v, &leaf_i), MQG_REASON_OK);
  ASSERT_EQ(CHECK(v, &leaf_i, &inter), MQG_REASON_OK);
  ASSERT_EQ(CHECK(v, &leaf_i, &inter, &root), MQG_REASON_OK);
  /* ... which does not make the root's other children trusted. */
  ASSERT_EQ(CHECK(v, &leaf_r), MQG_REASON_UNKNOWN_CA);
  mqg_mtls_verifier_free(v);

  /* A bundle of several CAs. */
  pair other = ca("Other Root", NULL);
  v = verifier_of(&t, CHAIN(&other, &root), 2);
  ASSERT_EQ(CHECK(v, &leaf_r), MQG_REASON_OK);
  ASSERT_EQ(CHECK(v, &leaf_i, &inter), MQG_REASON_OK);
  mqg_mtls_verifier_free(v);

  pair_free(&other);
  pair_free(&leaf_i);
  pair_free(&leaf_r);
  pair_free(&inter);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

TEST_IMPL(mtls_verify_unknown_ca) {
  tmp t;
  tmp_init(&t);
  pair root = ca("Root", NULL);
  pair stranger = ca("Root", NULL); /* same name, other key */
  pair leaf_s = device("dev", &stranger);
  pair self = device("self-signed", NULL);
  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root), 1);

  ASSERT_EQ(CHECK(v, &leaf_s), MQG_REASON_UNKNOWN_CA);
  ASSERT_EQ(CHECK(v, &leaf_s, &stranger), MQG_REASON_UNKNOWN_CA);
  ASSERT_EQ(CHECK(v, &self), MQG_REASON_UNKNOWN_CA);
  /* The leaf is still described for the log. */
  mqg_certinfo info;
  ASSERT_EQ(check_at(v, CHAIN(&self), 1, NOW, &info), MQG_REASON_UNKNOWN_CA);
  ASSERT_STR_EQ(info.cn, "self-signed");

  mqg_mtls_verifier_free(v);
  pair_free(&self);
  pair_free(&leaf_s);
  pair_free(&stranger);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

TEST_IMPL(mtls_verify_validity) {
  tmp t;
  tmp_init(&t);
  pair root = ca("Root", NULL);
  pair inter = ca("Intermediate", &root);
  pair expired = pair_issue("old", 0, 0, 1, &root, NOW - 30 * DAY, NOW - 20 * DAY);
  pair future = pair_issue("new", 0, 0, 1, &root, NOW + 5 * DAY, NOW + 90 * DAY);
  pair good = device("good", &inter);
  pair old_inter = pair_issue("Old Intermediate", 1, 0, 0, &root, NOW - 90 * DAY,
                         NOW - DAY);
  pair leaf_oi = device("under-old", &old_inter);
  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root), 1);

  ASSERT_EQ(CHECK(v, &expired), MQG_REASON_CERT_EXPIRED);
  ASSERT_EQ(CHECK(v, &future), MQG_REASON_CERT_NOT_YET_VALID);
  /* |now| is the clock used, not the wall clock. */
  ASSERT_EQ(check_at(v, CHAIN(&expired), 1, NOW - 25 * DAY, NULL),
            MQG_REASON_OK);
  ASSERT_EQ(check_at(v, CHAIN(&future), 1, NOW + 6 * DAY, NULL),
            MQG_REASON_OK);
  ASSERT_EQ(check_at(v, CHAIN(&good, &inter), 2, NOW + 826 * DAY, NULL),
            MQG_REASON_CERT_EXPIRED);
  ASSERT_EQ(check_at(v, CHAIN(&good, &inter), 2, NOW - 2 * DAY, NULL),
            MQG_REASON_CERT_NOT_YET_VALID);
  /* An expired intermediate also makes the chain expired. */
  ASSERT_EQ(CHECK(v, &leaf_oi, &old_inter), MQG_REASON_CERT_EXPIRED);
  /* So does the root (it expires in 10 years). */
  ASSERT_EQ(check_at(v, CHAIN(&expired), 1, NOW + 3651 * DAY, NULL),
            MQG_REASON_CERT_EXPIRED);

  mqg_mtls_verifier_free(v);

  /* A registered intermediate outlives its registered root: the nearest
   * anchor's window is what counts, as for the length. */
  pair root2 = pair_issue("Root 2", 1, 0, 0, NULL, NOW - 365 * DAY, NOW + 10 * DAY);
  pair inter2 = pair_issue("Inter 2", 1, 0, 0, &root2, NOW - DAY, NOW + 100 * DAY);
  pair leaf2 = pair_issue("dev2", 0, 0, 1, &inter2, NOW - DAY, NOW + 50 * DAY);
  v = verifier_of(&t, CHAIN(&root2, &inter2), 2);
  ASSERT_EQ(check_at(v, CHAIN(&leaf2, &inter2), 2, NOW + 20 * DAY, NULL),
            MQG_REASON_OK);
  mqg_mtls_verifier_free(v);
  v = verifier_of(&t, CHAIN(&root2), 1);
  ASSERT_EQ(check_at(v, CHAIN(&leaf2, &inter2), 2, NOW + 20 * DAY, NULL),
            MQG_REASON_CERT_EXPIRED);
  ASSERT_EQ(check_at(v, CHAIN(&leaf2, &inter2), 2, NOW, NULL), MQG_REASON_OK);
  mqg_mtls_verifier_free(v);
  pair_free(&leaf2);
  pair_free(&inter2);
  pair_free(&root2);
  pair_free(&leaf_oi);
  pair_free(&old_inter);
  pair_free(&good);
  pair_free(&future);
  pair_free(&expired);
  pair_free(&inter);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

TEST_IMPL(mtls_verify_priority) {
  tmp t;
  tmp_init(&t);
  pair root = ca("Root", NULL);
  pair stranger = ca("Stranger", NULL);
  pair old_s =
      pair_issue("old", 0, 0, 1, &stranger, NOW - 30 * DAY, NOW - 20 * DAY);
  pair future_s =
      pair_issue("new", 0, 0, 1, &stranger, NOW + 5 * DAY, NOW + 30 * DAY);
  pair old_self = pair_issue("old-self", 0, 0, 1, NULL, NOW - 30 * DAY,
                        NOW - 20 * DAY);
  pair old_server = pair_issue("old-server", 0, 1, 0, &root, NOW - 30 * DAY,
                          NOW - 20 * DAY);
  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root), 1);

  /* A stranger learns nothing about validity: unknown CA wins. */
  ASSERT_EQ(CHECK(v, &old_s), MQG_REASON_UNKNOWN_CA);
  ASSERT_EQ(CHECK(v, &old_s, &stranger), MQG_REASON_UNKNOWN_CA);
  ASSERT_EQ(CHECK(v, &future_s), MQG_REASON_UNKNOWN_CA);
  ASSERT_EQ(CHECK(v, &old_self), MQG_REASON_UNKNOWN_CA);
  /* A certificate not meant for client auth is wrong whatever its dates. */
  ASSERT_EQ(CHECK(v, &old_server), MQG_REASON_BAD_CERT);

  mqg_mtls_verifier_free(v);
  pair_free(&old_server);
  pair_free(&old_self);
  pair_free(&future_s);
  pair_free(&old_s);
  pair_free(&stranger);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

TEST_IMPL(mtls_verify_bad_cert) {
  tmp t;
  tmp_init(&t);
  pair root = ca("Root", NULL);
  pair inter = ca("Intermediate", &root);
  pair server = pair_issue("server", 0, 1, 0, &root, NOW - DAY, NOW + DAY);
  pair leaf = device("dev", &inter);
  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root, &inter), 2);

  /* A CA, registered or not, is no device certificate. */
  ASSERT_EQ(CHECK(v, &root), MQG_REASON_BAD_CERT);
  ASSERT_EQ(CHECK(v, &inter, &root), MQG_REASON_BAD_CERT);
  mqg_certinfo info;
  ASSERT_EQ(check_at(v, CHAIN(&inter), 1, NOW, &info), MQG_REASON_BAD_CERT);
  ASSERT_EQ(info.is_ca, 1);
  /* Server-only EKU: not usable for TLS client auth. */
  ASSERT_EQ(CHECK(v, &server), MQG_REASON_BAD_CERT);

  /* Bytes that are no certificate, as leaf or as intermediate. */
  static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  CRYPTO_BUFFER *bufs[2];
  bufs[0] = CRYPTO_BUFFER_new(junk, sizeof(junk), NULL);
  ASSERT_EQ(mqg_mtls_verify(v, (const CRYPTO_BUFFER *const *)bufs, 1, NOW,
                            &info, NULL),
            MQG_REASON_BAD_CERT);
  ASSERT_STR_EQ(info.cn, "");
  CRYPTO_BUFFER_free(bufs[0]);
  bufs[0] = buffer_of(leaf.cert);
  bufs[1] = CRYPTO_BUFFER_new(junk, sizeof(junk), NULL);
  ASSERT_EQ(mqg_mtls_verify(v, (const CRYPTO_BUFFER *const *)bufs, 2, NOW,
                            NULL, NULL),
            MQG_REASON_BAD_CERT);
  /* No certificate at all. */
  ASSERT_EQ(mqg_mtls_verify(v, (const CRYPTO_BUFFER *const *)bufs, 0, NOW,
                            &info, NULL),
            MQG_REASON_NO_CERT);
  ASSERT_EQ(mqg_mtls_verify(v, NULL, 0, NOW, NULL, NULL), MQG_REASON_NO_CERT);
  CRYPTO_BUFFER_free(bufs[1]);
  CRYPTO_BUFFER_free(bufs[0]);

  mqg_mtls_verifier_free(v);
  pair_free(&leaf);
  pair_free(&server);
  pair_free(&inter);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

TEST_IMPL(mtls_verify_chain_length) {
  tmp t;
  tmp_init(&t);
  /* root <- i[1] <- ... <- i[6]; a leaf under each. */
  enum { N = 6 };
  pair root = ca("Root", NULL);
  pair in[N + 1], leaf[N + 1];
  in[0] = root;
  for (int i = 1; i <= N; i++) {
    char cn[32];
    snprintf(cn, sizeof(cn), "Intermediate %d", i);
    in[i] = ca(cn, &in[i - 1]);
  }
  for (int i = 0; i <= N; i++)
    leaf[i] = device("dev", &in[i]);
  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root), 1);

  /* leaf + k intermediates + root: k + 2 certificates in the chain. */
  for (int k = 0; k <= N; k++) {
    const pair *chain[N + 1];
    chain[0] = &leaf[k];
    for (int j = 1; j <= k; j++)
      chain[j] = &in[k - j + 1];
    mqg_reason want = k + 2 <= MQG_MTLS_MAX_DEPTH ? MQG_REASON_OK
                                                  : MQG_REASON_CHAIN_TOO_LONG;
    mqg_reason got = check(v, chain, (size_t)k + 1);
    if (got != want)
      fprintf(stderr, "k=%d: %s\n", k, mqg_reason_label(got));
    ASSERT_EQ(got, want);
  }
  /* The longest good chain, root included by the device. */
  const pair *full[MQG_MTLS_MAX_DEPTH];
  full[0] = &leaf[MQG_MTLS_MAX_DEPTH - 2];
  for (int j = 1; j < MQG_MTLS_MAX_DEPTH; j++)
    full[j] = &in[MQG_MTLS_MAX_DEPTH - 1 - j];
  ASSERT_EQ(check(v, full, MQG_MTLS_MAX_DEPTH), MQG_REASON_OK);
  mqg_mtls_verifier_free(v);

  /* With a deep intermediate as the anchor, the same leaf is close. */
  v = verifier_of(&t, CHAIN(&in[N]), 1);
  ASSERT_EQ(CHECK(v, &leaf[N]), MQG_REASON_OK);
  mqg_mtls_verifier_free(v);
  /* Several levels registered: the nearest anchor measures the chain,
   * even if BoringSSL runs on to the root. */
  v = verifier_of(&t, CHAIN(&root, &in[1], &in[2]), 3);
  ASSERT_EQ(CHECK(v, &leaf[6], &in[6], &in[5], &in[4], &in[3]),
            MQG_REASON_OK);
  ASSERT_EQ(CHECK(v, &leaf[6], &in[6], &in[5], &in[4], &in[3], &in[2]),
            MQG_REASON_OK);
  mqg_mtls_verifier_free(v);
  /* More certificates than any good chain has: refused by count. */
  v = verifier_of(&t, CHAIN(&in[2]), 1);
  ASSERT_EQ(CHECK(v, &leaf[6], &in[6], &in[5], &in[4], &in[3], &in[2],
                  &in[1]),
            MQG_REASON_CHAIN_TOO_LONG);
  mqg_mtls_verifier_free(v);

  for (int i = 0; i <= N; i++) {
    pair_free(&leaf[i]);
    pair_free(&in[i]);
  }
  tmp_cleanup(&t);
  return 0;
}

TEST_IMPL(mtls_verify_bundle_errors) {
  tmp t;
  tmp_init(&t);
  char err[256], path[128];

  snprintf(path, sizeof(path), "%s/missing.pem", t.dir);
  err[0] = '\0';
  ASSERT(mqg_mtls_verifier_new(path, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "missing.pem") != NULL);
  ASSERT(strstr(err, "No such file") != NULL);

  const char *empty = tmp_bundle(&t, NULL, 0);
  err[0] = '\0';
  ASSERT(mqg_mtls_verifier_new(empty, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "no certificate") != NULL);

  pair root = ca("Root", NULL);
  pair leaf = device("not-a-ca", &root);
  const char *mixed = tmp_bundle(&t, CHAIN(&root, &leaf), 2);
  err[0] = '\0';
  ASSERT(mqg_mtls_verifier_new(mixed, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "not a CA") != NULL);
  ASSERT(strstr(err, "not-a-ca") != NULL);

  /* A damaged PEM block after a good one. */
  const char *damaged = tmp_bundle(&t, CHAIN(&root), 1);
  FILE *f = fopen(damaged, "a");
  ASSERT(f != NULL);
  fputs("-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n",
        f);
  fclose(f);
  err[0] = '\0';
  ASSERT(mqg_mtls_verifier_new(damaged, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "certificate 2") != NULL);

  /* A tiny error buffer is still NUL-terminated; NULL is accepted. */
  char small[8];
  ASSERT(mqg_mtls_verifier_new(mixed, small, sizeof(small)) == NULL);
  ASSERT_EQ(strlen(small), 7);
  ASSERT(mqg_mtls_verifier_new(mixed, NULL, 0) == NULL);
  mqg_mtls_verifier_free(NULL);

  pair_free(&leaf);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

/* Several threads share one verifier, each checking a mix of chains. */
typedef struct {
  const mqg_mtls_verifier *v;
  CRYPTO_BUFFER *good[2], *stranger[1], *expired[1];
} shared;

static void *verify_loop(void *arg) {
  shared *s = arg;
  int bad = 0;
  for (int i = 0; i < 200; i++) {
    mqg_certinfo info;
    bad += mqg_mtls_verify(s->v, (const CRYPTO_BUFFER *const *)s->good, 2,
                           NOW, &info, NULL) != MQG_REASON_OK;
    bad += strcmp(info.cn, "dev") != 0;
    bad += mqg_mtls_verify(s->v, (const CRYPTO_BUFFER *const *)s->stranger, 1,
                           NOW, NULL, NULL) != MQG_REASON_UNKNOWN_CA;
    bad += mqg_mtls_verify(s->v, (const CRYPTO_BUFFER *const *)s->expired, 1,
                           NOW, NULL, NULL) != MQG_REASON_CERT_EXPIRED;
  }
  return (void *)(intptr_t)bad;
}

TEST_IMPL(mtls_verify_threads) {
  tmp t;
  tmp_init(&t);
  pair root = ca("Root", NULL);
  pair inter = ca("Intermediate", &root);
  pair leaf = device("dev", &inter);
  pair other = ca("Other", NULL);
  pair leaf_o = device("dev", &other);
  pair old = pair_issue("old", 0, 0, 1, &root, NOW - 9 * DAY, NOW - DAY);
  mqg_mtls_verifier *v = verifier_of(&t, CHAIN(&root), 1);

  shared s = {v,
              {buffer_of(leaf.cert), buffer_of(inter.cert)},
              {buffer_of(leaf_o.cert)},
              {buffer_of(old.cert)}};

  enum { THREADS = 4 };
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    ASSERT(pthread_create(&th[i], NULL, verify_loop, &s) == 0);
  for (int i = 0; i < THREADS; i++) {
    void *ret;
    ASSERT(pthread_join(th[i], &ret) == 0);
    ASSERT_EQ((intptr_t)ret, 0);
  }

  CRYPTO_BUFFER_free(s.good[0]);
  CRYPTO_BUFFER_free(s.good[1]);
  CRYPTO_BUFFER_free(s.stranger[0]);
  CRYPTO_BUFFER_free(s.expired[0]);
  mqg_mtls_verifier_free(v);
  pair_free(&old);
  pair_free(&leaf_o);
  pair_free(&other);
  pair_free(&leaf);
  pair_free(&inter);
  pair_free(&root);
  tmp_cleanup(&t);
  return 0;
}

/* An in-memory bundle (the registry's CAs) and the anchor a chain reached. */
TEST_IMPL(mtls_verify_anchor_id) {
  pair root = ca("Root", NULL);
  pair inter = ca("Intermediate", &root);
  pair leaf_r = device("dev-root", &root);
  pair leaf_i = device("dev-inter", &inter);
  BIO *mem = BIO_new(BIO_s_mem());
  ASSERT(PEM_write_bio_X509(mem, root.cert) && PEM_write_bio_X509(mem, inter.cert));
  const uint8_t *pem;
  size_t pem_len;
  ASSERT(BIO_mem_contents(mem, &pem, &pem_len));
  char err[256];
  mqg_mtls_verifier *v =
      mqg_mtls_verifier_new_pem((const char *)pem, pem_len, "registry", err, sizeof(err));
  ASSERT(v != NULL);

  uint8_t root_id[32], inter_id[32], got[32];
  uint8_t *der = NULL;
  int len = i2d_X509(root.cert, &der);
  mqg_certinfo_fingerprint(der, (size_t)len, root_id);
  OPENSSL_free(der);
  der = NULL;
  len = i2d_X509(inter.cert, &der);
  mqg_certinfo_fingerprint(der, (size_t)len, inter_id);
  OPENSSL_free(der);

  CRYPTO_BUFFER *bufs[2] = {buffer_of(leaf_r.cert), NULL};
  ASSERT_EQ(mqg_mtls_verify(v, (const CRYPTO_BUFFER *const *)bufs, 1, NOW, NULL, got),
            MQG_REASON_OK);
  ASSERT_MEM_EQ(got, root_id, 32);
  CRYPTO_BUFFER_free(bufs[0]);
  /* Root and intermediate both registered: the nearest one is the CA. */
  bufs[0] = buffer_of(leaf_i.cert);
  bufs[1] = buffer_of(inter.cert);
  ASSERT_EQ(mqg_mtls_verify(v, (const CRYPTO_BUFFER *const *)bufs, 2, NOW, NULL, got),
            MQG_REASON_OK);
  ASSERT_MEM_EQ(got, inter_id, 32);
  CRYPTO_BUFFER_free(bufs[0]);
  CRYPTO_BUFFER_free(bufs[1]);

  /* Garbage in memory is refused like a damaged file. */
  ASSERT(mqg_mtls_verifier_new_pem("-----BEGIN CERTIFICATE-----\nAAAA\n", 33, "registry",
                                   err, sizeof(err)) == NULL);
  mqg_mtls_verifier_free(v);
  BIO_free(mem);
  pair_free(&leaf_i);
  pair_free(&leaf_r);
  pair_free(&inter);
  pair_free(&root);
  return 0;
}
