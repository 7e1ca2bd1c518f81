/* task.h: the unit tests' asserts. Never compiled out (they do not use
 * assert(3)); a failed check prints where and aborts the test binary. */
#ifndef MQG_TEST_TASK_H
#define MQG_TEST_TASK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_IMPL(name) int run_test_##name(void)

#define ASSERT(expr)                                                      \
  do {                                                                    \
    if (!(expr)) {                                                        \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, \
              #expr);                                                     \
      abort();                                                            \
    }                                                                     \
  } while (0)

#define ASSERT_EQ(a, b)                                                   \
  do {                                                                    \
    long long a_ = (long long)(a), b_ = (long long)(b);                   \
    if (a_ != b_) {                                                       \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
              __LINE__, #a, #b, a_, b_);                                  \
      abort();                                                            \
    }                                                                     \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                               \
  do {                                                                    \
    const char *a_ = (a), *b_ = (b);                                      \
    if (strcmp(a_, b_) != 0) {                                            \
      fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_, \
              b_);                                                        \
      abort();                                                            \
    }                                                                     \
  } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                            \
  do {                                                                    \
    if (memcmp((a), (b), (n)) != 0) {                                     \
      fprintf(stderr, "%s:%d: %zu bytes of %s and %s differ\n", __FILE__, \
              __LINE__, (size_t)(n), #a, #b);                             \
      abort();                                                            \
    }                                                                     \
  } while (0)

#endif
