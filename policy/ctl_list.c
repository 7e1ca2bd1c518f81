/* ctl_list.c: mqgatectl cert list: search filters, pagination, output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "options.h"

enum {
  O_SERIAL,
  O_CN,
  O_OU,
  O_STATUS,
  O_CA,
  O_BEFORE,
  O_AFTER,
  O_EXPIRED,
  O_EXPIRING,
  O_LIMIT,
  O_PAGE_SIZE,
  O_CURSOR,
  O_ALL,
  O_COUNT
};

/* parse_size reads a decimal number in [min, max]; 0 or -1. */
static int parse_size(const char *s, size_t min, size_t max, size_t *out) {
  uint64_t v;
  if (s == NULL || mqg_options_parse_uint(s, max, &v) != 0 || v < min)
    return -1;
  *out = (size_t)v;
  return 0;
}

int ctl_cert_list(ctl_ctx *ctx, int argc, char **argv) {
  ctl_opt opts[O_COUNT] = {
      [O_SERIAL] = {"serial", CTL_OPT_VALUE, 0, NULL},
      [O_CN] = {"cn", CTL_OPT_VALUE, 0, NULL},
      [O_OU] = {"ou", CTL_OPT_VALUE, 0, NULL},
      [O_STATUS] = {"status", CTL_OPT_VALUE, 0, NULL},
      [O_CA] = {"ca", CTL_OPT_VALUE, 0, NULL},
      [O_BEFORE] = {"not-after-before", CTL_OPT_VALUE, 0, NULL},
      [O_AFTER] = {"not-after-after", CTL_OPT_VALUE, 0, NULL},
      [O_EXPIRED] = {"expired", CTL_OPT_FLAG, 0, NULL},
      [O_EXPIRING] = {"expiring-within", CTL_OPT_OPTIONAL, 0, NULL},
      [O_LIMIT] = {"limit", CTL_OPT_VALUE, 0, NULL},
      [O_PAGE_SIZE] = {"page-size", CTL_OPT_VALUE, 0, NULL}, /* = --limit */
      [O_CURSOR] = {"cursor", CTL_OPT_VALUE, 0, NULL},
      [O_ALL] = {"all", CTL_OPT_FLAG, 0, NULL},
  };
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, opts, O_COUNT, pos, 0, &npos,
                     ctl_cert_help);
  if (rc != 0)
    return rc;

  mqg_cert_filter f;
  mqg_cert_filter_init(&f);
  int64_t now = (int64_t)time(NULL);
  char ca[65], err[128];

  /* The filters mqg_cert_filter_set reads (its names, the options' values). */
  const struct {
    int opt;
    const char *name, *value;
  } set[] = {
      {O_SERIAL, "serial", opts[O_SERIAL].value},
      {O_CN, "cn", opts[O_CN].value},
      {O_OU, "ou", opts[O_OU].value},
      {O_STATUS, "status", opts[O_STATUS].value},
      {O_EXPIRED, "expired", opts[O_EXPIRED].seen ? "true" : NULL},
      {O_EXPIRING, "expiring_within_days",
       !opts[O_EXPIRING].seen ? NULL : opts[O_EXPIRING].value ? opts[O_EXPIRING].value : "30"},
  };
  if (opts[O_BEFORE].value) {
    int64_t t;
    if (ctl_parse_date(opts[O_BEFORE].value, &t) < 0)
      return ctl_usage(ctx, "--not-after-before needs YYYY-MM-DD or Unix "
                            "seconds");
    f.not_after_until = t;
  }
  if (opts[O_AFTER].value) {
    if (ctl_parse_date(opts[O_AFTER].value, &f.not_after_from) < 0)
      return ctl_usage(ctx, "--not-after-after needs YYYY-MM-DD or Unix "
                            "seconds");
  }
  for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
    if (set[i].value != NULL &&
        mqg_cert_filter_set(&f, set[i].name, set[i].value, now, err, sizeof(err)) < 0)
      return ctl_usage(ctx, "--%s %s", opts[set[i].opt].name, err);
  const char *limit = opts[O_LIMIT].value ? opts[O_LIMIT].value : opts[O_PAGE_SIZE].value;
  if (limit && parse_size(limit, 1, MQG_REG_PAGE_MAX, &f.limit) < 0)
    return ctl_usage(ctx, "--limit needs a number from 1 to %d", MQG_REG_PAGE_MAX);
  if (opts[O_CURSOR].value) {
    const char *c = opts[O_CURSOR].value;
    if (strlen(c) != 80 || strspn(c, "0123456789abcdef") != 80)
      return ctl_usage(ctx, "--cursor needs the cursor a previous page printed");
    if (opts[O_ALL].seen)
      return ctl_usage(ctx, "--all walks every page: no --cursor with it");
    f.cursor = c;
  }
  if (opts[O_CA].value) {
    if ((rc = ctl_resolve(ctx, MQG_REG_KIND_CA, opts[O_CA].value, ca)) != 0)
      return rc;
    f.ca = ca;
  }
  if ((rc = ctl_connect(ctx)) != 0)
    return rc;

  /* One call a page; --all goes on from cursor to cursor (each call is
   * bounded on the Redis side, whatever the registry's size). */
  int all = opts[O_ALL].seen;
  ctl_json j;
  ctl_table t;
  size_t shown = 0;
  long long total = -1;
  char cursor[81] = "";
  if (ctx->json) {
    /* The document is printed once complete (ctl_json_done): a failure on
     * a later page prints the failure document alone. */
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_array(&j, "certs");
  } else {
    ctl_table_init(&t, 8);
    const char *head[] = {"FINGERPRINT", "STATUS",    "CN",     "OU",
                          "SERIAL",      "NOT AFTER", "SOURCE", "CLIENT ID"};
    ctl_table_row(&t, head);
  }
  for (int first = 1;; first = 0) {
    mqg_cert_page page;
    mqg_reg_status s = mqg_registry_cert_list(ctx->reg, &f, &page);
    if (s != MQG_REG_OK) {
      if (ctx->json) {
        ctl_json_discard(&j);
      } else {
        ctl_table_cleanup(&t);
      }
      return ctl_reg_fail(ctx, s);
    }
    if (first)
      total = page.total;
    for (size_t i = 0; i < page.n; i++) {
      const mqg_cert_record *c = &page.certs[i];
      if (ctx->json) {
        ctl_cert_json(&j, NULL, c);
        continue;
      }
      char fp[17], na[40];
      snprintf(fp, sizeof(fp), "%.16s", c->fp);
      ctl_time(c->not_after, na, sizeof(na) - 8);
      if (c->not_after < now)
        strcat(na, " (exp)");
      const char *row[] = {fp,  c->status, c->cn,     c->ou,
                           c->serial, na,  c->source, c->client_id};
      ctl_table_row(&t, row);
    }
    shown += page.n;
    snprintf(cursor, sizeof(cursor), "%s", page.cursor);
    mqg_cert_page_cleanup(&page);
    if (!all || cursor[0] == '\0')
      break;
    f.cursor = cursor;
  }
  if (ctx->json) {
    ctl_json_end_array(&j);
    ctl_json_int(&j, "count", (long long)shown);
    if (total >= 0)
      ctl_json_int(&j, "total", total);
    ctl_json_str(&j, "cursor", cursor);
    ctl_json_int(&j, "limit", (long long)f.limit);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    ctl_table_print(&t, stdout);
    ctl_table_cleanup(&t);
    printf("%zu certificate%s", shown, shown == 1 ? "" : "s");
    if (total >= 0)
      printf(" of %lld", total);
    if (cursor[0])
      printf("; next page: --cursor %s", cursor);
    printf("\n");
  }
  return CTL_EXIT_OK;
}
