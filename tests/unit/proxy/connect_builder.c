/* connect_builder.c: see connect_builder.h. */
#include "connect_builder.h"

#include "task.h"

size_t cb_enc_varint(uint8_t *out, uint32_t v) {
  size_t n = 0;
  do {
    out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

uint8_t *cb_dup_exact(const void *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  ASSERT(q != NULL);
  if (n)
    memcpy(q, p, n);
  return q;
}

/* put writes |s| at |*n| in |body|, after a 2-byte length if |prefix|. */
void cb_put(uint8_t *body, size_t *n, struct bytes s, int prefix) {
  if (prefix) {
    body[(*n)++] = (uint8_t)(s.n >> 8);
    body[(*n)++] = (uint8_t)s.n;
  }
  if (s.n)
    memcpy(body + *n, s.p, s.n);
  *n += s.n;
}

void cb_build(const struct cspec *s, struct built *b) {
  const char *name = s->name ? s->name : s->level == 3 ? "MQIsdp" : "MQTT";
  size_t cap = 64 + strlen(name) + s->props.n + s->id.n + s->will_props.n +
               s->will_topic.n + s->will_payload.n + s->username.n +
               s->password.n + s->trailing.n;
  uint8_t *body = malloc(cap);
  size_t n = 0;
  mqg_connect *w = &b->want;
  ASSERT(body != NULL);
  memset(w, 0, sizeof(*w));
  cb_put(body, &n, (struct bytes){(const uint8_t *)name, strlen(name)}, 1);
  body[n++] = s->level;
  body[n++] = s->flags;
  body[n++] = (uint8_t)(s->keepalive >> 8);
  body[n++] = (uint8_t)s->keepalive;
  if (s->level == 5) {
    n += cb_enc_varint(body + n, (uint32_t)s->props.n);
    w->props_off = n;
    w->props_len = s->props.n;
    cb_put(body, &n, s->props, 0);
  }
  w->client_id_off = n;
  w->client_id_len = s->id.n;
  cb_put(body, &n, s->id, 1);
  w->rest_off = n;
  if (s->flags & MQG_CONNECT_FLAG_WILL) {
    if (s->level == 5) {
      n += cb_enc_varint(body + n, (uint32_t)s->will_props.n);
      cb_put(body, &n, s->will_props, 0);
    }
    cb_put(body, &n, s->will_topic, 1);
    cb_put(body, &n, s->will_payload, 1);
  }
  if (s->flags & MQG_CONNECT_FLAG_USERNAME) {
    w->username_off = n + 2;
    w->username_len = s->username.n;
    cb_put(body, &n, s->username, 1);
  }
  if (s->flags & MQG_CONNECT_FLAG_PASSWORD)
    cb_put(body, &n, s->password, 1);
  cb_put(body, &n, s->trailing, 0);
  ASSERT(n <= cap);

  uint8_t hdr[5] = {0x10};
  size_t hl = 1 + cb_enc_varint(hdr + 1, (uint32_t)n);
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

mqg_parse_status cb_parse_exact(const uint8_t *p, size_t n, mqg_connect *c,
                                    mqg_connect_err *err) {
  uint8_t *q = cb_dup_exact(p, n);
  mqg_parse_status st = mqg_connect_parse(q, n, c, err);
  free(q);
  return st;
}

/* rewrite returns a heap copy of mqg_connect_rewrite's output, or NULL when
 * it returned 0. */
uint8_t *cb_rewrite(const uint8_t *pkt, const mqg_connect *c,
                        const uint8_t *id, size_t id_len, size_t *out_len) {
  CBB cbb;
  uint8_t *out = NULL;
  ASSERT(CBB_init(&cbb, 0));
  if (mqg_connect_rewrite(pkt, c, id, id_len, &cbb)) {
    *out_len = CBB_len(&cbb);
    out = cb_dup_exact(CBB_data(&cbb), *out_len);
  }
  CBB_cleanup(&cbb);
  return out;
}

void cb_check_parse(const struct built *b) {
  mqg_connect c;
  mqg_connect_err err = MQG_CONNECT_ERR_TRUNCATED;
  uint8_t *q = cb_dup_exact(b->buf, b->len);
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
