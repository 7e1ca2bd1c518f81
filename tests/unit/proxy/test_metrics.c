#include "task.h"

#include <uv.h>

#include "metrics.h"

/* --- the /metrics text while workers count on ---------------------------- */

static _Atomic int growing;

static void grow_one(_Atomic uint64_t *c) {
  uint64_t v = atomic_load(c);
  atomic_fetch_add(c, v > 100000000000000000ull ? 0 - v : v * 9 + 9);
}

/* grow gives every counter one more digit at a time (back to 0 past
 * 10^18), so that the text keeps growing between measure and write. */
static void grow(void *arg) {
  (void)arg;
  while (atomic_load(&growing)) {
#define MQG_TEST_GROW(f, name, help) grow_one(&mqg_metrics.f);
    MQG_COUNTER_MAP(MQG_TEST_GROW)
#undef MQG_TEST_GROW
  }
}

TEST_IMPL(metrics_text_whole) {
  uv_thread_t th;
  atomic_store(&growing, 1);
  ASSERT_EQ(uv_thread_create(&th, grow, NULL), 0);
  for (int i = 0; i < 20000; i++) {
    size_t len;
    char *t = mqg_metrics_text(&len);
    ASSERT(t != NULL);
    ASSERT_EQ(strlen(t), len);
    ASSERT(len > 0 && t[len - 1] == '\n'); /* never cut inside a line */
    ASSERT(strstr(t, "mqgate_crl_expired_admissions_total ") != NULL);
    free(t);
  }
  atomic_store(&growing, 0);
  uv_thread_join(&th);
  return 0;
}
