/* crl.h: certificate revocation lists (RFC 5280 section 5) checked against
 * the CA bundle of auth mode mtls.
 *
 * A set is built from CRL files (PEM, possibly several CRLs in one file, or
 * DER, one CRL) and the CA bundle. Each CRL is matched to the CA of the
 * bundle whose subject is the CRL's issuer, byte for byte (RFC 5280
 * section 4.1.2.6 makes a CA encode its name the same way everywhere), and
 * its signature is verified with that CA's key; the CA must be allowed to
 * sign CRLs (cRLSign, when it has a keyUsage). Roots and intermediates
 * alike. At most one CRL per CA. Delta CRLs, indirect CRLs and CRLs limited
 * to some revocation reasons are refused, as is any critical extension
 * this module does not handle: each would mean that the list does not say
 * what it seems to say. A certificateHold entry counts as revoked while it
 * is listed.
 *
 * Per CA the revoked serials are kept in a sorted array: a lookup is a
 * binary search, O(log n), with no allocation. A set is immutable once
 * built and reference-counted: every thread may check against it while a
 * newer one replaces it.
 *
 * Which certificates are checked: every certificate of the chain a device
 * presented, and every CA of the bundle above them, found by issuer name
 * from the leaf up (a closure, not one path: if any certificate the chain
 * could have been verified through is listed by its issuer's CRL, the
 * chain is revoked; failing closed where cross-signed paths would make the
 * answer depend on which path was built). Self-issued CAs (trust anchors)
 * are not checked against their own CRL. A CA without a CRL in the set is
 * not checked at all.
 *
 * Errors: mqg_crl_set_new returns NULL with a one-line message naming the
 * input and the fault; mqg_crl_check_chain returns a status. */
#ifndef MQG_CRL_H
#define MQG_CRL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

/* Longest serial number kept, in bytes of its DER contents (RFC 5280 allows
 * 20; some CAs write a little more). A CRL listing a longer one is refused;
 * a certificate with a longer one cannot be on any CRL of a set. */
#define MQG_CRL_SERIAL_MAX 32

/* Most certificates a chain check looks at, sent and bundle CAs together;
 * a chain that reaches more is refused (MQG_CRL_ERROR). */
#define MQG_CRL_CHAIN_MAX 24

/* Largest CRL input accepted (a CRL of 1,000,000 entries is about 40 MB). */
#define MQG_CRL_INPUT_MAX (256u << 20)

typedef struct mqg_crl_set mqg_crl_set;

/* One input of mqg_crl_set_new: |len| bytes of a CRL file named |name| in
 * messages. Borrowed for the call only. */
typedef struct {
  const char *name;
  const uint8_t *data;
  size_t len;
} mqg_crl_input;

/* mqg_crl_set_new parses every CRL of |inputs[0..n)|, matches each to its
 * issuer among |cas| (the --client-ca bundle, borrowed for the call) and
 * verifies its signature. All or nothing: any fault refuses the whole set
 * (NULL, message in |err|: "FILE: what"). |n| == 0 gives an empty set.
 * Returns a new set (one reference) owned by the caller. */
mqg_crl_set *mqg_crl_set_new(const mqg_crl_input *inputs, size_t n,
                             const STACK_OF(X509) *cas, char *err,
                             size_t errlen);

/* mqg_crl_set_up_ref takes one more reference on |s| and returns it. */
mqg_crl_set *mqg_crl_set_up_ref(mqg_crl_set *s);

/* mqg_crl_set_free drops one reference (NULL ignored); thread-safe. */
void mqg_crl_set_free(mqg_crl_set *s);

/* mqg_crl_set_count returns the number of CRLs in |s|. */
size_t mqg_crl_set_count(const mqg_crl_set *s);

/* mqg_crl_set_entries returns the number of revoked serials in |s|, all
 * CRLs together. */
size_t mqg_crl_set_entries(const mqg_crl_set *s);

/* What one CRL of a set says about itself; the strings belong to the set. */
typedef struct {
  const char *source;    /* the input's name */
  const char *issuer_cn; /* issuer CN, printable ASCII ("(no CN)") */
  const char *issuer_id; /* 16 hex digits: the start of the issuer key */
  const char *number;    /* cRLNumber in hex, "" when absent */
  size_t entries;        /* revoked serials listed */
  int64_t this_update;   /* Unix seconds */
  int64_t next_update;   /* Unix seconds, 0 when the CRL has none */
} mqg_crl_info;

/* mqg_crl_set_info describes CRL |i| (< mqg_crl_set_count) of |s|. */
void mqg_crl_set_info(const mqg_crl_set *s, size_t i, mqg_crl_info *out);

/* mqg_crl_set_next_change returns the earliest nextUpdate of |s| after
 * |now| (Unix seconds), or 0 when no CRL of |s| goes stale after |now|. */
int64_t mqg_crl_set_next_change(const mqg_crl_set *s, int64_t now);

/* mqg_crl_set_is_stale returns 1 if CRL |i| of |s| is past its nextUpdate
 * at |now|. */
int mqg_crl_set_is_stale(const mqg_crl_set *s, size_t i, int64_t now);

/* mqg_crl_name_key computes the key of an X.509 Name, the SHA-256 of its
 * DER encoding |der| (tag and length included), into |out|. CRLs are
 * indexed by the key of their issuer. */
void mqg_crl_name_key(const uint8_t *der, size_t len, uint8_t out[32]);

/* mqg_crl_set_lookup returns 1 if the CRL of the issuer whose name key is
 * |issuer| lists the serial number whose DER contents are |serial| (|len|
 * bytes; redundant leading 00 / FF bytes are ignored), 0 if it does not or
 * |s| has no CRL for that issuer. O(log n). */
int mqg_crl_set_lookup(const mqg_crl_set *s, const uint8_t issuer[32],
                       const uint8_t *serial, size_t len);

typedef enum {
  MQG_CRL_GOOD,    /* no certificate listed, every CRL involved current */
  MQG_CRL_REVOKED, /* a certificate is listed by its issuer's CRL */
  MQG_CRL_STALE,   /* none listed, but a CRL involved is past nextUpdate */
  MQG_CRL_ERROR,   /* a certificate does not parse, or the chain reaches
                      more than MQG_CRL_CHAIN_MAX certificates */
} mqg_crl_status;

/* Details of a check, for the log. */
typedef struct {
  size_t crl;   /* the CRL that revoked or is stale (mqg_crl_set_info) */
  size_t depth; /* the certificate concerned, in the order the check
                   reached it: 0 is the leaf */
  char serial[2 * MQG_CRL_SERIAL_MAX + 1]; /* its serial, hex */
} mqg_crl_result;

/* mqg_crl_check_chain checks the chain |certs[0..n)| (leaf first, then the
 * certificates the device sent, DER CRYPTO_BUFFERs borrowed) at |now|
 * (Unix seconds): REVOKED wins over STALE, STALE over GOOD. |out| (may be
 * NULL; left alone on ERROR) tells which CRL decided. Cheap: per
 * certificate a few DER field reads, the SHA-256 of two names and one
 * binary search; nothing at all while |s| holds no CRL. */
mqg_crl_status mqg_crl_check_chain(const mqg_crl_set *s,
                                   const CRYPTO_BUFFER *const *certs, size_t n,
                                   int64_t now, mqg_crl_result *out);

#endif
