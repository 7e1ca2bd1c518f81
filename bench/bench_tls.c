/* bench_tls.c: the client SSL_CTX, the device identities and sessions, and
 * the naming of TLS failures.
 *
 * Cheapness: the context is CRYPTO_BUFFER-based (TLS_with_buffers_method),
 * so the server's certificates are not parsed into X509 objects on every
 * handshake. With --ca the server's chain is verified in full (X509_STORE)
 * the first time a leaf is seen; later handshakes presenting the very same
 * leaf bytes, still within its validity, are accepted by comparison. Only
 * the signature over the handshake (CertificateVerify) is then checked each
 * time, by BoringSSL itself: the part no client can skip. Keys are parsed
 * once per pool entry before the run; a connection only takes
 * references. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bench.h"
#include "certgen.h"

/* RFC 8446 section 6 and RFC 5246 section 7.2 names. */
static const struct {
  int alert;
  const char *name;
} alert_names[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

const char *mqb_tls_alert_name(int alert) {
  for (size_t i = 0; i < sizeof(alert_names) / sizeof(alert_names[0]); i++)
    if (alert_names[i].alert == alert)
      return alert_names[i].name;
  return NULL;
}

const char *mqb_errno_kind(int err) {
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case 0: /* end of stream where more was due */
      return "reset";
    case ECONNREFUSED:
      return "refused";
    case ETIMEDOUT:
      return "timeout";
    case EMFILE:
    case ENFILE:
      return "emfile";
    default:
      return "other";
  }
}

int mqb_tls_error_kind(SSL *ssl, int ret, int saved_errno, char *kind,
                       size_t kind_len, char *detail, size_t detail_len) {
  int e = SSL_get_error(ssl, ret);
  uint32_t packed;
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return 1;
    case SSL_ERROR_WANT_WRITE:
      return 2;
    case SSL_ERROR_ZERO_RETURN:
      snprintf(kind, kind_len, "reset");
      snprintf(detail, detail_len, "the server closed the TLS session");
      break;
    case SSL_ERROR_SYSCALL:
      snprintf(kind, kind_len, "%s", mqb_errno_kind(saved_errno));
      snprintf(detail, detail_len, "%s",
               saved_errno ? strerror(saved_errno) : "the server closed the connection");
      break;
    case SSL_ERROR_SSL:
      packed = ERR_peek_error();
      ERR_error_string_n(packed, detail, detail_len);
      if (ERR_GET_LIB(packed) == ERR_LIB_SSL &&
          ERR_GET_REASON(packed) > SSL_AD_REASON_OFFSET &&
          ERR_GET_REASON(packed) < SSL_AD_REASON_OFFSET + 256) {
        /* An alert the server sent us. */
        int alert = ERR_GET_REASON(packed) - SSL_AD_REASON_OFFSET;
        const char *name = mqb_tls_alert_name(alert);
        if (name != NULL)
          snprintf(kind, kind_len, "tls_alert:%s", name);
        else
          snprintf(kind, kind_len, "tls_alert:%d", alert);
      } else {
        snprintf(kind, kind_len, "other");
      }
      break;
    default:
      snprintf(kind, kind_len, "other");
      snprintf(detail, detail_len, "SSL error %d", e);
      break;
  }
  ERR_clear_error();
  return 0;
}

static enum ssl_verify_result_t accept_any(SSL *ssl, uint8_t *out_alert) {
  return ssl_verify_ok;
}

/* verify_chain does the full check of |chain| (leaf first) against the CA
 * store, as a TLS server certificate. Returns 1 with the leaf's end of
 * validity in |*not_after|, or 0 with |*alert| set. */
static int verify_chain(X509_STORE *store, const STACK_OF(CRYPTO_BUFFER) *chain,
                        time_t *not_after, uint8_t *alert) {
  size_t n = sk_CRYPTO_BUFFER_num(chain);
  STACK_OF(X509) *rest = sk_X509_new_null();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  X509 *leaf = NULL;
  int ok = 0, days = 0, secs = 0;
  *alert = SSL_AD_BAD_CERTIFICATE;
  for (size_t i = 0; rest != NULL && i < n; i++) {
    const CRYPTO_BUFFER *b = sk_CRYPTO_BUFFER_value(chain, i);
    const uint8_t *p = CRYPTO_BUFFER_data(b);
    X509 *x = d2i_X509(NULL, &p, (long)CRYPTO_BUFFER_len(b));
    if (x == NULL)
      goto out;
    if (i == 0)
      leaf = x;
    else if (!sk_X509_push(rest, x)) {
      X509_free(x);
      goto out;
    }
  }
  if (leaf == NULL || ctx == NULL || !X509_STORE_CTX_init(ctx, store, leaf, rest) ||
      !X509_STORE_CTX_set_default(ctx, "ssl_server"))
    goto out;
  if (X509_verify_cert(ctx) != 1) {
    switch (X509_STORE_CTX_get_error(ctx)) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        *alert = SSL_AD_UNKNOWN_CA;
        break;
      case X509_V_ERR_CERT_HAS_EXPIRED:
        *alert = SSL_AD_CERTIFICATE_EXPIRED;
        break;
    }
    goto out;
  }
  if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)))
    goto out;
  *not_after = time(NULL) + (time_t)days * 86400 + secs;
  ok = 1;
out:
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_free(leaf);
  sk_X509_pop_free(rest, X509_free);
  return ok;
}

/* verify_server accepts a server leaf already verified in full (same
 * bytes, still valid), else verifies its chain and remembers it. */
static enum ssl_verify_result_t verify_server(SSL *ssl, uint8_t *out_alert) {
  mqb_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
  if (chain == NULL || sk_CRYPTO_BUFFER_num(chain) == 0) {
    *out_alert = SSL_AD_CERTIFICATE_REQUIRED;
    return ssl_verify_invalid;
  }
  const CRYPTO_BUFFER *leaf = sk_CRYPTO_BUFFER_value(chain, 0);
  time_t now = time(NULL);
  for (size_t i = 0; i < t->n_verified; i++) {
    const CRYPTO_BUFFER *v = t->verified[i];
    if (CRYPTO_BUFFER_len(v) == CRYPTO_BUFFER_len(leaf) &&
        memcmp(CRYPTO_BUFFER_data(v), CRYPTO_BUFFER_data(leaf), CRYPTO_BUFFER_len(v)) == 0 &&
        now < t->verified_until[i])
      return ssl_verify_ok;
  }
  time_t until;
  if (!verify_chain(t->store, chain, &until, out_alert))
    return ssl_verify_invalid;
  /* A few servers' leaves at most; the oldest makes room. */
  size_t slot = t->n_verified < MQB_VERIFIED_MAX ? t->n_verified++ : 0;
  CRYPTO_BUFFER_free(t->verified[slot]);
  CRYPTO_BUFFER_up_ref((CRYPTO_BUFFER *)leaf);
  t->verified[slot] = (CRYPTO_BUFFER *)leaf;
  t->verified_until[slot] = until;
  return ssl_verify_ok;
}

/* Keeps each device's newest session (TLS 1.3 sends tickets after the
 * handshake; the latest replaces the older). Returns 1: the reference is
 * taken. */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  mqb_conn *c = SSL_get_app_data(ssl);
  if (c == NULL)
    return 0;
  mqb_device *d = &c->run->devs[c->dev];
  SSL_SESSION_free(d->session);
  d->session = session;
  return 1;
}

/* load_chain reads up to 4 PEM certificates into DER buffers. */
static int load_chain(const char *path, mqb_identity *id) {
  BIO *bio = BIO_new_file(path, "r");
  X509 *x;
  if (bio == NULL)
    return errno ? -errno : -ENOENT;
  while (id->n < 4 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    X509_free(x);
    if (len <= 0)
      break;
    id->chain[id->n] = CRYPTO_BUFFER_new(der, (size_t)len, NULL);
    OPENSSL_free(der);
    if (id->chain[id->n] == NULL)
      break;
    id->n++;
  }
  ERR_clear_error(); /* the loop ends on "no start line" */
  BIO_free(bio);
  return id->n > 0 ? 0 : -EINVAL;
}

static int load_identity(const char *cert, const char *key, mqb_identity *id,
                         char *err, size_t errlen) {
  int rc = load_chain(cert, id);
  if (rc < 0) {
    snprintf(err, errlen, "%s: %s", cert,
             rc == -EINVAL ? "no PEM certificate" : strerror(-rc));
    return -1;
  }
  rc = mqg_certgen_load(NULL, NULL, key, &id->key);
  if (rc < 0) {
    snprintf(err, errlen, "%s: %s", key,
             rc == -EINVAL ? "no PEM private key" : strerror(-rc));
    return -1;
  }
  return 0;
}

/* pool_file makes DIR/<basename of |path|>: the pool directory wins over
 * the path certgen recorded, which may be relative to another directory. */
static void pool_file(const char *dir, const char *path, char *out, size_t cap) {
  const char *base = strrchr(path, '/');
  snprintf(out, cap, "%s/%s", dir, base ? base + 1 : path);
}

static int load_pool(mqb_tls *t, const mqb_opts *o, uint32_t devices,
                     char *err, size_t errlen) {
  char path[PATH_MAX], line[3 * PATH_MAX];
  snprintf(path, sizeof(path), "%s/index.tsv", o->pool_dir);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t lines = 0;
  while (fgets(line, sizeof(line), f) != NULL)
    if (line[0] != '\n' && line[0] != '#')
      lines++;
  size_t want = lines < devices ? lines : devices;
  if (want == 0) {
    fclose(f);
    snprintf(err, errlen, "%s: no entries", path);
    return -1;
  }
  t->ids = calloc(want, sizeof(*t->ids));
  if (t->ids == NULL) {
    fclose(f);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (want >= 2000 && !o->quiet)
    fprintf(stderr, "mqgate-bench: loading %zu device identities from %s\n",
            want, o->pool_dir);
  rewind(f);
  int rc = 0;
  while (t->n_ids < want && fgets(line, sizeof(line), f) != NULL) {
    if (line[0] == '\n' || line[0] == '#')
      continue;
    line[strcspn(line, "\r\n")] = '\0';
    /* name, CN, fingerprint, cert path, key path */
    char *fields[5], *save = NULL, *p = line;
    int n = 0;
    while (n < 5 && (fields[n] = strtok_r(p, "\t", &save)) != NULL)
      n++, p = NULL;
    if (n != 5) {
      snprintf(err, errlen, "%s: line %zu has %d fields, not 5", path,
               t->n_ids + 1, n);
      rc = -1;
      break;
    }
    char cert[PATH_MAX], key[PATH_MAX];
    pool_file(o->pool_dir, fields[3], cert, sizeof(cert));
    pool_file(o->pool_dir, fields[4], key, sizeof(key));
    if (load_identity(cert, key, &t->ids[t->n_ids], err, errlen) != 0) {
      t->n_ids++; /* so that cleanup frees what it holds */
      rc = -1;
      break;
    }
    t->n_ids++;
  }
  fclose(f);
  return rc;
}

int mqb_tls_init(mqb_tls *t, const mqb_opts *o, uint32_t devices, char *err,
                 size_t errlen) {
  memset(t, 0, sizeof(*t));
  t->ctx = SSL_CTX_new(TLS_with_buffers_method());
  if (t->ctx == NULL) {
    snprintf(err, errlen, "SSL_CTX_new failed");
    return -1;
  }
  SSL_CTX_set_app_data(t->ctx, t);
  SSL_CTX_set_min_proto_version(t->ctx, o->tls_version);
  SSL_CTX_set_max_proto_version(t->ctx, o->tls_version);
  if (o->insecure) {
    SSL_CTX_set_custom_verify(t->ctx, SSL_VERIFY_PEER, accept_any);
  } else {
    t->store = X509_STORE_new();
    if (t->store == NULL || !X509_STORE_load_locations(t->store, o->ca, NULL)) {
      ERR_clear_error();
      snprintf(err, errlen, "%s: cannot load CA certificates", o->ca);
      return -1;
    }
    SSL_CTX_set_custom_verify(t->ctx, SSL_VERIFY_PEER, verify_server);
  }
  if (o->groups != NULL && !SSL_CTX_set1_curves_list(t->ctx, o->groups)) {
    ERR_clear_error();
    snprintf(err, errlen, "--groups '%s': unknown group", o->groups);
    return -1;
  }
  /* A write that would block is retried from the connection's queue,
   * which may have moved and grown since. */
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (o->resume) {
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT |
                                               SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(t->ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
  }

  if (o->pool_dir != NULL)
    return load_pool(t, o, devices, err, errlen);
  mqb_identity one;
  memset(&one, 0, sizeof(one));
  int rc = load_identity(o->cert, o->key, &one, err, errlen);
  if (rc == 0 && !SSL_CTX_set_chain_and_key(t->ctx, one.chain, one.n, one.key, NULL)) {
    ERR_clear_error();
    snprintf(err, errlen, "%s does not match the key in %s", o->cert, o->key);
    rc = -1;
  }
  for (size_t i = 0; i < one.n; i++)
    CRYPTO_BUFFER_free(one.chain[i]);
  EVP_PKEY_free(one.key);
  return rc;
}

void mqb_tls_cleanup(mqb_tls *t) {
  for (size_t i = 0; i < t->n_ids; i++) {
    for (size_t k = 0; k < t->ids[i].n; k++)
      CRYPTO_BUFFER_free(t->ids[i].chain[k]);
    EVP_PKEY_free(t->ids[i].key);
  }
  free(t->ids);
  for (size_t i = 0; i < t->n_verified; i++)
    CRYPTO_BUFFER_free(t->verified[i]);
  X509_STORE_free(t->store);
  SSL_CTX_free(t->ctx);
  memset(t, 0, sizeof(*t));
}

size_t mqb_tls_pool_size(const mqb_tls *t) {
  return t->ids != NULL ? t->n_ids : 1;
}

SSL *mqb_tls_ssl_new(mqb_tls *t, int fd, uint32_t dev, SSL_SESSION *session,
                     void *app) {
  SSL *ssl = SSL_new(t->ctx);
  if (ssl == NULL)
    return NULL;
  if (t->ids != NULL) {
    const mqb_identity *id = &t->ids[dev % t->n_ids];
    if (!SSL_set_chain_and_key(ssl, id->chain, id->n, id->key, NULL)) {
      ERR_clear_error();
      SSL_free(ssl);
      return NULL;
    }
  }
  if (!SSL_set_fd(ssl, fd) || (session != NULL && !SSL_set_session(ssl, session))) {
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
  }
  SSL_set_app_data(ssl, app);
  SSL_set_connect_state(ssl);
  return ssl;
}
