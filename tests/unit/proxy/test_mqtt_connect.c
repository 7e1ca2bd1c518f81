/* Tests of proxy/mqtt_connect.c, valid packets: every CONNECT shape of MQTT
 * 3.1, 3.1.1 and 5.0 fed whole, split, truncated, corrupted and rewritten,
 * and rewrites that change the remaining length's size. Malformed packets
 * are in test_mqtt_connect_errors.c. */
#include "task.h"

#include "connect_builder.h"

/* --- Every valid shape ---------------------------------------------------- */

static const uint8_t connect_props[] = {
    0x11, 0x00, 0x00, 0x0e, 0x10,                /* session expiry */
    0x21, 0x00, 0x14,                            /* receive maximum */
    0x27, 0x00, 0x01, 0x00, 0x00,                /* maximum packet size */
    0x22, 0x00, 0x0a,                            /* topic alias maximum */
    0x19, 0x01, 0x17, 0x00,                      /* request resp/problem */
    0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',      /* user property */
    0x26, 0x00, 0x01, 'k', 0x00, 0x02, 'v', '2', /* ... repeated */
    0x15, 0x00, 0x04, 'S', 'C', 'R', 'A',        /* auth method */
    0x16, 0x00, 0x03, 0x00, 0xff, 0x80,          /* auth data */
};

static const uint8_t will_props[] = {
    0x18, 0x00, 0x00, 0x00, 0x1e,           /* will delay */
    0x01, 0x01,                             /* payload format */
    0x02, 0x00, 0x00, 0x0e, 0x10,           /* message expiry */
    0x03, 0x00, 0x04, 't', 'e', 'x', 't',   /* content type */
    0x08, 0x00, 0x05, 'r', 'e', 's', 'p', '/', /* response topic */
    0x09, 0x00, 0x02, 0xde, 0xad,           /* correlation data */
    0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', /* user property */
    0x26, 0x00, 0x01, 'a', 0x00, 0x00,      /* ... repeated */
};

static const uint8_t binary_password[] = {0x00, 0xff, 0xc0, 0x80, 'p'};
static const uint8_t binary_payload[] = {0x00, 0xed, 0xa0, 0x80, 0x01};

typedef void (*combo_fn)(const struct built *b);

/* for_each_combo builds every combination of the connect flags and optional
 * fields at |level| (clean session; no will or will QoS 0-2 with and without
 * retain; no credentials, username, both, password alone at level 5; empty
 * and non-empty client ID; MQTT 5 properties and will properties or none)
 * and hands each to |fn|. Returns how many. */
static int for_each_combo(uint8_t level, combo_fn fn) {
  static const uint16_t keepalives[] = {0, 60, 65535};
  int count = 0;
  for (int clean = 0; clean < 2; clean++)
    for (int w = 0; w < 7; w++)
      for (int cred = 0; cred < (level == 5 ? 4 : 3); cred++)
        for (int idv = 0; idv < 2; idv++)
          for (int pv = 0; pv < (level == 5 ? 4 : 1); pv++) {
            if ((pv & 2) && w == 0)
              continue;
            struct cspec s = {.level = level,
                              .keepalive = keepalives[count % 3],
                              .flags = clean ? MQG_CONNECT_FLAG_CLEAN : 0,
                              .id = idv ? B("device-42") : B("")};
            if (w > 0) {
              s.flags |= MQG_CONNECT_FLAG_WILL | ((w - 1) / 2) << 3 |
                         ((w - 1) % 2 ? MQG_CONNECT_FLAG_WILL_RETAIN : 0);
              s.will_topic = B("dev/\xc3\xa9tat");
              s.will_payload = (w % 3) ? BA(binary_payload) : B("");
            }
            if (cred == 1 || cred == 2) {
              s.flags |= MQG_CONNECT_FLAG_USERNAME;
              s.username = (cred == 1) ? B("user") : B("");
            }
            if (cred >= 2) {
              s.flags |= MQG_CONNECT_FLAG_PASSWORD;
              s.password = BA(binary_password);
            }
            if (pv & 1)
              s.props = BA(connect_props);
            if (pv & 2)
              s.will_props = BA(will_props);
            struct built b;
            cb_build(&s, &b);
            fn(&b);
            free(b.buf);
            count++;
          }
  return count;
}

TEST_IMPL(connect_parse_v31) {
  ASSERT_EQ(for_each_combo(3, cb_check_parse), 2 * 7 * 3 * 2);
  return 0;
}

TEST_IMPL(connect_parse_v311) {
  ASSERT_EQ(for_each_combo(4, cb_check_parse), 2 * 7 * 3 * 2);
  return 0;
}

TEST_IMPL(connect_parse_v5) {
  ASSERT_EQ(for_each_combo(5, cb_check_parse), 2 * (2 + 6 * 4) * 4 * 2);
  return 0;
}

static void check_frame(const struct built *b) {
  size_t plen = 99, hl = b->want.header_len;
  mqg_connect_err err = MQG_CONNECT_ERR_TRUNCATED;
  /* Whole, then every prefix, as bytes arrive one by one. */
  for (size_t k = 0; k <= b->len; k++) {
    uint8_t *q = cb_dup_exact(b->buf, k);
    ASSERT_EQ(mqg_connect_frame(q, k, 65536, &plen, &err),
              k == b->len ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE);
    ASSERT_EQ(err, MQG_CONNECT_ERR_NONE);
    ASSERT_EQ(plen, k < hl ? 0 : b->len);
    /* The limit is enforced on the header alone. */
    if (k >= hl) {
      ASSERT_EQ(mqg_connect_frame(q, k, b->len - 1, &plen, &err),
                MQG_PARSE_ERROR);
      ASSERT_EQ(err, MQG_CONNECT_ERR_TOO_LARGE);
      ASSERT_EQ(mqg_connect_frame(q, k, b->len, &plen, &err),
                k == b->len ? MQG_PARSE_OK : MQG_PARSE_NEED_MORE);
    }
    free(q);
  }
  /* Followed by later packets (PINGREQ, and half a PUBLISH). */
  uint8_t *more = malloc(b->len + 4);
  ASSERT(more != NULL);
  memcpy(more, b->buf, b->len);
  memcpy(more + b->len, "\xc0\x00\x30\x05", 4);
  ASSERT_EQ(mqg_connect_frame(more, b->len + 4, b->len, &plen, &err),
            MQG_PARSE_OK);
  ASSERT_EQ(plen, b->len);
  free(more);
}

static void check_truncated(const struct built *b) {
  mqg_connect c;
  mqg_connect_err err;
  size_t hl = b->want.header_len, plen;
  for (size_t k = 0; k < b->len; k++) {
    /* Cut short: the remaining length promises more than there is. */
    ASSERT_EQ(cb_parse_exact(b->buf, k, &c, &err), MQG_PARSE_ERROR);
    ASSERT_EQ(err, MQG_CONNECT_ERR_TRUNCATED);
    if (k < hl)
      continue;
    /* Cut short with the remaining length faked to match, written on the
     * same number of bytes (non-minimal where needed). */
    uint8_t *q = cb_dup_exact(b->buf, k);
    uint32_t v = (uint32_t)(k - hl);
    for (size_t i = 0; i + 1 < hl - 1; i++)
      q[1 + i] = (uint8_t)(((v >> (7 * i)) & 0x7f) | 0x80);
    q[hl - 1] = (uint8_t)(v >> (7 * (hl - 2)));
    ASSERT_EQ(mqg_connect_frame(q, k, k, &plen, &err), MQG_PARSE_OK);
    ASSERT_EQ(plen, k);
    ASSERT_EQ(mqg_connect_parse(q, k, &c, &err), MQG_PARSE_ERROR);
    ASSERT(err != MQG_CONNECT_ERR_NONE);
    free(q);
  }
}

/* check_rewrite_to rewrites |pkt| to |id|, re-parses and checks that all
 * but the client ID and the remaining length is as it was. */
static void check_rewrite_to(const uint8_t *pkt, const mqg_connect *c,
                             struct bytes id) {
  mqg_connect c2;
  mqg_connect_err err;
  size_t olen, head = c->client_id_off - c->header_len;
  size_t tail = c->packet_len - c->rest_off;
  uint8_t *o = cb_rewrite(pkt, c, id.p, id.n, &olen);
  ASSERT(o != NULL);
  ASSERT_EQ(mqg_connect_parse(o, olen, &c2, &err), MQG_PARSE_OK);
  ASSERT_EQ(c2.level, c->level);
  ASSERT_EQ(c2.flags, c->flags);
  ASSERT_EQ(c2.keepalive, c->keepalive);
  ASSERT_EQ(c2.client_id_len, id.n);
  ASSERT_MEM_EQ(mqg_connect_client_id(o, &c2), id.p, id.n);
  /* Before the ID and after it, the bytes are the device's own. */
  ASSERT_EQ(c2.client_id_off - c2.header_len, head);
  ASSERT_MEM_EQ(o + c2.header_len, pkt + c->header_len, head);
  ASSERT_EQ(c2.packet_len - c2.rest_off, tail);
  ASSERT_MEM_EQ(o + c2.rest_off, pkt + c->rest_off, tail);
  ASSERT_EQ(c2.props_len, c->props_len);
  ASSERT_MEM_EQ(o + c2.props_off, pkt + c->props_off, c->props_len);
  ASSERT_EQ(c2.username_len, c->username_len);
  ASSERT_MEM_EQ(o + c2.username_off, pkt + c->username_off, c->username_len);
  ASSERT_EQ(olen - c2.header_len, head + 2 + id.n + tail);
  free(o);
}

static void check_rewrite(const struct built *b) {
  static uint8_t long_id[300];
  memset(long_id, 'L', sizeof(long_id));
  uint8_t *q = cb_dup_exact(b->buf, b->len);
  mqg_connect c;
  mqg_connect_err err;
  size_t olen;
  ASSERT_EQ(mqg_connect_parse(q, b->len, &c, &err), MQG_PARSE_OK);
  check_rewrite_to(q, &c, B(""));
  check_rewrite_to(q, &c, B("x"));
  check_rewrite_to(q, &c, B("CN=sensor-0001.example"));
  check_rewrite_to(q, &c, BA(long_id));
  /* The same ID gives the same bytes. */
  uint8_t *o = cb_rewrite(q, &c, mqg_connect_client_id(q, &c), c.client_id_len,
                       &olen);
  ASSERT(o != NULL);
  ASSERT_EQ(olen, b->len);
  ASSERT_MEM_EQ(o, q, b->len);
  free(o);
  free(q);
}

static void check_corrupt(const struct built *b) {
  for (size_t i = 0; i < b->len; i++)
    for (unsigned bit = 0; bit <= 8; bit++) {
      uint8_t *q = cb_dup_exact(b->buf, b->len);
      mqg_connect c;
      mqg_connect_err err;
      size_t plen;
      q[i] ^= bit == 8 ? 0xff : 1u << bit;
      mqg_connect_frame(q, b->len, 1 << 20, &plen, &err);
      mqg_parse_status st = mqg_connect_parse(q, b->len, &c, &err);
      ASSERT(st == MQG_PARSE_OK || st == MQG_PARSE_ERROR);
      ASSERT_EQ(st == MQG_PARSE_OK, err == MQG_CONNECT_ERR_NONE);
      if (st == MQG_PARSE_OK) {
        /* Whatever got through must still be consistent and rewritable. */
        ASSERT_EQ(c.packet_len, b->len);
        ASSERT_EQ(c.rest_off, c.client_id_off + 2 + c.client_id_len);
        ASSERT(c.rest_off <= c.packet_len);
        ASSERT(c.username_off + c.username_len <= c.packet_len);
        ASSERT(c.props_off + c.props_len <= c.client_id_off);
        check_rewrite_to(q, &c, B("fixed-id"));
      }
      free(q);
    }
}

static void all_levels(combo_fn fn) {
  for (uint8_t level = 3; level <= 5; level++)
    ASSERT(for_each_combo(level, fn) > 0);
}

TEST_IMPL(connect_frame_split) {
  all_levels(check_frame);
  return 0;
}

TEST_IMPL(connect_truncated) {
  all_levels(check_truncated);
  return 0;
}

TEST_IMPL(connect_corrupted) {
  all_levels(check_corrupt);
  return 0;
}

TEST_IMPL(connect_rewrite_all) {
  all_levels(check_rewrite);
  return 0;
}

/* --- Rewrite sizes -------------------------------------------------------- */

static uint8_t *rewrite_built(const uint8_t *pkt, size_t len, struct bytes id,
                              size_t *out_len) {
  mqg_connect c;
  mqg_connect_err err;
  ASSERT_EQ(cb_parse_exact(pkt, len, &c, &err), MQG_PARSE_OK);
  uint8_t *o = cb_rewrite(pkt, &c, id.p, id.n, out_len);
  ASSERT(o != NULL);
  return o;
}

TEST_IMPL(connect_rewrite_grow_shrink) {
  /* 120 bytes with an empty ID: 10 bytes of variable header, the ID's
   * length, and a 104-byte username make a remaining length of 118. */
  uint8_t user[104];
  memset(user, 'u', sizeof(user));
  struct cspec s = {.level = 4,
                    .flags = MQG_CONNECT_FLAG_CLEAN | MQG_CONNECT_FLAG_USERNAME,
                    .keepalive = 30,
                    .username = BA(user)};
  struct built b;
  size_t n, n2;
  cb_build(&s, &b);
  ASSERT_EQ(b.len, 120);
  ASSERT_EQ(b.want.header_len, 2);
  uint8_t *o = rewrite_built(b.buf, b.len, B("01234567890123456789"), &n);
  ASSERT_EQ(n, 141); /* 138 bytes of remaining length, on 2 bytes */
  ASSERT_MEM_EQ(o, "\x10\x8a\x01\x00\x04MQTT\x04\x82\x00\x1e\x00\x14" "0", 16);
  check_rewrite_to(b.buf, &b.want, B("01234567890123456789"));
  /* Shrinking back gives the original bytes. */
  uint8_t *back = rewrite_built(o, n, B(""), &n2);
  ASSERT_EQ(n2, 120);
  ASSERT_MEM_EQ(back, b.buf, 120);
  free(back);
  free(o);
  free(b.buf);

  /* 2 -> 3 bytes of remaining length, MQTT 5 with everything, and back. */
  static uint8_t pw[16000], big_id[1000];
  memset(pw, 0xa5, sizeof(pw));
  memset(big_id, 'i', sizeof(big_id));
  s = (struct cspec){.level = 5,
                     .flags = 0xee, /* user, pass, retained QoS 1 will */
                     .props = BA(connect_props),
                     .id = B("abc"),
                     .will_props = BA(will_props),
                     .will_topic = B("t"),
                     .will_payload = B("bye"),
                     .username = B("u"),
                     .password = BA(pw)};
  cb_build(&s, &b);
  ASSERT_EQ(b.want.header_len, 3);
  o = rewrite_built(b.buf, b.len, BA(big_id), &n);
  ASSERT_EQ(n, b.len + 1 + 997);
  ASSERT_EQ(o[1] & o[2] & 0x80, 0x80);
  ASSERT_EQ(o[3] & 0x80, 0);
  check_rewrite_to(b.buf, &b.want, BA(big_id));
  back = rewrite_built(o, n, B("abc"), &n2);
  ASSERT_EQ(n2, b.len);
  ASSERT_MEM_EQ(back, b.buf, n2);
  free(back);
  free(o);
  free(b.buf);
  return 0;
}

TEST_IMPL(connect_rewrite_limits) {
  struct cspec s = {.level = 4, .flags = MQG_CONNECT_FLAG_CLEAN, .id = B("a")};
  struct built b;
  size_t n;
  static uint8_t id[MQG_CLIENT_ID_MAX + 1];
  cb_build(&s, &b);
  /* The longest ID fits; one more byte does not. */
  uint8_t *o = cb_rewrite(b.buf, &b.want, id, MQG_CLIENT_ID_MAX, &n);
  ASSERT(o != NULL);
  ASSERT_EQ(n, 4 + 12 + MQG_CLIENT_ID_MAX);
  free(o);
  ASSERT(cb_rewrite(b.buf, &b.want, id, MQG_CLIENT_ID_MAX + 1, &n) == NULL);
  /* A fixed buffer too small: the CBB fails. */
  CBB cbb;
  uint8_t small[8];
  ASSERT(CBB_init_fixed(&cbb, small, sizeof(small)));
  ASSERT_EQ(mqg_connect_rewrite(b.buf, &b.want, id, 20, &cbb), 0);
  CBB_cleanup(&cbb);
  /* A result past the MQTT maximum packet size is refused before anything
   * is read from the (here imaginary) packet. */
  mqg_connect huge = {.header_len = 5, .client_id_off = 15, .rest_off = 17,
                      .packet_len = 5 + 268435455u};
  ASSERT(cb_rewrite(b.buf, &huge, id, 1, &n) == NULL);
  /* Offsets that do not hang together are refused. */
  mqg_connect bad = b.want;
  bad.rest_off++;
  ASSERT(cb_rewrite(b.buf, &bad, id, 1, &n) == NULL);
  bad = b.want;
  bad.client_id_off = 1;
  ASSERT(cb_rewrite(b.buf, &bad, id, 1, &n) == NULL);
  free(b.buf);
  return 0;
}

