/* mqtt_connack.c: the CONNACKs mqgate writes itself (refusals) and the one
 * rewrite of the broker's CONNACK (MQTT 3.1.1 section 3.2, 5.0 section 3.2).
 *
 * When an MQTT 5 device sent an empty client ID, mqgate filled one in, so
 * the broker does not assign one; the device still expects to learn it from
 * an Assigned Client Identifier property (MQTT 5 3.2.2.3.7), added here:
 *
 *   0x20 RL | ack flags | reason | PL | properties...          (broker)
 *   0x20 RL'| ack flags | reason | PL'| properties... 0x12 len id  (device) */
#include "mqtt_connack.h"

#define MQTT_CONNACK_BYTE 0x20 /* type 2, flags 0 */
#define MQTT_VARINT_MAX 268435455u

int mqg_connack_build(uint8_t level, uint8_t code, CBB *out) {
  /* Any level below 5 gets the 3.1.1 layout: it is also what a server sends
   * a client whose level it does not support (3.1.1 3.1.2.2). */
  if (level >= 5)
    return CBB_add_u8(out, MQTT_CONNACK_BYTE) && CBB_add_u8(out, 3) &&
           CBB_add_u8(out, 0) && CBB_add_u8(out, code) &&
           CBB_add_u8(out, 0); /* property length */
  return CBB_add_u8(out, MQTT_CONNACK_BYTE) && CBB_add_u8(out, 2) &&
         CBB_add_u8(out, 0) && CBB_add_u8(out, code);
}

mqg_parse_status mqg_connack_frame(const uint8_t *buf, size_t len,
                                   size_t max_size, size_t *out_packet_len) {
  *out_packet_len = 0;
  if (len == 0)
    return MQG_PARSE_NEED_MORE;
  if (buf[0] != MQTT_CONNACK_BYTE)
    return MQG_PARSE_ERROR;
  CBS cbs;
  size_t avail = len - 1 < 4 ? len - 1 : 4;
  uint32_t rl;
  CBS_init(&cbs, buf + 1, avail);
  if (!mqg_mqtt_get_varint(&cbs, &rl))
    return avail < 4 ? MQG_PARSE_NEED_MORE : MQG_PARSE_ERROR;
  size_t total = 1 + (avail - CBS_len(&cbs)) + rl;
  *out_packet_len = total;
  if (total > max_size)
    return MQG_PARSE_ERROR;
  return len >= total ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE;
}

/* skip_prop reads one property of any MQTT 5 identifier from |list|, by the
 * identifier's type (MQTT 5 2.2.2.2), and sets |*id|. The broker's choice of
 * properties is its business; we only need to walk them. Returns 1 or 0. */
static int skip_prop(CBS *list, uint32_t *id) {
  CBS s;
  uint32_t v;
  if (!mqg_mqtt_get_varint(list, id))
    return 0;
  switch (*id) {
    case 0x01: /* payload format indicator */
    case 0x17: /* request problem information */
    case 0x19: /* request response information */
    case 0x24: /* maximum QoS */
    case 0x25: /* retain available */
    case 0x28: /* wildcard subscription available */
    case 0x29: /* subscription identifiers available */
    case 0x2a: /* shared subscription available */
      return CBS_skip(list, 1);
    case 0x13: /* server keep alive */
    case 0x21: /* receive maximum */
    case 0x22: /* topic alias maximum */
    case 0x23: /* topic alias */
      return CBS_skip(list, 2);
    case 0x02: /* message expiry interval */
    case 0x11: /* session expiry interval */
    case 0x18: /* will delay interval */
    case 0x27: /* maximum packet size */
      return CBS_skip(list, 4);
    case 0x0b: /* subscription identifier */
      return mqg_mqtt_get_varint(list, &v);
    case 0x03: /* content type */
    case 0x08: /* response topic */
    case 0x09: /* correlation data */
    case 0x12: /* assigned client identifier */
    case 0x15: /* authentication method */
    case 0x16: /* authentication data */
    case 0x1a: /* response information */
    case 0x1c: /* server reference */
    case 0x1f: /* reason string */
      return CBS_get_u16_length_prefixed(list, &s);
    case 0x26: /* user property */
      return CBS_get_u16_length_prefixed(list, &s) &&
             CBS_get_u16_length_prefixed(list, &s);
    default:
      return 0; /* unknown: its length cannot be known */
  }
}

/* varint_len is the number of bytes mqg_mqtt_put_varint writes for |v|. */
static size_t varint_len(size_t v) {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
}

int mqg_connack_add_assigned_id(const uint8_t *pkt, size_t len,
                                const uint8_t *id, size_t id_len, CBB *out) {
  CBS cbs, props;
  uint8_t first, ack_flags, reason;
  uint32_t rl, plen, prop_id;
  int has_id = 0;

  if (id_len > MQG_CLIENT_ID_MAX)
    return 0;
  CBS_init(&cbs, pkt, len);
  if (!CBS_get_u8(&cbs, &first) || first != MQTT_CONNACK_BYTE ||
      !mqg_mqtt_get_varint(&cbs, &rl) || rl != CBS_len(&cbs))
    return 0;
  /* Bits 7-1 of the acknowledge flags are reserved (MQTT 5 3.2.2.1). */
  if (!CBS_get_u8(&cbs, &ack_flags) || (ack_flags & 0xfe) != 0 ||
      !CBS_get_u8(&cbs, &reason))
    return 0;
  if (CBS_len(&cbs) == 0) {
    /* No property length at all: not MQTT 5 as written, but Mosquitto's
     * client reads it as an empty list, and dropping the connection over it
     * would help nobody. */
    CBS_init(&props, NULL, 0);
  } else if (!mqg_mqtt_get_varint(&cbs, &plen) ||
             !CBS_get_bytes(&cbs, &props, plen) || CBS_len(&cbs) != 0) {
    return 0;
  }

  CBS walk = props;
  while (CBS_len(&walk) > 0) {
    if (!skip_prop(&walk, &prop_id))
      return 0;
    if (prop_id == MQG_PROP_ASSIGNED_CLIENT_ID)
      has_id = 1;
  }

  /* A refusal needs no identifier, and one the broker assigned itself wins. */
  if (reason >= 0x80 || has_id)
    return CBB_add_bytes(out, pkt, len);

  size_t new_plen = CBS_len(&props) + 3 + id_len;
  size_t new_rl = 2 + varint_len(new_plen) + new_plen;
  if (new_rl > MQTT_VARINT_MAX)
    return 0;
  return CBB_add_u8(out, MQTT_CONNACK_BYTE) &&
         mqg_mqtt_put_varint(out, (uint32_t)new_rl) &&
         CBB_add_u8(out, ack_flags) && CBB_add_u8(out, reason) &&
         mqg_mqtt_put_varint(out, (uint32_t)new_plen) &&
         CBB_add_bytes(out, CBS_data(&props), CBS_len(&props)) &&
         CBB_add_u8(out, MQG_PROP_ASSIGNED_CLIENT_ID) &&
         CBB_add_u16(out, (uint16_t)id_len) && CBB_add_bytes(out, id, id_len);
}
