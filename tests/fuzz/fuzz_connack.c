/* fuzz_connack: proxy/mqtt_connack.h on arbitrary bytes, as the broker's
 * first packet.
 *
 *   - mqg_connack_frame with a size limit, and on every shorter prefix of a
 *     framed packet;
 *   - mqg_connack_add_assigned_id on the framed packet (in a buffer of
 *     exactly its size) and on the raw input, with a few identifiers; an
 *     output must frame as one whole CONNACK, and adding the identifier again
 *     must copy it unchanged (it now carries one). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "mqtt_connack.h"
#include "fuzz_check.h"

#define MAX_SIZE (64 * 1024)

/* add_id runs mqg_connack_add_assigned_id; on success returns the output
 * (OPENSSL_free it) and its length in |*out_len|, else NULL. */
static uint8_t *add_id(const uint8_t *pkt, size_t len, const uint8_t *id,
                       size_t id_len, size_t *out_len) {
  CBB cbb;
  uint8_t *out = NULL;
  CHECK(CBB_init(&cbb, 0));
  if (!mqg_connack_add_assigned_id(pkt, len, id, id_len, &cbb)) {
    CBB_cleanup(&cbb);
    return NULL;
  }
  CHECK(CBB_finish(&cbb, &out, out_len));
  return out;
}

static void check_add(const uint8_t *pkt, size_t len, const uint8_t *id,
                      size_t id_len) {
  size_t out_len, plen;
  uint8_t *out = add_id(pkt, len, id, id_len, &out_len);
  if (out == NULL)
    return;
  /* One whole CONNACK, nothing after it. */
  CHECK(mqg_connack_frame(out, out_len, SIZE_MAX, &plen) == MQG_PARSE_OK);
  CHECK(plen == out_len);
  /* Either the packet as it was, or one that grew by the property (less
   * up to 3 bytes each for the two lengths, re-encoded minimal). */
  CHECK(out_len == len || out_len + 6 >= len + 3 + id_len);
  /* The output is a well-formed MQTT 5 CONNACK that needs nothing more. */
  size_t again_len;
  uint8_t *again = add_id(out, out_len, (const uint8_t *)"other", 5,
                          &again_len);
  CHECK(again != NULL);
  CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
  OPENSSL_free(again);
  OPENSSL_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  static uint8_t long_id[300];
  if (long_id[0] == 0)
    memset(long_id, 'x', sizeof(long_id));

  /* The raw bytes, trailing bytes and all. */
  check_add(data, len, (const uint8_t *)"dev-1", 5);

  size_t plen;
  mqg_parse_status st = mqg_connack_frame(data, len, MAX_SIZE, &plen);
  if (st != MQG_PARSE_OK) {
    CHECK(st == MQG_PARSE_ERROR || plen == 0 || plen > len);
    return 0;
  }
  CHECK(plen >= 2 && plen <= len && plen <= MAX_SIZE);
  for (size_t k = 1; k < plen; k++) {
    size_t l;
    CHECK(mqg_connack_frame(data, k, MAX_SIZE, &l) == MQG_PARSE_NEED_MORE);
    CHECK(l == 0 || l == plen);
  }

  uint8_t *pkt = malloc(plen);
  CHECK(pkt != NULL);
  memcpy(pkt, data, plen);
  check_add(pkt, plen, NULL, 0);
  check_add(pkt, plen, (const uint8_t *)"mqgate-7f3a", 11);
  check_add(pkt, plen, long_id, sizeof(long_id));
  free(pkt);
  return 0;
}
