/* mtls_verify.c: see mtls_verify.h.
 *
 * Which refusal wins when a chain has several faults is a security
 * decision, not an accident of BoringSSL's check order:
 *
 *   1. the leaf must parse and not be a CA           -> BAD_CERT
 *   2. the chain must reach a trust anchor           -> UNKNOWN_CA
 *      (signatures included)
 *   3. extensions, purpose, length of the chain      -> BAD_CERT,
 *                                                       CHAIN_TOO_LONG
 *   4. validity windows at |now|                     -> CERT_EXPIRED,
 *                                                       CERT_NOT_YET_VALID
 *
 * A stranger (2) never learns whether its certificate is also expired, nor
 * anything else about how we would have judged it. This BoringSSL has no
 * X509_V_FLAG_NO_CHECK_TIME, so the verify callback lets time errors pass,
 * remembering them, and they are reported only when everything else holds.
 */
#include "mtls_verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct mqg_mtls_verifier {
  /* Only read after construction; X509_STORE_CTX_init takes its own
   * reference and BoringSSL locks the store's internals, so one store
   * serves every thread. */
  X509_STORE *store;
  STACK_OF(X509) *anchors; /* the same certificates, to measure chains */
  uint8_t (*anchor_ids)[32]; /* SHA-256 of each anchor's DER, same order */
};

/* Per-call state for the verify callback, reached through the store
 * context's app data (never through a global: calls run concurrently). */
typedef struct {
  int time_err;   /* X509_V_ERR_CERT_HAS_EXPIRED / _NOT_YET_VALID or 0 */
  int time_depth; /* chain position of |time_err| */
} verify_state;

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* subject_cn returns |x|'s first CN for messages, or "(no CN)", with
 * anything but printable ASCII replaced so it cannot break the log line. */
static const char *subject_cn(X509 *x, char *buf, size_t len) {
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf,
                                (int)len) < 0)
    snprintf(buf, len, "(no CN)");
  for (char *p = buf; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
      *p = '?';
  return buf;
}

/* load_bio reads every certificate of the PEM stream |bio| (named |name|
 * in messages) into a new verifier. Consumes nothing; |bio| stays the
 * caller's. */
static mqg_mtls_verifier *load_bio(BIO *bio, const char *name, char *err,
                                   size_t errlen) {
  mqg_mtls_verifier *v = calloc(1, sizeof(*v));
  X509 *x = NULL;
  char cn[128];
  int count = 0;

  if (v == NULL || (v->store = X509_STORE_new()) == NULL ||
      (v->anchors = sk_X509_new_null()) == NULL) {
    set_err(err, errlen, "%s: out of memory", name);
    goto err;
  }
  ERR_clear_error();
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    count++;
    /* Also caches the parsed extensions now, while the object is still
     * private, instead of on first use by concurrent verifications. */
    uint32_t flags = X509_get_extension_flags(x);
    if (flags & EXFLAG_INVALID) {
      set_err(err, errlen, "certificate %d of %s has a malformed extension",
              count, name);
      goto err;
    }
    if (!(flags & EXFLAG_CA)) {
      set_err(err, errlen,
              "certificate %d of %s (CN %s) is not a CA (no basicConstraints "
              "CA:TRUE)",
              count, name, subject_cn(x, cn, sizeof(cn)));
      goto err;
    }
    if (!X509_STORE_add_cert(v->store, x) || !sk_X509_push(v->anchors, x)) {
      set_err(err, errlen, "certificate %d of %s: cannot add it to the store",
              count, name);
      goto err;
    }
    x = NULL; /* now owned by |v->anchors| */
  }
  /* PEM_read_bio_X509 ends with "no start line" at a clean end of file;
   * anything else is a damaged PEM block. */
  uint32_t e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
    set_err(err, errlen, "certificate %d of %s does not parse", count + 1, name);
    goto err;
  }
  if (count == 0) {
    set_err(err, errlen, "no certificate in %s", name);
    goto err;
  }
  v->anchor_ids = calloc((size_t)count, sizeof(*v->anchor_ids));
  if (v->anchor_ids == NULL) {
    set_err(err, errlen, "%s: out of memory", name);
    goto err;
  }
  for (int i = 0; i < count; i++) {
    uint8_t *der = NULL;
    int len = i2d_X509(sk_X509_value(v->anchors, (size_t)i), &der);
    if (len <= 0) {
      set_err(err, errlen, "%s: cannot encode certificate %d", name, i + 1);
      goto err;
    }
    mqg_certinfo_fingerprint(der, (size_t)len, v->anchor_ids[i]);
    OPENSSL_free(der);
  }
  ERR_clear_error();
  return v;

err:
  ERR_clear_error();
  X509_free(x);
  mqg_mtls_verifier_free(v);
  return NULL;
}

mqg_mtls_verifier *mqg_mtls_verifier_new(const char *ca_file, char *err,
                                         size_t errlen) {
  FILE *f = fopen(ca_file, "rb");
  if (f == NULL) {
    set_err(err, errlen, "cannot read CA file %s: %s", ca_file, strerror(errno));
    return NULL;
  }
  /* A directory opens fine and then reads as an empty, confusing file. */
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    set_err(err, errlen, "cannot read CA file %s: %s", ca_file, strerror(EISDIR));
    return NULL;
  }
  BIO *bio = BIO_new_fp(f, BIO_CLOSE);
  if (bio == NULL) {
    fclose(f);
    set_err(err, errlen, "%s: out of memory", ca_file);
    return NULL;
  }
  mqg_mtls_verifier *v = load_bio(bio, ca_file, err, errlen);
  BIO_free(bio);
  return v;
}

mqg_mtls_verifier *mqg_mtls_verifier_new_pem(const char *pem, size_t len,
                                             const char *name, char *err,
                                             size_t errlen) {
  BIO *bio = BIO_new_mem_buf(pem, len);
  if (bio == NULL) {
    set_err(err, errlen, "%s: out of memory", name);
    return NULL;
  }
  mqg_mtls_verifier *v = load_bio(bio, name, err, errlen);
  BIO_free(bio);
  return v;
}

void mqg_mtls_verifier_free(mqg_mtls_verifier *v) {
  if (v == NULL)
    return;
  X509_STORE_free(v->store);
  sk_X509_pop_free(v->anchors, X509_free);
  free(v->anchor_ids);
  free(v);
}

const STACK_OF(X509) *mqg_mtls_verifier_get0_cas(const mqg_mtls_verifier *v) {
  return v->anchors;
}

/* verify_cb lets validity-window errors pass so that chain building and
 * the other checks still run (see the top of the file); every other error
 * stops verification. The leaf's window is the one reported if several
 * certificates are out of theirs. */
static int verify_cb(int ok, X509_STORE_CTX *ctx) {
  if (ok)
    return 1;
  int e = X509_STORE_CTX_get_error(ctx);
  if (e != X509_V_ERR_CERT_HAS_EXPIRED && e != X509_V_ERR_CERT_NOT_YET_VALID)
    return 0;
  verify_state *st = X509_STORE_CTX_get_app_data(ctx);
  int depth = X509_STORE_CTX_get_error_depth(ctx);
  if (st->time_err == 0 || depth < st->time_depth) {
    st->time_err = e;
    st->time_depth = depth;
  }
  return 1;
}

/* chain_length returns the length of |chain| up to and including its
 * first registered certificate. BoringSSL may run on past a registered
 * intermediate to a registered root; the path that counts is the
 * shortest, the one a partial chain allows, for length and validity. */
static size_t chain_length(const mqg_mtls_verifier *v, STACK_OF(X509) *chain,
                           size_t *anchor) {
  size_t n = sk_X509_num(chain);
  for (size_t i = 1; i < n; i++)
    for (size_t k = 0; k < sk_X509_num(v->anchors); k++)
      if (X509_cmp(sk_X509_value(chain, i), sk_X509_value(v->anchors, k)) == 0) {
        *anchor = k;
        return i + 1;
      }
  *anchor = SIZE_MAX;
  return n;
}

/* map_error turns a verification error at chain position |depth| into a
 * refusal reason. Unknown errors, internal ones included, count as an
 * untrusted chain: failing closed, and telling the peer nothing more. */
static mqg_reason map_error(int e, int depth) {
  switch (e) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return MQG_REASON_CERT_EXPIRED;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return MQG_REASON_CERT_NOT_YET_VALID;
  case X509_V_ERR_CERT_CHAIN_TOO_LONG:
  case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    return MQG_REASON_CHAIN_TOO_LONG;
  case X509_V_ERR_INVALID_PURPOSE:
  case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
  case X509_V_ERR_INVALID_EXTENSION:
  case X509_V_ERR_INVALID_POLICY_EXTENSION:
  case X509_V_ERR_INVALID_NON_CA:
  case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
  case X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE:
  case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
  case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
  case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
  case X509_V_ERR_PERMITTED_VIOLATION:
  case X509_V_ERR_EXCLUDED_VIOLATION:
  case X509_V_ERR_NAME_CONSTRAINTS_WITHOUT_SANS:
    /* The same fault in an intermediate means the path to the anchor is
     * not a valid one: the device's own certificate is not to blame. */
    return depth == 0 ? MQG_REASON_BAD_CERT : MQG_REASON_UNKNOWN_CA;
  default:
    return MQG_REASON_UNKNOWN_CA;
  }
}

mqg_reason mqg_mtls_verify(const mqg_mtls_verifier *v,
                           const CRYPTO_BUFFER *const *certs, size_t n,
                           int64_t now, mqg_certinfo *leaf,
                           uint8_t anchor_id[32]) {
  mqg_certinfo info;
  X509 *x = NULL;
  STACK_OF(X509) *untrusted = NULL;
  X509_STORE_CTX *ctx = NULL;
  verify_state st = {0, 0};
  mqg_reason r = MQG_REASON_BAD_CERT;

  if (leaf != NULL)
    memset(leaf, 0, sizeof(*leaf));
  if (n == 0)
    return MQG_REASON_NO_CERT;
  /* X509_parse_from_buffer only takes a reference (atomic, so safe on a
   * buffer the TLS stack shares), hence the casts. */
  x = X509_parse_from_buffer((CRYPTO_BUFFER *)certs[0]);
  if (x == NULL ||
      mqg_certinfo_from_x509(x, CRYPTO_BUFFER_data(certs[0]),
                             CRYPTO_BUFFER_len(certs[0]), &info) < 0)
    goto out;
  if (leaf != NULL)
    *leaf = info;
  /* A registered CA presented as the device's own certificate would be its
   * own trust anchor under the partial-chain rule below. */
  if (info.is_ca)
    goto out;
  /* More certificates than the longest acceptable chain cannot make one;
   * refusing before parsing them bounds the work a peer can cause. */
  if (n > MQG_MTLS_MAX_DEPTH) {
    r = MQG_REASON_CHAIN_TOO_LONG;
    goto out;
  }

  r = MQG_REASON_UNKNOWN_CA; /* for allocation failures: fail closed */
  if ((untrusted = sk_X509_new_null()) == NULL)
    goto out;
  for (size_t i = 1; i < n; i++) {
    X509 *c = X509_parse_from_buffer((CRYPTO_BUFFER *)certs[i]);
    if (c == NULL) {
      r = MQG_REASON_BAD_CERT;
      goto out;
    }
    if (!sk_X509_push(untrusted, c)) {
      X509_free(c);
      goto out;
    }
  }

  if ((ctx = X509_STORE_CTX_new()) == NULL ||
      !X509_STORE_CTX_init(ctx, v->store, x, untrusted))
    goto out;
  /* Purpose also sets the trust setting for SSL clients: the leaf needs
   * clientAuth if it has an EKU at all. */
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  /* Lets a registered intermediate be the anchor without its root. */
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  /* This BoringSSL stops building at depth + 1 certificates and then
   * reports the issuer as missing. One more than our limit lets a chain
   * that is too long by one be built and reported as such (longer ones
   * were refused above, by count); the limit itself is checked below. */
  X509_VERIFY_PARAM_set_depth(param, MQG_MTLS_MAX_DEPTH);
  X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
  X509_STORE_CTX_set_app_data(ctx, &st);
  X509_STORE_CTX_set_verify_cb(ctx, verify_cb);

  if (X509_verify_cert(ctx) != 1) {
    r = map_error(X509_STORE_CTX_get_error(ctx),
                  X509_STORE_CTX_get_error_depth(ctx));
    goto out;
  }
  STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
  if (chain == NULL)
    goto out;
  size_t anchor;
  size_t len = chain_length(v, chain, &anchor);
  if (anchor == SIZE_MAX) /* cannot happen for a verified chain: fail closed */
    r = MQG_REASON_UNKNOWN_CA;
  else if (len > MQG_MTLS_MAX_DEPTH)
    r = MQG_REASON_CHAIN_TOO_LONG;
  else if (st.time_err != 0 && (size_t)st.time_depth < len)
    r = map_error(st.time_err, st.time_depth);
  else
    r = MQG_REASON_OK;
  if (r == MQG_REASON_OK && anchor_id != NULL)
    memcpy(anchor_id, v->anchor_ids[anchor], 32);

out:
  /* Verification failures leave entries in the thread's error queue; they
   * are fully described by |r| and must not leak into the next TLS call. */
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  sk_X509_pop_free(untrusted, X509_free);
  X509_free(x);
  return r;
}

size_t mqg_mtls_chain(const STACK_OF(CRYPTO_BUFFER) *chain, const CRYPTO_BUFFER **out,
                      size_t cap) {
  size_t n = chain != NULL ? sk_CRYPTO_BUFFER_num(chain) : 0;
  if (n > cap)
    return SIZE_MAX;
  for (size_t i = 0; i < n; i++)
    out[i] = sk_CRYPTO_BUFFER_value(chain, i);
  return n;
}

mqg_reason mqg_mtls_dates(int64_t now, int64_t not_before, int64_t not_after) {
  if (now < not_before)
    return MQG_REASON_CERT_NOT_YET_VALID;
  if (now > not_after)
    return MQG_REASON_CERT_EXPIRED;
  return MQG_REASON_OK;
}
