/* histo.c: see histo.h. */
#include "histo.h"

#include <string.h>

void mqb_histo_init(mqb_histo *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

/* The bucket's bounds, from its index alone. */
static void bucket_bounds(unsigned i, uint64_t *lo, uint64_t *hi) {
  if (i < MQB_HISTO_SUB) {
    *lo = *hi = i;
    return;
  }
  unsigned k = (i - MQB_HISTO_SUB) / MQB_HISTO_SUB + MQB_HISTO_SUB_BITS;
  uint64_t sub = (i - MQB_HISTO_SUB) % MQB_HISTO_SUB;
  uint64_t width = (uint64_t)1 << (k - MQB_HISTO_SUB_BITS);
  *lo = ((uint64_t)1 << k) + sub * width;
  *hi = *lo + width - 1;
}

unsigned mqb_histo_bucket(uint64_t v, uint64_t *lo, uint64_t *hi) {
  unsigned i;
  if (v < MQB_HISTO_SUB) {
    i = (unsigned)v;
  } else {
    unsigned k = 63u - (unsigned)__builtin_clzll(v); /* 2^k <= v */
    if (k >= MQB_HISTO_MAX_BITS) {
      i = MQB_HISTO_BUCKETS - 1;
    } else {
      unsigned sub = (unsigned)(v >> (k - MQB_HISTO_SUB_BITS)) & (MQB_HISTO_SUB - 1);
      i = MQB_HISTO_SUB + (k - MQB_HISTO_SUB_BITS) * MQB_HISTO_SUB + sub;
    }
  }
  if (lo != NULL && hi != NULL)
    bucket_bounds(i, lo, hi);
  return i;
}

void mqb_histo_record(mqb_histo *h, uint64_t v) {
  h->counts[mqb_histo_bucket(v, NULL, NULL)]++;
  h->total++;
  h->sum += (double)v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

void mqb_histo_merge(mqb_histo *dst, const mqb_histo *src) {
  for (unsigned i = 0; i < MQB_HISTO_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  dst->total += src->total;
  dst->sum += src->sum;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
}

uint64_t mqb_histo_percentile(const mqb_histo *h, double p) {
  if (h->total == 0)
    return 0;
  if (p >= 100.0)
    return h->max;
  if (p < 0.0)
    p = 0.0;
  /* The rank of the wanted value, 1-based: at least p% at or below it
   * (the tolerance keeps 99.9% of 1000 at 999, not 1000, whatever the
   * rounding of 99.9 / 100). */
  double want = p / 100.0 * (double)h->total;
  uint64_t rank = (uint64_t)want;
  if (want - (double)rank > 1e-9 * want)
    rank++;
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < MQB_HISTO_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t lo, hi;
      bucket_bounds(i, &lo, &hi);
      if (i == MQB_HISTO_BUCKETS - 1 || hi > h->max)
        hi = h->max;
      return hi < h->min ? h->min : hi;
    }
  }
  return h->max;
}

double mqb_histo_mean(const mqb_histo *h) {
  return h->total == 0 ? 0.0 : h->sum / (double)h->total;
}
