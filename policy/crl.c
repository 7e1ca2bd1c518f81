/* crl.c: see crl.h.
 *
 * Two parsers meet here and must agree on bytes: BoringSSL's (d2i_X509_CRL,
 * for the CRL, its signature and extensions) and a few CBS reads of a
 * certificate's TBSCertificate (serial, issuer, subject) on the handshake
 * path, where no X509 object exists. They agree because both keep names as
 * the DER bytes received (X509_NAME_get0_der returns the encoding parsed)
 * and serials are compared in their minimal two's-complement form. */
#include "crl.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/obj.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "hex.h"

/* A serial number: the DER contents of its INTEGER, minimal. */
typedef struct {
  uint8_t len; /* 1..MQG_CRL_SERIAL_MAX; 0: longer, on no CRL */
  uint8_t b[MQG_CRL_SERIAL_MAX];
} serial_t;

struct crl {
  uint8_t issuer[32]; /* mqg_crl_name_key of the issuer name */
  char *source;
  char issuer_cn[128];
  char issuer_id[17];
  char number[41];
  int64_t this_update, next_update;
  serial_t *serials; /* sorted by serial_cmp */
  size_t n;
};

/* A certificate as the chain check sees it: who it is, who issued it. */
struct node {
  uint8_t subject[32];
  uint8_t issuer[32];
  serial_t serial;
  uint8_t self_issued;
};

struct mqg_crl_set {
  _Atomic int refs;
  struct crl *crls; /* sorted by issuer key */
  size_t ncrls;
  struct node *cas; /* the bundle, sorted by subject key */
  size_t ncas;
  size_t entries;
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void mqg_crl_name_key(const uint8_t *der, size_t len, uint8_t out[32]) {
  SHA256(der, len, out);
}

/* serial_set normalises the INTEGER contents |p| (|len| bytes): redundant
 * leading 00 (or FF before a negative) bytes go. Returns 0 for empty
 * contents, else 1 (with len 0 in |out| when it is too long to keep). */
static int serial_set(const uint8_t *p, size_t len, serial_t *out) {
  if (len == 0)
    return 0;
  while (len > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xff && (p[1] & 0x80))))
    p++, len--;
  out->len = len > MQG_CRL_SERIAL_MAX ? 0 : (uint8_t)len;
  memcpy(out->b, p, out->len);
  return 1;
}

static int serial_cmp(const void *a, const void *b) {
  const serial_t *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->b, y->b, x->len);
}

/* serial_hex writes |s| as uppercase hex the way certificates are shown
 * (mqgatectl, openssl x509 -serial): without the sign byte of a positive
 * serial. */
static void serial_hex(const serial_t *s, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t start = s->len > 1 && s->b[0] == 0 ? 1 : 0, pos = 0;
  for (size_t i = start; i < s->len && pos + 2 < cap; i++) {
    out[pos++] = hex[s->b[i] >> 4];
    out[pos++] = hex[s->b[i] & 15];
  }
  out[pos] = '\0';
}

static int crl_cmp(const void *a, const void *b) {
  return memcmp(((const struct crl *)a)->issuer, ((const struct crl *)b)->issuer, 32);
}

static int node_cmp(const void *a, const void *b) {
  return memcmp(((const struct node *)a)->subject, ((const struct node *)b)->subject, 32);
}

/* node_from_der reads serial, issuer and subject of the certificate |der|
 * (Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
 * OPTIONAL, serialNumber, signature, issuer, validity, subject, ... } ...}).
 * Returns 1, or 0 if those fields are not there. */
static int node_from_der(const uint8_t *der, size_t len, struct node *out) {
  CBS in, cert, tbs, serial, issuer, subject;
  CBS_init(&in, der, len);
  if (!CBS_get_asn1(&in, &cert, CBS_ASN1_SEQUENCE) || CBS_len(&in) != 0 ||
      !CBS_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE) ||
      !CBS_get_optional_asn1(&tbs, NULL, NULL,
                             CBS_ASN1_CONSTRUCTED | CBS_ASN1_CONTEXT_SPECIFIC | 0) ||
      !CBS_get_asn1(&tbs, &serial, CBS_ASN1_INTEGER) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) || /* signature */
      !CBS_get_asn1_element(&tbs, &issuer, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) || /* validity */
      !CBS_get_asn1_element(&tbs, &subject, CBS_ASN1_SEQUENCE) ||
      !serial_set(CBS_data(&serial), CBS_len(&serial), &out->serial))
    return 0;
  mqg_crl_name_key(CBS_data(&issuer), CBS_len(&issuer), out->issuer);
  mqg_crl_name_key(CBS_data(&subject), CBS_len(&subject), out->subject);
  out->self_issued = memcmp(out->issuer, out->subject, 32) == 0;
  return 1;
}

/* printable_cn writes the CN of |name| for messages and metric labels:
 * printable ASCII only, without quote or backslash. */
static void printable_cn(X509_NAME *name, char *buf, size_t len) {
  if (X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)len) < 0)
    snprintf(buf, len, "(no CN)");
  for (char *p = buf; *p != '\0'; p++)
    if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
      *p = '?';
}

static const struct crl *find_crl(const mqg_crl_set *s, const uint8_t key[32]) {
  size_t lo = 0, hi = s->ncrls;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(s->crls[mid].issuer, key, 32);
    if (c == 0)
      return &s->crls[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static int listed(const struct crl *c, const serial_t *sn) {
  return sn->len != 0 &&
         bsearch(sn, c->serials, c->n, sizeof(*c->serials), serial_cmp) != NULL;
}

static int stale(const struct crl *c, int64_t now) {
  return c->next_update != 0 && now > c->next_update;
}

/* --- building a set -------------------------------------------------- */

struct build {
  mqg_crl_set *s;
  size_t cap;
  const STACK_OF(X509) *cas; /* index i is s->cas[i] until the final sort */
  char *err;
  size_t errlen;
};

/* check_extensions refuses a CRL that does not list every revoked
 * certificate of its issuer, or whose meaning we cannot know. */
static int check_extensions(struct build *b, const char *src, X509_CRL *crl) {
  const STACK_OF(X509_EXTENSION) *exts = X509_CRL_get0_extensions(crl);
  for (size_t i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
    X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_delta_crl) {
      set_err(b->err, b->errlen, "%s: a delta CRL (not supported: publish full CRLs)", src);
      return 0;
    }
    if (nid == NID_issuing_distribution_point) {
      ISSUING_DIST_POINT *idp =
          X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
      const char *why = idp == NULL            ? "a malformed issuingDistributionPoint"
                        : idp->indirectCRL     ? "an indirect CRL (not supported)"
                        : idp->onlysomereasons ? "a CRL of some revocation reasons only "
                                                 "(not supported)"
                        : idp->onlyattr        ? "a CRL of attribute certificates"
                                               : NULL;
      ISSUING_DIST_POINT_free(idp);
      if (why != NULL) {
        set_err(b->err, b->errlen, "%s: %s", src, why);
        return 0;
      }
      continue;
    }
    if (X509_EXTENSION_get_critical(ext) && nid != NID_authority_key_identifier &&
        nid != NID_crl_number) {
      char oid[80];
      OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1);
      set_err(b->err, b->errlen, "%s: unhandled critical extension %s", src, oid);
      return 0;
    }
  }
  return 1;
}

/* verify_issuer finds the CA of the bundle that issued |crl| and checks the
 * signature with its key. Returns 1, or 0 with the reason. */
static int verify_issuer(struct build *b, const char *src, X509_CRL *crl,
                         const uint8_t key[32], const char *cn) {
  int named = 0, may_sign = 0;
  for (size_t k = 0; k < b->s->ncas; k++) {
    if (memcmp(b->s->cas[k].subject, key, 32) != 0)
      continue;
    named = 1;
    X509 *ca = sk_X509_value(b->cas, k);
    if (!(X509_get_key_usage(ca) & KU_CRL_SIGN))
      continue;
    may_sign = 1;
#ifdef MQG_UNSAFE_FUZZER_MODE
    return 1; /* fuzzing: signatures cannot be forged, so skip them */
#endif
    EVP_PKEY *pk = X509_get_pubkey(ca);
    int ok = pk != NULL && X509_CRL_verify(crl, pk) == 1;
    EVP_PKEY_free(pk);
    if (ok)
      return 1;
  }
  if (!named)
    set_err(b->err, b->errlen,
            "%s: issuer \"%s\" of the CRL is no CA of the --client-ca bundle "
            "(a CRL of another CA?)", src, cn);
  else if (!may_sign)
    set_err(b->err, b->errlen, "%s: CA \"%s\" may not sign CRLs (keyUsage without cRLSign)",
            src, cn);
  else
    set_err(b->err, b->errlen,
            "%s: bad signature: the CRL does not verify with the key of CA \"%s\"", src, cn);
  return 0;
}

static int read_entries(struct build *b, const char *src, X509_CRL *crl, struct crl *c) {
  STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
  size_t n = sk_X509_REVOKED_num(revoked);
  c->serials = malloc((n ? n : 1) * sizeof(*c->serials));
  if (c->serials == NULL) {
    set_err(b->err, b->errlen, "%s: out of memory for %zu entries", src, n);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    const X509_REVOKED *r = sk_X509_REVOKED_value(revoked, i);
    const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(r);
    uint8_t buf[MQG_CRL_SERIAL_MAX], *p = buf;
    int len = i2c_ASN1_INTEGER(sn, NULL);
    if (len <= 0 || len > MQG_CRL_SERIAL_MAX || i2c_ASN1_INTEGER(sn, &p) != len ||
        !serial_set(buf, (size_t)len, &c->serials[i])) {
      set_err(b->err, b->errlen, "%s: entry %zu: serial number empty or over %d bytes", src,
              i + 1, MQG_CRL_SERIAL_MAX);
      return 0;
    }
    /* certificateIssuer (indirect CRLs, refused above) and anything
     * unknown would change what the entry means. */
    if (X509_REVOKED_get_ext_by_critical(r, 1, -1) >= 0) {
      char hex[2 * MQG_CRL_SERIAL_MAX + 1];
      serial_hex(&c->serials[i], hex, sizeof(hex));
      set_err(b->err, b->errlen, "%s: entry %zu (serial %s) has a critical extension", src,
              i + 1, hex);
      return 0;
    }
  }
  c->n = n;
  qsort(c->serials, n, sizeof(*c->serials), serial_cmp);
  return 1;
}

/* add_crl checks one parsed CRL and adds it to the set being built. */
static int add_crl(struct build *b, const char *src, X509_CRL *crl) {
  long version = X509_CRL_get_version(crl);
  if (version != X509_CRL_VERSION_1 && version != X509_CRL_VERSION_2) {
    set_err(b->err, b->errlen, "%s: CRL version %ld is not 1 or 2", src, version + 1);
    return 0;
  }
  X509_NAME *name = X509_CRL_get_issuer(crl);
  const uint8_t *der;
  size_t der_len;
  if (!X509_NAME_get0_der(name, &der, &der_len)) {
    set_err(b->err, b->errlen, "%s: cannot read the issuer name", src);
    return 0;
  }
  uint8_t key[32];
  char cn[128];
  mqg_crl_name_key(der, der_len, key);
  printable_cn(name, cn, sizeof(cn));
  if (!verify_issuer(b, src, crl, key, cn) || !check_extensions(b, src, crl))
    return 0;

  mqg_crl_set *s = b->s;
  if (s->ncrls == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 4;
    struct crl *grown = realloc(s->crls, cap * sizeof(*grown));
    if (grown == NULL) {
      set_err(b->err, b->errlen, "%s: out of memory", src);
      return 0;
    }
    s->crls = grown;
    b->cap = cap;
  }
  struct crl *c = &s->crls[s->ncrls];
  memset(c, 0, sizeof(*c));
  s->ncrls++; /* from here on freed with the set, whatever happens */
  memcpy(c->issuer, key, 32);
  snprintf(c->issuer_cn, sizeof(c->issuer_cn), "%s", cn);
  mqg_hex_encode(key, 8, c->issuer_id);
  c->source = strdup(src);
  if (c->source == NULL) {
    set_err(b->err, b->errlen, "%s: out of memory", src);
    return 0;
  }
  const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
  if (mqg_certinfo_time_to_unix(X509_CRL_get0_lastUpdate(crl), &c->this_update) != 0 ||
      (next != NULL && mqg_certinfo_time_to_unix(next, &c->next_update) != 0)) {
    set_err(b->err, b->errlen, "%s: thisUpdate or nextUpdate does not parse", src);
    return 0;
  }
  if (next != NULL && c->next_update < c->this_update) {
    set_err(b->err, b->errlen, "%s: nextUpdate is before thisUpdate", src);
    return 0;
  }
  ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
  if (number != NULL) {
    serial_t v;
    uint8_t buf[MQG_CRL_SERIAL_MAX], *p = buf;
    int len = i2c_ASN1_INTEGER(number, NULL);
    if (len > 0 && len <= MQG_CRL_SERIAL_MAX && i2c_ASN1_INTEGER(number, &p) == len &&
        serial_set(buf, (size_t)len, &v))
      serial_hex(&v, c->number, sizeof(c->number));
    ASN1_INTEGER_free(number);
  }
  if (!read_entries(b, src, crl, c))
    return 0;
  s->entries += c->n;
  return 1;
}

/* add_input parses every CRL of one input: PEM (one or more "X509 CRL"
 * blocks) or DER (exactly one CRL, nothing after it). */
static int add_input(struct build *b, const mqg_crl_input *in) {
  size_t skip = 0;
  if (in->len > MQG_CRL_INPUT_MAX) {
    set_err(b->err, b->errlen, "%s: larger than %u MB", in->name, MQG_CRL_INPUT_MAX >> 20);
    return 0;
  }
  while (skip < in->len && (in->data[skip] == ' ' || in->data[skip] == '\t' ||
                            in->data[skip] == '\r' || in->data[skip] == '\n'))
    skip++;
  if (in->len - skip >= 10 && memcmp(in->data + skip, "-----BEGIN", 10) == 0) {
    BIO *bio = BIO_new_mem_buf(in->data, in->len);
    int count = 0, ok = bio != NULL;
    X509_CRL *crl;
    ERR_clear_error();
    while (ok && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
      count++;
      ok = add_crl(b, in->name, crl);
      X509_CRL_free(crl);
    }
    if (ok) {
      /* A clean end of input reads as "no start line"; anything else is a
       * damaged block. */
      uint32_t e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
        set_err(b->err, b->errlen, "%s: PEM CRL %d does not parse (truncated or damaged)",
                in->name, count + 1);
        ok = 0;
      } else if (count == 0) {
        set_err(b->err, b->errlen, "%s: no CRL in the file (no \"X509 CRL\" PEM block)",
                in->name);
        ok = 0;
      }
    }
    BIO_free(bio);
    ERR_clear_error();
    return ok;
  }
  const uint8_t *p = in->data;
  X509_CRL *crl = in->len > 0 ? d2i_X509_CRL(NULL, &p, (long)in->len) : NULL;
  ERR_clear_error();
  if (crl == NULL) {
    set_err(b->err, b->errlen,
            in->len == 0 ? "%s: empty file" : "%s: not a CRL (neither PEM nor DER that parses)",
            in->name);
    return 0;
  }
  int ok = p == in->data + in->len;
  if (!ok)
    set_err(b->err, b->errlen, "%s: %zu bytes after the DER CRL", in->name,
            (size_t)(in->data + in->len - p));
  else
    ok = add_crl(b, in->name, crl);
  X509_CRL_free(crl);
  ERR_clear_error();
  return ok;
}

/* add_cas reads the bundle's CAs into nodes, in stack order. */
static int add_cas(struct build *b) {
  size_t n = sk_X509_num(b->cas);
  b->s->cas = calloc(n ? n : 1, sizeof(*b->s->cas));
  if (b->s->cas == NULL) {
    set_err(b->err, b->errlen, "out of memory");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t *der = NULL;
    int len = i2d_X509(sk_X509_value(b->cas, i), &der);
    int ok = len > 0 && node_from_der(der, (size_t)len, &b->s->cas[i]);
    OPENSSL_free(der);
    if (!ok) {
      set_err(b->err, b->errlen, "CA %zu of the bundle cannot be read", i + 1);
      return 0;
    }
  }
  b->s->ncas = n;
  return 1;
}

mqg_crl_set *mqg_crl_set_new(const mqg_crl_input *inputs, size_t n,
                             const STACK_OF(X509) *cas, char *err,
                             size_t errlen) {
  struct build b = {calloc(1, sizeof(mqg_crl_set)), 0, cas, err, errlen};
  if (b.s == NULL) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  b.s->refs = 1;
  if (!add_cas(&b))
    goto fail;
  for (size_t i = 0; i < n; i++)
    if (!add_input(&b, &inputs[i]))
      goto fail;
  if (b.s->ncrls > 1) /* |crls| is NULL when there is none */
    qsort(b.s->crls, b.s->ncrls, sizeof(*b.s->crls), crl_cmp);
  for (size_t i = 1; i < b.s->ncrls; i++) {
    const struct crl *x = &b.s->crls[i - 1], *y = &b.s->crls[i];
    if (crl_cmp(x, y) == 0) {
      set_err(err, errlen, "%s and %s: two CRLs of CA \"%s\" (one CRL per CA)", x->source,
              y->source, x->issuer_cn);
      goto fail;
    }
  }
  qsort(b.s->cas, b.s->ncas, sizeof(*b.s->cas), node_cmp);
  return b.s;
fail:
  mqg_crl_set_free(b.s);
  return NULL;
}

mqg_crl_set *mqg_crl_set_up_ref(mqg_crl_set *s) {
  atomic_fetch_add(&s->refs, 1);
  return s;
}

void mqg_crl_set_free(mqg_crl_set *s) {
  if (s == NULL || atomic_fetch_sub(&s->refs, 1) > 1)
    return;
  for (size_t i = 0; i < s->ncrls; i++) {
    free(s->crls[i].source);
    free(s->crls[i].serials);
  }
  free(s->crls);
  free(s->cas);
  free(s);
}

size_t mqg_crl_set_count(const mqg_crl_set *s) { return s->ncrls; }

size_t mqg_crl_set_entries(const mqg_crl_set *s) { return s->entries; }

void mqg_crl_set_info(const mqg_crl_set *s, size_t i, mqg_crl_info *out) {
  const struct crl *c = &s->crls[i];
  out->source = c->source;
  out->issuer_cn = c->issuer_cn;
  out->issuer_id = c->issuer_id;
  out->number = c->number;
  out->entries = c->n;
  out->this_update = c->this_update;
  out->next_update = c->next_update;
}

int64_t mqg_crl_set_next_change(const mqg_crl_set *s, int64_t now) {
  int64_t best = 0;
  for (size_t i = 0; i < s->ncrls; i++) {
    int64_t t = s->crls[i].next_update;
    if (t != 0 && t >= now && (best == 0 || t < best))
      best = t;
  }
  return best;
}

int mqg_crl_set_is_stale(const mqg_crl_set *s, size_t i, int64_t now) {
  return stale(&s->crls[i], now);
}

int mqg_crl_set_lookup(const mqg_crl_set *s, const uint8_t issuer[32],
                       const uint8_t *serial, size_t len) {
  serial_t sn;
  const struct crl *c = find_crl(s, issuer);
  return c != NULL && serial_set(serial, len, &sn) && listed(c, &sn);
}

/* --- checking a chain ------------------------------------------------ */

mqg_crl_status mqg_crl_check_chain(const mqg_crl_set *s,
                                   const CRYPTO_BUFFER *const *certs, size_t n,
                                   int64_t now, mqg_crl_result *out) {
  struct node sent[MQG_CRL_CHAIN_MAX];
  const struct node *queue[MQG_CRL_CHAIN_MAX];
  uint8_t sent_seen[MQG_CRL_CHAIN_MAX] = {0};
  size_t nq = 0;
  mqg_crl_status status = MQG_CRL_GOOD;
  mqg_crl_result res = {0, 0, ""};

  if (n == 0 || n > MQG_CRL_CHAIN_MAX)
    return MQG_CRL_ERROR;
  if (s->ncrls == 0)
    return MQG_CRL_GOOD;
  for (size_t i = 0; i < n; i++)
    if (!node_from_der(CRYPTO_BUFFER_data(certs[i]), CRYPTO_BUFFER_len(certs[i]), &sent[i]))
      return MQG_CRL_ERROR;
  queue[nq++] = &sent[0];
  sent_seen[0] = 1;
  /* Breadth first from the leaf: each certificate is checked against its
   * issuer's CRL, then every certificate that may be that issuer (sent by
   * the device, or a CA of the bundle) joins the queue once. */
  for (size_t qi = 0; qi < nq; qi++) {
    const struct node *x = queue[qi];
    if (qi > 0 && x->self_issued)
      continue; /* a trust anchor: nothing above it */
    const struct crl *c = find_crl(s, x->issuer);
    if (c != NULL) {
      int revoked = listed(c, &x->serial);
      if (revoked || (status == MQG_CRL_GOOD && stale(c, now))) {
        status = revoked ? MQG_CRL_REVOKED : MQG_CRL_STALE;
        res.crl = (size_t)(c - s->crls);
        res.depth = qi;
        serial_hex(&x->serial, res.serial, sizeof(res.serial));
        if (revoked)
          break;
      }
    }
    for (size_t j = 1; j < n; j++) {
      if (sent_seen[j] || memcmp(sent[j].subject, x->issuer, 32) != 0)
        continue;
      if (nq == MQG_CRL_CHAIN_MAX)
        return MQG_CRL_ERROR;
      sent_seen[j] = 1;
      queue[nq++] = &sent[j];
    }
    /* The bundle's CAs of that name: a contiguous run of the sorted array. */
    struct node probe;
    memcpy(probe.subject, x->issuer, 32);
    const struct node *hit = bsearch(&probe, s->cas, s->ncas, sizeof(*s->cas), node_cmp);
    if (hit == NULL)
      continue;
    const struct node *lo = hit, *end = s->cas + s->ncas;
    while (lo > s->cas && node_cmp(lo - 1, &probe) == 0)
      lo--;
    for (const struct node *k = lo; k < end && node_cmp(k, &probe) == 0; k++) {
      int seen = 0;
      for (size_t q = 0; q < nq && !seen; q++)
        seen = queue[q] == k;
      if (seen)
        continue;
      if (nq == MQG_CRL_CHAIN_MAX)
        return MQG_CRL_ERROR;
      queue[nq++] = k;
    }
  }
  if (out != NULL)
    *out = res;
  return status;
}
