/* mqtt_frame.h: what every MQTT packet shares, for the packet readers and
 * writers of proxy/ (mqtt_connect.c reads and rewrites CONNECT,
 * mqtt_connack.c writes and rewrites CONNACK):
 *
 *   - the fixed header: a resumable framer that tells from the bytes
 *     received so far whether a whole packet is there and how long it is,
 *     and its writer;
 *   - the data types: variable byte integers and MQTT UTF-8 strings;
 *   - the MQTT 5 property table (every identifier: its value type, the
 *     packets it may appear in, the rules on its value), with a reader for
 *     one property value and a walker that skips any known property.
 *
 *   +------+-------+-------------------+--------------------------------+
 *   | type | flags | remaining length  | variable header, payload       |
 *   | 4 b  | 4 b   | 1-4 bytes, 7 bits | (remaining length bytes)       |
 *   |      |       | each, low first   |                                |
 *   +------+-------+-------------------+--------------------------------+
 *   ^0             ^1                  ^header_len                      ^packet_len
 *
 * (MQTT 3.1.1 section 2.2, MQTT 5.0 sections 1.5 and 2.)
 *
 * Errors: the framer returns mqg_parse_status, with the kind of error in
 * mqg_frame_err; readers and writers on CBS/CBB return 1 or 0 as BoringSSL's
 * do, and a failed read leaves its cursor where it was only where said.
 * Nothing here allocates or keeps a pointer to its input. */
#ifndef MQG_MQTT_FRAME_H
#define MQG_MQTT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>

/* What a parser of untrusted bytes answers (picohttpparser's -2/-1/n). */
typedef enum {
  MQG_PARSE_OK = 0,
  MQG_PARSE_NEED_MORE = 1,
  MQG_PARSE_ERROR = 2,
} mqg_parse_status;

/* The largest value a variable byte integer holds (MQTT 5 1.5.5), and so
 * the largest remaining length. */
#define MQG_MQTT_VARINT_MAX 268435455u

/* Largest client ID (an MQTT string: at most 65535 bytes) mqgate writes. */
#define MQG_CLIENT_ID_MAX 65535

/* --- the fixed header --------------------------------------------------- */

typedef enum {
  MQG_FRAME_ERR_NONE = 0,
  MQG_FRAME_ERR_REMAINING_LENGTH, /* four length bytes, each continued */
  MQG_FRAME_ERR_TOO_LARGE,        /* the packet would exceed the limit */
} mqg_frame_err;

/* One packet's fixed header, as far as it is known. */
typedef struct {
  uint8_t first;     /* type << 4 | flags; 0 before any byte */
  size_t header_len; /* 1 + remaining-length bytes; 0 until complete */
  size_t packet_len; /* header_len + remaining length; 0 until complete */
} mqg_frame;

/* mqg_mqtt_frame looks at the first |len| bytes of a stream of packets at
 * |buf| (the bytes received so far) and fills in |*out|. It returns:
 *   MQG_PARSE_NEED_MORE: no byte yet, the remaining length is not complete
 *     (fewer than four of its bytes there, each continued), or the packet
 *     is not complete (out->packet_len is then set: the caller may size its
 *     buffer);
 *   MQG_PARSE_OK: a whole packet of out->packet_len bytes starts |buf|; the
 *     bytes after it belong to later packets;
 *   MQG_PARSE_ERROR with |*err|: REMAINING_LENGTH when four length bytes are
 *     there and each is continued, TOO_LARGE as soon as the remaining
 *     length shows the packet would exceed |max_size| bytes (before the
 *     caller buffers more; out->packet_len says how large it would be).
 * The packet type is not checked: out->first is set whenever |len| > 0, for
 * the caller to check first. At most the first five bytes are read and a
 * non-minimal remaining length is accepted, so a caller may append what it
 * receives and call again at every read, at no cost per split. */
mqg_parse_status mqg_mqtt_frame(const uint8_t *buf, size_t len, size_t max_size, mqg_frame *out,
                                mqg_frame_err *err);

/* mqg_mqtt_put_header appends a fixed header to |out|: |first| (type << 4 |
 * flags) and the remaining length |remaining|, minimally encoded. Returns 1,
 * or 0 if |remaining| exceeds MQG_MQTT_VARINT_MAX (nothing is written) or
 * the CBB failed. */
int mqg_mqtt_put_header(CBB *out, uint8_t first, size_t remaining);

/* --- data types --------------------------------------------------------- */

/* mqg_mqtt_put_varint appends |v| (< 268435456) as an MQTT variable byte
 * integer. Returns 1 or 0 like every CBB function. */
int mqg_mqtt_put_varint(CBB *cbb, uint32_t v);

/* mqg_mqtt_varint_len returns the number of bytes mqg_mqtt_put_varint
 * writes for |v| (at most MQG_MQTT_VARINT_MAX). */
size_t mqg_mqtt_varint_len(uint32_t v);

/* mqg_mqtt_get_varint reads an MQTT variable byte integer (at most 4 bytes,
 * minimal or not) from |cbs|. Returns 1 on success, 0 if truncated or longer
 * than 4 bytes; |cbs| does not move on failure. */
int mqg_mqtt_get_varint(CBS *cbs, uint32_t *out);

/* mqg_mqtt_utf8_valid returns 1 if the |len| bytes at |s| are a valid MQTT
 * UTF-8 string (well-formed UTF-8 without overlong forms, no U+0000, no
 * UTF-16 surrogates). */
int mqg_mqtt_utf8_valid(const uint8_t *s, size_t len);

/* --- MQTT 5 properties (section 2.2.2) ---------------------------------- */

/* Property identifiers mqgate names. */
#define MQG_PROP_ASSIGNED_CLIENT_ID 0x12
#define MQG_PROP_AUTH_METHOD 0x15
#define MQG_PROP_AUTH_DATA 0x16
#define MQG_PROP_USER 0x26 /* the only one that may appear more than once */
#define MQG_PROP_ID_LIMIT 0x2b /* every identifier is below */

/* Value types (section 2.2.2.2). */
typedef enum {
  MQG_PROP_BYTE = 1,
  MQG_PROP_U16,
  MQG_PROP_U32,
  MQG_PROP_VARINT,
  MQG_PROP_UTF8,   /* an MQTT UTF-8 string */
  MQG_PROP_BINARY, /* 2-byte length, then bytes */
  MQG_PROP_PAIR,   /* two MQTT UTF-8 strings: name, value */
} mqg_prop_type;

/* Where a property may appear (the table of section 2.2.2.2), as bits. */
#define MQG_PROP_IN_CONNECT 0x01
#define MQG_PROP_IN_WILL 0x02 /* the will properties of a CONNECT */
#define MQG_PROP_IN_CONNACK 0x04
#define MQG_PROP_IN_PUBLISH 0x08
#define MQG_PROP_IN_SUBSCRIBE 0x10 /* and UNSUBSCRIBE: User Property only */
#define MQG_PROP_IN_ACK 0x20 /* PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK */
#define MQG_PROP_IN_DISCONNECT 0x40
#define MQG_PROP_IN_AUTH 0x80

/* Rules on a value beyond its type: breaking one is a protocol error
 * (e.g. MQTT 5 3.1.2.11, 3.2.2.3). */
#define MQG_PROP_CHECK_BOOL 0x01    /* 0 or 1 */
#define MQG_PROP_CHECK_NONZERO 0x02 /* not 0 */

typedef struct {
  uint8_t type;  /* mqg_prop_type */
  uint8_t where; /* MQG_PROP_IN_* */
  uint8_t check; /* MQG_PROP_CHECK_* */
} mqg_prop_rule;

/* mqg_mqtt_prop_rule returns the table's row for identifier |id|, or NULL
 * if MQTT 5 defines no property |id|. */
const mqg_prop_rule *mqg_mqtt_prop_rule(uint32_t id);

/* One property value, as read: a number, or one or two strings borrowed
 * from the list that was read. */
typedef struct {
  uint32_t num; /* BYTE, U16, U32, VARINT; 0 for the others */
  CBS str;      /* UTF8, BINARY; the name of a PAIR */
  CBS str2;     /* the value of a PAIR */
} mqg_prop_value;

typedef enum {
  MQG_PROP_VALUE_OK = 0,
  MQG_PROP_VALUE_SHORT, /* runs past the end of the list (or no such type) */
  MQG_PROP_VALUE_UTF8,  /* a string that is not MQTT UTF-8 */
} mqg_prop_value_status;

/* mqg_mqtt_prop_value reads one value of |type| from |list| into |*out|.
 * With |utf8| set, every UTF-8 string (both of a pair) is checked as it is
 * read, so a bad first string of a pair is reported before a short second
 * one. The value rules (check) are the caller's. On anything but OK, |list|
 * is left somewhere inside the value. */
mqg_prop_value_status mqg_mqtt_prop_value(CBS *list, uint8_t type, int utf8,
                                          mqg_prop_value *out);

/* mqg_mqtt_prop_skip reads one property of |list| (identifier, then value)
 * of any identifier MQTT 5 defines, without checking its value or where it
 * is, and sets |*id|. Returns 1, or 0 for an identifier that is not defined
 * (its length cannot be known) or a value that runs past the end. */
int mqg_mqtt_prop_skip(CBS *list, uint32_t *id);

#endif
