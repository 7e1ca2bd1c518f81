/* mqtt_frame.c: see mqtt_frame.h. */
#include "mqtt_frame.h"

mqg_parse_status mqg_mqtt_frame(const uint8_t *buf, size_t len, size_t max_size, mqg_frame *out,
                                mqg_frame_err *err) {
  *out = (mqg_frame){0};
  *err = MQG_FRAME_ERR_NONE;
  if (len == 0)
    return MQG_PARSE_NEED_MORE;
  out->first = buf[0];
  /* At most four length bytes are looked at: with four there and no end in
   * sight, the length is malformed, whatever follows. */
  CBS cbs;
  size_t avail = len - 1 < 4 ? len - 1 : 4;
  uint32_t rl;
  CBS_init(&cbs, buf + 1, avail);
  if (!mqg_mqtt_get_varint(&cbs, &rl)) {
    if (avail < 4)
      return MQG_PARSE_NEED_MORE;
    *err = MQG_FRAME_ERR_REMAINING_LENGTH;
    return MQG_PARSE_ERROR;
  }
  out->header_len = 1 + (avail - CBS_len(&cbs));
  out->packet_len = out->header_len + rl;
  /* Refuse before the caller buffers anything beyond the limit. */
  if (out->packet_len > max_size) {
    *err = MQG_FRAME_ERR_TOO_LARGE;
    return MQG_PARSE_ERROR;
  }
  return len >= out->packet_len ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE;
}

int mqg_mqtt_put_header(CBB *out, uint8_t first, size_t remaining) {
  if (remaining > MQG_MQTT_VARINT_MAX)
    return 0;
  return CBB_add_u8(out, first) && mqg_mqtt_put_varint(out, (uint32_t)remaining);
}

int mqg_mqtt_put_varint(CBB *cbb, uint32_t v) {
  if (v > MQG_MQTT_VARINT_MAX)
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

size_t mqg_mqtt_varint_len(uint32_t v) {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
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

#define CONNECT_ MQG_PROP_IN_CONNECT
#define WILL_ MQG_PROP_IN_WILL
#define CONNACK_ MQG_PROP_IN_CONNACK
#define PUBLISH_ MQG_PROP_IN_PUBLISH
#define SUBSCRIBE_ MQG_PROP_IN_SUBSCRIBE
#define ACK_ MQG_PROP_IN_ACK
#define DISCONNECT_ MQG_PROP_IN_DISCONNECT
#define AUTH_ MQG_PROP_IN_AUTH
#define BOOL_ MQG_PROP_CHECK_BOOL
#define NONZERO_ MQG_PROP_CHECK_NONZERO

/* Every property MQTT 5 defines (section 2.2.2.2 and the sections of each
 * packet for the value rules). */
static const mqg_prop_rule prop_rules[MQG_PROP_ID_LIMIT] = {
    [0x01] = {MQG_PROP_BYTE, PUBLISH_ | WILL_, BOOL_},             /* payload format */
    [0x02] = {MQG_PROP_U32, PUBLISH_ | WILL_, 0},                  /* message expiry */
    [0x03] = {MQG_PROP_UTF8, PUBLISH_ | WILL_, 0},                 /* content type */
    [0x08] = {MQG_PROP_UTF8, PUBLISH_ | WILL_, 0},                 /* response topic */
    [0x09] = {MQG_PROP_BINARY, PUBLISH_ | WILL_, 0},               /* correlation data */
    [0x0b] = {MQG_PROP_VARINT, PUBLISH_ | SUBSCRIBE_, NONZERO_},   /* subscription id */
    [0x11] = {MQG_PROP_U32, CONNECT_ | CONNACK_ | DISCONNECT_, 0}, /* session expiry */
    [0x12] = {MQG_PROP_UTF8, CONNACK_, 0},                         /* assigned client ID */
    [0x13] = {MQG_PROP_U16, CONNACK_, 0},                          /* server keep alive */
    [0x15] = {MQG_PROP_UTF8, CONNECT_ | CONNACK_ | AUTH_, 0},      /* auth method */
    [0x16] = {MQG_PROP_BINARY, CONNECT_ | CONNACK_ | AUTH_, 0},    /* auth data */
    [0x17] = {MQG_PROP_BYTE, CONNECT_, BOOL_},                     /* request problem */
    [0x18] = {MQG_PROP_U32, WILL_, 0},                             /* will delay */
    [0x19] = {MQG_PROP_BYTE, CONNECT_, BOOL_},                     /* request response */
    [0x1a] = {MQG_PROP_UTF8, CONNACK_, 0},                         /* response information */
    [0x1c] = {MQG_PROP_UTF8, CONNACK_ | DISCONNECT_, 0},           /* server reference */
    [0x1f] = {MQG_PROP_UTF8, CONNACK_ | ACK_ | DISCONNECT_ | AUTH_, 0}, /* reason string */
    [0x21] = {MQG_PROP_U16, CONNECT_ | CONNACK_, NONZERO_},        /* receive maximum */
    [0x22] = {MQG_PROP_U16, CONNECT_ | CONNACK_, 0},               /* topic alias maximum */
    [0x23] = {MQG_PROP_U16, PUBLISH_, NONZERO_},                   /* topic alias */
    [0x24] = {MQG_PROP_BYTE, CONNACK_, BOOL_},                     /* maximum QoS */
    [0x25] = {MQG_PROP_BYTE, CONNACK_, BOOL_},                     /* retain available */
    [0x26] = {MQG_PROP_PAIR, 0xff, 0},                             /* user property */
    [0x27] = {MQG_PROP_U32, CONNECT_ | CONNACK_, NONZERO_},        /* maximum packet size */
    [0x28] = {MQG_PROP_BYTE, CONNACK_, BOOL_},                     /* wildcard subs */
    [0x29] = {MQG_PROP_BYTE, CONNACK_, BOOL_},                     /* subscription IDs */
    [0x2a] = {MQG_PROP_BYTE, CONNACK_, BOOL_},                     /* shared subs */
};

const mqg_prop_rule *mqg_mqtt_prop_rule(uint32_t id) {
  return id < MQG_PROP_ID_LIMIT && prop_rules[id].type != 0 ? &prop_rules[id] : NULL;
}

/* get_str reads a 2-byte length-prefixed string, checked as MQTT UTF-8 if
 * |utf8|. */
static mqg_prop_value_status get_str(CBS *list, CBS *out, int utf8) {
  if (!CBS_get_u16_length_prefixed(list, out))
    return MQG_PROP_VALUE_SHORT;
  if (utf8 && !mqg_mqtt_utf8_valid(CBS_data(out), CBS_len(out)))
    return MQG_PROP_VALUE_UTF8;
  return MQG_PROP_VALUE_OK;
}

mqg_prop_value_status mqg_mqtt_prop_value(CBS *list, uint8_t type, int utf8,
                                          mqg_prop_value *out) {
  uint8_t u8;
  uint16_t u16;
  mqg_prop_value_status st;
  *out = (mqg_prop_value){0};
  switch (type) {
    case MQG_PROP_BYTE:
      if (!CBS_get_u8(list, &u8))
        return MQG_PROP_VALUE_SHORT;
      out->num = u8;
      return MQG_PROP_VALUE_OK;
    case MQG_PROP_U16:
      if (!CBS_get_u16(list, &u16))
        return MQG_PROP_VALUE_SHORT;
      out->num = u16;
      return MQG_PROP_VALUE_OK;
    case MQG_PROP_U32:
      return CBS_get_u32(list, &out->num) ? MQG_PROP_VALUE_OK : MQG_PROP_VALUE_SHORT;
    case MQG_PROP_VARINT:
      return mqg_mqtt_get_varint(list, &out->num) ? MQG_PROP_VALUE_OK : MQG_PROP_VALUE_SHORT;
    case MQG_PROP_UTF8:
    case MQG_PROP_BINARY:
      return get_str(list, &out->str, utf8 && type == MQG_PROP_UTF8);
    case MQG_PROP_PAIR:
      st = get_str(list, &out->str, utf8);
      return st != MQG_PROP_VALUE_OK ? st : get_str(list, &out->str2, utf8);
    default:
      return MQG_PROP_VALUE_SHORT;
  }
}

int mqg_mqtt_prop_skip(CBS *list, uint32_t *id) {
  mqg_prop_value v;
  if (!mqg_mqtt_get_varint(list, id))
    return 0;
  const mqg_prop_rule *rule = mqg_mqtt_prop_rule(*id);
  return rule != NULL && mqg_mqtt_prop_value(list, rule->type, 0, &v) == MQG_PROP_VALUE_OK;
}
