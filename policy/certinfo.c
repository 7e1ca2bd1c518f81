/* certinfo.c: see certinfo.h. */
#include "certinfo.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/mem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hex.h"

static const char hex_upper[] = "0123456789ABCDEF";

void mqg_certinfo_fingerprint(const uint8_t *der, size_t len,
                              uint8_t out[32]) {
  SHA256(der, len, out);
}

/* utf8_is_clean returns 1 if |s| is well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF) without C0, DEL or C1 controls.
 * The name ends up in client IDs and log lines, where a control character
 * could forge a line or confuse a terminal. */
static int utf8_is_clean(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f)
        return 0;
      i++;
      continue;
    }
    uint32_t cp, min;
    size_t extra;
    if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f, extra = 1, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f, extra = 2, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07, extra = 3, min = 0x10000;
    } else {
      return 0;
    }
    if (len - i <= extra)
      return 0;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp <= 0x9f))
      return 0;
    i += extra + 1;
  }
  return 1;
}

/* copy_last_entry writes the last |nid| entry of |name| as UTF-8 into |out|
 * (MQG_CERTINFO_NAME_MAX + 1 bytes), "" when there is none. The last one
 * counts, as the header promises; earlier ones are not even checked, since
 * nothing downstream ever sees them. */
static int copy_last_entry(const X509_NAME *name, int nid, char *out) {
  out[0] = '\0';
  int idx = -1, next;
  while ((next = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0)
    idx = next;
  if (idx < 0)
    return 0;

  const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, idx);
  unsigned char *utf8 = NULL;
  /* Converts BMPString, UniversalString, T61String etc. to UTF-8 and rejects
   * a UTF8String that is not valid UTF-8. */
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
  if (n < 0)
    return -EINVAL;
  int rc = -EINVAL;
  if ((size_t)n <= MQG_CERTINFO_NAME_MAX && utf8_is_clean(utf8, (size_t)n)) {
    memcpy(out, utf8, (size_t)n);
    out[n] = '\0';
    rc = 0;
  }
  OPENSSL_free(utf8);
  return rc;
}

/* serial_to_hex writes the serial as uppercase hex, leading zero bytes
 * dropped ("00" for a zero serial, "-" in front of a negative one, which
 * RFC 5280 forbids but some old CAs issued). */
static int serial_to_hex(const ASN1_INTEGER *serial, char *out) {
  const uint8_t *p = ASN1_STRING_get0_data(serial);
  size_t len = (size_t)ASN1_STRING_length(serial);
  while (len > 1 && p[0] == 0)
    p++, len--;
  size_t pos = 0;
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
    out[pos++] = '-';
  if (len == 0) {
    memcpy(out + pos, "00", 3);
    return 0;
  }
  if (pos + 2 * len > MQG_CERTINFO_SERIAL_MAX)
    return -EINVAL;
  for (size_t i = 0; i < len; i++) {
    out[pos++] = hex_upper[p[i] >> 4];
    out[pos++] = hex_upper[p[i] & 15];
  }
  out[pos] = '\0';
  return 0;
}

/* This BoringSSL has no ASN1_TIME_to_posix, so the difference to the epoch
 * is taken instead. */
int mqg_certinfo_time_to_unix(const ASN1_TIME *t, int64_t *out) {
  ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
  if (epoch == NULL)
    return -ENOMEM;
  int days = 0, secs = 0;
  int ok = ASN1_TIME_diff(&days, &secs, epoch, t);
  ASN1_TIME_free(epoch);
  if (!ok)
    return -EINVAL;
  *out = (int64_t)days * 86400 + secs;
  return 0;
}

int mqg_certinfo_from_der(const uint8_t *der, size_t len, mqg_certinfo *out) {
  memset(out, 0, sizeof(*out));
  if (der == NULL || len == 0 || len > LONG_MAX)
    return -EINVAL;

  const uint8_t *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  if (x == NULL)
    return -EINVAL;
  /* Trailing bytes would mean the fingerprint covers more than the
   * certificate, and two encodings for one device. */
  int rc = p == der + len ? mqg_certinfo_from_x509(x, der, len, out) : -EINVAL;
  X509_free(x);
  return rc;
}

int mqg_certinfo_from_x509(X509 *x, const uint8_t *der, size_t len, mqg_certinfo *out) {
  memset(out, 0, sizeof(*out));
  int rc = -EINVAL;
  /* Also decodes the extensions: a malformed one (basicConstraints
   * included) makes the certificate unusable, not "not a CA". */
  uint32_t flags = X509_get_extension_flags(x);
  if (flags & EXFLAG_INVALID)
    goto out;
  out->is_ca = (flags & EXFLAG_CA) != 0;

  if ((rc = copy_last_entry(X509_get_subject_name(x), NID_commonName,
                            out->cn)) < 0 ||
      (rc = copy_last_entry(X509_get_subject_name(x),
                            NID_organizationalUnitName, out->ou)) < 0 ||
      (rc = copy_last_entry(X509_get_issuer_name(x), NID_commonName,
                            out->issuer_cn)) < 0 ||
      (rc = serial_to_hex(X509_get0_serialNumber(x), out->serial)) < 0 ||
      (rc = mqg_certinfo_time_to_unix(X509_get0_notBefore(x), &out->not_before)) < 0 ||
      (rc = mqg_certinfo_time_to_unix(X509_get0_notAfter(x), &out->not_after)) < 0)
    goto out;

  mqg_certinfo_fingerprint(der, len, out->sha256);
  mqg_hex_encode(out->sha256, 32, out->fingerprint);
  rc = 0;

out:
  if (rc < 0)
    memset(out, 0, sizeof(*out));
  return rc;
}
