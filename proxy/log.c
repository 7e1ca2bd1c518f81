/* log.c: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = MQG_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void mqg_log_set_level(mqg_log_level level) { atomic_store(&log_level, level); }

int mqg_log_enabled(mqg_log_level level) {
  return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int mqg_log_parse_level(const char *s, mqg_log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (mqg_log_level)i;
      return 0;
    }
  }
  return -EINVAL;
}

void mqg_log(mqg_log_level level, const char *fmt, ...) {
  if (!mqg_log_enabled(level))
    return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line),
                   "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                   level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2;
  line[len++] = '\n';
  /* A log line that cannot be written has nowhere else to go. */
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
