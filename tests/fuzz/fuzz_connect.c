/* fuzz_connect: proxy/mqtt_connect.h on arbitrary bytes, as a device's
 * first packet.
 *
 *   - mqg_connect_frame with a size limit, on the whole input and on every
 *     shorter prefix of a framed packet (a packet split at any byte must ask
 *     for more, never fail or succeed early);
 *   - mqg_connect_parse on the framed packet, in a buffer of exactly its
 *     size, and on the raw input;
 *   - for a packet that parses, mqg_connect_rewrite with a few client IDs;
 *     each result must parse again and keep every field but the ID. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "mqtt_connect.h"
#include "fuzz_check.h"

#define MAX_SIZE (64 * 1024) /* --max-connect-size default */

/* same_range compares bytes [a_off, a_off + n) of |a| and [b_off, ...) of
 * |b|. */
static int same_range(const uint8_t *a, size_t a_off, const uint8_t *b,
                      size_t b_off, size_t n) {
  return n == 0 || memcmp(a + a_off, b + b_off, n) == 0;
}

static void check_rewrite(const uint8_t *pkt, const mqg_connect *c,
                          const uint8_t *id, size_t id_len) {
  CBB cbb;
  uint8_t *out;
  size_t out_len;
  CHECK(CBB_init(&cbb, 0));
  if (!mqg_connect_rewrite(pkt, c, id, id_len, &cbb)) {
    /* Only a result past the MQTT maximum may be refused: not with these
     * sizes. */
    CBB_cleanup(&cbb);
    CHECK(0);
  }
  CHECK(CBB_finish(&cbb, &out, &out_len));

  size_t framed;
  mqg_connect_err err;
  CHECK(mqg_connect_frame(out, out_len, SIZE_MAX, &framed, &err) ==
        MQG_PARSE_OK);
  CHECK(framed == out_len);
  mqg_connect r;
  CHECK(mqg_connect_parse(out, out_len, &r, &err) == MQG_PARSE_OK);

  /* Same fields, the same bytes before and after the ID. */
  size_t head = c->client_id_off - c->header_len;
  size_t tail = c->packet_len - c->rest_off;
  CHECK(r.level == c->level && r.flags == c->flags &&
        r.keepalive == c->keepalive);
  CHECK(r.client_id_len == id_len);
  CHECK(same_range(mqg_connect_client_id(out, &r), 0, id, 0, id_len));
  CHECK(r.client_id_off - r.header_len == head);
  CHECK(same_range(out, r.header_len, pkt, c->header_len, head));
  CHECK(r.packet_len == out_len && r.packet_len - r.rest_off == tail);
  CHECK(same_range(out, r.rest_off, pkt, c->rest_off, tail));
  CHECK(r.props_len == c->props_len);
  CHECK(c->props_len == 0 ||
        r.props_off - r.header_len == c->props_off - c->header_len);
  CHECK(r.username_len == c->username_len);
  CHECK((r.username_off == 0) == (c->username_off == 0));
  CHECK(r.username_off == 0 ||
        r.username_off - r.rest_off == c->username_off - c->rest_off);
  OPENSSL_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  size_t plen;
  mqg_connect_err err;
  mqg_connect c;

  /* The raw bytes, as one would-be packet (trailing bytes and all). */
  mqg_connect_parse(data, len, &c, &err);

  mqg_parse_status st = mqg_connect_frame(data, len, MAX_SIZE, &plen, &err);
  if (st == MQG_PARSE_ERROR) {
    CHECK(err != MQG_CONNECT_ERR_NONE);
    return 0;
  }
  CHECK(err == MQG_CONNECT_ERR_NONE);
  if (st == MQG_PARSE_NEED_MORE) {
    CHECK(plen == 0 || plen > len);
    return 0;
  }
  CHECK(st == MQG_PARSE_OK && plen >= 2 && plen <= len && plen <= MAX_SIZE);
  /* Every prefix past the first byte: NEED_MORE, and the length is known
   * (and the same) once the fixed header is complete. */
  for (size_t k = 1; k < plen; k++) {
    size_t l;
    CHECK(mqg_connect_frame(data, k, MAX_SIZE, &l, &err) ==
          MQG_PARSE_NEED_MORE);
    CHECK(l == 0 || l == plen);
  }

  uint8_t *pkt = malloc(plen);
  CHECK(pkt != NULL);
  memcpy(pkt, data, plen);
  if (mqg_connect_parse(pkt, plen, &c, &err) == MQG_PARSE_OK) {
    CHECK(err == MQG_CONNECT_ERR_NONE && c.packet_len == plen);
    CHECK(c.rest_off <= plen &&
          c.client_id_off + 2 + c.client_id_len == c.rest_off);
    static uint8_t long_id[300];
    if (long_id[0] == 0)
      memset(long_id, 'x', sizeof(long_id));
    check_rewrite(pkt, &c, NULL, 0);
    check_rewrite(pkt, &c, (const uint8_t *)"dev-1", 5);
    check_rewrite(pkt, &c, long_id, sizeof(long_id));
  } else {
    CHECK(err != MQG_CONNECT_ERR_NONE);
  }
  free(pkt);
  return 0;
}
