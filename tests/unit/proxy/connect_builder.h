/* connect_builder.h: builds MQTT CONNECT packets for the unit tests of
 * proxy/mqtt_connect.c (test_mqtt_connect*.c). Packets live in buffers of
 * exactly their size, so AddressSanitizer sees any over-read. */
#ifndef MQG_TEST_CONNECT_BUILDER_H
#define MQG_TEST_CONNECT_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>

#include "mqtt_connect.h"

struct bytes {
  const uint8_t *p;
  size_t n;
};

#define B(lit) ((struct bytes){(const uint8_t *)(lit), sizeof(lit) - 1})
#define BA(arr) ((struct bytes){(arr), sizeof(arr)})
#define BI(lit) {(const uint8_t *)(lit), sizeof(lit) - 1}
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A CONNECT to build. The flags byte is written as given and decides which
 * payload fields are present; |name| NULL means the level's own name. */
struct cspec {
  const char *name;
  uint8_t level, flags;
  uint16_t keepalive;
  struct bytes props, id, will_props, will_topic, will_payload, username,
      password, trailing;
};

/* A built packet (heap, exact size) and what parsing it should give. */
struct built {
  uint8_t *buf;
  size_t len;
  mqg_connect want;
};

/* cb_enc_varint writes |v| as an MQTT variable byte integer; returns its length. */
size_t cb_enc_varint(uint8_t *out, uint32_t v);

/* cb_dup_exact returns a heap copy of |n| bytes in a buffer of exactly |n|. */
uint8_t *cb_dup_exact(const void *p, size_t n);

/* cb_put appends |s| to |body| (with a 2-byte length prefix if |prefix|). */
void cb_put(uint8_t *body, size_t *n, struct bytes s, int prefix);

/* cb_build builds the CONNECT of |s| into |b| (heap, exact size) with the
 * mqg_connect a parse should give. */
void cb_build(const struct cspec *s, struct built *b);

/* cb_parse_exact parses |p| copied into a buffer of exactly |n| bytes. */
mqg_parse_status cb_parse_exact(const uint8_t *p, size_t n, mqg_connect *c, mqg_connect_err *err);

/* cb_rewrite returns the rewrite of |pkt| with client ID |id| (heap, exact
 * size, length in |*out_len|), or NULL if the rewrite failed. */
uint8_t *cb_rewrite(const uint8_t *pkt, const mqg_connect *c, const uint8_t *id, size_t id_len, size_t *out_len);
/* cb_check_parse asserts that |b| parses OK, field for field as built. */
void cb_check_parse(const struct built *b);

#endif
