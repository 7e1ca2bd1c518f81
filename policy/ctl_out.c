/* ctl_out.c: mqgatectl's output: failures, JSON, tables, dates. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "registry_json.h"

/* --- failures -------------------------------------------------------------- */

/* report prints "mqgatectl: <lead><msg>" on stderr and, with --json, the
 * failure document holding |msg| alone. */
static void report(ctl_ctx *ctx, const char *cls, const char *lead,
                   const char *msg) {
  fprintf(stderr, "mqgatectl: %s%s\n", lead, msg);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_bool(&j, "ok", 0);
    ctl_json_str(&j, "error", cls);
    ctl_json_str(&j, "message", msg);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  }
}

int ctl_fail(ctl_ctx *ctx, int code, const char *cls, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  report(ctx, cls, "", msg);
  return code;
}

int ctl_reg_fail(ctl_ctx *ctx, mqg_reg_status s) {
  const char *cls = mqg_registry_error_class(ctx->reg);
  const char *msg = mqg_registry_error(ctx->reg);
  /* Refusals say so, so that the line names the rule as a rule. */
  report(ctx, cls, s == MQG_REG_REFUSED ? "refused: " : "", msg);
  return s;
}

int ctl_usage(ctl_ctx *ctx, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return ctl_fail(ctx, CTL_EXIT_USAGE, "usage",
                  "%s (try 'mqgatectl --help')", msg);
}

/* --- JSON (jansson) ------------------------------------------------------------ */

void ctl_json_init(ctl_json *j) { memset(j, 0, sizeof(*j)); }

/* add places |v| (a new reference, taken) under |key| in the open object,
 * at the end of the open array, or as the document. */
static void add(ctl_json *j, const char *key, json_t *v) {
  if (v == NULL)
    return;
  if (j->depth == 0) {
    json_decref(j->root);
    j->root = v;
    return;
  }
  json_t *parent = j->stack[j->depth - 1];
  if (json_is_object(parent))
    json_object_set_new(parent, key ? key : "", v);
  else
    json_array_append_new(parent, v);
}

static void open_value(ctl_json *j, const char *key, json_t *v) {
  if (v == NULL)
    return;
  json_incref(v);
  add(j, key, v);
  if (j->depth < (int)(sizeof(j->stack) / sizeof(j->stack[0])))
    j->stack[j->depth++] = v;
  json_decref(v); /* the parent holds it */
}

void ctl_json_object(ctl_json *j, const char *key) { open_value(j, key, json_object()); }
void ctl_json_array(ctl_json *j, const char *key) { open_value(j, key, json_array()); }

void ctl_json_end_object(ctl_json *j) {
  if (j->depth > 0)
    j->depth--;
}

void ctl_json_end_array(ctl_json *j) {
  if (j->depth > 0)
    j->depth--;
}

void ctl_json_str(ctl_json *j, const char *key, const char *v) {
  add(j, key, mqg_json_text(v));
}

void ctl_json_int(ctl_json *j, const char *key, long long v) {
  add(j, key, json_integer((json_int_t)v));
}

void ctl_json_bool(ctl_json *j, const char *key, int v) {
  add(j, key, json_boolean(v));
}

void ctl_json_value(ctl_json *j, const char *key, json_t *v) { add(j, key, v); }

void ctl_json_done(ctl_json *j) {
  if (j->root != NULL) {
    json_dumpf(j->root, stdout, JSON_COMPACT);
    json_decref(j->root);
  }
  fputc('\n', stdout);
  fflush(stdout);
  memset(j, 0, sizeof(*j));
}

void ctl_json_discard(ctl_json *j) {
  json_decref(j->root);
  memset(j, 0, sizeof(*j));
}

void ctl_cert_json(ctl_json *j, const char *key, const mqg_cert_record *c) {
  add(j, key, mqg_json_cert(c));
}

/* --- tables ------------------------------------------------------------------ */

void ctl_table_init(ctl_table *t, size_t ncols) {
  memset(t, 0, sizeof(*t));
  t->ncols = ncols > CTL_TABLE_COLS ? CTL_TABLE_COLS : ncols;
}

int ctl_table_row(ctl_table *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
    if (c == NULL)
      return -1;
    t->cells = c;
    t->cap = cap;
  }
  char **row = t->cells + t->nrows * t->ncols;
  for (size_t i = 0; i < t->ncols; i++) {
    row[i] = strdup(cells[i] ? cells[i] : "");
    if (row[i] == NULL) {
      while (i-- > 0)
        free(row[i]);
      return -1;
    }
  }
  t->nrows++;
  return 0;
}

/* display_width counts UTF-8 characters, not bytes. */
static size_t display_width(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      n++;
  return n;
}

void ctl_table_print(const ctl_table *t, FILE *f) {
  size_t width[CTL_TABLE_COLS] = {0};
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      size_t w = display_width(t->cells[r * t->ncols + c]);
      if (w > width[c])
        width[c] = w;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      if (c + 1 == t->ncols) {
        fputs(cell, f);
        break;
      }
      fputs(cell, f);
      for (size_t w = display_width(cell); w < width[c] + 2; w++)
        fputc(' ', f);
    }
    fputc('\n', f);
  }
}

void ctl_table_cleanup(ctl_table *t) {
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof(*t));
}

/* --- dates ------------------------------------------------------------------- */

const char *ctl_time(int64_t t, char *buf, size_t len) {
  if (t == 0) {
    snprintf(buf, len, "-");
    return buf;
  }
  time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm) == NULL ||
      strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
    snprintf(buf, len, "%lld", (long long)t);
  return buf;
}

int ctl_parse_date(const char *s, int64_t *out) {
  size_t n = strlen(s);
  if (n > 0 && n <= 15 && strspn(s, "0123456789") == n) {
    *out = strtoll(s, NULL, 10);
    return 0;
  }
  int y, m, d;
  char extra;
  if (n != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 ||
      s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1 || d > 31)
    return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
  time_t t = timegm(&tm);
  /* timegm normalises 2026-02-31 to March: refuse that */
  if (tm.tm_mday != d || tm.tm_mon != m - 1)
    return -1;
  *out = (int64_t)t;
  return 0;
}

int ctl_done(ctl_ctx *ctx, const char *k1, const char *v1, const char *k2, const char *v2,
             const char *line) {
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_bool(&j, "ok", 1);
    ctl_json_str(&j, k1, v1);
    ctl_json_str(&j, k2, v2);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    puts(line);
  }
  return CTL_EXIT_OK;
}
