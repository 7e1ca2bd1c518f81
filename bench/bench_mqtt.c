/* bench_mqtt.c: the MQTT packets mqgate-bench sends and reads, written and
 * read with BoringSSL's CBB/CBS and the proxy's variable-byte-integer
 * helpers. Only what the scenarios need: CONNECT, SUBSCRIBE, PUBLISH and
 * PUBACK out; CONNACK, SUBACK, PUBLISH and PUBACK in. */
#include <string.h>

#include <openssl/bytestring.h>

#include "bench.h"
#include "mqtt_connect.h"

/* finish_packet closes the packet built in |body| behind |type_flags| into
 * |out|. */
static size_t finish_packet(uint8_t *out, size_t cap, uint8_t type_flags,
                            const uint8_t *body, size_t body_len) {
  CBB cbb;
  size_t len = 0;
  if (!CBB_init_fixed(&cbb, out, cap) || !CBB_add_u8(&cbb, type_flags) ||
      !mqg_mqtt_put_varint(&cbb, (uint32_t)body_len) ||
      !CBB_add_bytes(&cbb, body, body_len) || !CBB_finish(&cbb, NULL, &len))
    return 0;
  return len;
}

size_t mqb_mqtt_connect(uint8_t *out, size_t cap, int level, const char *id,
                        size_t id_len, uint16_t keepalive) {
  uint8_t body[512];
  CBB cbb, s;
  size_t len = 0;
  const char *name = level == 3 ? "MQIsdp" : "MQTT";
  if (!CBB_init_fixed(&cbb, body, sizeof(body)) ||
      !CBB_add_u16_length_prefixed(&cbb, &s) ||
      !CBB_add_bytes(&s, (const uint8_t *)name, strlen(name)) ||
      !CBB_add_u8(&cbb, (uint8_t)level) ||
      !CBB_add_u8(&cbb, 0x02) /* clean session, nothing else */ ||
      !CBB_add_u16(&cbb, keepalive) ||
      (level == 5 && !CBB_add_u8(&cbb, 0)) /* no properties */ ||
      !CBB_add_u16_length_prefixed(&cbb, &s) ||
      !CBB_add_bytes(&s, (const uint8_t *)id, id_len) ||
      !CBB_finish(&cbb, NULL, &len))
    return 0;
  return finish_packet(out, cap, 0x10, body, len);
}

size_t mqb_mqtt_subscribe(uint8_t *out, size_t cap, int level, uint16_t pid,
                          const char *topic, int qos) {
  uint8_t body[512];
  CBB cbb, s;
  size_t len = 0;
  if (!CBB_init_fixed(&cbb, body, sizeof(body)) || !CBB_add_u16(&cbb, pid) ||
      (level == 5 && !CBB_add_u8(&cbb, 0)) ||
      !CBB_add_u16_length_prefixed(&cbb, &s) ||
      !CBB_add_bytes(&s, (const uint8_t *)topic, strlen(topic)) ||
      !CBB_add_u8(&cbb, (uint8_t)qos) || !CBB_finish(&cbb, NULL, &len))
    return 0;
  return finish_packet(out, cap, 0x82, body, len);
}

size_t mqb_mqtt_publish_header(uint8_t *out, size_t cap, int level,
                               const char *topic, size_t topic_len, int qos,
                               uint16_t pid, size_t payload_len) {
  size_t rest = 2 + topic_len + (qos ? 2 : 0) + (level == 5 ? 1 : 0);
  CBB cbb, s;
  size_t len = 0;
  if (!CBB_init_fixed(&cbb, out, cap) ||
      !CBB_add_u8(&cbb, (uint8_t)(0x30 | (qos << 1))) ||
      !mqg_mqtt_put_varint(&cbb, (uint32_t)(rest + payload_len)) ||
      !CBB_add_u16_length_prefixed(&cbb, &s) ||
      !CBB_add_bytes(&s, (const uint8_t *)topic, topic_len) ||
      (qos && !CBB_add_u16(&cbb, pid)) ||
      (level == 5 && !CBB_add_u8(&cbb, 0)) || !CBB_finish(&cbb, NULL, &len))
    return 0;
  return len;
}

size_t mqb_mqtt_puback(uint8_t *out, size_t cap, uint16_t pid) {
  if (cap < 4)
    return 0;
  out[0] = 0x40;
  out[1] = 2;
  out[2] = (uint8_t)(pid >> 8);
  out[3] = (uint8_t)pid;
  return 4;
}

mqb_frame_status mqb_mqtt_frame(const uint8_t *buf, size_t len, size_t max,
                                size_t *hdr_len, size_t *pkt_len) {
  uint32_t rest = 0;
  for (size_t i = 1; i <= 4; i++) {
    if (i >= len)
      return MQB_FRAME_NEED_MORE;
    rest |= (uint32_t)(buf[i] & 0x7f) << (7 * (i - 1));
    if (!(buf[i] & 0x80)) {
      *hdr_len = i + 1;
      *pkt_len = i + 1 + rest;
      return *pkt_len > max ? MQB_FRAME_ERROR
             : *pkt_len > len ? MQB_FRAME_NEED_MORE : MQB_FRAME_OK;
    }
  }
  return MQB_FRAME_ERROR;
}

int mqb_mqtt_read_publish(uint8_t b0, const uint8_t *body, size_t len,
                          int level, mqb_publish *out) {
  CBS cbs, topic;
  uint16_t pid = 0;
  CBS_init(&cbs, body, len);
  out->qos = (b0 >> 1) & 3;
  if (!CBS_get_u16_length_prefixed(&cbs, &topic) ||
      (out->qos > 0 && !CBS_get_u16(&cbs, &pid)))
    return 0;
  if (level == 5) {
    uint32_t plen;
    if (!mqg_mqtt_get_varint(&cbs, &plen) || !CBS_skip(&cbs, plen))
      return 0;
  }
  out->pid = pid;
  out->topic = CBS_data(&topic);
  out->topic_len = CBS_len(&topic);
  out->payload = CBS_data(&cbs);
  out->payload_len = CBS_len(&cbs);
  return 1;
}

int mqb_mqtt_read_connack(const uint8_t *body, size_t len, uint8_t *code) {
  if (len < 2)
    return 0;
  *code = body[1];
  return 1;
}

int mqb_mqtt_read_suback(const uint8_t *body, size_t len, int level,
                         uint8_t *code) {
  CBS cbs;
  uint16_t pid;
  CBS_init(&cbs, body, len);
  if (!CBS_get_u16(&cbs, &pid))
    return 0;
  if (level == 5) {
    uint32_t plen;
    if (!mqg_mqtt_get_varint(&cbs, &plen) || !CBS_skip(&cbs, plen))
      return 0;
  }
  return CBS_get_u8(&cbs, code);
}

int mqb_mqtt_read_pid(const uint8_t *body, size_t len, uint16_t *pid) {
  if (len < 2)
    return 0;
  *pid = (uint16_t)(body[0] << 8 | body[1]);
  return 1;
}
