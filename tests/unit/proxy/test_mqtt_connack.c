/* Tests of proxy/mqtt_connack.c: refusal CONNACKs for each level, framing
 * of the broker's CONNACK, and adding the Assigned Client Identifier. */
#include "task.h"

#include <stdint.h>

#include <openssl/bytestring.h>

#include "mqtt_connack.h"

static uint8_t *dup_exact(const void *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  ASSERT(q != NULL);
  if (n)
    memcpy(q, p, n);
  return q;
}

static void expect_build(uint8_t level, uint8_t code, const char *want,
                         size_t n) {
  CBB cbb;
  ASSERT(CBB_init(&cbb, 0));
  ASSERT_EQ(mqg_connack_build(level, code, &cbb), 1);
  ASSERT_EQ(CBB_len(&cbb), n);
  ASSERT_MEM_EQ(CBB_data(&cbb), want, n);
  CBB_cleanup(&cbb);
}

TEST_IMPL(connack_build) {
  expect_build(3, 0x05, "\x20\x02\x00\x05", 4);
  expect_build(4, 0x01, "\x20\x02\x00\x01", 4);
  expect_build(4, 0x00, "\x20\x02\x00\x00", 4);
  expect_build(5, 0x87, "\x20\x03\x00\x87\x00", 5);
  expect_build(5, 0x84, "\x20\x03\x00\x84\x00", 5);
  /* An unsupported level: 3.1.1 layout below 5, MQTT 5 layout above, as
   * mqg_reason_connack_code picks the code. */
  expect_build(0, 0x01, "\x20\x02\x00\x01", 4);
  expect_build(6, 0x84, "\x20\x03\x00\x84\x00", 5);
  ASSERT_EQ(mqg_reason_connack_code(MQG_REASON_PROTOCOL_VERSION, 2), 0x01);
  ASSERT_EQ(mqg_reason_connack_code(MQG_REASON_PROTOCOL_VERSION, 6), 0x84);
  /* Appends to what is there; fails on a full fixed buffer. */
  CBB cbb;
  uint8_t buf[6];
  ASSERT(CBB_init_fixed(&cbb, buf, sizeof(buf)));
  ASSERT(CBB_add_u8(&cbb, 0xaa));
  ASSERT_EQ(mqg_connack_build(5, 0x00, &cbb), 1);
  ASSERT_MEM_EQ(CBB_data(&cbb), "\xaa\x20\x03\x00\x00\x00", 6);
  ASSERT_EQ(mqg_connack_build(4, 0x00, &cbb), 0);
  CBB_cleanup(&cbb);
  return 0;
}

static void expect_frame(const char *p, size_t n, size_t max,
                         mqg_parse_status st, size_t want_len) {
  size_t plen = 12345;
  uint8_t *q = dup_exact(p, n);
  ASSERT_EQ(mqg_connack_frame(q, n, max, &plen), st);
  if (st != MQG_PARSE_ERROR)
    ASSERT_EQ(plen, want_len);
  free(q);
}

/* check_split feeds |p| whole, with later bytes after it, and in every
 * prefix. */
static void check_split(const uint8_t *p, size_t n, size_t header_len) {
  size_t plen;
  uint8_t *q = dup_exact(p, n);
  ASSERT_EQ(mqg_connack_frame(q, n, n, &plen), MQG_PARSE_OK);
  ASSERT_EQ(plen, n);
  ASSERT_EQ(mqg_connack_frame(q, n, n - 1, &plen), MQG_PARSE_ERROR);
  free(q);
  for (size_t k = 0; k < n; k++) {
    q = dup_exact(p, k);
    ASSERT_EQ(mqg_connack_frame(q, k, n, &plen), MQG_PARSE_NEED_MORE);
    ASSERT_EQ(plen, k < header_len ? 0 : n);
    free(q);
  }
  q = malloc(n + 3);
  memcpy(q, p, n);
  memcpy(q + n, "\x30\x7f\x00", 3);
  ASSERT_EQ(mqg_connack_frame(q, n + 3, n, &plen), MQG_PARSE_OK);
  ASSERT_EQ(plen, n);
  free(q);
}

TEST_IMPL(connack_frame) {
  check_split((const uint8_t *)"\x20\x02\x00\x00", 4, 2);
  check_split((const uint8_t *)"\x20\x03\x00\x00\x00", 5, 2);
  uint8_t big[3 + 200] = {0x20, 0xc8, 0x01, 0x00, 0x00, 0xc5, 0x01};
  check_split(big, sizeof(big), 3);

  expect_frame("", 0, 100, MQG_PARSE_NEED_MORE, 0);
  /* Not a CONNACK: other types, or flags. */
  static const char not_connack[] = "\x10\x21\x22\x28\x30\x90\xd0\xe0\x00\xff";
  for (size_t i = 0; i < sizeof(not_connack) - 1; i++)
    expect_frame(&not_connack[i], 1, 100, MQG_PARSE_ERROR, 0);
  expect_frame("\x20\xff\xff\xff\xff", 5, SIZE_MAX, MQG_PARSE_ERROR, 0);
  expect_frame("\x20\xff\xff\xff", 4, SIZE_MAX, MQG_PARSE_NEED_MORE, 0);
  expect_frame("\x20\xff\xff\xff\x7f", 5, SIZE_MAX, MQG_PARSE_NEED_MORE,
               5 + 268435455u);
  expect_frame("\x20\xff\xff\xff\x7f", 5, 65536, MQG_PARSE_ERROR, 0);
  expect_frame("\x20\x81\x01", 3, 131, MQG_PARSE_ERROR, 0);
  expect_frame("\x20\x81\x01", 3, 132, MQG_PARSE_NEED_MORE, 132);
  expect_frame("\x20\x00", 2, 2, MQG_PARSE_OK, 2);
  return 0;
}

/* add_id runs mqg_connack_add_assigned_id on an exact copy of |p|; returns
 * its result, with the output in |*out| (heap) and |*out_len|. */
static int add_id(const void *p, size_t n, const char *id, uint8_t **out,
                  size_t *out_len) {
  CBB cbb;
  uint8_t *q = dup_exact(p, n);
  ASSERT(CBB_init(&cbb, 0));
  int ok = mqg_connack_add_assigned_id(q, n, (const uint8_t *)id, strlen(id),
                                       &cbb);
  *out_len = CBB_len(&cbb);
  *out = dup_exact(CBB_data(&cbb), *out_len);
  CBB_cleanup(&cbb);
  free(q);
  return ok;
}

static void expect_added(const char *in, size_t n, const char *id,
                         const char *want, size_t want_n) {
  uint8_t *o;
  size_t olen, plen;
  ASSERT_EQ(add_id(in, n, id, &o, &olen), 1);
  ASSERT_EQ(olen, want_n);
  ASSERT_MEM_EQ(o, want, want_n);
  /* The result frames as one CONNACK and leaves it as it is. */
  ASSERT_EQ(mqg_connack_frame(o, olen, olen, &plen), MQG_PARSE_OK);
  ASSERT_EQ(plen, olen);
  uint8_t *again;
  size_t alen;
  ASSERT_EQ(add_id(o, olen, "other", &again, &alen), 1);
  ASSERT_EQ(alen, olen);
  ASSERT_MEM_EQ(again, o, olen);
  free(again);
  free(o);
}

static void expect_malformed(const char *in, size_t n) {
  uint8_t *o;
  size_t olen;
  ASSERT_EQ(add_id(in, n, "id", &o, &olen), 0);
  free(o);
}

TEST_IMPL(connack_assigned_id_minimal) {
  expect_added("\x20\x03\x00\x00\x00", 5, "dev-7",
               "\x20\x0b\x00\x00\x08\x12\x00\x05"
               "dev-7",
               13);
  /* Session present is kept. */
  expect_added("\x20\x03\x01\x00\x00", 5, "a",
               "\x20\x07\x01\x00\x04\x12\x00\x01"
               "a",
               9);
  /* An empty identifier is still a property. */
  expect_added("\x20\x03\x00\x00\x00", 5, "",
               "\x20\x06\x00\x00\x03\x12\x00\x00", 8);
  /* No property length at all (remaining length 2) reads as empty. */
  expect_added("\x20\x02\x00\x00", 4, "dev-7",
               "\x20\x0b\x00\x00\x08\x12\x00\x05"
               "dev-7",
               13);
  return 0;
}

TEST_IMPL(connack_assigned_id_props) {
  /* Receive maximum, a user property, a reason string, maximum QoS,
   * retain available, maximum packet size, server keep alive: kept in
   * their order, the identifier goes last. */
  static const char props[] = "\x21\x00\x0a"
                              "\x26\x00\x01k\x00\x01v"
                              "\x1f\x00\x02ok"
                              "\x24\x01\x25\x00"
                              "\x27\x00\x00\x10\x00"
                              "\x13\x00\x3c";
  size_t pn = sizeof(props) - 1;
  char in[64], want[64];
  ASSERT_EQ(pn, 27);
  memcpy(in, "\x20\x1e\x00\x00\x1b", 5);
  memcpy(in + 5, props, pn);
  memcpy(want, "\x20\x24\x00\x00\x21", 5);
  memcpy(want + 5, props, pn);
  memcpy(want + 5 + pn, "\x12\x00\x03xyz", 6);
  expect_added(in, 5 + pn, "xyz", want, 5 + pn + 6);

  /* Every CONNACK property type walks: session expiry, assigned-id-free
   * string, binary auth data, wildcard/sub-id/shared availability, and a
   * subscription identifier (not a CONNACK property, but well formed). */
  expect_added("\x20\x1a\x00\x00\x17"
               "\x11\x00\x00\x00\x00\x15\x00\x01m\x16\x00\x02\x00\xff"
               "\x28\x01\x29\x01\x2a\x00\x0b\x80\x01",
               28, "i",
               "\x20\x1e\x00\x00\x1b"
               "\x11\x00\x00\x00\x00\x15\x00\x01m\x16\x00\x02\x00\xff"
               "\x28\x01\x29\x01\x2a\x00\x0b\x80\x01"
               "\x12\x00\x01i",
               32);

  /* Both lengths grow from one byte to two: 120 bytes of user property. */
  uint8_t big_in[125], big_want[150];
  big_in[0] = 0x20;
  big_in[1] = 0x7b; /* 2 + 1 + 120 */
  big_in[2] = 0x00;
  big_in[3] = 0x00;
  big_in[4] = 120;
  memcpy(big_in + 5, "\x26\x00\x01k\x00\x72", 6); /* value: 114 bytes */
  memset(big_in + 11, 'v', 114);
  const char *id = "twenty-byte-ident-id";
  /* 120 + 3 + 20 = 143 of properties, 2 + 2 + 143 = 147 remaining. */
  memcpy(big_want, "\x20\x93\x01\x00\x00\x8f\x01", 7);
  memcpy(big_want + 7, big_in + 5, 120);
  memcpy(big_want + 127, "\x12\x00\x14", 3);
  memcpy(big_want + 130, id, 20);
  expect_added((const char *)big_in, 125, id, (const char *)big_want, 150);
  return 0;
}

static void expect_unchanged(const char *in, size_t n) {
  uint8_t *o;
  size_t olen;
  ASSERT_EQ(add_id(in, n, "mine", &o, &olen), 1);
  ASSERT_EQ(olen, n);
  ASSERT_MEM_EQ(o, in, n);
  free(o);
}

TEST_IMPL(connack_assigned_id_unchanged) {
  /* The broker assigned one itself: first, last or alone. */
  expect_unchanged("\x20\x09\x00\x00\x06\x12\x00\x03" "brk", 11);
  expect_unchanged("\x20\x0c\x00\x00\x09\x21\x00\x05\x12\x00\x03" "brk", 14);
  expect_unchanged("\x20\x0c\x00\x00\x09\x12\x00\x03" "brk\x21\x00\x05", 14);
  /* Refusals carry no identifier. */
  expect_unchanged("\x20\x03\x00\x87\x00", 5);
  expect_unchanged("\x20\x03\x00\x80\x00", 5);
  expect_unchanged("\x20\x02\x00\x85", 4);
  expect_unchanged("\x20\x08\x00\x9f\x05\x13\x00\x05\x24\x00", 10);
  /* 0x7f and below are successes in this sense (only 0x00 is defined). */
  uint8_t *o;
  size_t olen;
  ASSERT_EQ(add_id("\x20\x03\x00\x7f\x00", 5, "z", &o, &olen), 1);
  ASSERT_EQ(olen, 9);
  free(o);
  return 0;
}

TEST_IMPL(connack_assigned_id_malformed) {
  expect_malformed("", 0);
  expect_malformed("\x20", 1);
  expect_malformed("\x21\x03\x00\x00\x00", 5);        /* flags */
  expect_malformed("\x10\x03\x00\x00\x00", 5);        /* not a CONNACK */
  expect_malformed("\x20\x04\x00\x00\x00", 5);        /* RL past the end */
  expect_malformed("\x20\x02\x00\x00\x00", 5);        /* bytes after RL */
  expect_malformed("\x20\x80\x80\x80\x80\x00", 6);    /* RL too long */
  expect_malformed("\x20\x01\x00", 3);                /* no reason code */
  expect_malformed("\x20\x00", 2);
  expect_malformed("\x20\x03\x02\x00\x00", 5);        /* reserved ack bits */
  expect_malformed("\x20\x03\x80\x87\x00", 5);
  expect_malformed("\x20\x03\x00\x00\x01", 5);        /* props past the end */
  expect_malformed("\x20\x04\x00\x00\x00\x00", 6);    /* after the props */
  expect_malformed("\x20\x03\x00\x00\x80", 5);        /* props length cut */
  expect_malformed("\x20\x07\x00\x00\x80\x80\x80\x80\x00", 9);
  expect_malformed("\x20\x05\x00\x00\x02\x21\x00", 7); /* value cut */
  expect_malformed("\x20\x05\x00\x00\x02\x12\x00", 7);
  expect_malformed("\x20\x06\x00\x00\x03\x12\x00\x05", 8);
  expect_malformed("\x20\x09\x00\x00\x06\x26\x00\x01k\x00\x01", 11);
  expect_malformed("\x20\x05\x00\x00\x02\x0b\x80", 7);
  expect_malformed("\x20\x05\x00\x00\x02\x7f\x00", 7); /* unknown id */
  expect_malformed("\x20\x05\x00\x00\x02\x00\x00", 7);
  expect_malformed("\x20\x05\x00\x00\x02\x04\x00", 7);
  expect_malformed("\x20\x06\x00\x00\x03\x91\x80\x00", 8);
  /* Malformed even when the reason is a refusal or the ID is there. */
  expect_malformed("\x20\x05\x00\x87\x02\x7f\x00", 7);
  expect_malformed("\x20\x0a\x00\x00\x07\x12\x00\x01x\x7f\x00\x00", 12);
  /* An identifier longer than any MQTT string. */
  static uint8_t id[MQG_CLIENT_ID_MAX + 1];
  CBB cbb;
  ASSERT(CBB_init(&cbb, 0));
  ASSERT_EQ(mqg_connack_add_assigned_id((const uint8_t *)"\x20\x03\x00\x00\x00",
                                        5, id, sizeof(id), &cbb),
            0);
  CBB_cleanup(&cbb);
  ASSERT(CBB_init(&cbb, 0));
  ASSERT_EQ(mqg_connack_add_assigned_id((const uint8_t *)"\x20\x03\x00\x00\x00",
                                        5, id, sizeof(id) - 1, &cbb),
            1);
  /* Both lengths now take 3 bytes. */
  ASSERT_EQ(CBB_len(&cbb), 1 + 3 + 2 + 3 + 3 + MQG_CLIENT_ID_MAX);
  CBB_cleanup(&cbb);
  /* A fixed buffer too small: the CBB fails. */
  uint8_t small[6];
  ASSERT(CBB_init_fixed(&cbb, small, sizeof(small)));
  ASSERT_EQ(mqg_connack_add_assigned_id((const uint8_t *)"\x20\x03\x00\x00\x00",
                                        5, id, 4, &cbb),
            0);
  CBB_cleanup(&cbb);
  return 0;
}

TEST_IMPL(connack_assigned_id_fuzz) {
  /* Every truncation and every single-byte corruption of a rich CONNACK:
   * the result is 1 or 0, and a 1 frames as one packet. */
  static const char pkt[] = "\x20\x1c\x00\x00\x19"
                            "\x21\x00\x0a\x26\x00\x01k\x00\x01v\x1f\x00\x02ok"
                            "\x11\x00\x00\x00\x3c\x16\x00\x02\x01\x02";
  size_t n = sizeof(pkt) - 1;
  ASSERT_EQ(n, 30);
  for (size_t k = 0; k <= n; k++)
    for (size_t i = 0; i <= k; i++)
      for (unsigned m = 0; m < 256; m += (i == k ? 256 : 17)) {
        uint8_t *q = dup_exact(pkt, k);
        if (i < k)
          q[i] ^= (uint8_t)(m | 1);
        uint8_t *o;
        size_t olen, plen;
        int ok = add_id(q, k, "fuzz", &o, &olen);
        ASSERT(ok == 0 || ok == 1);
        if (ok) {
          ASSERT_EQ(mqg_connack_frame(o, olen, olen, &plen), MQG_PARSE_OK);
          ASSERT_EQ(plen, olen);
        }
        if (k < n && i == k)
          ASSERT_EQ(ok, 0); /* truncated */
        free(o);
        free(q);
      }
  return 0;
}
