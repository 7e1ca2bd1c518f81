/* Tests of proxy/mqtt_connect.c: every valid CONNECT shape of MQTT 3.1,
 * 3.1.1 and 5.0 fed whole, split, truncated, corrupted and rewritten, then
 * table-driven malformed packets, one kind of error at a time. Packets under
 * test always sit in a buffer of exactly their size, so AddressSanitizer sees
 * any over-read. */
#include "task.h"

#include <stdint.h>

#include <openssl/bytestring.h>

#include "mqtt_connect.h"

struct bytes {
  const uint8_t *p;
  size_t n;
};

#define B(lit) ((struct bytes){(const uint8_t *)(lit), sizeof(lit) - 1})
#define BA(arr) ((struct bytes){(arr), sizeof(arr)})
#define BI(lit) {(const uint8_t *)(lit), sizeof(lit) - 1}
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A CONNECT to build. The flags byte is written as given and decides which
 * payload fields are present; |name| NULL means the level's own name. */
struct cspec {
  const char *name;
  uint8_t level, flags;
  uint16_t keepalive;
  struct bytes props, id, will_props, will_topic, will_payload, username,
      password, trailing;
};

/* A built packet (heap, exact size) and what parsing it should give. */
struct built {
  uint8_t *buf;
  size_t len;
  mqg_connect want;
};

static size_t enc_varint(uint8_t *out, uint32_t v) {
  size_t n = 0;
  do {
    out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

static uint8_t *dup_exact(const void *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  ASSERT(q != NULL);
  if (n)
    memcpy(q, p, n);
  return q;
}

/* put writes |s| at |*n| in |body|, after a 2-byte length if |prefix|. */
static void put(uint8_t *body, size_t *n, struct bytes s, int prefix) {
  if (prefix) {
    body[(*n)++] = (uint8_t)(s.n >> 8);
    body[(*n)++] = (uint8_t)s.n;
  }
  if (s.n)
    memcpy(body + *n, s.p, s.n);
  *n += s.n;
}

static void build(const struct cspec *s, struct built *b) {
  const char *name = s->name ? s->name : s->level == 3 ? "MQIsdp" : "MQTT";
  size_t cap = 64 + strlen(name) + s->props.n + s->id.n + s->will_props.n +
               s->will_topic.n + s->will_payload.n + s->username.n +
               s->password.n + s->trailing.n;
  uint8_t *body = malloc(cap);
  size_t n = 0;
  mqg_connect *w = &b->want;
  ASSERT(body != NULL);
  memset(w, 0, sizeof(*w));
  put(body, &n, (struct bytes){(const uint8_t *)name, strlen(name)}, 1);
  body[n++] = s->level;
  body[n++] = s->flags;
  body[n++] = (uint8_t)(s->keepalive >> 8);
  body[n++] = (uint8_t)s->keepalive;
  if (s->level == 5) {
    n += enc_varint(body + n, (uint32_t)s->props.n);
    w->props_off = n;
    w->props_len = s->props.n;
    put(body, &n, s->props, 0);
  }
  w->client_id_off = n;
  w->client_id_len = s->id.n;
  put(body, &n, s->id, 1);
  w->rest_off = n;
  if (s->flags & MQG_CONNECT_FLAG_WILL) {
    if (s->level == 5) {
      n += enc_varint(body + n, (uint32_t)s->will_props.n);
      put(body, &n, s->will_props, 0);
    }
    put(body, &n, s->will_topic, 1);
    put(body, &n, s->will_payload, 1);
  }
  if (s->flags & MQG_CONNECT_FLAG_USERNAME) {
    w->username_off = n + 2;
    w->username_len = s->username.n;
    put(body, &n, s->username, 1);
  }
  if (s->flags & MQG_CONNECT_FLAG_PASSWORD)
    put(body, &n, s->password, 1);
  put(body, &n, s->trailing, 0);
  ASSERT(n <= cap);

  uint8_t hdr[5] = {0x10};
  size_t hl = 1 + enc_varint(hdr + 1, (uint32_t)n);
  b->len = hl + n;
  b->buf = malloc(b->len);
  ASSERT(b->buf != NULL);
  memcpy(b->buf, hdr, hl);
  memcpy(b->buf + hl, body, n);
  free(body);
  w->level = s->level;
  w->flags = s->flags;
  w->keepalive = s->keepalive;
  w->packet_len = b->len;
  w->header_len = hl;
  w->client_id_off += hl;
  w->rest_off += hl;
  w->props_off += s->level == 5 ? hl : 0;
  w->username_off += w->username_off ? hl : 0;
}

static mqg_parse_status parse_exact(const uint8_t *p, size_t n, mqg_connect *c,
                                    mqg_connect_err *err) {
  uint8_t *q = dup_exact(p, n);
  mqg_parse_status st = mqg_connect_parse(q, n, c, err);
  free(q);
  return st;
}

/* rewrite returns a heap copy of mqg_connect_rewrite's output, or NULL when
 * it returned 0. */
static uint8_t *rewrite(const uint8_t *pkt, const mqg_connect *c,
                        const uint8_t *id, size_t id_len, size_t *out_len) {
  CBB cbb;
  uint8_t *out = NULL;
  ASSERT(CBB_init(&cbb, 0));
  if (mqg_connect_rewrite(pkt, c, id, id_len, &cbb)) {
    *out_len = CBB_len(&cbb);
    out = dup_exact(CBB_data(&cbb), *out_len);
  }
  CBB_cleanup(&cbb);
  return out;
}

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
            build(&s, &b);
            fn(&b);
            free(b.buf);
            count++;
          }
  return count;
}

static void check_parse(const struct built *b) {
  mqg_connect c;
  mqg_connect_err err = MQG_CONNECT_ERR_TRUNCATED;
  uint8_t *q = dup_exact(b->buf, b->len);
  ASSERT_EQ(mqg_connect_parse(q, b->len, &c, &err), MQG_PARSE_OK);
  ASSERT_EQ(err, MQG_CONNECT_ERR_NONE);
#define SAME(f) ASSERT_EQ(c.f, b->want.f)
  SAME(level); SAME(flags); SAME(keepalive); SAME(packet_len);
  SAME(header_len); SAME(client_id_off); SAME(client_id_len); SAME(rest_off);
  SAME(props_off); SAME(props_len); SAME(username_off); SAME(username_len);
#undef SAME
  ASSERT(mqg_connect_client_id(q, &c) == q + c.client_id_off + 2);
  free(q);
}

TEST_IMPL(connect_parse_v31) {
  ASSERT_EQ(for_each_combo(3, check_parse), 2 * 7 * 3 * 2);
  return 0;
}

TEST_IMPL(connect_parse_v311) {
  ASSERT_EQ(for_each_combo(4, check_parse), 2 * 7 * 3 * 2);
  return 0;
}

TEST_IMPL(connect_parse_v5) {
  ASSERT_EQ(for_each_combo(5, check_parse), 2 * (2 + 6 * 4) * 4 * 2);
  return 0;
}

static void check_frame(const struct built *b) {
  size_t plen = 99, hl = b->want.header_len;
  mqg_connect_err err = MQG_CONNECT_ERR_TRUNCATED;
  /* Whole, then every prefix, as bytes arrive one by one. */
  for (size_t k = 0; k <= b->len; k++) {
    uint8_t *q = dup_exact(b->buf, k);
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
    ASSERT_EQ(parse_exact(b->buf, k, &c, &err), MQG_PARSE_ERROR);
    ASSERT_EQ(err, MQG_CONNECT_ERR_TRUNCATED);
    if (k < hl)
      continue;
    /* Cut short with the remaining length faked to match, written on the
     * same number of bytes (non-minimal where needed). */
    uint8_t *q = dup_exact(b->buf, k);
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
  uint8_t *o = rewrite(pkt, c, id.p, id.n, &olen);
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
  uint8_t *q = dup_exact(b->buf, b->len);
  mqg_connect c;
  mqg_connect_err err;
  size_t olen;
  ASSERT_EQ(mqg_connect_parse(q, b->len, &c, &err), MQG_PARSE_OK);
  check_rewrite_to(q, &c, B(""));
  check_rewrite_to(q, &c, B("x"));
  check_rewrite_to(q, &c, B("CN=sensor-0001.example"));
  check_rewrite_to(q, &c, BA(long_id));
  /* The same ID gives the same bytes. */
  uint8_t *o = rewrite(q, &c, mqg_connect_client_id(q, &c), c.client_id_len,
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
      uint8_t *q = dup_exact(b->buf, b->len);
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
  ASSERT_EQ(parse_exact(pkt, len, &c, &err), MQG_PARSE_OK);
  uint8_t *o = rewrite(pkt, &c, id.p, id.n, out_len);
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
  build(&s, &b);
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
  build(&s, &b);
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
  build(&s, &b);
  /* The longest ID fits; one more byte does not. */
  uint8_t *o = rewrite(b.buf, &b.want, id, MQG_CLIENT_ID_MAX, &n);
  ASSERT(o != NULL);
  ASSERT_EQ(n, 4 + 12 + MQG_CLIENT_ID_MAX);
  free(o);
  ASSERT(rewrite(b.buf, &b.want, id, MQG_CLIENT_ID_MAX + 1, &n) == NULL);
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
  ASSERT(rewrite(b.buf, &huge, id, 1, &n) == NULL);
  /* Offsets that do not hang together are refused. */
  mqg_connect bad = b.want;
  bad.rest_off++;
  ASSERT(rewrite(b.buf, &bad, id, 1, &n) == NULL);
  bad = b.want;
  bad.client_id_off = 1;
  ASSERT(rewrite(b.buf, &bad, id, 1, &n) == NULL);
  free(b.buf);
  return 0;
}

/* --- Framing errors ------------------------------------------------------- */

TEST_IMPL(connect_frame_errors) {
  static const struct {
    struct bytes in;
    size_t max;
    mqg_parse_status st;
    size_t len;
    mqg_connect_err err;
  } rows[] = {
      {BI(""), 100, MQG_PARSE_NEED_MORE, 0, MQG_CONNECT_ERR_NONE},
      /* Remaining length: 4 bytes with the top bit all set is already too
       * long; fewer still needs more. */
      {BI("\x10\xff\xff\xff\xff"), SIZE_MAX, MQG_PARSE_ERROR, 0,
       MQG_CONNECT_ERR_REMAINING_LENGTH},
      {BI("\x10\x80\x80\x80\x80\x01"), SIZE_MAX, MQG_PARSE_ERROR, 0,
       MQG_CONNECT_ERR_REMAINING_LENGTH},
      {BI("\x10\xff\xff\xff"), SIZE_MAX, MQG_PARSE_NEED_MORE, 0,
       MQG_CONNECT_ERR_NONE},
      {BI("\x10\xff\xff\xff\x7f"), SIZE_MAX, MQG_PARSE_NEED_MORE,
       5 + 268435455u, MQG_CONNECT_ERR_NONE},
      {BI("\x10\xff\xff\xff\x7f"), 1 << 20, MQG_PARSE_ERROR, 0,
       MQG_CONNECT_ERR_TOO_LARGE},
      /* The limit is on the whole packet: 3 + 129 = 132 bytes. */
      {BI("\x10\x81\x01"), 131, MQG_PARSE_ERROR, 0, MQG_CONNECT_ERR_TOO_LARGE},
      {BI("\x10\x81\x01"), 132, MQG_PARSE_NEED_MORE, 132, MQG_CONNECT_ERR_NONE},
      /* Non-minimal lengths are read as they are. */
      {BI("\x10\x80\x00"), 100, MQG_PARSE_OK, 3, MQG_CONNECT_ERR_NONE},
      {BI("\x10\x00"), 100, MQG_PARSE_OK, 2, MQG_CONNECT_ERR_NONE},
      {BI("\x10\x00"), 1, MQG_PARSE_ERROR, 0, MQG_CONNECT_ERR_TOO_LARGE},
  };
  size_t plen;
  mqg_connect_err err;
  for (size_t i = 0; i < COUNT(rows); i++) {
    uint8_t *q = dup_exact(rows[i].in.p, rows[i].in.n);
    plen = 12345;
    err = MQG_CONNECT_ERR_CLIENT_ID;
    ASSERT_EQ(mqg_connect_frame(q, rows[i].in.n, rows[i].max, &plen, &err),
              rows[i].st);
    if (rows[i].st != MQG_PARSE_ERROR)
      ASSERT_EQ(plen, rows[i].len);
    ASSERT_EQ(err, rows[i].err);
    free(q);
  }
  /* The type is decided on the first byte alone, then the flags. */
  for (unsigned byte = 0; byte < 256; byte++) {
    uint8_t c = (uint8_t)byte;
    mqg_parse_status st = mqg_connect_frame(&c, 1, 100, &plen, &err);
    ASSERT_EQ(st, byte == 0x10 ? MQG_PARSE_NEED_MORE : MQG_PARSE_ERROR);
    ASSERT_EQ(err, byte == 0x10          ? MQG_CONNECT_ERR_NONE
                   : (byte >> 4) == 1 ? MQG_CONNECT_ERR_FIXED_FLAGS
                                      : MQG_CONNECT_ERR_NOT_CONNECT);
  }
  return 0;
}

/* --- Decoding errors ------------------------------------------------------ */

static struct cspec base_spec(uint8_t level) {
  return (struct cspec){.level = level,
                        .flags = MQG_CONNECT_FLAG_CLEAN,
                        .keepalive = 60,
                        .id = B("dev"),
                        .will_topic = B("will/topic"),
                        .will_payload = B("gone"),
                        .username = B("user"),
                        .password = B("pass")};
}

/* expect builds |s| and checks that it frames, then parses (|want| NONE,
 * with every field right) or fails with |want|. */
static void expect(const struct cspec *s, mqg_connect_err want) {
  struct built b;
  mqg_connect c;
  mqg_connect_err err;
  size_t plen;
  build(s, &b);
  ASSERT_EQ(mqg_connect_frame(b.buf, b.len, b.len, &plen, &err), MQG_PARSE_OK);
  if (want == MQG_CONNECT_ERR_NONE) {
    check_parse(&b);
  } else {
    ASSERT_EQ(parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
    ASSERT_EQ(err, want);
  }
  free(b.buf);
}

TEST_IMPL(connect_err_protocol) {
  static const char *bad_names[] = {"MQTX",  "mqtt",    "MQIsdP", "MQTT5",
                                    "",      "MQIsd",   "MQIsdpp", "MQ"};
  static const struct {
    const char *name;
    uint8_t level;
  } bad_levels[] = {{"MQTT", 3},      {"MQTT", 6},      {"MQTT", 0},
                    {"MQTT", 0x84},   {"MQIsdp", 4},    {"MQIsdp", 5},
                    {"MQIsdp", 0x83}, {"MQTT", 255}};
  mqg_connect c;
  mqg_connect_err err;
  struct built b;
  for (size_t i = 0; i < COUNT(bad_names); i++)
    for (uint8_t level = 3; level <= 5; level++) {
      struct cspec s = base_spec(level);
      s.name = bad_names[i];
      build(&s, &b);
      ASSERT_EQ(parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
      ASSERT_EQ(err, MQG_CONNECT_ERR_PROTOCOL_NAME);
      ASSERT_EQ(c.level, 0);
      free(b.buf);
    }
  for (size_t i = 0; i < COUNT(bad_levels); i++) {
    struct cspec s = base_spec(4);
    s.name = bad_levels[i].name;
    s.level = bad_levels[i].level;
    build(&s, &b);
    ASSERT_EQ(parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
    ASSERT_EQ(err, MQG_CONNECT_ERR_PROTOCOL_LEVEL);
    /* The level as received, to choose the CONNACK's layout. */
    ASSERT_EQ(c.level, bad_levels[i].level);
    free(b.buf);
  }
  return 0;
}

TEST_IMPL(connect_err_flags) {
  static const uint8_t without_will[] = {0x08, 0x10, 0x18, 0x20, 0x28, 0x3a};
  for (uint8_t level = 3; level <= 5; level++) {
    struct cspec s = base_spec(level);
    s.flags = MQG_CONNECT_FLAG_CLEAN | MQG_CONNECT_FLAG_RESERVED;
    expect(&s, MQG_CONNECT_ERR_RESERVED_FLAG);
    s.flags = 0xff;
    expect(&s, MQG_CONNECT_ERR_RESERVED_FLAG);
    for (size_t i = 0; i < sizeof(without_will); i++) {
      s.flags = without_will[i];
      expect(&s, MQG_CONNECT_ERR_WILL_FLAGS);
    }
    s.flags = MQG_CONNECT_FLAG_WILL | MQG_CONNECT_FLAG_WILL_QOS;
    expect(&s, MQG_CONNECT_ERR_WILL_QOS);
    s.flags |= MQG_CONNECT_FLAG_WILL_RETAIN | MQG_CONNECT_FLAG_USERNAME;
    expect(&s, MQG_CONNECT_ERR_WILL_QOS);
    /* A password alone: 3.1.1 (and 3.1 with it) refuses, MQTT 5 allows. */
    s.flags = MQG_CONNECT_FLAG_CLEAN | MQG_CONNECT_FLAG_PASSWORD;
    expect(&s, level < 5 ? MQG_CONNECT_ERR_PASSWORD_FLAG
                         : MQG_CONNECT_ERR_NONE);
  }
  return 0;
}

enum field { F_CLIENT_ID, F_WILL_TOPIC, F_USERNAME, F_PASSWORD };

/* expect_patched builds |s|, overwrites the 2-byte length of |f| with |v|
 * and expects |want| from the parser. */
static void expect_patched(const struct cspec *s, enum field f, uint16_t v,
                           mqg_connect_err want) {
  struct built b;
  mqg_connect c;
  mqg_connect_err err;
  build(s, &b);
  size_t off = f == F_CLIENT_ID    ? b.want.client_id_off
               : f == F_WILL_TOPIC ? b.want.rest_off + (s->level == 5)
               : f == F_USERNAME   ? b.want.username_off - 2
                                   : b.want.username_off + b.want.username_len;
  b.buf[off] = (uint8_t)(v >> 8);
  b.buf[off + 1] = (uint8_t)v;
  ASSERT_EQ(parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
  ASSERT_EQ(err, want);
  free(b.buf);
}

TEST_IMPL(connect_err_truncated_trailing) {
  mqg_connect c;
  mqg_connect_err err;
  for (uint8_t level = 3; level <= 5; level++) {
    struct cspec s = base_spec(level);
    s.flags = 0xf6; /* will QoS 2 retained, username, password */
    expect(&s, MQG_CONNECT_ERR_NONE);
    expect_patched(&s, F_CLIENT_ID, 0xffff, MQG_CONNECT_ERR_TRUNCATED);
    expect_patched(&s, F_WILL_TOPIC, 0x0100, MQG_CONNECT_ERR_TRUNCATED);
    expect_patched(&s, F_USERNAME, 100, MQG_CONNECT_ERR_TRUNCATED);
    expect_patched(&s, F_PASSWORD, 5, MQG_CONNECT_ERR_TRUNCATED);
    expect_patched(&s, F_PASSWORD, 3, MQG_CONNECT_ERR_TRAILING);
    s.trailing = B("\x00");
    expect(&s, MQG_CONNECT_ERR_TRAILING);
    s.trailing = B("\x00\x00\x00\x00");
    expect(&s, MQG_CONNECT_ERR_TRAILING);
    /* Cut anywhere, with the remaining length saying so. */
    s = base_spec(level);
    s.flags = MQG_CONNECT_FLAG_USERNAME;
    struct built b;
    build(&s, &b);
    for (size_t cut = b.want.header_len; cut < b.len; cut++) {
      b.buf[1] = (uint8_t)(cut - b.want.header_len);
      ASSERT_EQ(parse_exact(b.buf, cut, &c, &err), MQG_PARSE_ERROR);
      ASSERT_EQ(err, MQG_CONNECT_ERR_TRUNCATED);
    }
    /* More bytes given than the remaining length covers. */
    b.buf[1] = (uint8_t)(b.len - 2);
    uint8_t *q = malloc(b.len + 1);
    memcpy(q, b.buf, b.len);
    q[b.len] = 0xc0;
    ASSERT_EQ(mqg_connect_parse(q, b.len + 1, &c, &err), MQG_PARSE_ERROR);
    ASSERT_EQ(err, MQG_CONNECT_ERR_TRAILING);
    free(q);
    free(b.buf);
  }
  static const struct {
    struct bytes in;
    mqg_connect_err err;
  } raw[] = {
      {BI(""), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x00"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x80"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x80\x80\x80\x80\x00"), MQG_CONNECT_ERR_REMAINING_LENGTH},
      {BI("\x20\x02\x00\x00"), MQG_CONNECT_ERR_NOT_CONNECT},
      {BI("\x12\x00"), MQG_CONNECT_ERR_FIXED_FLAGS},
      {BI("\x10\x03\x00\x04M"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x06\x00\x04MQTX"), MQG_CONNECT_ERR_PROTOCOL_NAME},
      {BI("\x10\x06\x00\x04MQTT"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x07\x00\x04MQTT\x04"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x08\x00\x04MQTT\x04\x02"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x09\x00\x04MQTT\x04\x02\x00"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x0a\x00\x04MQTT\x04\x02\x00\x3c"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x0b\x00\x04MQTT\x04\x02\x00\x3c\x00"),
       MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"),
       MQG_CONNECT_ERR_NONE},
      /* MQTT 5: no property length; property length past the end; one that
       * does not end within four bytes. */
      {BI("\x10\x0a\x00\x04MQTT\x05\x02\x00\x3c"), MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x05\x00\x00"),
       MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x80\x80"),
       MQG_CONNECT_ERR_TRUNCATED},
      {BI("\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x80\x80\x80\x80\x00"),
       MQG_CONNECT_ERR_PROPERTY},
      {BI("\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00"),
       MQG_CONNECT_ERR_NONE},
      {BI("\x10\x0e\x00\x04MQTT\x05\x02\x00\x3c\x80\x00\x00\x00"),
       MQG_CONNECT_ERR_NONE},
  };
  for (size_t i = 0; i < COUNT(raw); i++) {
    ASSERT_EQ(parse_exact(raw[i].in.p, raw[i].in.n, &c, &err),
              raw[i].err ? MQG_PARSE_ERROR : MQG_PARSE_OK);
    ASSERT_EQ(err, raw[i].err);
  }
  return 0;
}

static const struct bytes bad_utf8[] = {
    BI("\xc0\x80"),         BI("\xc1\xbf"),         BI("\xe0\x80\x80"),
    BI("\xe0\x9f\xbf"),     BI("\xf0\x80\x80\x80"), BI("\xf0\x8f\xbf\xbf"),
    BI("\xed\xa0\x80"),     BI("\xed\xbf\xbf"),     BI("\xf4\x90\x80\x80"),
    BI("\xf5\x80\x80\x80"), BI("\xf8\x88\x80\x80\x80"), BI("\x80"),
    BI("\xbf"),             BI("\xe2\x82"),         BI("\xc3"),
    BI("\xff"),             BI("\xfe"),             BI("a\xc3("),
    BI("\xe2\x28\xa1"),     BI("\x00"),             BI("nul\x00inside"),
    BI("\xc0\xaf"),         BI("\xe0\x80\xaf"),
};

TEST_IMPL(connect_utf8_valid) {
  static const struct bytes good[] = {
      BI(""),             BI("plain/ascii"),      BI("\x7f\x01\x1f"),
      BI("\xc2\x80"),     BI("\xdf\xbf"),         BI("\xe2\x82\xac"),
      BI("\xed\x9f\xbf"), BI("\xee\x80\x80"),     BI("\xef\xbf\xbf"),
      BI("\xf0\x90\x80\x80"), BI("\xf0\x9d\x84\x9e"), BI("\xf4\x8f\xbf\xbf"),
  };
  for (size_t i = 0; i < COUNT(bad_utf8); i++) {
    uint8_t *q = dup_exact(bad_utf8[i].p, bad_utf8[i].n);
    ASSERT_EQ(mqg_mqtt_utf8_valid(q, bad_utf8[i].n), 0);
    free(q);
  }
  for (size_t i = 0; i < COUNT(good); i++) {
    uint8_t *q = dup_exact(good[i].p, good[i].n);
    ASSERT_EQ(mqg_mqtt_utf8_valid(q, good[i].n), 1);
    free(q);
  }
  ASSERT_EQ(mqg_mqtt_utf8_valid(NULL, 0), 1);
  return 0;
}

/* prop writes property |id| with the string |s| (and then |tail|) to |p|. */
static struct bytes prop(uint8_t *p, uint8_t id, struct bytes s,
                         struct bytes tail) {
  p[0] = id, p[1] = 0, p[2] = (uint8_t)s.n;
  memcpy(p + 3, s.p, s.n);
  memcpy(p + 3 + s.n, tail.p, tail.n);
  return (struct bytes){p, 3 + s.n + tail.n};
}

TEST_IMPL(connect_err_utf8) {
  uint8_t p[64];
  for (size_t i = 0; i < COUNT(bad_utf8); i++) {
    struct bytes bad = bad_utf8[i];
    for (uint8_t level = 3; level <= 5; level++) {
      struct cspec s = base_spec(level);
      s.flags = 0xcc; /* user, pass, will QoS 1 */
      s.id = bad;
      expect(&s, MQG_CONNECT_ERR_UTF8);
      s.id = B("ok");
      s.will_topic = bad;
      expect(&s, MQG_CONNECT_ERR_UTF8);
      s.will_topic = B("ok");
      s.username = bad;
      expect(&s, MQG_CONNECT_ERR_UTF8);
      /* Binary fields take any bytes. */
      s.username = B("ok");
      s.will_payload = bad;
      s.password = bad;
      expect(&s, MQG_CONNECT_ERR_NONE);
      if (level != 5)
        continue;
      /* UTF-8 properties: content type, response topic, auth method, and
       * both halves of a user property; correlation and auth data are
       * binary. */
      s.will_props = prop(p, 0x03, bad, B(""));
      expect(&s, MQG_CONNECT_ERR_UTF8);
      s.will_props = prop(p, 0x08, bad, B(""));
      expect(&s, MQG_CONNECT_ERR_UTF8);
      s.will_props = prop(p, 0x09, bad, B(""));
      expect(&s, MQG_CONNECT_ERR_NONE);
      s.will_props = B("");
      s.props = prop(p, 0x15, bad, B(""));
      expect(&s, MQG_CONNECT_ERR_UTF8);
      s.props = prop(p, 0x26, bad, B("\x00\x01v"));
      expect(&s, MQG_CONNECT_ERR_UTF8);
      memcpy(p, "\x26\x00\x01k\x00", 5);
      p[5] = (uint8_t)bad.n;
      memcpy(p + 6, bad.p, bad.n);
      s.props = (struct bytes){p, 6 + bad.n};
      expect(&s, MQG_CONNECT_ERR_UTF8);
      s.props = prop(p, 0x16, bad, B("\x15\x00\x01m"));
      expect(&s, MQG_CONNECT_ERR_NONE);
    }
  }
  return 0;
}

/* expect_props builds an MQTT 5 CONNECT with a will and |props| in the
 * CONNECT (|will| 0) or in the will (|will| 1). */
static void expect_props(int will, struct bytes props, mqg_connect_err want) {
  struct cspec s = base_spec(5);
  s.flags = MQG_CONNECT_FLAG_WILL;
  *(will ? &s.will_props : &s.props) = props;
  expect(&s, want);
}

TEST_IMPL(connect_err_property) {
  static const struct {
    int will;
    struct bytes props;
    mqg_connect_err err;
  } rows[] = {
      /* Not allowed where they are: will properties in CONNECT, CONNECT
       * ones in the will, CONNACK/PUBLISH ones anywhere, unknown ids. */
      {0, BI("\x18\x00\x00\x00\x01"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x01\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x12\x00\x01x"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x0b\x01"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x24\x01"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x00\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x7f\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x91\x00\x00\x00\x00\x01"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\xff"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x11\x00\x00\x00\x01"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x21\x00\x01"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x15\x00\x01m"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x23\x00\x01"), MQG_CONNECT_ERR_PROPERTY},
      /* Values out of range. */
      {0, BI("\x21\x00\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x21\xff\xff"), MQG_CONNECT_ERR_NONE},
      {0, BI("\x27\x00\x00\x00\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x27\x00\x00\x00\x01"), MQG_CONNECT_ERR_NONE},
      {0, BI("\x19\x02"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x17\x02"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x17\xff"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x22\x00\x00\x11\x00\x00\x00\x00"), MQG_CONNECT_ERR_NONE},
      {1, BI("\x01\x02"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x01\x00\x18\x00\x00\x00\x00"), MQG_CONNECT_ERR_NONE},
      /* Authentication data needs a method (in either order). */
      {0, BI("\x16\x00\x01\x01"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x16\x00\x01\x01\x15\x00\x01m"), MQG_CONNECT_ERR_NONE},
      {0, BI("\x15\x00\x01m"), MQG_CONNECT_ERR_NONE},
      /* Values running past the end of the property list. */
      {0, BI("\x11\x00\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x21\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x19"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x15\x00\x09m"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x15\x00"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x26\x00\x01k"), MQG_CONNECT_ERR_PROPERTY},
      {0, BI("\x26\x00\x01k\x00\x02v"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x09\x00\x03\x01"), MQG_CONNECT_ERR_PROPERTY},
      {1, BI("\x02\x00\x00\x00"), MQG_CONNECT_ERR_PROPERTY},
  };
  for (size_t i = 0; i < COUNT(rows); i++)
    expect_props(rows[i].will, rows[i].props, rows[i].err);
  return 0;
}

TEST_IMPL(connect_err_property_dup) {
  static const struct bytes once[2][8] = {
      {BI("\x11\x00\x00\x00\x01"), BI("\x21\x00\x01"),
       BI("\x27\x00\x00\x01\x00"), BI("\x22\x00\x01"), BI("\x19\x01"),
       BI("\x17\x00"), BI("\x15\x00\x01m"), BI("\x16\x00\x01\x00")},
      {BI("\x18\x00\x00\x00\x01"), BI("\x01\x00"), BI("\x02\x00\x00\x00\x01"),
       BI("\x03\x00\x01t"), BI("\x08\x00\x01r"), BI("\x09\x00\x01\x00")},
  };
  uint8_t p[32];
  for (int will = 0; will < 2; will++) {
    for (size_t i = 0; i < 8 && once[will][i].n; i++) {
      struct bytes one = once[will][i];
      size_t n = 0;
      /* Authentication data needs a method beside it. */
      if (one.p[0] == 0x16)
        memcpy(p, "\x15\x00\x01m", 4), n = 4;
      memcpy(p + n, one.p, one.n);
      expect_props(will, (struct bytes){p, n + one.n}, MQG_CONNECT_ERR_NONE);
      memcpy(p + n + one.n, one.p, one.n);
      expect_props(will, (struct bytes){p, n + 2 * one.n},
                   MQG_CONNECT_ERR_PROPERTY_DUP);
    }
    /* User properties repeat freely, even with the same name and value. */
    expect_props(will, B("\x26\x00\x01k\x00\x01v\x26\x00\x01k\x00\x01v"
                         "\x26\x00\x00\x00\x00"),
                 MQG_CONNECT_ERR_NONE);
  }
  /* Each list has its own duplicates: a user property in both is fine. */
  struct cspec s = base_spec(5);
  s.flags = MQG_CONNECT_FLAG_WILL;
  s.props = s.will_props = B("\x26\x00\x01k\x00\x01v");
  expect(&s, MQG_CONNECT_ERR_NONE);
  return 0;
}

TEST_IMPL(connect_err_table) {
  static const mqg_reason want[] = {
      MQG_REASON_OK,                 MQG_REASON_NOT_CONNECT,
      MQG_REASON_CONNECT_MALFORMED,  MQG_REASON_CONNECT_MALFORMED,
      MQG_REASON_CONNECT_TOO_LARGE,  MQG_REASON_PROTOCOL_VERSION,
      MQG_REASON_PROTOCOL_VERSION,   MQG_REASON_CONNECT_MALFORMED,
      MQG_REASON_CONNECT_MALFORMED,  MQG_REASON_CONNECT_MALFORMED,
      MQG_REASON_CONNECT_MALFORMED,  MQG_REASON_CONNECT_MALFORMED,
      MQG_REASON_CONNECT_MALFORMED,  MQG_REASON_CONNECT_MALFORMED,
      MQG_REASON_CONNECT_MALFORMED,  MQG_REASON_CONNECT_MALFORMED,
      MQG_REASON_CLIENT_ID_REJECTED,
  };
  ASSERT_EQ(COUNT(want), MQG_CONNECT_ERR_CLIENT_ID + 1);
  ASSERT_EQ(MQG_CONNECT_ERR_PROTOCOL_LEVEL, 6);
  ASSERT_EQ(MQG_CONNECT_ERR_TRAILING, 12);
  for (size_t i = 0; i < COUNT(want); i++) {
    ASSERT_EQ(mqg_connect_err_reason((mqg_connect_err)i), want[i]);
    for (size_t j = 0; j < i; j++)
      ASSERT(strcmp(mqg_connect_err_text((mqg_connect_err)i),
                    mqg_connect_err_text((mqg_connect_err)j)) != 0);
  }
  ASSERT_STR_EQ(mqg_connect_err_text(MQG_CONNECT_ERR_UTF8),
                "string is not valid MQTT UTF-8");
  ASSERT_STR_EQ(mqg_connect_err_text((mqg_connect_err)COUNT(want)),
                "unknown error");
  ASSERT_EQ(mqg_connect_err_reason((mqg_connect_err)COUNT(want)),
            MQG_REASON_CONNECT_MALFORMED);
  ASSERT_EQ(mqg_connect_err_reason((mqg_connect_err)-1),
            MQG_REASON_CONNECT_MALFORMED);
  return 0;
}

TEST_IMPL(connect_varint) {
  static const struct {
    uint32_t v;
    struct bytes enc;
  } rows[] = {
      {0, BI("\x00")},
      {127, BI("\x7f")},
      {128, BI("\x80\x01")},
      {16383, BI("\xff\x7f")},
      {16384, BI("\x80\x80\x01")},
      {2097151, BI("\xff\xff\x7f")},
      {2097152, BI("\x80\x80\x80\x01")},
      {268435455, BI("\xff\xff\xff\x7f")},
  };
  CBB cbb;
  CBS cbs;
  uint32_t v;
  for (size_t i = 0; i < COUNT(rows); i++) {
    ASSERT(CBB_init(&cbb, 0));
    ASSERT_EQ(mqg_mqtt_put_varint(&cbb, rows[i].v), 1);
    ASSERT_EQ(CBB_len(&cbb), rows[i].enc.n);
    ASSERT_MEM_EQ(CBB_data(&cbb), rows[i].enc.p, rows[i].enc.n);
    CBB_cleanup(&cbb);
    CBS_init(&cbs, rows[i].enc.p, rows[i].enc.n);
    ASSERT_EQ(mqg_mqtt_get_varint(&cbs, &v), 1);
    ASSERT_EQ(v, rows[i].v);
    ASSERT_EQ(CBS_len(&cbs), 0);
    /* Cut short: fails and leaves the cursor alone. */
    CBS_init(&cbs, rows[i].enc.p, rows[i].enc.n - 1);
    ASSERT_EQ(mqg_mqtt_get_varint(&cbs, &v), 0);
    ASSERT_EQ(CBS_len(&cbs), rows[i].enc.n - 1);
  }
  ASSERT(CBB_init(&cbb, 0));
  ASSERT_EQ(mqg_mqtt_put_varint(&cbb, 268435456u), 0);
  CBB_cleanup(&cbb);
  CBS_init(&cbs, (const uint8_t *)"\x80\x80\x80\x80\x01", 5);
  ASSERT_EQ(mqg_mqtt_get_varint(&cbs, &v), 0);
  ASSERT_EQ(CBS_len(&cbs), 5);
  /* Non-minimal forms are read: what the framer framed, the parser reads. */
  CBS_init(&cbs, (const uint8_t *)"\x80\x00\x05", 3);
  ASSERT_EQ(mqg_mqtt_get_varint(&cbs, &v), 1);
  ASSERT_EQ(v, 0);
  ASSERT_EQ(CBS_len(&cbs), 1);
  return 0;
}
