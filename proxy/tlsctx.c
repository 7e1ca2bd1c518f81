/* tlsctx.c: see tlsctx.h. */
#include "tlsctx.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "cache.h"
#include "certgen.h"
#include "crls.h"
#include "log.h"
#include "mtls_verify.h"
#include "tlsgroups.h"
#include "tlskeys.h"

#define MAX_PEER_CHAIN 16

/* The TLS version window, process-wide: every context applies it to each
 * new SSL, so it survives a reload of the certificates. */
static _Atomic uint32_t window = (uint32_t)TLS1_VERSION << 16 | TLS1_3_VERSION;

struct mqg_tls {
  _Atomic int refs;
  SSL_CTX *ctx;
  mqg_mtls_verifier *verifier;
  /* mtls mode: chains (chain_key) that verified against |verifier|.
   * Tied to that bundle: a new bundle comes with a new cache. Entries
   * expire after --cache-ttl, which also bounds how long an intermediate
   * that expired since can go unnoticed. CRLs are not cached: they are
   * checked on every handshake, hit or miss (crls.h). */
  mqg_cache *verified;
  mqg_tls_groups groups; /* --tls-groups */
};

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mqg_tls_peer_cleanup(mqg_tls_peer *p) {
  free(p->cn);
  free(p->client_id);
  memset(p, 0, sizeof(*p));
}

/* chain_key is the verified cache's key for the chain |chain| of |n|
 * certificates: the leaf's fingerprint |leaf_fp| for a lone leaf, else the
 * SHA-256 of every certificate sent, length-prefixed. A hit so means these
 * very certificates were verified, intermediates included: the CRL check
 * walks through them, and a device cannot leave out a revoked
 * intermediate and still hit the entry its full chain made. */
static void chain_key(const STACK_OF(CRYPTO_BUFFER) *chain, size_t n,
                      const uint8_t leaf_fp[32], uint8_t out[32]) {
  SHA256_CTX sha;
  if (n == 1) {
    memcpy(out, leaf_fp, 32);
    return;
  }
  SHA256_Init(&sha);
  for (size_t i = 0; i < n; i++) {
    const CRYPTO_BUFFER *b = sk_CRYPTO_BUFFER_value(chain, i);
    uint64_t len = CRYPTO_BUFFER_len(b);
    SHA256_Update(&sha, &len, sizeof(len));
    SHA256_Update(&sha, CRYPTO_BUFFER_data(b), CRYPTO_BUFFER_len(b));
  }
  SHA256_Final(out, &sha);
}

enum ssl_verify_result_t mqg_tls_check_peer(SSL *ssl, uint8_t *out_alert) {
  mqg_tls_peer *peer = SSL_get_app_data(ssl);
  if (peer->check != NULL)
    return peer->check(peer, ssl, out_alert);
  const mqg_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
  const CRYPTO_BUFFER *certs[MAX_PEER_CHAIN];
  size_t n = chain == NULL ? 0 : sk_CRYPTO_BUFFER_num(chain);
  int64_t now = (int64_t)time(NULL);
  mqg_certinfo info;
  mqg_reason r;
  uint8_t key[32] = {0};

  /* The same chain, verified against the same bundle not long ago: the
   * chain check would prove nothing new. The leaf's dates still count. */
  if (n > 0 && t->verified != NULL) {
    const CRYPTO_BUFFER *leaf = sk_CRYPTO_BUFFER_value(chain, 0);
    mqg_cache_entry hit;
    mqg_certinfo_fingerprint(CRYPTO_BUFFER_data(leaf), CRYPTO_BUFFER_len(leaf), peer->sha256);
    chain_key(chain, n, peer->sha256, key);
    if (mqg_cache_get(t->verified, key, mono_ms(), &hit)) {
      peer->has_cert = 1;
      free(peer->cn);
      peer->cn = hit.cn[0] != '\0' ? strdup(hit.cn) : NULL;
      r = mqg_mtls_dates(now, hit.not_before, hit.not_after);
      goto done;
    }
  }

  memset(&info, 0, sizeof(info));
  if (t->verifier == NULL) {
    r = MQG_REASON_UNKNOWN_CA; /* no check configured: fail closed */
  } else if (mqg_mtls_chain(chain, certs, MAX_PEER_CHAIN) == SIZE_MAX) {
    r = MQG_REASON_CHAIN_TOO_LONG;
  } else {
    r = mqg_mtls_verify(t->verifier, certs, n, now, &info, NULL);
  }
  if (info.fingerprint[0] != '\0') {
    peer->has_cert = 1;
    memcpy(peer->sha256, info.sha256, sizeof(peer->sha256));
    free(peer->cn);
    peer->cn = info.cn[0] != '\0' ? strdup(info.cn) : NULL;
  }
  if (r == MQG_REASON_OK && t->verified != NULL && strlen(info.cn) <= MQG_CACHE_ID_MAX) {
    mqg_cache_entry e;
    memset(&e, 0, sizeof(e));
    memcpy(e.fp, key, 32);
    e.verdict = MQG_REASON_OK;
    e.not_before = info.not_before;
    e.not_after = info.not_after;
    snprintf(e.cn, sizeof(e.cn), "%s", info.cn);
    e.fetched_ms = mono_ms();
    mqg_cache_put(t->verified, &e);
  }
done:
  /* The CRLs in force, cache hit or not: a chain verified earlier may have
   * been revoked since. */
  r = mqg_crls_check(chain, r);
  peer->reason = r;
  if (r == MQG_REASON_OK)
    return ssl_verify_ok;
  *out_alert = mqg_reason_alert(r, SSL_version(ssl));
  return ssl_verify_invalid;
}

/* Reads every certificate of a PEM file into DER buffers for
 * SSL_CTX_set_chain_and_key. Returns the count, or -1. */
static int load_chain(const char *path, CRYPTO_BUFFER **out, int max) {
  BIO *bio = BIO_new_file(path, "r");
  int n = 0;
  if (bio == NULL)
    return -1;
  X509 *x;
  while (n < max && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    X509_free(x);
    if (len <= 0)
      break;
    out[n] = CRYPTO_BUFFER_new(der, (size_t)len, NULL);
    OPENSSL_free(der);
    if (out[n] == NULL)
      break;
    n++;
  }
  ERR_clear_error(); /* the loop ends on "no start line" */
  BIO_free(bio);
  return n;
}

/* Makes sure <state_dir>/server.{crt,key} exist, generating them once. */
static int default_cert(const char *dir, char *cert_path, char *key_path,
                        size_t cap, char *err, size_t errlen) {
  snprintf(cert_path, cap, "%s/server.crt", dir);
  snprintf(key_path, cap, "%s/server.key", dir);
  struct stat st;
  if (stat(cert_path, &st) == 0 && stat(key_path, &st) == 0)
    return 0;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create state dir %s: %s", dir, strerror(errno));
    return -1;
  }
  time_t now = time(NULL);
  mqg_cert_spec spec = {.cn = "localhost",
                        .org = "mqgate default certificate",
                        .not_before = (int64_t)now - 86400,
                        .not_after = (int64_t)now + 10 * 365 * 86400LL,
                        .server = 1};
  EVP_PKEY *key = mqg_certgen_key(MQG_KEY_EC_P256);
  X509 *cert = key ? mqg_certgen_issue(&spec, key, NULL, NULL) : NULL;
  int rc = cert ? mqg_certgen_write(cert_path, cert, NULL, key_path, key) : -ENOMEM;
  X509_free(cert);
  EVP_PKEY_free(key);
  if (rc != 0) {
    snprintf(err, errlen, "cannot write default server certificate to %s: %s",
             dir, strerror(-rc));
    return -1;
  }
  mqg_log(MQG_LOG_INFO, "generated default server certificate %s", cert_path);
  return 0;
}

static int load_server_cert(SSL_CTX *ctx, const mqg_config *cfg, char *err,
                            size_t errlen) {
  char cert_path[4096], key_path[4096];
  CRYPTO_BUFFER *chain[10];
  int n = 0, ok = 0;
  EVP_PKEY *key = NULL;

  if (cfg->cert[0] != '\0') {
    snprintf(cert_path, sizeof(cert_path), "%s", cfg->cert);
    snprintf(key_path, sizeof(key_path), "%s", cfg->key);
  } else if (default_cert(cfg->state_dir, cert_path, key_path,
                          sizeof(cert_path), err, errlen) != 0) {
    return -1;
  }
  n = load_chain(cert_path, chain, 10);
  if (n <= 0) {
    snprintf(err, errlen, "%s: no PEM certificate could be read", cert_path);
    goto out;
  }
  if (mqg_certgen_load(NULL, NULL, key_path, &key) != 0) {
    snprintf(err, errlen, "%s: no PEM private key could be read", key_path);
    goto out;
  }
  if (!SSL_CTX_set_chain_and_key(ctx, chain, (size_t)n, key, NULL)) {
    snprintf(err, errlen, "%s does not match the key in %s (or key type unsupported)",
             cert_path, key_path);
    goto out;
  }
  ok = 1;
out:
  for (int i = 0; i < n; i++)
    CRYPTO_BUFFER_free(chain[i]);
  EVP_PKEY_free(key);
  ERR_clear_error();
  return ok ? 0 : -1;
}

/* Before BoringSSL picks the group: a TLS 1.3 key share the device sent
 * for an allowed group is taken rather than asked again (tlsgroups.h). */
static enum ssl_select_cert_result_t on_client_hello(const SSL_CLIENT_HELLO *hello) {
  const mqg_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(hello->ssl));
  return mqg_tls_groups_on_hello(hello, &t->groups, SSL_get_max_proto_version(hello->ssl))
             ? ssl_select_cert_success
             : ssl_select_cert_error;
}

mqg_tls *mqg_tls_new(const mqg_config *cfg, char *err, size_t errlen) {
  mqg_tls *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  t->refs = 1;
  t->ctx = SSL_CTX_new(TLS_with_buffers_method());
  if (t->ctx == NULL) {
    snprintf(err, errlen, "SSL_CTX_new failed");
    goto fail;
  }
  if (strcmp(cfg->auth, "mtls") == 0) {
    t->verifier = mqg_mtls_verifier_new(cfg->client_ca, err, errlen);
    if (t->verifier == NULL)
      goto fail;
    t->verified = mqg_cache_new(cfg->cache_size, cfg->cache_ttl);
    if (t->verified == NULL) {
      snprintf(err, errlen, "out of memory");
      goto fail;
    }
  }
  if (load_server_cert(t->ctx, cfg, err, errlen) != 0)
    goto fail;
  if (mqg_tls_groups_parse(cfg->tls_groups, &t->groups, err, errlen) != 0)
    goto fail;
  if (mqg_tls_groups_apply(t->ctx, &t->groups) != 0) {
    snprintf(err, errlen, "cannot set the groups or ciphers");
    goto fail;
  }
  SSL_CTX_set_select_certificate_cb(t->ctx, on_client_hello);
  SSL_CTX_set_app_data(t->ctx, t);
  /* The outer bounds; each SSL narrows them to the current window. */
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION);
  SSL_CTX_set_custom_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                            mqg_tls_check_peer);
  /* Resumed sessions must be checked again too (a certificate revoked or
   * expired since must not come back by resumption), but BoringSSL honours
   * SSL_CTX_set_reverify_on_resume on clients only: the connection runs
   * mqg_tls_check_peer itself when a resumed handshake completes. */
  /* Resumption by tickets only: no per-session memory on the server. The
   * ticket keys are the process's (tlskeys.h): shared with the other
   * proxies when given, and the same for every context, so a reload does
   * not cost every device a full handshake. */
  SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
  mqg_tls_ticket_keys_install(t->ctx);
  /* One TLS 1.3 ticket per handshake, not BoringSSL's two: a device holds
   * one connection, and each resumption brings it a fresh ticket. */
  SSL_CTX_set_num_tickets(t->ctx, 1);
  static const uint8_t sid_ctx[] = "mqgate";
  SSL_CTX_set_session_id_context(t->ctx, sid_ctx, sizeof(sid_ctx) - 1);
  /* The pump retries a blocked write from its own queue, which may have
   * moved and grown since. */
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return t;
fail:
  mqg_tls_free(t);
  return NULL;
}

const mqg_mtls_verifier *mqg_tls_get0_verifier(const mqg_tls *t) { return t->verifier; }

mqg_tls *mqg_tls_up_ref(mqg_tls *t) {
  atomic_fetch_add(&t->refs, 1);
  return t;
}

void mqg_tls_free(mqg_tls *t) {
  if (t == NULL || atomic_fetch_sub(&t->refs, 1) > 1)
    return;
  SSL_CTX_free(t->ctx);
  mqg_mtls_verifier_free(t->verifier);
  mqg_cache_free(t->verified);
  free(t);
}

void mqg_tls_retire(mqg_tls *t) {
  if (t->verified != NULL)
    mqg_cache_clear(t->verified);
}

void mqg_tls_set_window(uint16_t min, uint16_t max) {
  atomic_store(&window, (uint32_t)min << 16 | max);
}

void mqg_tls_get_window(uint16_t *min, uint16_t *max) {
  uint32_t w = atomic_load(&window);
  *min = (uint16_t)(w >> 16);
  *max = (uint16_t)w;
}

SSL *mqg_tls_ssl_new(mqg_tls *t, BIO *bio, mqg_tls_peer *peer) {
  uint16_t min, max;
  SSL *ssl = SSL_new(t->ctx);
  if (ssl == NULL)
    return NULL;
  mqg_tls_get_window(&min, &max);
  if (!SSL_set_min_proto_version(ssl, min) || !SSL_set_max_proto_version(ssl, max)) {
    SSL_free(ssl);
    return NULL;
  }
  SSL_set_bio(ssl, bio, bio); /* one reference for both directions */
  SSL_set_app_data(ssl, peer);
  SSL_set_accept_state(ssl);
  return ssl;
}

mqg_reason mqg_tls_failure_reason(SSL *ssl, const mqg_tls_peer *peer,
                                  char *detail, size_t detail_len) {
  uint32_t e = ERR_peek_error();
  mqg_reason r = MQG_REASON_TLS_ERROR;
  (void)ssl;
  if (e != 0)
    ERR_error_string_n(e, detail, detail_len);
  else
    snprintf(detail, detail_len, "connection closed during handshake");
  /* A peer that closes without a TLS error (a port probe, a load balancer's
   * health check) was not refused. */
  if (e == 0 && peer->reason == MQG_REASON_OK)
    r = MQG_REASON_CLOSED;
  else if (peer->reason != MQG_REASON_OK)
    r = peer->reason;
  else if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(e)) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
      /* The device's answer to a version below its own minimum: the window
       * offered it nothing it accepts. */
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        r = MQG_REASON_TLS_VERSION;
        break;
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        r = MQG_REASON_NO_CERT;
        break;
      /* BoringSSL checks the leaf may sign (digitalSignature) before our
       * callback runs, and answers illegal_parameter itself. */
      case SSL_R_KEY_USAGE_BIT_INCORRECT:
        r = MQG_REASON_BAD_CERT;
        break;
    }
  }
  ERR_clear_error();
  return r;
}
