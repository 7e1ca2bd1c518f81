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

int mqg_connack_build(uint8_t level, uint8_t code, CBB *out) {
  /* Any level below 5 gets the 3.1.1 layout: it is also what a server sends
   * a client whose level it does not support (3.1.1 3.1.2.2). */
  if (level >= 5)
    return mqg_mqtt_put_header(out, MQTT_CONNACK_BYTE, 3) && CBB_add_u8(out, 0) &&
           CBB_add_u8(out, code) && CBB_add_u8(out, 0); /* property length */
  return mqg_mqtt_put_header(out, MQTT_CONNACK_BYTE, 2) && CBB_add_u8(out, 0) &&
         CBB_add_u8(out, code);
}

mqg_parse_status mqg_connack_frame(const uint8_t *buf, size_t len,
                                   size_t max_size, size_t *out_packet_len) {
  *out_packet_len = 0;
  if (len == 0)
    return MQG_PARSE_NEED_MORE;
  if (buf[0] != MQTT_CONNACK_BYTE)
    return MQG_PARSE_ERROR;
  mqg_frame f;
  mqg_frame_err err;
  mqg_parse_status st = mqg_mqtt_frame(buf, len, max_size, &f, &err);
  *out_packet_len = f.packet_len;
  return st;
}

int mqg_connack_add_assigned_id(const uint8_t *pkt, size_t len,
                                const uint8_t *id, size_t id_len, CBB *out) {
  CBS cbs, props;
  uint8_t ack_flags, reason;
  uint32_t plen, prop_id;
  int has_id = 0;
  mqg_frame f;
  mqg_frame_err err;

  if (id_len > MQG_CLIENT_ID_MAX)
    return 0;
  if (mqg_mqtt_frame(pkt, len, SIZE_MAX, &f, &err) != MQG_PARSE_OK ||
      f.first != MQTT_CONNACK_BYTE || f.packet_len != len)
    return 0;
  CBS_init(&cbs, pkt + f.header_len, len - f.header_len);
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
    /* The broker's choice of properties is its business: any property
     * MQTT 5 defines is walked over, whatever its value. */
    if (!mqg_mqtt_prop_skip(&walk, &prop_id))
      return 0;
    if (prop_id == MQG_PROP_ASSIGNED_CLIENT_ID)
      has_id = 1;
  }

  /* A refusal needs no identifier, and one the broker assigned itself wins. */
  if (reason >= 0x80 || has_id)
    return CBB_add_bytes(out, pkt, len);

  size_t new_plen = CBS_len(&props) + 3 + id_len;
  if (new_plen > MQG_MQTT_VARINT_MAX)
    return 0;
  size_t new_rl = 2 + mqg_mqtt_varint_len((uint32_t)new_plen) + new_plen;
  return mqg_mqtt_put_header(out, MQTT_CONNACK_BYTE, new_rl) &&
         CBB_add_u8(out, ack_flags) && CBB_add_u8(out, reason) &&
         mqg_mqtt_put_varint(out, (uint32_t)new_plen) &&
         CBB_add_bytes(out, CBS_data(&props), CBS_len(&props)) &&
         CBB_add_u8(out, MQG_PROP_ASSIGNED_CLIENT_ID) &&
         CBB_add_u16(out, (uint16_t)id_len) && CBB_add_bytes(out, id, id_len);
}
