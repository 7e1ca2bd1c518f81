/* ctl_list.c: mqgatectl cert list: search filters, pagination, output. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define DAY 86400

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
  O_PAGE,
  O_PAGE_SIZE,
  O_COUNT
};

/* parse_size reads a decimal number in [min, max]; 0 or -1. */
static int parse_size(const char *s, size_t min, size_t max, size_t *out) {
  if (s == NULL || *s == '\0' || strspn(s, "0123456789") != strlen(s) ||
      strlen(s) > 9)
    return -1;
  size_t v = (size_t)strtoul(s, NULL, 10);
  if (v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* normalize_serial writes |in| as stored (uppercase hex, no colons, no
 * leading zero bytes) to |out|; -1 if it is not hex. */
static int normalize_serial(const char *in, char *out, size_t len) {
  size_t n = 0;
  if (strncmp(in, "0x", 2) == 0 || strncmp(in, "0X", 2) == 0)
    in += 2;
  for (; *in; in++) {
    if (*in == ':')
      continue;
    if (!isxdigit((unsigned char)*in) || n + 1 >= len)
      return -1;
    out[n++] = (char)toupper((unsigned char)*in);
  }
  out[n] = '\0';
  if (n == 0)
    return -1;
  if (n % 2) { /* certinfo keeps whole bytes: "ABC" is 0ABC */
    if (n + 1 >= len)
      return -1;
    memmove(out + 1, out, n + 1);
    out[0] = '0';
    n++;
  }
  size_t skip = 0;
  while (n - skip > 2 && out[skip] == '0' && out[skip + 1] == '0')
    skip += 2;
  memmove(out, out + skip, n - skip + 1);
  return 0;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

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
      [O_PAGE] = {"page", CTL_OPT_VALUE, 0, NULL},
      [O_PAGE_SIZE] = {"page-size", CTL_OPT_VALUE, 0, NULL},
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
  char serial[MQG_CERTINFO_SERIAL_MAX + 3], status[32], ca[65];

  if (opts[O_SERIAL].value) {
    if (normalize_serial(opts[O_SERIAL].value, serial, sizeof(serial)) < 0)
      return ctl_usage(ctx, "--serial needs a hex serial number");
    f.serial = serial;
  }
  f.cn = opts[O_CN].value;
  f.ou = opts[O_OU].value;
  if (opts[O_STATUS].value) {
    snprintf(status, sizeof(status), "%s", opts[O_STATUS].value);
    for (char *p = status; *p; p++)
      *p = *p == '-' ? '_' : (char)tolower((unsigned char)*p);
    if (strcmp(status, "active") != 0 && strcmp(status, "inactive") != 0 &&
        strcmp(status, "registered_inactive") != 0 &&
        strcmp(status, "revoked") != 0)
      return ctl_usage(ctx, "--status must be active, inactive, "
                            "registered_inactive or revoked");
    f.status = status;
  }
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
  if (opts[O_EXPIRED].seen)
    f.not_after_until = min64(f.not_after_until, now);
  if (opts[O_EXPIRING].seen) {
    size_t days = 30;
    if (opts[O_EXPIRING].value &&
        parse_size(opts[O_EXPIRING].value, 0, 100000, &days) < 0)
      return ctl_usage(ctx, "--expiring-within needs a number of days");
    f.not_after_until = min64(f.not_after_until, now + (int64_t)days * DAY);
  }
  if (opts[O_PAGE].value &&
      parse_size(opts[O_PAGE].value, 1, 100000000, &f.page) < 0)
    return ctl_usage(ctx, "--page needs a number from 1");
  if (opts[O_PAGE_SIZE].value &&
      parse_size(opts[O_PAGE_SIZE].value, 1, MQG_REG_PAGE_MAX, &f.page_size) <
          0)
    return ctl_usage(ctx, "--page-size needs a number from 1 to %d",
                     MQG_REG_PAGE_MAX);
  if (opts[O_CA].value) {
    if ((rc = ctl_resolve(ctx, MQG_REG_KIND_CA, opts[O_CA].value, ca)) != 0)
      return rc;
    f.ca = ca;
  }
  if ((rc = ctl_connect(ctx)) != 0)
    return rc;

  mqg_cert_page page;
  mqg_reg_status s = mqg_registry_cert_list(ctx->reg, &f, &page);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  size_t pages = (page.total + f.page_size - 1) / f.page_size;
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_int(&j, "total", (long long)page.total);
    ctl_json_int(&j, "page", (long long)f.page);
    ctl_json_int(&j, "page_size", (long long)f.page_size);
    ctl_json_int(&j, "pages", (long long)pages);
    ctl_json_array(&j, "certs");
    for (size_t i = 0; i < page.n; i++)
      ctl_cert_json(&j, NULL, &page.certs[i], 0);
    ctl_json_end_array(&j);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    ctl_table t;
    ctl_table_init(&t, 8);
    const char *head[] = {"FINGERPRINT", "STATUS",    "CN",     "OU",
                          "SERIAL",      "NOT AFTER", "SOURCE", "CLIENT ID"};
    ctl_table_row(&t, head);
    for (size_t i = 0; i < page.n; i++) {
      const mqg_cert_record *c = &page.certs[i];
      char fp[17], na[40];
      snprintf(fp, sizeof(fp), "%.16s", c->fp);
      ctl_time(c->not_after, na, sizeof(na) - 8);
      if (c->not_after < now)
        strcat(na, " (exp)");
      const char *row[] = {fp,  c->status, c->cn,     c->ou,
                           c->serial, na,  c->source, c->client_id};
      ctl_table_row(&t, row);
    }
    ctl_table_print(&t, stdout);
    ctl_table_cleanup(&t);
    printf("page %zu of %zu, %zu certificate%s\n", f.page, pages ? pages : 1,
           page.total, page.total == 1 ? "" : "s");
  }
  mqg_cert_page_cleanup(&page);
  return CTL_EXIT_OK;
}
