/* test_histo.c: bench/histo.c, the bench tool's latency histogram. */
#include "task.h"

#include "../../../bench/histo.h"

/* Every bucket's bounds contain the values mapped to it, buckets are
 * contiguous, and no bucket is wider than 1/16 of its lowest value. */
TEST_IMPL(histo_buckets) {
  uint64_t prev_hi = 0, lo, hi;
  for (unsigned i = 0; i < MQB_HISTO_BUCKETS; i++) {
    uint64_t first = i == 0 ? 0 : prev_hi + 1;
    ASSERT_EQ(mqb_histo_bucket(first, &lo, &hi), i);
    ASSERT_EQ(lo, first);
    ASSERT(hi >= lo);
    ASSERT_EQ(mqb_histo_bucket(hi, NULL, NULL), i);
    if (lo >= 16)
      ASSERT((hi - lo + 1) * 16 <= lo);
    prev_hi = hi;
  }
  ASSERT_EQ(prev_hi + 1, (uint64_t)1 << MQB_HISTO_MAX_BITS);
  /* Beyond the range: the last bucket. */
  ASSERT_EQ(mqb_histo_bucket(UINT64_MAX, NULL, NULL), MQB_HISTO_BUCKETS - 1);
  ASSERT_EQ(mqb_histo_bucket((uint64_t)1 << 40, NULL, NULL), MQB_HISTO_BUCKETS - 1);
  return 0;
}

TEST_IMPL(histo_empty_and_small) {
  mqb_histo h;
  mqb_histo_init(&h);
  ASSERT_EQ(mqb_histo_percentile(&h, 50), 0);
  ASSERT_EQ(mqb_histo_percentile(&h, 100), 0);
  ASSERT(mqb_histo_mean(&h) == 0.0);
  /* Small values are exact. */
  for (uint64_t v = 1; v <= 10; v++)
    mqb_histo_record(&h, v);
  ASSERT_EQ(h.total, 10);
  ASSERT_EQ(h.min, 1);
  ASSERT_EQ(h.max, 10);
  ASSERT_EQ(mqb_histo_percentile(&h, 0), 1);
  ASSERT_EQ(mqb_histo_percentile(&h, 10), 1);
  ASSERT_EQ(mqb_histo_percentile(&h, 50), 5);
  ASSERT_EQ(mqb_histo_percentile(&h, 51), 6);
  ASSERT_EQ(mqb_histo_percentile(&h, 90), 9);
  ASSERT_EQ(mqb_histo_percentile(&h, 99.9), 10);
  ASSERT_EQ(mqb_histo_percentile(&h, 100), 10);
  ASSERT(mqb_histo_mean(&h) == 5.5);
  return 0;
}

/* Uniform 1..100000: each percentile within 1/16 of the exact answer,
 * never below it, and ordered. */
TEST_IMPL(histo_percentiles) {
  mqb_histo h;
  mqb_histo_init(&h);
  const uint64_t n = 100000;
  for (uint64_t v = 1; v <= n; v++)
    mqb_histo_record(&h, v);
  const double ps[] = {1, 25, 50, 90, 99, 99.9, 99.99};
  uint64_t prev = 0;
  for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
    uint64_t exact = (uint64_t)(ps[i] / 100.0 * (double)n + 0.5);
    uint64_t got = mqb_histo_percentile(&h, ps[i]);
    ASSERT(got >= exact);
    ASSERT((got - exact) * 16 <= exact);
    ASSERT(got >= prev);
    prev = got;
  }
  ASSERT_EQ(mqb_histo_percentile(&h, 100), n);
  return 0;
}

/* Out-of-range values keep an exact max; one outlier moves p100 only. */
TEST_IMPL(histo_outliers) {
  mqb_histo h;
  mqb_histo_init(&h);
  for (int i = 0; i < 999; i++)
    mqb_histo_record(&h, 1000);
  mqb_histo_record(&h, (uint64_t)500 * 1000 * 1000); /* 500 s in us */
  ASSERT_EQ(h.max, (uint64_t)500 * 1000 * 1000);
  uint64_t p50 = mqb_histo_percentile(&h, 50);
  ASSERT(p50 >= 1000 && p50 < 1064);
  ASSERT(mqb_histo_percentile(&h, 99.9) < 1064);
  ASSERT_EQ(mqb_histo_percentile(&h, 100), (uint64_t)500 * 1000 * 1000);
  /* A percentile in the overflow bucket is the exact max. */
  ASSERT_EQ(mqb_histo_percentile(&h, 99.95), (uint64_t)500 * 1000 * 1000);
  /* Zero is a value like any other. */
  mqb_histo_record(&h, 0);
  ASSERT_EQ(h.min, 0);
  ASSERT_EQ(mqb_histo_percentile(&h, 0), 0);
  return 0;
}

TEST_IMPL(histo_merge) {
  mqb_histo a, b, all;
  mqb_histo_init(&a);
  mqb_histo_init(&b);
  mqb_histo_init(&all);
  for (uint64_t v = 1; v < 5000; v += 7) {
    mqb_histo_record(v % 2 ? &a : &b, v * 13);
    mqb_histo_record(&all, v * 13);
  }
  mqb_histo_merge(&a, &b);
  ASSERT_EQ(a.total, all.total);
  ASSERT_EQ(a.min, all.min);
  ASSERT_EQ(a.max, all.max);
  ASSERT_MEM_EQ(a.counts, all.counts, sizeof(a.counts));
  ASSERT_EQ(mqb_histo_percentile(&a, 99), mqb_histo_percentile(&all, 99));
  /* Merging an empty one changes nothing. */
  mqb_histo empty;
  mqb_histo_init(&empty);
  mqb_histo_merge(&a, &empty);
  ASSERT_EQ(a.min, all.min);
  ASSERT_EQ(a.total, all.total);
  return 0;
}
