/* mqtt_connect.h: reading and rewriting the first MQTT packet, CONNECT.
 *
 * Supports MQTT 3.1 ("MQIsdp", level 3), 3.1.1 ("MQTT", level 4) and 5.0
 * ("MQTT", level 5), with will, username, password and MQTT 5 properties.
 *
 * Reading is split in two, as in Mosquitto's packet__read_single:
 *   - framing (mqg_connect_frame, on mqtt_frame.h's framer): from the bytes
 *     received so far, decide whether a whole packet is there, how long it
 *     is, and whether it may be a CONNECT at all, before anything is
 *     buffered beyond the limit;
 *   - decoding (mqg_connect_parse): the fields of one whole packet, through
 *     a bounds-checked CBS cursor; every length is checked against what is
 *     left, and trailing bytes are an error. MQTT 5 properties are checked
 *     against mqtt_frame.h's property table.
 * The caller accumulates the received bytes in one buffer and calls
 * mqg_connect_frame after each read: the framer looks at most at the first
 * five bytes, so a CONNECT split at any byte boundary costs nothing extra.
 *
 * Errors: parsers return mqg_parse_status; on MQG_PARSE_ERROR the precise
 * kind is in |*err| (mqg_connect_err) and mqg_connect_err_reason() maps it to
 * the refusal reason (and so to the CONNACK code) of policy/reason.h. */
#ifndef MQG_MQTT_CONNECT_H
#define MQG_MQTT_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>

#include "mqtt_frame.h"
#include "reason.h"

#define MQG_CONNECT_ERR_MAP(X)                                              \
  X(NONE, OK, "no error")                                                   \
  X(NOT_CONNECT, NOT_CONNECT, "first packet is not CONNECT")                \
  X(FIXED_FLAGS, CONNECT_MALFORMED, "CONNECT fixed-header flags not 0")     \
  X(REMAINING_LENGTH, CONNECT_MALFORMED, "remaining length malformed")      \
  X(TOO_LARGE, CONNECT_TOO_LARGE, "CONNECT larger than the limit")          \
  X(PROTOCOL_NAME, PROTOCOL_VERSION, "unknown protocol name")               \
  X(PROTOCOL_LEVEL, PROTOCOL_VERSION, "unsupported protocol level")         \
  X(RESERVED_FLAG, CONNECT_MALFORMED, "reserved connect flag set")          \
  X(WILL_FLAGS, CONNECT_MALFORMED, "will QoS/retain set without will")      \
  X(WILL_QOS, CONNECT_MALFORMED, "will QoS 3")                              \
  X(PASSWORD_FLAG, CONNECT_MALFORMED, "password without username (3.1.1)")  \
  X(TRUNCATED, CONNECT_MALFORMED, "a field runs past the packet end")       \
  X(TRAILING, CONNECT_MALFORMED, "bytes after the CONNECT payload")         \
  X(UTF8, CONNECT_MALFORMED, "string is not valid MQTT UTF-8")              \
  X(PROPERTY, CONNECT_MALFORMED, "property unknown, misplaced or malformed") \
  X(PROPERTY_DUP, CONNECT_MALFORMED, "property given twice")                \
  X(CLIENT_ID, CLIENT_ID_REJECTED, "client ID not acceptable")

typedef enum {
#define MQG_CONNECT_ERR_ENUM(name, reason, text) MQG_CONNECT_ERR_##name,
  MQG_CONNECT_ERR_MAP(MQG_CONNECT_ERR_ENUM)
#undef MQG_CONNECT_ERR_ENUM
} mqg_connect_err;

/* Connect flags (MQTT 3.1.1 section 3.1.2.3). */
#define MQG_CONNECT_FLAG_RESERVED 0x01
#define MQG_CONNECT_FLAG_CLEAN 0x02
#define MQG_CONNECT_FLAG_WILL 0x04
#define MQG_CONNECT_FLAG_WILL_QOS 0x18
#define MQG_CONNECT_FLAG_WILL_RETAIN 0x20
#define MQG_CONNECT_FLAG_PASSWORD 0x40
#define MQG_CONNECT_FLAG_USERNAME 0x80

/* mqg_connect_frame looks at the start of |buf| (|len| bytes received so far
 * on a new connection). It returns:
 *   MQG_PARSE_NEED_MORE: the fixed header or the packet is not complete yet;
 *     |*out_packet_len| is set once the fixed header is complete (so the
 *     caller may size its buffer), else 0;
 *   MQG_PARSE_OK: a whole packet of |*out_packet_len| bytes (fixed header
 *     included) starts |buf|; any bytes after it belong to later packets;
 *   MQG_PARSE_ERROR: |*err| says why: the type is not CONNECT (checked on the
 *     first byte alone), the fixed-header flags are not 0, the remaining
 *     length takes more than 4 bytes, or the packet would exceed |max_size|
 *     bytes (checked as soon as the remaining length is known). */
mqg_parse_status mqg_connect_frame(const uint8_t *buf, size_t len,
                                   size_t max_size, size_t *out_packet_len,
                                   mqg_connect_err *err);

/* mqg_connect describes one decoded CONNECT. Offsets are from the start of
 * the packet given to mqg_connect_parse; the packet is borrowed, not copied,
 * so the offsets are only meaningful with that buffer. */
typedef struct {
  uint8_t level;       /* 3, 4 or 5 */
  uint8_t flags;       /* connect flags byte */
  uint16_t keepalive;  /* seconds */
  size_t packet_len;   /* whole packet, fixed header included */
  size_t header_len;   /* fixed header: 1 + remaining-length bytes */
  /* The variable header and payload before the client ID (protocol name,
   * level, flags, keep alive, MQTT 5 properties) are bytes
   * [header_len, client_id_off). */
  size_t client_id_off; /* offset of the client ID's 2-byte length prefix */
  size_t client_id_len; /* its length in bytes, without the prefix */
  /* Everything after the client ID (will properties, will topic, will
   * payload, username, password) is bytes [rest_off, packet_len). */
  size_t rest_off;
  /* MQTT 5 properties of the CONNECT, if any (bytes of the property list
   * without its variable-byte-integer length). */
  size_t props_off, props_len;
  /* Username, when the username flag is set: offset of its bytes (after
   * the 2-byte length) and their number; 0 and 0 otherwise. */
  size_t username_off, username_len;
} mqg_connect;

/* mqg_connect_parse decodes the whole CONNECT packet |pkt| of |len| bytes (as
 * delimited by mqg_connect_frame) into |*out|. It returns MQG_PARSE_OK or
 * MQG_PARSE_ERROR with |*err| set; it never returns NEED_MORE. It checks:
 * protocol name and level pairs (MQIsdp/3, MQTT/4, MQTT/5), the reserved flag,
 * will flags, will QoS, the 3.1.1 rule that a password needs a username,
 * every string's length and MQTT UTF-8 validity (client ID, will topic,
 * username; no U+0000, no surrogates, no overlong forms), MQTT 5 property
 * identifiers allowed in CONNECT and in will properties, duplicates of
 * properties that may appear once, and no bytes after the last field.
 * An empty client ID is accepted at every level (mqgate fills it in).
 * On error, |*out| holds what was decoded before it and 0 elsewhere; in
 * particular |out->level| is the level byte as received once it was read, so
 * that a PROTOCOL_LEVEL refusal can pick its CONNACK layout. */
mqg_parse_status mqg_connect_parse(const uint8_t *pkt, size_t len,
                                   mqg_connect *out, mqg_connect_err *err);

/* mqg_connect_client_id returns a pointer to the client ID bytes inside
 * |pkt| (not NUL-terminated; |c->client_id_len| long). Borrowed from |pkt|. */
const uint8_t *mqg_connect_client_id(const uint8_t *pkt, const mqg_connect *c);

/* mqg_connect_rewrite writes to |out| the CONNECT |pkt| (decoded in |c|)
 * with its client ID replaced by |id| (|id_len| bytes, at most
 * MQG_CLIENT_ID_MAX). The remaining length is re-encoded and may change size;
 * every other byte is copied as it is. Returns 1 on success, 0 if |id_len|
 * is too long, the result would exceed the MQTT maximum packet size (nothing
 * is written then) or the CBB failed (allocation); after 0, |out| is only
 * good for CBB_cleanup, in the BoringSSL manner. */
int mqg_connect_rewrite(const uint8_t *pkt, const mqg_connect *c,
                        const uint8_t *id, size_t id_len, CBB *out);

/* mqg_connect_err_reason maps a parse error to its refusal reason. */
mqg_reason mqg_connect_err_reason(mqg_connect_err err);

/* mqg_connect_err_text returns a static description of |err|. */
const char *mqg_connect_err_text(mqg_connect_err err);

#endif
