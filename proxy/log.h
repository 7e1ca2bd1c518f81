/* log.h: one line per event on standard error, safe from any thread.
 *
 * Each call formats the whole line (timestamp, level, message) into a stack
 * buffer and hands it to one write(2), so lines from different worker threads
 * never interleave. Lines longer than about 1.5 KiB are cut. With
 * mqg_log_set_json(1) every line is one JSON object instead. */
#ifndef MQG_LOG_H
#define MQG_LOG_H

#include <stddef.h>

typedef enum {
  MQG_LOG_ERROR = 0,
  MQG_LOG_WARN = 1,
  MQG_LOG_INFO = 2,
  MQG_LOG_DEBUG = 3,
} mqg_log_level;

/* mqg_log_set_level makes lines above |level| silent. */
void mqg_log_set_level(mqg_log_level level);

/* mqg_log_enabled returns 1 if a line at |level| would be written, so that
 * callers can skip building expensive arguments. */
int mqg_log_enabled(mqg_log_level level);

/* mqg_log_parse_level parses "error", "warn", "info" or "debug" into |*out|.
 * Returns 0, or -EINVAL for any other text. */
int mqg_log_parse_level(const char *s, mqg_log_level *out);

/* mqg_log_set_json switches every line to one JSON object ({"ts", "level",
 * "msg"} or, for events, {"ts", "level", "event", fields...}). */
void mqg_log_set_json(int on);

/* One key/value of an event line. Values are escaped as needed. */
typedef struct {
  const char *key;
  const char *value;
} mqg_log_field;

/* mqg_log_event writes one structured line: "event key=value ..." as text
 * (values with spaces or quotes are quoted), or a JSON object. */
void mqg_log_event(mqg_log_level level, const char *event, const mqg_log_field *fields,
                   size_t n);

/* mqg_log writes one line at |level| (printf format). */
void mqg_log(mqg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
