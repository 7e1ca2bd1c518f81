/* proxyproto.c: see proxyproto.h. */
#include "proxyproto.h"

#include <netinet/in.h>
#include <string.h>

static const uint8_t signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static int add_tlv(CBB *cbb, uint8_t type, const char *value) {
  CBB v;
  return CBB_add_u8(cbb, type) && CBB_add_u16_length_prefixed(cbb, &v) &&
         CBB_add_bytes(&v, (const uint8_t *)value, strlen(value)) && CBB_flush(cbb);
}

int mqg_pp2_build(CBB *out, const struct sockaddr *src, const struct sockaddr *dst,
                  const char *tls_version, const char *cipher, const char *cn, int resumed) {
  CBB body, ssl;
  uint8_t family;
  if (src->sa_family != dst->sa_family)
    return 0;
  if (src->sa_family == AF_INET)
    family = 0x11; /* TCP over IPv4 */
  else if (src->sa_family == AF_INET6)
    family = 0x21; /* TCP over IPv6 */
  else
    return 0;
  if (!CBB_add_bytes(out, signature, sizeof(signature)) ||
      !CBB_add_u8(out, 0x21) /* version 2, command PROXY */ || !CBB_add_u8(out, family) ||
      !CBB_add_u16_length_prefixed(out, &body))
    return 0;
  if (family == 0x11) {
    const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;
    if (!CBB_add_bytes(&body, (const uint8_t *)&s->sin_addr, 4) ||
        !CBB_add_bytes(&body, (const uint8_t *)&d->sin_addr, 4) ||
        !CBB_add_u16(&body, ntohs(s->sin_port)) || !CBB_add_u16(&body, ntohs(d->sin_port)))
      return 0;
  } else {
    const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;
    if (!CBB_add_bytes(&body, (const uint8_t *)&s->sin6_addr, 16) ||
        !CBB_add_bytes(&body, (const uint8_t *)&d->sin6_addr, 16) ||
        !CBB_add_u16(&body, ntohs(s->sin6_port)) || !CBB_add_u16(&body, ntohs(d->sin6_port)))
      return 0;
  }
  uint8_t client = MQG_PP2_CLIENT_SSL | (resumed ? MQG_PP2_CLIENT_CERT_SESS
                                                 : MQG_PP2_CLIENT_CERT_CONN);
  if (!CBB_add_u8(&body, MQG_PP2_TYPE_SSL) || !CBB_add_u16_length_prefixed(&body, &ssl) ||
      !CBB_add_u8(&ssl, client) || !CBB_add_u32(&ssl, 0) /* verify: 0 = verified */ ||
      !add_tlv(&ssl, MQG_PP2_SUBTYPE_SSL_VERSION, tls_version) ||
      !add_tlv(&ssl, MQG_PP2_SUBTYPE_SSL_CIPHER, cipher) ||
      (cn != NULL && !add_tlv(&ssl, MQG_PP2_SUBTYPE_SSL_CN, cn)))
    return 0;
  return CBB_flush(out);
}
