/* fuzz_frame: proxy/mqtt_frame.h on arbitrary bytes, as a stream of MQTT
 * packets.
 *
 *   - mqg_mqtt_frame on the input under two limits, against a plain reading
 *     of the specification, and on every shorter prefix of a framed packet
 *     (NEED_MORE, with the same length once the fixed header is complete);
 *   - the framed header written again with mqg_mqtt_put_header (minimal)
 *     frames to the same remaining length, in no more bytes;
 *   - the packet's body as an MQTT 5 property list: mqg_mqtt_prop_skip and a
 *     walk by mqg_mqtt_prop_rule + mqg_mqtt_prop_value agree on every
 *     property's end, and checking UTF-8 only ever turns a good value into
 *     a UTF-8 error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>

#include "mqtt_frame.h"
#include "fuzz_check.h"

static mqg_parse_status reference(const uint8_t *p, size_t len, size_t max, size_t *hlen,
                                  size_t *plen) {
  *hlen = *plen = 0;
  if (len == 0)
    return MQG_PARSE_NEED_MORE;
  uint32_t rl = 0;
  for (size_t i = 0; i < 4; i++) {
    if (1 + i >= len)
      return MQG_PARSE_NEED_MORE;
    rl |= (uint32_t)(p[1 + i] & 0x7f) << (7 * i);
    if (!(p[1 + i] & 0x80)) {
      *hlen = 2 + i;
      *plen = *hlen + rl;
      if (*plen > max)
        return MQG_PARSE_ERROR;
      return len >= *plen ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE;
    }
  }
  return MQG_PARSE_ERROR;
}

static mqg_parse_status frame(const uint8_t *p, size_t len, size_t max, mqg_frame *f) {
  mqg_frame_err err;
  size_t hlen, plen;
  mqg_parse_status st = mqg_mqtt_frame(p, len, max, f, &err);
  CHECK(st == reference(p, len, max, &hlen, &plen));
  CHECK(f->header_len == hlen && f->packet_len == plen);
  CHECK(f->first == (len ? p[0] : 0));
  CHECK((st == MQG_PARSE_ERROR) == (err != MQG_FRAME_ERR_NONE));
  CHECK(err != MQG_FRAME_ERR_TOO_LARGE || f->packet_len > max);
  return st;
}

static void walk_props(const uint8_t *p, size_t len) {
  CBS a, b;
  CBS_init(&a, p, len);
  CBS_init(&b, p, len);
  while (CBS_len(&a) > 0) {
    uint32_t id_a, id_b;
    int ok_a = mqg_mqtt_prop_skip(&a, &id_a);
    /* The same by hand: identifier, the table's type, the value. */
    int ok_b = mqg_mqtt_get_varint(&b, &id_b);
    const mqg_prop_rule *rule = ok_b ? mqg_mqtt_prop_rule(id_b) : NULL;
    mqg_prop_value v;
    CBS checked = b;
    ok_b = rule != NULL && mqg_mqtt_prop_value(&b, rule->type, 0, &v) == MQG_PROP_VALUE_OK;
    CHECK(ok_a == ok_b);
    if (!ok_a)
      return;
    CHECK(id_a == id_b && CBS_len(&a) == CBS_len(&b));
    if (rule->type == MQG_PROP_BYTE)
      CHECK(v.num <= 0xff);
    if (rule->type == MQG_PROP_U16)
      CHECK(v.num <= 0xffff);
    if (rule->type == MQG_PROP_VARINT)
      CHECK(v.num <= MQG_MQTT_VARINT_MAX);
    /* Checking UTF-8 never makes a good value short. */
    mqg_prop_value_status st = mqg_mqtt_prop_value(&checked, rule->type, 1, &v);
    CHECK(st == MQG_PROP_VALUE_OK || st == MQG_PROP_VALUE_UTF8);
    if (st == MQG_PROP_VALUE_OK)
      CHECK(CBS_len(&checked) == CBS_len(&b));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  mqg_frame f;
  /* A small limit, and none. */
  frame(data, len, 64, &f);
  if (frame(data, len, SIZE_MAX, &f) != MQG_PARSE_OK) {
    /* Not framed: the body, whatever there is, read as a property list. */
    walk_props(data, len);
    return 0;
  }
  CHECK(f.packet_len <= len && f.header_len >= 2 && f.header_len <= 5);
  size_t rl = f.packet_len - f.header_len;
  for (size_t k = 0; k < f.packet_len; k++) {
    mqg_frame g;
    uint8_t *q = malloc(k ? k : 1);
    CHECK(q != NULL);
    memcpy(q, data, k);
    CHECK(frame(q, k, SIZE_MAX, &g) == MQG_PARSE_NEED_MORE);
    CHECK(g.packet_len == 0 || g.packet_len == f.packet_len);
    free(q);
  }

  /* The header again, minimal. */
  CBB cbb;
  uint8_t hdr[8];
  size_t hlen;
  CHECK(CBB_init_fixed(&cbb, hdr, sizeof(hdr)));
  CHECK(mqg_mqtt_put_header(&cbb, f.first, rl));
  CHECK(CBB_finish(&cbb, NULL, &hlen));
  mqg_frame g;
  frame(hdr, hlen, SIZE_MAX, &g);
  CHECK(g.first == f.first && g.header_len == hlen && g.header_len <= f.header_len);
  CHECK(g.packet_len - g.header_len == rl);
  CHECK(hlen - 1 == mqg_mqtt_varint_len((uint32_t)rl));

  /* The body as a property list, in a buffer of exactly its size. */
  uint8_t *body = malloc(rl ? rl : 1);
  CHECK(body != NULL);
  memcpy(body, data + f.header_len, rl);
  walk_props(body, rl);
  free(body);
  return 0;
}
