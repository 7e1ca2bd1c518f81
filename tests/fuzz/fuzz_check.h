/* fuzz_check.h: CHECK, the fuzzers' assertion. Unlike assert() it stays
 * in every build type, and it aborts, which libFuzzer reports as a crash
 * with the input that caused it. */
#ifndef MQG_FUZZ_CHECK_H
#define MQG_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(expr)                                                     \
  do {                                                                  \
    if (!(expr)) {                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
              #expr);                                                   \
      abort();                                                          \
    }                                                                   \
  } while (0)

#endif
