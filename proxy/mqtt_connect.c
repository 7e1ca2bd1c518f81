/* mqtt_connect.c: framing, decoding and rewriting the MQTT CONNECT packet
 * (MQTT 3.1 section 3.1, 3.1.1 section 3.1, 5.0 section 3.1).
 *
 *   +------+--------+----------------------------+-----------+-----------+
 *   | 0x10 | RL 1-4 | name level flags keepalive | client ID | will user |
 *   |      |        | [v5: properties]           | len + id  | password  |
 *   +------+--------+----------------------------+-----------+-----------+
 *   ^0              ^header_len                  ^client_id_off
 *                                                            ^rest_off
 *
 * The rewrite keeps everything but the remaining length and the client ID
 * byte for byte, so properties and credentials reach the broker as the device
 * sent them. */
#include "mqtt_connect.h"

#include <string.h>

/* The largest value a 4-byte variable byte integer holds (MQTT 5 1.5.5). */
#define MQTT_VARINT_MAX 268435455u

#define MQTT_TYPE_CONNECT 1

/* MQTT 5 property types (section 2.2.2.2). */
enum prop_type {
  PT_BYTE = 1,
  PT_U16,
  PT_U32,
  PT_UTF8,
  PT_BINARY,
  PT_PAIR,
};

/* Where a property may appear. */
#define IN_CONNECT 1
#define IN_WILL 2

/* Value checks beyond the type: protocol errors in MQTT 5 section 3.1.2.11
 * and 3.1.3.2. */
#define CHECK_BOOL 1    /* 0 or 1 */
#define CHECK_NONZERO 2 /* 0 is a protocol error */

#define PROP_USER 0x26
#define PROP_AUTH_METHOD 0x15
#define PROP_AUTH_DATA 0x16
#define PROP_ID_LIMIT 0x30 /* every identifier below fits a uint64_t mask */

struct prop_rule {
  uint8_t type;
  uint8_t where; /* 0: not allowed in a CONNECT at all */
  uint8_t check;
};

/* The properties a CONNECT may carry, after Mosquitto's
 * mosquitto_property_check_command; any other identifier is refused, since
 * a proxy cannot vouch for what it does not know. */
static const struct prop_rule prop_rules[PROP_ID_LIMIT] = {
    [0x01] = {PT_BYTE, IN_WILL, CHECK_BOOL},         /* payload format */
    [0x02] = {PT_U32, IN_WILL, 0},                   /* message expiry */
    [0x03] = {PT_UTF8, IN_WILL, 0},                  /* content type */
    [0x08] = {PT_UTF8, IN_WILL, 0},                  /* response topic */
    [0x09] = {PT_BINARY, IN_WILL, 0},                /* correlation data */
    [0x11] = {PT_U32, IN_CONNECT, 0},                /* session expiry */
    [0x15] = {PT_UTF8, IN_CONNECT, 0},               /* auth method */
    [0x16] = {PT_BINARY, IN_CONNECT, 0},             /* auth data */
    [0x17] = {PT_BYTE, IN_CONNECT, CHECK_BOOL},      /* request problem */
    [0x18] = {PT_U32, IN_WILL, 0},                   /* will delay */
    [0x19] = {PT_BYTE, IN_CONNECT, CHECK_BOOL},      /* request response */
    [0x21] = {PT_U16, IN_CONNECT, CHECK_NONZERO},    /* receive maximum */
    [0x22] = {PT_U16, IN_CONNECT, 0},                /* topic alias max */
    [0x26] = {PT_PAIR, IN_CONNECT | IN_WILL, 0},     /* user property */
    [0x27] = {PT_U32, IN_CONNECT, CHECK_NONZERO},    /* max packet size */
};

static const struct {
  mqg_reason reason;
  const char *text;
} err_rows[] = {
#define MQG_CONNECT_ERR_ROW(name, reason, text) \
  [MQG_CONNECT_ERR_##name] = {MQG_REASON_##reason, text},
    MQG_CONNECT_ERR_MAP(MQG_CONNECT_ERR_ROW)
#undef MQG_CONNECT_ERR_ROW
};

#define ERR_COUNT (sizeof(err_rows) / sizeof(err_rows[0]))

mqg_reason mqg_connect_err_reason(mqg_connect_err err) {
  /* Out-of-range values can only come from a bug; refusing is the safe
   * answer. */
  return (unsigned)err < ERR_COUNT ? err_rows[err].reason
                                   : MQG_REASON_CONNECT_MALFORMED;
}

const char *mqg_connect_err_text(mqg_connect_err err) {
  return (unsigned)err < ERR_COUNT ? err_rows[err].text : "unknown error";
}

int mqg_mqtt_put_varint(CBB *cbb, uint32_t v) {
  if (v > MQTT_VARINT_MAX)
    return 0;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0)
      b |= 0x80;
    if (!CBB_add_u8(cbb, b))
      return 0;
  } while (v != 0);
  return 1;
}

int mqg_mqtt_get_varint(CBS *cbs, uint32_t *out) {
  /* Read from a copy so that a failure leaves |cbs| where it was. */
  CBS copy = *cbs;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t b;
    if (!CBS_get_u8(&copy, &b))
      return 0;
    v |= (uint32_t)(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *cbs = copy;
      *out = v;
      return 1;
    }
  }
  return 0;
}

int mqg_mqtt_utf8_valid(const uint8_t *s, size_t len) {
  /* Smallest code point for each sequence length: anything below is an
   * overlong form, which could smuggle a '/' or a NUL past a check. */
  static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < len) {
    uint8_t b = s[i];
    size_t n;
    uint32_t cp;
    if (b == 0)
      return 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b < 0xc0)
      return 0; /* continuation byte without a lead */
    else if (b < 0xe0)
      n = 1, cp = b & 0x1f;
    else if (b < 0xf0)
      n = 2, cp = b & 0x0f;
    else if (b < 0xf8)
      n = 3, cp = b & 0x07;
    else
      return 0;
    if (len - i - 1 < n)
      return 0;
    for (size_t k = 1; k <= n; k++) {
      uint8_t c = s[i + k];
      if ((c & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += 1 + n;
  }
  return 1;
}

/* first_byte_err classifies the first byte of the fixed header. */
static mqg_connect_err first_byte_err(uint8_t b) {
  if ((b >> 4) != MQTT_TYPE_CONNECT)
    return MQG_CONNECT_ERR_NOT_CONNECT;
  if ((b & 0x0f) != 0)
    return MQG_CONNECT_ERR_FIXED_FLAGS;
  return MQG_CONNECT_ERR_NONE;
}

mqg_parse_status mqg_connect_frame(const uint8_t *buf, size_t len,
                                   size_t max_size, size_t *out_packet_len,
                                   mqg_connect_err *err) {
  *out_packet_len = 0;
  *err = MQG_CONNECT_ERR_NONE;
  if (len == 0)
    return MQG_PARSE_NEED_MORE;
  *err = first_byte_err(buf[0]);
  if (*err != MQG_CONNECT_ERR_NONE)
    return MQG_PARSE_ERROR;

  /* At most four length bytes are looked at: with four there and no end in
   * sight, the length is malformed, whatever follows. */
  CBS cbs;
  size_t avail = len - 1 < 4 ? len - 1 : 4;
  uint32_t rl;
  CBS_init(&cbs, buf + 1, avail);
  if (!mqg_mqtt_get_varint(&cbs, &rl)) {
    if (avail < 4)
      return MQG_PARSE_NEED_MORE;
    *err = MQG_CONNECT_ERR_REMAINING_LENGTH;
    return MQG_PARSE_ERROR;
  }
  size_t header_len = 1 + (avail - CBS_len(&cbs));
  size_t total = header_len + rl;
  *out_packet_len = total;
  /* Refuse before the caller buffers anything beyond the limit. */
  if (total > max_size) {
    *err = MQG_CONNECT_ERR_TOO_LARGE;
    return MQG_PARSE_ERROR;
  }
  return len >= total ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE;
}

/* get_str reads a 2-byte length-prefixed string into |out|; the error is
 * TRUNCATED or, for |utf8| strings, UTF8. */
static mqg_connect_err get_str(CBS *cbs, CBS *out, int utf8) {
  if (!CBS_get_u16_length_prefixed(cbs, out))
    return MQG_CONNECT_ERR_TRUNCATED;
  if (utf8 && !mqg_mqtt_utf8_valid(CBS_data(out), CBS_len(out)))
    return MQG_CONNECT_ERR_UTF8;
  return MQG_CONNECT_ERR_NONE;
}

/* prop_value_err reads one property value of |rule|'s type from |list|. A
 * value running past the end of the property list is a malformed property,
 * not a truncated packet: the list's own length was within the packet. */
static mqg_connect_err prop_value_err(CBS *list,
                                      const struct prop_rule *rule) {
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint32_t value;
  CBS s;
  mqg_connect_err e;
  switch (rule->type) {
    case PT_BYTE:
      if (!CBS_get_u8(list, &u8))
        return MQG_CONNECT_ERR_PROPERTY;
      value = u8;
      break;
    case PT_U16:
      if (!CBS_get_u16(list, &u16))
        return MQG_CONNECT_ERR_PROPERTY;
      value = u16;
      break;
    case PT_U32:
      if (!CBS_get_u32(list, &u32))
        return MQG_CONNECT_ERR_PROPERTY;
      value = u32;
      break;
    case PT_UTF8:
    case PT_BINARY:
    case PT_PAIR:
      e = get_str(list, &s, rule->type != PT_BINARY);
      if (e == MQG_CONNECT_ERR_NONE && rule->type == PT_PAIR)
        e = get_str(list, &s, 1);
      return e == MQG_CONNECT_ERR_TRUNCATED ? MQG_CONNECT_ERR_PROPERTY : e;
    default:
      return MQG_CONNECT_ERR_PROPERTY;
  }
  if ((rule->check & CHECK_BOOL) && value > 1)
    return MQG_CONNECT_ERR_PROPERTY;
  if ((rule->check & CHECK_NONZERO) && value == 0)
    return MQG_CONNECT_ERR_PROPERTY;
  return MQG_CONNECT_ERR_NONE;
}

/* get_props reads an MQTT 5 property list (length, then properties) allowed
 * |where|, and sets |*off|/|*plen| to the list's bytes within |pkt|. */
static mqg_connect_err get_props(const uint8_t *pkt, CBS *cbs, unsigned where,
                                 size_t *off, size_t *plen) {
  uint32_t n;
  CBS list;
  if (!mqg_mqtt_get_varint(cbs, &n))
    return CBS_len(cbs) >= 4 ? MQG_CONNECT_ERR_PROPERTY
                             : MQG_CONNECT_ERR_TRUNCATED;
  if (!CBS_get_bytes(cbs, &list, n))
    return MQG_CONNECT_ERR_TRUNCATED;
  *off = (size_t)(CBS_data(&list) - pkt);
  *plen = n;

  uint64_t seen = 0;
  while (CBS_len(&list) > 0) {
    /* Identifiers are variable byte integers, but every defined one is below
     * 0x80, so a single byte with the top bit set is unknown (or a
     * non-minimal encoding, which MQTT 5 1.5.5 forbids). */
    uint8_t id;
    if (!CBS_get_u8(&list, &id))
      return MQG_CONNECT_ERR_PROPERTY;
    if (id >= PROP_ID_LIMIT || (prop_rules[id].where & where) == 0)
      return MQG_CONNECT_ERR_PROPERTY;
    if (id != PROP_USER && (seen & ((uint64_t)1 << id)))
      return MQG_CONNECT_ERR_PROPERTY_DUP;
    seen |= (uint64_t)1 << id;
    mqg_connect_err e = prop_value_err(&list, &prop_rules[id]);
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
  }
  /* MQTT 5 3.1.2.11.10: authentication data without a method is a protocol
   * error. */
  if ((seen & ((uint64_t)1 << PROP_AUTH_DATA)) &&
      !(seen & ((uint64_t)1 << PROP_AUTH_METHOD)))
    return MQG_CONNECT_ERR_PROPERTY;
  return MQG_CONNECT_ERR_NONE;
}

/* connect_decode does the work of mqg_connect_parse, returning the error. */
static mqg_connect_err connect_decode(const uint8_t *pkt, size_t len,
                                      mqg_connect *out) {
  mqg_connect_err e;
  CBS cbs, s;
  uint32_t rl;

  if (len == 0)
    return MQG_CONNECT_ERR_TRUNCATED;
  e = first_byte_err(pkt[0]);
  if (e != MQG_CONNECT_ERR_NONE)
    return e;
  CBS_init(&cbs, pkt + 1, len - 1);
  if (!mqg_mqtt_get_varint(&cbs, &rl))
    return len - 1 >= 4 ? MQG_CONNECT_ERR_REMAINING_LENGTH
                        : MQG_CONNECT_ERR_TRUNCATED;
  if (rl > CBS_len(&cbs))
    return MQG_CONNECT_ERR_TRUNCATED;
  if (rl < CBS_len(&cbs))
    return MQG_CONNECT_ERR_TRAILING;
  out->packet_len = len;
  out->header_len = len - CBS_len(&cbs);

  /* Variable header. The name decides which levels are ours, so that a known
   * name with another level can get "unacceptable protocol version". */
  if (!CBS_get_u16_length_prefixed(&cbs, &s))
    return MQG_CONNECT_ERR_TRUNCATED;
  int is_31 = CBS_mem_equal(&s, (const uint8_t *)"MQIsdp", 6);
  if (!is_31 && !CBS_mem_equal(&s, (const uint8_t *)"MQTT", 4))
    return MQG_CONNECT_ERR_PROTOCOL_NAME;
  if (!CBS_get_u8(&cbs, &out->level))
    return MQG_CONNECT_ERR_TRUNCATED;
  if (is_31 ? out->level != 3 : (out->level != 4 && out->level != 5))
    return MQG_CONNECT_ERR_PROTOCOL_LEVEL;

  if (!CBS_get_u8(&cbs, &out->flags))
    return MQG_CONNECT_ERR_TRUNCATED;
  uint8_t flags = out->flags;
  if (flags & MQG_CONNECT_FLAG_RESERVED)
    return MQG_CONNECT_ERR_RESERVED_FLAG;
  if (!(flags & MQG_CONNECT_FLAG_WILL) &&
      (flags & (MQG_CONNECT_FLAG_WILL_QOS | MQG_CONNECT_FLAG_WILL_RETAIN)))
    return MQG_CONNECT_ERR_WILL_FLAGS;
  if ((flags & MQG_CONNECT_FLAG_WILL_QOS) == MQG_CONNECT_FLAG_WILL_QOS)
    return MQG_CONNECT_ERR_WILL_QOS;
  /* 3.1.1 3.1.2-22; 3.1 says nothing, so it gets the 3.1.1 rule. MQTT 5
   * allows a password alone (3.1.2.9). */
  if (out->level < 5 && (flags & MQG_CONNECT_FLAG_PASSWORD) &&
      !(flags & MQG_CONNECT_FLAG_USERNAME))
    return MQG_CONNECT_ERR_PASSWORD_FLAG;
  if (!CBS_get_u16(&cbs, &out->keepalive))
    return MQG_CONNECT_ERR_TRUNCATED;
  if (out->level == 5) {
    e = get_props(pkt, &cbs, IN_CONNECT, &out->props_off, &out->props_len);
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
  }

  /* Payload. */
  out->client_id_off = (size_t)(CBS_data(&cbs) - pkt);
  e = get_str(&cbs, &s, 1);
  if (e != MQG_CONNECT_ERR_NONE)
    return e;
  out->client_id_len = CBS_len(&s);
  out->rest_off = (size_t)(CBS_data(&cbs) - pkt);

  if (flags & MQG_CONNECT_FLAG_WILL) {
    if (out->level == 5) {
      size_t woff, wlen;
      e = get_props(pkt, &cbs, IN_WILL, &woff, &wlen);
      if (e != MQG_CONNECT_ERR_NONE)
        return e;
    }
    e = get_str(&cbs, &s, 1); /* will topic */
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
    e = get_str(&cbs, &s, 0); /* will payload */
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
  }
  if (flags & MQG_CONNECT_FLAG_USERNAME) {
    e = get_str(&cbs, &s, 1);
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
    out->username_off = (size_t)(CBS_data(&s) - pkt);
    out->username_len = CBS_len(&s);
  }
  if (flags & MQG_CONNECT_FLAG_PASSWORD) {
    e = get_str(&cbs, &s, 0);
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
  }
  if (CBS_len(&cbs) != 0)
    return MQG_CONNECT_ERR_TRAILING;
  return MQG_CONNECT_ERR_NONE;
}

mqg_parse_status mqg_connect_parse(const uint8_t *pkt, size_t len,
                                   mqg_connect *out, mqg_connect_err *err) {
  memset(out, 0, sizeof(*out));
  *err = connect_decode(pkt, len, out);
  return *err == MQG_CONNECT_ERR_NONE ? MQG_PARSE_OK : MQG_PARSE_ERROR;
}

const uint8_t *mqg_connect_client_id(const uint8_t *pkt,
                                     const mqg_connect *c) {
  return pkt + c->client_id_off + 2;
}

int mqg_connect_rewrite(const uint8_t *pkt, const mqg_connect *c,
                        const uint8_t *id, size_t id_len, CBB *out) {
  /* |c| should come from mqg_connect_parse; check its offsets anyway, since
   * a stale struct would otherwise make us copy out of bounds. */
  if (id_len > MQG_CLIENT_ID_MAX || c->client_id_len > MQG_CLIENT_ID_MAX ||
      c->header_len > c->client_id_off ||
      c->client_id_off + 2 + c->client_id_len != c->rest_off ||
      c->rest_off > c->packet_len)
    return 0;
  size_t head = c->client_id_off - c->header_len;
  size_t tail = c->packet_len - c->rest_off;
  /* Each term is at most MQTT_VARINT_MAX, so the sum cannot overflow. */
  size_t rl = head + 2 + id_len + tail;
  if (rl > MQTT_VARINT_MAX)
    return 0;
  return CBB_add_u8(out, MQTT_TYPE_CONNECT << 4) && mqg_mqtt_put_varint(out, (uint32_t)rl) &&
         CBB_add_bytes(out, pkt + c->header_len, head) &&
         CBB_add_u16(out, (uint16_t)id_len) &&
         CBB_add_bytes(out, id, id_len) &&
         CBB_add_bytes(out, pkt + c->rest_off, tail);
}
