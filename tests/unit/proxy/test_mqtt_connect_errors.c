/* Tests of proxy/mqtt_connect.c, malformed packets: table-driven, one kind
 * of error at a time, framing and decoding. */
#include "task.h"

#include "connect_builder.h"

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
    uint8_t *q = cb_dup_exact(rows[i].in.p, rows[i].in.n);
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
  cb_build(s, &b);
  ASSERT_EQ(mqg_connect_frame(b.buf, b.len, b.len, &plen, &err), MQG_PARSE_OK);
  if (want == MQG_CONNECT_ERR_NONE) {
    cb_check_parse(&b);
  } else {
    ASSERT_EQ(cb_parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
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
      cb_build(&s, &b);
      ASSERT_EQ(cb_parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
      ASSERT_EQ(err, MQG_CONNECT_ERR_PROTOCOL_NAME);
      ASSERT_EQ(c.level, 0);
      free(b.buf);
    }
  for (size_t i = 0; i < COUNT(bad_levels); i++) {
    struct cspec s = base_spec(4);
    s.name = bad_levels[i].name;
    s.level = bad_levels[i].level;
    cb_build(&s, &b);
    ASSERT_EQ(cb_parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
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
  cb_build(s, &b);
  size_t off = f == F_CLIENT_ID    ? b.want.client_id_off
               : f == F_WILL_TOPIC ? b.want.rest_off + (s->level == 5)
               : f == F_USERNAME   ? b.want.username_off - 2
                                   : b.want.username_off + b.want.username_len;
  b.buf[off] = (uint8_t)(v >> 8);
  b.buf[off + 1] = (uint8_t)v;
  ASSERT_EQ(cb_parse_exact(b.buf, b.len, &c, &err), MQG_PARSE_ERROR);
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
    cb_build(&s, &b);
    for (size_t cut = b.want.header_len; cut < b.len; cut++) {
      b.buf[1] = (uint8_t)(cut - b.want.header_len);
      ASSERT_EQ(cb_parse_exact(b.buf, cut, &c, &err), MQG_PARSE_ERROR);
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
    ASSERT_EQ(cb_parse_exact(raw[i].in.p, raw[i].in.n, &c, &err),
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
    uint8_t *q = cb_dup_exact(bad_utf8[i].p, bad_utf8[i].n);
    ASSERT_EQ(mqg_mqtt_utf8_valid(q, bad_utf8[i].n), 0);
    free(q);
  }
  for (size_t i = 0; i < COUNT(good); i++) {
    uint8_t *q = cb_dup_exact(good[i].p, good[i].n);
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
