/* proxyproto.h: the PROXY protocol version 2 header mqgate can put in front
 * of what it sends the broker, so that brokers that read it (EMQX, HiveMQ,
 * HAProxy, ...) see the device's own address and its TLS facts.
 * (haproxy.org/download/2.6/doc/proxy-protocol.txt, section 2.2.)
 *
 * Errors: the builder returns 1/0 like every CBB function. */
#ifndef MQG_PROXYPROTO_H
#define MQG_PROXYPROTO_H

#include <sys/socket.h>

#include <openssl/bytestring.h>

/* TLVs (section 2.2.5 ff.) */
#define MQG_PP2_TYPE_SSL 0x20
#define MQG_PP2_SUBTYPE_SSL_VERSION 0x21
#define MQG_PP2_SUBTYPE_SSL_CN 0x22
#define MQG_PP2_SUBTYPE_SSL_CIPHER 0x23
#define MQG_PP2_CLIENT_SSL 0x01
#define MQG_PP2_CLIENT_CERT_CONN 0x02
#define MQG_PP2_CLIENT_CERT_SESS 0x04

/* mqg_pp2_build appends a PROXY v2 header (command PROXY, TCP over IPv4 or
 * IPv6) for a connection from |src| to |dst| (the same family; an IPv4
 * peer on an IPv6 socket comes as a v4-mapped address and is sent as
 * IPv6), with a PP2_TYPE_SSL TLV: the client connected over TLS with a
 * verified certificate (|resumed|: in this session or a resumed one), and
 * the sub-TLVs version, cipher and, if not NULL, the certificate's CN. */
int mqg_pp2_build(CBB *out, const struct sockaddr *src, const struct sockaddr *dst,
                  const char *tls_version, const char *cipher, const char *cn, int resumed);

#endif
