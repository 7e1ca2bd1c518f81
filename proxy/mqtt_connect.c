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

#define MQTT_TYPE_CONNECT 1

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
  /* The type first, on the first byte alone: a device speaking anything
   * else is refused before its length is even read. */
  *err = first_byte_err(buf[0]);
  if (*err != MQG_CONNECT_ERR_NONE)
    return MQG_PARSE_ERROR;
  mqg_frame f;
  mqg_frame_err fe;
  mqg_parse_status st = mqg_mqtt_frame(buf, len, max_size, &f, &fe);
  *out_packet_len = f.packet_len;
  if (st == MQG_PARSE_ERROR)
    *err = fe == MQG_FRAME_ERR_TOO_LARGE ? MQG_CONNECT_ERR_TOO_LARGE
                                         : MQG_CONNECT_ERR_REMAINING_LENGTH;
  return st;
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

/* prop_value_err reads one property value of |rule|'s type from |list| and
 * checks its rules. A value running past the end of the property list is a
 * malformed property, not a truncated packet: the list's own length was
 * within the packet. */
static mqg_connect_err prop_value_err(CBS *list, const mqg_prop_rule *rule) {
  mqg_prop_value v;
  switch (mqg_mqtt_prop_value(list, rule->type, 1, &v)) {
    case MQG_PROP_VALUE_OK:
      break;
    case MQG_PROP_VALUE_UTF8:
      return MQG_CONNECT_ERR_UTF8;
    default:
      return MQG_CONNECT_ERR_PROPERTY;
  }
  if ((rule->check & MQG_PROP_CHECK_BOOL) && v.num > 1)
    return MQG_CONNECT_ERR_PROPERTY;
  if ((rule->check & MQG_PROP_CHECK_NONZERO) && v.num == 0)
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
    const mqg_prop_rule *rule = mqg_mqtt_prop_rule(id);
    if (rule == NULL || (rule->where & where) == 0)
      return MQG_CONNECT_ERR_PROPERTY;
    if (id != MQG_PROP_USER && (seen & ((uint64_t)1 << id)))
      return MQG_CONNECT_ERR_PROPERTY_DUP;
    seen |= (uint64_t)1 << id;
    mqg_connect_err e = prop_value_err(&list, rule);
    if (e != MQG_CONNECT_ERR_NONE)
      return e;
  }
  /* MQTT 5 3.1.2.11.10: authentication data without a method is a protocol
   * error. */
  if ((seen & ((uint64_t)1 << MQG_PROP_AUTH_DATA)) &&
      !(seen & ((uint64_t)1 << MQG_PROP_AUTH_METHOD)))
    return MQG_CONNECT_ERR_PROPERTY;
  return MQG_CONNECT_ERR_NONE;
}

/* connect_decode does the work of mqg_connect_parse, returning the error. */
static mqg_connect_err connect_decode(const uint8_t *pkt, size_t len,
                                      mqg_connect *out) {
  mqg_connect_err e;
  CBS cbs, s;

  if (len == 0)
    return MQG_CONNECT_ERR_TRUNCATED;
  e = first_byte_err(pkt[0]);
  if (e != MQG_CONNECT_ERR_NONE)
    return e;
  mqg_frame f;
  mqg_frame_err fe;
  switch (mqg_mqtt_frame(pkt, len, SIZE_MAX, &f, &fe)) {
    case MQG_PARSE_NEED_MORE:
      return MQG_CONNECT_ERR_TRUNCATED;
    case MQG_PARSE_ERROR: /* never TOO_LARGE without a limit */
      return MQG_CONNECT_ERR_REMAINING_LENGTH;
    case MQG_PARSE_OK:
      break;
  }
  if (f.packet_len < len)
    return MQG_CONNECT_ERR_TRAILING;
  out->packet_len = len;
  out->header_len = f.header_len;
  CBS_init(&cbs, pkt + f.header_len, len - f.header_len);

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
    e = get_props(pkt, &cbs, MQG_PROP_IN_CONNECT, &out->props_off, &out->props_len);
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
      e = get_props(pkt, &cbs, MQG_PROP_IN_WILL, &woff, &wlen);
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
  /* Each term is at most MQG_MQTT_VARINT_MAX, so the sum cannot overflow;
   * a sum beyond it is refused by mqg_mqtt_put_header, writing nothing. */
  size_t rl = head + 2 + id_len + tail;
  return mqg_mqtt_put_header(out, MQTT_TYPE_CONNECT << 4, rl) &&
         CBB_add_bytes(out, pkt + c->header_len, head) &&
         CBB_add_u16(out, (uint16_t)id_len) &&
         CBB_add_bytes(out, id, id_len) &&
         CBB_add_bytes(out, pkt + c->rest_off, tail);
}
