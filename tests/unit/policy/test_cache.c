#include "task.h"

#include "cache.h"

static mqg_cache_entry entry(uint8_t tag, mqg_reason verdict, uint64_t at) {
  mqg_cache_entry e;
  memset(&e, 0, sizeof(e));
  memset(e.fp, tag, sizeof(e.fp));
  e.verdict = verdict;
  e.fetched_ms = at;
  snprintf(e.client_id, sizeof(e.client_id), "id-%u", tag);
  return e;
}

TEST_IMPL(cache_basic) {
  mqg_cache *c = mqg_cache_new(3, 1000);
  mqg_cache_entry e = entry(1, MQG_REASON_OK, 100), got;
  uint8_t fp2[32];
  memset(fp2, 2, sizeof(fp2));
  ASSERT_EQ(mqg_cache_get(c, e.fp, 100, &got), 0);
  ASSERT_EQ(mqg_cache_put(c, &e), 0);
  ASSERT_EQ(mqg_cache_get(c, e.fp, 200, &got), 1);
  ASSERT_STR_EQ(got.client_id, "id-1");
  ASSERT_EQ(mqg_cache_get(c, fp2, 200, &got), 0);
  /* Replacing keeps one entry. */
  e.verdict = MQG_REASON_CERT_REVOKED;
  ASSERT_EQ(mqg_cache_put(c, &e), 0);
  ASSERT_EQ(mqg_cache_size(c), 1);
  ASSERT_EQ(mqg_cache_get(c, e.fp, 200, &got), 1);
  ASSERT_EQ(got.verdict, MQG_REASON_CERT_REVOKED);
  /* Expiry. */
  ASSERT_EQ(mqg_cache_get(c, e.fp, 1101, &got), 0);
  ASSERT_EQ(mqg_cache_size(c), 0);
  /* Drop and clear. */
  mqg_cache_put(c, &e);
  mqg_cache_drop(c, e.fp);
  ASSERT_EQ(mqg_cache_get(c, e.fp, 200, &got), 0);
  mqg_cache_put(c, &e);
  mqg_cache_clear(c);
  ASSERT_EQ(mqg_cache_size(c), 0);
  mqg_cache_free(c);
  mqg_cache_free(NULL);
  return 0;
}

TEST_IMPL(cache_bounded) {
  mqg_cache *c = mqg_cache_new(3, 1000);
  mqg_cache_entry got;
  for (uint8_t i = 1; i <= 5; i++) {
    mqg_cache_entry e = entry(i, MQG_REASON_OK, 0);
    ASSERT_EQ(mqg_cache_put(c, &e), 0);
    ASSERT(mqg_cache_size(c) <= 3);
  }
  /* The oldest two went. */
  mqg_cache_entry e1 = entry(1, 0, 0), e2 = entry(2, 0, 0), e5 = entry(5, 0, 0);
  ASSERT_EQ(mqg_cache_get(c, e1.fp, 0, &got), 0);
  ASSERT_EQ(mqg_cache_get(c, e2.fp, 0, &got), 0);
  ASSERT_EQ(mqg_cache_get(c, e5.fp, 0, &got), 1);
  mqg_cache_free(c);
  return 0;
}

/* An answer asked for before an invalidation is not stored after it. */
TEST_IMPL(cache_tokens) {
  mqg_cache *c = mqg_cache_new(8, 1000);
  mqg_cache_entry a = entry(1, MQG_REASON_OK, 0), b = entry(2, MQG_REASON_OK, 0), got;
  b.fp[0] = 1; /* the same bucket as a (first byte), another fingerprint */
  mqg_cache_entry other = entry(3, MQG_REASON_OK, 0);
  mqg_cache_token ta = mqg_cache_token_of(c, a.fp);
  ASSERT(mqg_cache_token_fresh(c, a.fp, ta));
  /* A drop in another bucket leaves the token fresh. */
  mqg_cache_drop(c, other.fp);
  ASSERT(mqg_cache_token_fresh(c, a.fp, ta));
  ASSERT_EQ(mqg_cache_put_fresh(c, &a, ta), 1);
  ASSERT_EQ(mqg_cache_get(c, a.fp, 0, &got), 1);
  /* A drop in its bucket makes it stale: nothing stored. */
  mqg_cache_token tb = mqg_cache_token_of(c, b.fp);
  mqg_cache_drop(c, a.fp);
  ASSERT(!mqg_cache_token_fresh(c, b.fp, tb));
  ASSERT_EQ(mqg_cache_put_fresh(c, &b, tb), 0);
  ASSERT_EQ(mqg_cache_get(c, b.fp, 0, &got), 0);
  /* A clear makes every token stale. */
  mqg_cache_token to = mqg_cache_token_of(c, other.fp);
  mqg_cache_clear(c);
  ASSERT(!mqg_cache_token_fresh(c, other.fp, to));
  ASSERT_EQ(mqg_cache_put_fresh(c, &other, to), 0);
  ASSERT_EQ(mqg_cache_size(c), 0);
  /* A token taken after the invalidations is fresh again. */
  to = mqg_cache_token_of(c, other.fp);
  ASSERT_EQ(mqg_cache_put_fresh(c, &other, to), 1);
  /* A lookup's token is the token of that moment, hit or miss. */
  mqg_cache_token tg;
  ASSERT_EQ(mqg_cache_get_token(c, other.fp, 0, &got, &tg), 1);
  ASSERT(mqg_cache_token_fresh(c, other.fp, tg));
  ASSERT_EQ(mqg_cache_get_token(c, a.fp, 0, &got, &tg), 0); /* dropped above */
  ASSERT(mqg_cache_token_fresh(c, a.fp, tg));
  mqg_cache_drop(c, a.fp);
  ASSERT(!mqg_cache_token_fresh(c, a.fp, tg));
  mqg_cache_free(c);
  return 0;
}
