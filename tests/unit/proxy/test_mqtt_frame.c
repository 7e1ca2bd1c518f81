/* Tests of proxy/mqtt_frame.c: the fixed-header framer on packets whole,
 * split at every byte, truncated and corrupted (checked against a plain
 * reading of the specification written here), the header writer, and the
 * MQTT 5 property table, value reader and walker. Every input lives in a
 * heap buffer of exactly its size, so AddressSanitizer sees any over-read. */
#include "task.h"

#include <stdint.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "mqtt_frame.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t *dup_exact(const void *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  ASSERT(q != NULL);
  if (n)
    memcpy(q, p, n);
  return q;
}

/* A packet: |first|, the remaining length |rl| encoded in |rl_bytes| bytes
 * (minimal when that is its minimal length, else padded with continued
 * zero groups, which MQTT forbids but mqgate reads), and |rl| body bytes. */
static uint8_t *make_packet(uint8_t first, uint32_t rl, size_t rl_bytes, size_t *len) {
  size_t n = 1 + rl_bytes + rl;
  uint8_t *p = malloc(n);
  ASSERT(p != NULL);
  p[0] = first;
  uint32_t v = rl;
  for (size_t i = 0; i < rl_bytes; i++) {
    p[1 + i] = (uint8_t)(v & 0x7f) | (i + 1 < rl_bytes ? 0x80 : 0);
    v >>= 7;
  }
  ASSERT_EQ(v, 0);
  for (size_t i = 0; i < rl; i++)
    p[1 + rl_bytes + i] = (uint8_t)(i * 7 + 1);
  *len = n;
  return p;
}

/* The specification, read plainly: what the framer must answer for |len|
 * bytes at |p| under |max|. */
static mqg_parse_status reference(const uint8_t *p, size_t len, size_t max, size_t *hlen,
                                  size_t *plen, mqg_frame_err *err) {
  *hlen = *plen = 0;
  *err = MQG_FRAME_ERR_NONE;
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
      if (*plen > max) {
        *err = MQG_FRAME_ERR_TOO_LARGE;
        return MQG_PARSE_ERROR;
      }
      return len >= *plen ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE;
    }
  }
  *err = MQG_FRAME_ERR_REMAINING_LENGTH;
  return MQG_PARSE_ERROR;
}

/* Frames |len| bytes of |p| (copied to a buffer of exactly that size) and
 * checks the answer against the reference. Returns the status. */
static mqg_parse_status check_frame(const uint8_t *p, size_t len, size_t max) {
  uint8_t *q = dup_exact(p, len);
  mqg_frame f;
  mqg_frame_err err = (mqg_frame_err)99;
  size_t hlen, plen;
  mqg_frame_err want_err;
  mqg_parse_status want = reference(q, len, max, &hlen, &plen, &want_err);
  mqg_parse_status st = mqg_mqtt_frame(q, len, max, &f, &err);
  ASSERT_EQ(st, want);
  ASSERT_EQ(err, want_err);
  ASSERT_EQ(f.first, len ? q[0] : 0);
  ASSERT_EQ(f.header_len, hlen);
  ASSERT_EQ(f.packet_len, plen);
  free(q);
  return st;
}

/* The packets of the tests: every remaining-length size, minimal and not. */
static const struct {
  uint8_t first;
  uint32_t rl;
  size_t rl_bytes;
} packets[] = {
    {0xe0, 0, 1},       /* DISCONNECT */
    {0x20, 2, 1},       /* CONNACK, 3.1.1 */
    {0x10, 127, 1},     /* the largest 1-byte length */
    {0x30, 128, 2},     /* the smallest 2-byte length */
    {0x32, 16383, 2},   /* the largest 2-byte length */
    {0x30, 16384, 3},   /* the smallest 3-byte length */
    {0x10, 0, 2},       /* non-minimal: 0x80 0x00 */
    {0x20, 3, 4},       /* non-minimal: 0x83 0x80 0x80 0x00 */
    {0x30, 2097152, 4}, /* the smallest 4-byte length */
};

TEST_IMPL(frame_whole) {
  for (size_t i = 0; i < COUNT(packets); i++) {
    size_t len;
    uint8_t *p = make_packet(packets[i].first, packets[i].rl, packets[i].rl_bytes, &len);
    mqg_frame f;
    mqg_frame_err err;
    uint8_t *q = dup_exact(p, len);
    ASSERT_EQ(mqg_mqtt_frame(q, len, len, &f, &err), MQG_PARSE_OK);
    ASSERT_EQ(err, MQG_FRAME_ERR_NONE);
    ASSERT_EQ(f.first, packets[i].first);
    ASSERT_EQ(f.header_len, 1 + packets[i].rl_bytes);
    ASSERT_EQ(f.packet_len, len);
    free(q);
    ASSERT_EQ(check_frame(p, len, SIZE_MAX), MQG_PARSE_OK);
    free(p);
  }
  /* Pipelined: the first packet is framed, the bytes after it are the
   * next one's. */
  static const uint8_t two[] = {0x20, 0x02, 0x00, 0x00, 0x30, 0x03, 0x00, 0x01, 't'};
  uint8_t *q = dup_exact(two, sizeof(two));
  mqg_frame f;
  mqg_frame_err err;
  ASSERT_EQ(mqg_mqtt_frame(q, sizeof(two), 64, &f, &err), MQG_PARSE_OK);
  ASSERT_EQ(f.packet_len, 4);
  ASSERT_EQ(mqg_mqtt_frame(q + 4, sizeof(two) - 4, 64, &f, &err), MQG_PARSE_OK);
  ASSERT_EQ(f.first, 0x30);
  ASSERT_EQ(f.header_len, 2);
  ASSERT_EQ(f.packet_len, 5);
  free(q);
  return 0;
}

TEST_IMPL(frame_split) {
  /* Received one byte at a time: NEED_MORE until the last byte, the
   * length known from the end of the fixed header on. */
  for (size_t i = 0; i < COUNT(packets); i++) {
    size_t len;
    uint8_t *p = make_packet(packets[i].first, packets[i].rl, packets[i].rl_bytes, &len);
    size_t hlen = 1 + packets[i].rl_bytes;
    /* Past the header the answer only changes at the end: look at every
     * byte of small packets, at the start and the end of large ones. */
    for (size_t k = 0; k < len; k++) {
      if (len > 4096 && k > 64 && k < len - 64)
        continue;
      uint8_t *q = dup_exact(p, k);
      mqg_frame f;
      mqg_frame_err err;
      ASSERT_EQ(mqg_mqtt_frame(q, k, SIZE_MAX, &f, &err), MQG_PARSE_NEED_MORE);
      ASSERT_EQ(err, MQG_FRAME_ERR_NONE);
      ASSERT_EQ(f.first, k ? p[0] : 0);
      ASSERT_EQ(f.header_len, k < hlen ? 0 : hlen);
      ASSERT_EQ(f.packet_len, k < hlen ? 0 : len);
      free(q);
    }
    ASSERT_EQ(check_frame(p, len, len), MQG_PARSE_OK);
    free(p);
  }
  return 0;
}

TEST_IMPL(frame_truncated_and_limits) {
  static const struct {
    const char *p;
    size_t n, max;
    mqg_parse_status st;
    mqg_frame_err err;
    size_t hlen, plen;
  } rows[] = {
      {"", 0, 100, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 0, 0},
      {"\x30", 1, 100, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 0, 0},
      {"\x30\x80", 2, 100, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 0, 0},
      {"\x30\xff\xff\xff", 4, SIZE_MAX, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 0, 0},
      /* Four continued length bytes: malformed, whatever follows. */
      {"\x30\xff\xff\xff\xff", 5, SIZE_MAX, MQG_PARSE_ERROR, MQG_FRAME_ERR_REMAINING_LENGTH, 0, 0},
      {"\x30\x80\x80\x80\x80\x01", 6, SIZE_MAX, MQG_PARSE_ERROR, MQG_FRAME_ERR_REMAINING_LENGTH, 0,
       0},
      /* The largest length: known at once, too large for a limit. */
      {"\x30\xff\xff\xff\x7f", 5, SIZE_MAX, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 5,
       5 + 268435455u},
      {"\x30\xff\xff\xff\x7f", 5, 1 << 20, MQG_PARSE_ERROR, MQG_FRAME_ERR_TOO_LARGE, 5,
       5 + 268435455u},
      /* The limit is on the whole packet, header included. */
      {"\x30\x81\x01", 3, 131, MQG_PARSE_ERROR, MQG_FRAME_ERR_TOO_LARGE, 3, 132},
      {"\x30\x81\x01", 3, 132, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 3, 132},
      {"\xe0\x00", 2, 2, MQG_PARSE_OK, MQG_FRAME_ERR_NONE, 2, 2},
      {"\xe0\x00", 2, 1, MQG_PARSE_ERROR, MQG_FRAME_ERR_TOO_LARGE, 2, 2},
      {"\xe0\x00", 2, 0, MQG_PARSE_ERROR, MQG_FRAME_ERR_TOO_LARGE, 2, 2},
      /* Truncated bodies. */
      {"\x20\x02\x00", 3, 100, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 2, 4},
      {"\x20\x02", 2, 100, MQG_PARSE_NEED_MORE, MQG_FRAME_ERR_NONE, 2, 4},
  };
  for (size_t i = 0; i < COUNT(rows); i++) {
    uint8_t *q = dup_exact(rows[i].p, rows[i].n);
    mqg_frame f;
    mqg_frame_err err;
    ASSERT_EQ(mqg_mqtt_frame(q, rows[i].n, rows[i].max, &f, &err), rows[i].st);
    ASSERT_EQ(err, rows[i].err);
    ASSERT_EQ(f.header_len, rows[i].hlen);
    ASSERT_EQ(f.packet_len, rows[i].plen);
    free(q);
    ASSERT_EQ(check_frame((const uint8_t *)rows[i].p, rows[i].n, rows[i].max), rows[i].st);
  }
  return 0;
}

TEST_IMPL(frame_corrupted) {
  /* Every byte of every packet's first 8, replaced by a few values: the
   * framer agrees with the reference each time. */
  static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff};
  size_t checked = 0;
  for (size_t i = 0; i < COUNT(packets); i++) {
    size_t len;
    uint8_t *p = make_packet(packets[i].first, packets[i].rl, packets[i].rl_bytes, &len);
    for (size_t at = 0; at < len && at < 8; at++) {
      uint8_t keep = p[at];
      for (size_t v = 0; v < COUNT(values); v++) {
        p[at] = values[v];
        for (size_t max = 0; max < 3; max++) {
          static const size_t maxes[] = {SIZE_MAX, 200, 2};
          /* Whole, and cut right after the corrupted byte. */
          check_frame(p, len, maxes[max]);
          check_frame(p, at + 1, maxes[max]);
          checked += 2;
        }
      }
      p[at] = keep;
    }
    free(p);
  }
  /* Random bytes, from a fixed seed. */
  uint32_t x = 2463534242u;
  uint8_t buf[8];
  for (int n = 0; n < 20000; n++) {
    for (size_t k = 0; k < sizeof(buf); k++) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      buf[k] = (uint8_t)x;
    }
    check_frame(buf, 1 + n % sizeof(buf), n % 3 == 0 ? 64 : SIZE_MAX);
    checked++;
  }
  ASSERT(checked > 20000);
  return 0;
}

TEST_IMPL(frame_put_header) {
  static const struct {
    size_t rl;
    const char *enc;
    size_t n;
  } rows[] = {
      {0, "\x30\x00", 2},
      {127, "\x30\x7f", 2},
      {128, "\x30\x80\x01", 3},
      {16383, "\x30\xff\x7f", 3},
      {16384, "\x30\x80\x80\x01", 4},
      {2097151, "\x30\xff\xff\x7f", 4},
      {2097152, "\x30\x80\x80\x80\x01", 5},
      {268435455, "\x30\xff\xff\xff\x7f", 5},
  };
  CBB cbb;
  for (size_t i = 0; i < COUNT(rows); i++) {
    ASSERT(CBB_init(&cbb, 0));
    ASSERT_EQ(mqg_mqtt_put_header(&cbb, 0x30, rows[i].rl), 1);
    ASSERT_EQ(CBB_len(&cbb), rows[i].n);
    ASSERT_MEM_EQ(CBB_data(&cbb), rows[i].enc, rows[i].n);
    ASSERT_EQ(mqg_mqtt_varint_len((uint32_t)rows[i].rl), rows[i].n - 1);
    /* What is written frames back to the same header. */
    mqg_frame f;
    mqg_frame_err err;
    ASSERT_EQ(mqg_mqtt_frame(CBB_data(&cbb), CBB_len(&cbb), SIZE_MAX, &f, &err),
              rows[i].rl == 0 ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE);
    ASSERT_EQ(f.header_len, rows[i].n);
    ASSERT_EQ(f.packet_len, rows[i].n + rows[i].rl);
    CBB_cleanup(&cbb);
  }
  /* Too long for MQTT: refused, nothing written. */
  ASSERT(CBB_init(&cbb, 0));
  ASSERT(CBB_add_u8(&cbb, 0xaa));
  ASSERT_EQ(mqg_mqtt_put_header(&cbb, 0x30, 268435456u), 0);
  ASSERT_EQ(mqg_mqtt_put_header(&cbb, 0x30, SIZE_MAX), 0);
  ASSERT_EQ(CBB_len(&cbb), 1);
  CBB_cleanup(&cbb);
  /* A full fixed buffer fails. */
  uint8_t small[2];
  ASSERT(CBB_init_fixed(&cbb, small, sizeof(small)));
  ASSERT_EQ(mqg_mqtt_put_header(&cbb, 0x30, 128), 0);
  CBB_cleanup(&cbb);
  return 0;
}

/* The property table of MQTT 5 section 2.2.2.2, written out again. */
static const struct {
  uint8_t id, type, where;
} spec_props[] = {
    {0x01, MQG_PROP_BYTE, MQG_PROP_IN_PUBLISH | MQG_PROP_IN_WILL},
    {0x02, MQG_PROP_U32, MQG_PROP_IN_PUBLISH | MQG_PROP_IN_WILL},
    {0x03, MQG_PROP_UTF8, MQG_PROP_IN_PUBLISH | MQG_PROP_IN_WILL},
    {0x08, MQG_PROP_UTF8, MQG_PROP_IN_PUBLISH | MQG_PROP_IN_WILL},
    {0x09, MQG_PROP_BINARY, MQG_PROP_IN_PUBLISH | MQG_PROP_IN_WILL},
    {0x0b, MQG_PROP_VARINT, MQG_PROP_IN_PUBLISH | MQG_PROP_IN_SUBSCRIBE},
    {0x11, MQG_PROP_U32, MQG_PROP_IN_CONNECT | MQG_PROP_IN_CONNACK | MQG_PROP_IN_DISCONNECT},
    {0x12, MQG_PROP_UTF8, MQG_PROP_IN_CONNACK},
    {0x13, MQG_PROP_U16, MQG_PROP_IN_CONNACK},
    {0x15, MQG_PROP_UTF8, MQG_PROP_IN_CONNECT | MQG_PROP_IN_CONNACK | MQG_PROP_IN_AUTH},
    {0x16, MQG_PROP_BINARY, MQG_PROP_IN_CONNECT | MQG_PROP_IN_CONNACK | MQG_PROP_IN_AUTH},
    {0x17, MQG_PROP_BYTE, MQG_PROP_IN_CONNECT},
    {0x18, MQG_PROP_U32, MQG_PROP_IN_WILL},
    {0x19, MQG_PROP_BYTE, MQG_PROP_IN_CONNECT},
    {0x1a, MQG_PROP_UTF8, MQG_PROP_IN_CONNACK},
    {0x1c, MQG_PROP_UTF8, MQG_PROP_IN_CONNACK | MQG_PROP_IN_DISCONNECT},
    {0x1f, MQG_PROP_UTF8,
     MQG_PROP_IN_CONNACK | MQG_PROP_IN_ACK | MQG_PROP_IN_DISCONNECT | MQG_PROP_IN_AUTH},
    {0x21, MQG_PROP_U16, MQG_PROP_IN_CONNECT | MQG_PROP_IN_CONNACK},
    {0x22, MQG_PROP_U16, MQG_PROP_IN_CONNECT | MQG_PROP_IN_CONNACK},
    {0x23, MQG_PROP_U16, MQG_PROP_IN_PUBLISH},
    {0x24, MQG_PROP_BYTE, MQG_PROP_IN_CONNACK},
    {0x25, MQG_PROP_BYTE, MQG_PROP_IN_CONNACK},
    {0x26, MQG_PROP_PAIR, 0xff},
    {0x27, MQG_PROP_U32, MQG_PROP_IN_CONNECT | MQG_PROP_IN_CONNACK},
    {0x28, MQG_PROP_BYTE, MQG_PROP_IN_CONNACK},
    {0x29, MQG_PROP_BYTE, MQG_PROP_IN_CONNACK},
    {0x2a, MQG_PROP_BYTE, MQG_PROP_IN_CONNACK},
};

TEST_IMPL(frame_prop_table) {
  size_t found = 0;
  for (uint32_t id = 0; id < 0x200; id++) {
    const mqg_prop_rule *r = mqg_mqtt_prop_rule(id);
    size_t k = 0;
    while (k < COUNT(spec_props) && spec_props[k].id != id)
      k++;
    if (k == COUNT(spec_props)) {
      ASSERT(r == NULL);
      continue;
    }
    found++;
    ASSERT(r != NULL);
    ASSERT_EQ(r->type, spec_props[k].type);
    ASSERT_EQ(r->where, spec_props[k].where);
  }
  ASSERT_EQ(found, 27);
  ASSERT(mqg_mqtt_prop_rule(UINT32_MAX) == NULL);
  /* The value rules a CONNECT is checked against. */
  ASSERT_EQ(mqg_mqtt_prop_rule(0x17)->check, MQG_PROP_CHECK_BOOL);
  ASSERT_EQ(mqg_mqtt_prop_rule(0x19)->check, MQG_PROP_CHECK_BOOL);
  ASSERT_EQ(mqg_mqtt_prop_rule(0x01)->check, MQG_PROP_CHECK_BOOL);
  ASSERT_EQ(mqg_mqtt_prop_rule(0x21)->check, MQG_PROP_CHECK_NONZERO);
  ASSERT_EQ(mqg_mqtt_prop_rule(0x27)->check, MQG_PROP_CHECK_NONZERO);
  ASSERT_EQ(mqg_mqtt_prop_rule(0x11)->check, 0);
  ASSERT_EQ(mqg_mqtt_prop_rule(MQG_PROP_USER)->check, 0);
  return 0;
}

/* A value of each type, and how many bytes it takes. */
static const struct {
  uint8_t type;
  const char *p;
  size_t n;
  uint32_t num;
} values[] = {
    {MQG_PROP_BYTE, "\x01", 1, 1},
    {MQG_PROP_U16, "\x01\x02", 2, 0x102},
    {MQG_PROP_U32, "\x01\x02\x03\x04", 4, 0x1020304},
    {MQG_PROP_VARINT, "\x80\x80\x01", 3, 16384},
    {MQG_PROP_UTF8, "\x00\x03" "a\xc3\xa9", 5, 0},
    {MQG_PROP_BINARY, "\x00\x02\xff\x00", 4, 0},
    {MQG_PROP_PAIR, "\x00\x01k\x00\x02vv", 7, 0},
};

TEST_IMPL(frame_prop_value) {
  for (size_t i = 0; i < COUNT(values); i++) {
    /* Whole, with a byte after it that is not read. */
    uint8_t *q = dup_exact(values[i].p, values[i].n + 1);
    q[values[i].n] = 0x7e;
    CBS list;
    mqg_prop_value v;
    CBS_init(&list, q, values[i].n + 1);
    ASSERT_EQ(mqg_mqtt_prop_value(&list, values[i].type, 1, &v), MQG_PROP_VALUE_OK);
    ASSERT_EQ(CBS_len(&list), 1);
    ASSERT_EQ(v.num, values[i].num);
    if (values[i].type == MQG_PROP_UTF8)
      ASSERT(CBS_mem_equal(&v.str, (const uint8_t *)"a\xc3\xa9", 3));
    if (values[i].type == MQG_PROP_PAIR)
      ASSERT(CBS_mem_equal(&v.str, (const uint8_t *)"k", 1) &&
             CBS_mem_equal(&v.str2, (const uint8_t *)"vv", 2));
    free(q);
    /* Truncated at every byte: short, never read past the end. */
    for (size_t k = 0; k < values[i].n; k++) {
      q = dup_exact(values[i].p, k);
      CBS_init(&list, q, k);
      ASSERT_EQ(mqg_mqtt_prop_value(&list, values[i].type, 1, &v), MQG_PROP_VALUE_SHORT);
      free(q);
    }
  }
  /* No such type. */
  CBS list;
  mqg_prop_value v;
  CBS_init(&list, (const uint8_t *)"\x00\x00\x00\x00", 4);
  ASSERT_EQ(mqg_mqtt_prop_value(&list, 0, 1, &v), MQG_PROP_VALUE_SHORT);
  ASSERT_EQ(mqg_mqtt_prop_value(&list, 99, 1, &v), MQG_PROP_VALUE_SHORT);
  /* A variable byte integer of four continued bytes is no value. */
  CBS_init(&list, (const uint8_t *)"\x80\x80\x80\x80\x01", 5);
  ASSERT_EQ(mqg_mqtt_prop_value(&list, MQG_PROP_VARINT, 1, &v), MQG_PROP_VALUE_SHORT);
  /* UTF-8: checked when asked, and only for strings, not binary data. */
  static const struct {
    uint8_t type;
    const char *p;
    size_t n;
    mqg_prop_value_status checked, unchecked;
  } utf8[] = {
      {MQG_PROP_UTF8, "\x00\x01\x00", 3, MQG_PROP_VALUE_UTF8, MQG_PROP_VALUE_OK},
      {MQG_PROP_UTF8, "\x00\x02\xc0\xaf", 4, MQG_PROP_VALUE_UTF8, MQG_PROP_VALUE_OK},
      {MQG_PROP_UTF8, "\x00\x03\xed\xa0\x80", 5, MQG_PROP_VALUE_UTF8, MQG_PROP_VALUE_OK},
      {MQG_PROP_BINARY, "\x00\x02\xc0\xaf", 4, MQG_PROP_VALUE_OK, MQG_PROP_VALUE_OK},
      /* A pair: each string as it is read, so a bad first string is found
       * before a short second one. */
      {MQG_PROP_PAIR, "\x00\x01\xff\x00\x05" "ab", 7, MQG_PROP_VALUE_UTF8,
       MQG_PROP_VALUE_SHORT},
      {MQG_PROP_PAIR, "\x00\x01k\x00\x01\xff", 6, MQG_PROP_VALUE_UTF8, MQG_PROP_VALUE_OK},
      {MQG_PROP_PAIR, "\x00\x01k\x00\x05" "ab", 7, MQG_PROP_VALUE_SHORT, MQG_PROP_VALUE_SHORT},
  };
  for (size_t i = 0; i < COUNT(utf8); i++) {
    uint8_t *q = dup_exact(utf8[i].p, utf8[i].n);
    CBS_init(&list, q, utf8[i].n);
    ASSERT_EQ(mqg_mqtt_prop_value(&list, utf8[i].type, 1, &v), utf8[i].checked);
    CBS_init(&list, q, utf8[i].n);
    ASSERT_EQ(mqg_mqtt_prop_value(&list, utf8[i].type, 0, &v), utf8[i].unchecked);
    free(q);
  }
  return 0;
}

/* A property list with one of every property MQTT 5 defines, in order;
 * |ends| gets where each property ends. */
static uint8_t *all_props(size_t *len, size_t ends[32], size_t *count) {
  CBB cbb;
  ASSERT(CBB_init(&cbb, 0));
  *count = 0;
  for (size_t i = 0; i < COUNT(spec_props); i++) {
    ASSERT(CBB_add_u8(&cbb, spec_props[i].id));
    for (size_t k = 0; k < COUNT(values); k++)
      if (values[k].type == spec_props[i].type)
        ASSERT(CBB_add_bytes(&cbb, (const uint8_t *)values[k].p, values[k].n));
    ends[(*count)++] = CBB_len(&cbb);
  }
  uint8_t *out;
  ASSERT(CBB_finish(&cbb, &out, len));
  uint8_t *p = dup_exact(out, *len);
  OPENSSL_free(out);
  return p;
}

/* Walks |len| bytes of |p| with mqg_mqtt_prop_skip: the number of
 * properties read, -1 if one failed. Never reads past |len|. */
static int walk(const uint8_t *p, size_t len, uint32_t *ids) {
  uint8_t *q = dup_exact(p, len);
  CBS list;
  int n = 0;
  CBS_init(&list, q, len);
  while (CBS_len(&list) > 0) {
    uint32_t id;
    size_t before = CBS_len(&list);
    if (!mqg_mqtt_prop_skip(&list, &id)) {
      n = -1;
      break;
    }
    ASSERT(CBS_len(&list) < before);
    if (ids != NULL)
      ids[n] = id;
    n++;
  }
  free(q);
  return n;
}

TEST_IMPL(frame_prop_skip) {
  size_t len, ends[32], count;
  uint8_t *p = all_props(&len, ends, &count);
  uint32_t ids[32];
  /* Whole: every identifier, in order. */
  ASSERT_EQ(walk(p, len, ids), (int)count);
  for (size_t i = 0; i < count; i++)
    ASSERT_EQ(ids[i], spec_props[i].id);
  /* Cut at every byte: whole properties before the cut are read; a cut
   * inside one fails. */
  for (size_t k = 0; k < len; k++) {
    size_t whole = 0;
    while (whole < count && ends[whole] <= k)
      whole++;
    int at_boundary = whole == 0 ? k == 0 : ends[whole - 1] == k;
    ASSERT_EQ(walk(p, k, NULL), at_boundary ? (int)whole : -1);
  }
  /* Corrupted: every byte replaced by a few values; the walk ends either
   * way, within the list (AddressSanitizer would see an over-read). */
  static const uint8_t bad[] = {0x00, 0x04, 0x2b, 0x7f, 0x80, 0xff};
  for (size_t at = 0; at < len; at++) {
    uint8_t keep = p[at];
    for (size_t v = 0; v < COUNT(bad); v++) {
      p[at] = bad[v];
      int n = walk(p, len, NULL);
      ASSERT(n >= -1 && n <= (int)len);
    }
    p[at] = keep;
  }
  free(p);
  /* Identifiers MQTT 5 does not define: the length cannot be known. */
  static const struct {
    const char *p;
    size_t n;
  } unknown[] = {
      {"\x00\x00", 2}, {"\x04\x00", 2}, {"\x2b\x00", 2}, {"\x7f\x00", 2},
      {"\x80\x01\x00", 3}, /* 128, as a two-byte identifier */
      {"\x80", 1},         /* an identifier cut short */
  };
  for (size_t i = 0; i < COUNT(unknown); i++)
    ASSERT_EQ(walk((const uint8_t *)unknown[i].p, unknown[i].n, NULL), -1);
  /* A non-minimal identifier is still the property it names. */
  ASSERT_EQ(walk((const uint8_t *)"\x81\x00\x01", 3, ids), 1);
  ASSERT_EQ(ids[0], 0x01);
  return 0;
}
