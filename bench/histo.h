/* histo.h: a small log-linear histogram for latencies, after HdrHistogram.
 *
 * Values are unsigned integers in the caller's unit (mqgate-bench records
 * microseconds). Values below 16 have a bucket each; above, every power of
 * two [2^k, 2^(k+1)) is split into 16 equal sub-buckets, so a value is
 * known to within 1/16 (6.25%) of itself. Buckets go up to 2^27 - 1
 * (134 s in microseconds); larger values count in the last bucket, while
 * the exact minimum and maximum are kept beside the buckets.
 *
 *   value:   0 1 .. 15 | 16 17 .. 31 | 32 34 .. 62 | 64 68 .. 124 | ...
 *   bucket:  0 1 .. 15 | 16 17 .. 31 | 32 33 .. 47 | 48 49 .. 63  | ...
 *            exact       width 1       width 2       width 4
 *
 * Recording is O(1) (a count-leading-zeros and a shift); a percentile
 * query walks the 384 buckets once. The struct is plain data: init it,
 * record into it, merge two of them; nothing to free.
 *
 * Errors: none; every value is accepted. */
#ifndef MQB_HISTO_H
#define MQB_HISTO_H

#include <stdint.h>

#define MQB_HISTO_SUB_BITS 4
#define MQB_HISTO_SUB (1u << MQB_HISTO_SUB_BITS) /* 16 */
#define MQB_HISTO_MAX_BITS 27                    /* buckets up to 2^27 - 1 */
#define MQB_HISTO_BUCKETS \
  (MQB_HISTO_SUB + (MQB_HISTO_MAX_BITS - MQB_HISTO_SUB_BITS) * MQB_HISTO_SUB)

typedef struct {
  uint64_t counts[MQB_HISTO_BUCKETS];
  uint64_t total; /* values recorded */
  uint64_t min;   /* exact smallest value, UINT64_MAX while empty */
  uint64_t max;   /* exact largest value, 0 while empty */
  double sum;     /* for the mean */
} mqb_histo;

/* mqb_histo_init empties |h|. */
void mqb_histo_init(mqb_histo *h);

/* mqb_histo_record counts |v| once. */
void mqb_histo_record(mqb_histo *h, uint64_t v);

/* mqb_histo_merge adds every count of |src| to |dst|. */
void mqb_histo_merge(mqb_histo *dst, const mqb_histo *src);

/* mqb_histo_percentile returns the value at percentile |p| (0..100): the
 * smallest recorded value such that at least p% of the values are at most
 * it, as the highest value of its bucket, clamped to the exact min and
 * max (so p = 100 is the exact maximum). Returns 0 for an empty
 * histogram. */
uint64_t mqb_histo_percentile(const mqb_histo *h, double p);

/* mqb_histo_mean returns the mean of the recorded values, 0 when empty. */
double mqb_histo_mean(const mqb_histo *h);

/* mqb_histo_bucket returns the bucket index of |v| and, when |lo| and |hi|
 * are not NULL, the lowest and highest value that bucket holds (exposed
 * for the unit test). */
unsigned mqb_histo_bucket(uint64_t v, uint64_t *lo, uint64_t *hi);

#endif
