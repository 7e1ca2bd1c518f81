/* certinfo.h: the facts mqgate needs from one X.509 certificate.
 *
 * Errors: functions return 0 on success or a negative errno (-EINVAL for
 * bytes that are not one well-formed DER certificate). */
#ifndef MQG_CERTINFO_H
#define MQG_CERTINFO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>

#define MQG_CERTINFO_NAME_MAX 256 /* CN / OU bytes kept, NUL excluded */
#define MQG_CERTINFO_SERIAL_MAX 64 /* hex digits kept, NUL excluded */

typedef struct {
  uint8_t sha256[32];             /* SHA-256 of the DER bytes */
  char fingerprint[65];           /* the same, lowercase hex */
  char serial[MQG_CERTINFO_SERIAL_MAX + 1]; /* uppercase hex, no leading 00 */
  char cn[MQG_CERTINFO_NAME_MAX + 1];       /* subject CN, "" if none */
  char ou[MQG_CERTINFO_NAME_MAX + 1];       /* subject OU, "" if none */
  char issuer_cn[MQG_CERTINFO_NAME_MAX + 1];
  int64_t not_before;             /* Unix seconds */
  int64_t not_after;              /* Unix seconds */
  int is_ca;                      /* basicConstraints cA = TRUE */
} mqg_certinfo;

/* mqg_certinfo_from_der fills |*out| from the DER certificate |der| of |len|
 * bytes. A CN or OU that is not printable text (control bytes, invalid UTF-8)
 * or longer than MQG_CERTINFO_NAME_MAX makes the whole call fail with
 * -EINVAL: such a name could not safely become a client ID or a log field.
 * When the subject has several CNs or OUs, the last one counts (as in
 * Mosquitto's use_identity_as_username). */
int mqg_certinfo_from_der(const uint8_t *der, size_t len, mqg_certinfo *out);

/* mqg_certinfo_from_x509 is mqg_certinfo_from_der for a certificate already
 * parsed from exactly the |len| bytes of |der| (X509_parse_from_buffer
 * rejects trailing bytes too), sparing the TLS path a second parse. |x| is
 * borrowed; its extensions are decoded and cached in it. */
int mqg_certinfo_from_x509(X509 *x, const uint8_t *der, size_t len, mqg_certinfo *out);

/* mqg_certinfo_fingerprint computes only the SHA-256 of |der| into |out|
 * (32 bytes); cheap enough for every handshake. */
void mqg_certinfo_fingerprint(const uint8_t *der, size_t len, uint8_t out[32]);

/* mqg_certinfo_time_to_unix converts the X.509 Time |t| to Unix seconds in
 * |*out|. Returns 0, -EINVAL for a malformed time or -ENOMEM. */
int mqg_certinfo_time_to_unix(const ASN1_TIME *t, int64_t *out);

#endif
