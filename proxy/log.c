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
static _Atomic int log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void mqg_log_set_level(mqg_log_level level) { atomic_store(&log_level, level); }

int mqg_log_enabled(mqg_log_level level) {
  return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void mqg_log_set_json(int on) { atomic_store(&log_json, on); }

int mqg_log_parse_level(const char *s, mqg_log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (mqg_log_level)i;
      return 0;
    }
  }
  return -EINVAL;
}

/* A line being built in a fixed buffer; output past the end is dropped. */
typedef struct {
  char buf[1536];
  size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n) {
  if (n > sizeof(l->buf) - 2 - l->len)
    n = sizeof(l->buf) - 2 - l->len;
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

/* JSON string contents: quotes, backslashes and control bytes escaped. */
static void put_json(line_t *l, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char esc[8];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      put(l, esc, 2);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", ch);
      puts_(l, esc);
    } else {
      put(l, (const char *)&ch, 1);
    }
  }
}

static void start(line_t *l, mqg_log_level level, int json) {
  struct timespec ts;
  struct tm tm;
  char t[96];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           ts.tv_nsec / 1000000);
  l->len = 0;
  if (json) {
    puts_(l, "{\"ts\":\"");
    puts_(l, t);
    puts_(l, "\",\"level\":\"");
    puts_(l, level_names[level]);
    puts_(l, "\"");
  } else {
    char head[128];
    snprintf(head, sizeof(head), "%s %-5s ", t, level_names[level]);
    puts_(l, head);
  }
}

static void emit(line_t *l) {
  l->buf[l->len++] = '\n';
  /* A log line that cannot be written has nowhere else to go. */
  ssize_t w = write(STDERR_FILENO, l->buf, l->len);
  (void)w;
}

void mqg_log_event(mqg_log_level level, const char *event, const mqg_log_field *f,
                   size_t n) {
  if (!mqg_log_enabled(level))
    return;
  int json = atomic_load_explicit(&log_json, memory_order_relaxed);
  line_t l;
  start(&l, level, json);
  if (json) {
    puts_(&l, ",\"event\":\"");
    put_json(&l, event);
    puts_(&l, "\"");
    for (size_t i = 0; i < n; i++) {
      puts_(&l, ",\"");
      puts_(&l, f[i].key);
      puts_(&l, "\":\"");
      put_json(&l, f[i].value ? f[i].value : "");
      puts_(&l, "\"");
    }
    puts_(&l, "}");
  } else {
    puts_(&l, event);
    for (size_t i = 0; i < n; i++) {
      const char *v = f[i].value ? f[i].value : "";
      puts_(&l, " ");
      puts_(&l, f[i].key);
      puts_(&l, "=");
      if (*v == '\0' || strpbrk(v, " \"=") != NULL) {
        puts_(&l, "\"");
        put_json(&l, v);
        puts_(&l, "\"");
      } else {
        puts_(&l, v);
      }
    }
  }
  emit(&l);
}

void mqg_log(mqg_log_level level, const char *fmt, ...) {
  if (!mqg_log_enabled(level))
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  int json = atomic_load_explicit(&log_json, memory_order_relaxed);
  line_t l;
  start(&l, level, json);
  if (json) {
    puts_(&l, ",\"msg\":\"");
    put_json(&l, msg);
    puts_(&l, "\"}");
  } else {
    puts_(&l, msg);
  }
  emit(&l);
}
