/* options.c: see options.h. */
#include "options.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

/* Where a value comes from, in order of precedence (a LIST keeps the items
 * of one source only). */
enum opt_src { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

/* getopt_long values: every long option's is above any character, so that
 * an optopt below 256 always is a short option ("-x") and a long option's
 * error names its argv word ("--listen", "--help=3"). A row's value is
 * VAL_OPT + its index, a program flag's VAL_OPT + nopts + its index. */
#define VAL_OPT 256

#define NAME_MAX_LEN 64 /* of a flag or variable name, with its NUL */

/* "tls_min" -> "tls-min" (flag and file key) or "MQGATE_TLS_MIN". */
static void flag_name(const mqg_opt *o, char *out, size_t cap) {
  snprintf(out, cap, "%s", o->name);
  for (char *p = out; *p; p++)
    if (*p == '_')
      *p = '-';
}

static void env_name(const mqg_opt_table *t, const mqg_opt *o, char *out, size_t cap) {
  size_t skip = strlen(t->env_prefix);
  int n = snprintf(out, cap, "%s%s", t->env_prefix, o->name);
  for (size_t i = skip; (int)i < n && i < cap; i++)
    out[i] = (char)toupper((unsigned char)out[i]);
}

static int is_config(const mqg_opt *o) { return strcmp(o->name, "config") == 0; }

/* number reads a decimal number at the start of |s| (a digit first: no
 * sign, no space) into |*out|, and where it ends into |*rest|. */
static int number(const char *s, uint64_t *out, const char **rest) {
  if (!isdigit((unsigned char)*s))
    return -EINVAL;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0)
    return -EINVAL;
  *out = v;
  *rest = end;
  return 0;
}

int mqg_options_parse_uint(const char *s, uint64_t max, uint64_t *out) {
  uint64_t v;
  const char *rest;
  if (number(s, &v, &rest) != 0 || *rest != '\0' || v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

/* A number and a unit of |units| ("" for none), multiplied; at most half
 * of the type's range, so that sums of two stay in it. */
struct unit {
  const char *name;
  uint64_t mul;
};

static int scaled(const char *s, const struct unit *units, size_t nunits, uint64_t limit,
                  uint64_t *out) {
  uint64_t v;
  const char *u;
  if (number(s, &v, &u) != 0)
    return -EINVAL;
  for (size_t i = 0; i < nunits; i++) {
    if (strcmp(u, units[i].name) == 0) {
      if (v > limit / units[i].mul)
        return -EINVAL;
      *out = v * units[i].mul;
      return 0;
    }
  }
  return -EINVAL;
}

static const struct unit ms_units[] = {
    {"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}};
static const struct unit size_units[] = {
    {"", 1}, {"k", 1024}, {"K", 1024}, {"m", 1024 * 1024}, {"M", 1024 * 1024}};

static const struct {
  const char *name;
  uint16_t version;
} tls_versions[] = {{"1.0", TLS1_VERSION},
                    {"1.1", TLS1_1_VERSION},
                    {"1.2", TLS1_2_VERSION},
                    {"1.3", TLS1_3_VERSION}};
#define NTLS (sizeof(tls_versions) / sizeof(tls_versions[0]))

int mqg_options_parse_addr(const char *s, struct sockaddr_storage *out) {
  char host[128];
  const char *port_s;
  memset(out, 0, sizeof(*out));
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
      return -EINVAL;
    memcpy(host, s + 1, (size_t)(close - s - 1));
    host[close - s - 1] = '\0';
    port_s = close + 2;
  } else {
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
      return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port_s = colon + 1;
  }
  uint64_t port;
  if (mqg_options_parse_uint(port_s, 65535, &port) != 0)
    return -EINVAL;
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  if (strcmp(host, "localhost") == 0) {
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    v4->sin_port = htons((uint16_t)port);
    return 0;
  }
  return -EINVAL;
}

const char *mqg_options_tls_name(uint16_t version) {
  for (size_t i = 0; i < NTLS; i++)
    if (tls_versions[i].version == version)
      return tls_versions[i].name;
  return "?";
}

int mqg_options_tls_parse(const char *name, uint16_t *version) {
  for (size_t i = 0; i < NTLS; i++)
    if (strcmp(name, tls_versions[i].name) == 0) {
      *version = tls_versions[i].version;
      return 0;
    }
  return -EINVAL;
}

static void list_clear(mqg_strlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* list_add adds the comma-separated items of |value| to |l|, after
 * emptying it if its items came from another source. A value of spaces
 * only empties it. Returns 0 or -EINVAL (an empty item, too many, or no
 * memory), |l| then holding the items before the bad one. */
static int list_add(mqg_strlist *l, const char *value, enum opt_src src) {
  if ((enum opt_src)l->src != src) {
    list_clear(l);
    l->src = (int)src;
  }
  if (value[strspn(value, " \t")] == '\0') {
    list_clear(l);
    return 0;
  }
  for (const char *p = value;;) {
    size_t len = strcspn(p, ",");
    const char *item = p;
    while (len > 0 && isspace((unsigned char)item[0]))
      item++, len--;
    while (len > 0 && isspace((unsigned char)item[len - 1]))
      len--;
    if (len == 0 || l->n == MQG_OPT_LIST_MAX)
      return -EINVAL;
    char **grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
    if (grown == NULL)
      return -EINVAL;
    l->v = grown;
    if ((l->v[l->n] = strndup(item, len)) == NULL)
      return -EINVAL;
    l->n++;
    p += strcspn(p, ",");
    if (*p == '\0')
      return 0;
    p++;
  }
}

/* parse sets the field of |o| in |cfg| from |value|; -EINVAL leaves a STR
 * or number as it was. */
static int parse(void *cfg, const mqg_opt *o, const char *value, enum opt_src src) {
  void *field = (char *)cfg + o->offset;
  uint64_t u;
  switch (o->kind) {
    case MQG_OPT_STR: {
      char *copy = strdup(value);
      if (copy == NULL)
        return -EINVAL;
      free(*(char **)field);
      *(char **)field = copy;
      return 0;
    }
    case MQG_OPT_UINT:
      if (mqg_options_parse_uint(value, 1000000, &u) != 0)
        return -EINVAL;
      *(unsigned *)field = (unsigned)u;
      return 0;
    case MQG_OPT_MS:
      if (scaled(value, ms_units, 5, UINT64_MAX / 2, &u) != 0)
        return -EINVAL;
      *(uint64_t *)field = u;
      return 0;
    case MQG_OPT_SIZE:
      if (scaled(value, size_units, 5, SIZE_MAX / 2, &u) != 0)
        return -EINVAL;
      *(size_t *)field = (size_t)u;
      return 0;
    case MQG_OPT_BOOL:
      if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
        *(int *)field = 1;
      else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
               strcmp(value, "0") == 0)
        *(int *)field = 0;
      else
        return -EINVAL;
      return 0;
    case MQG_OPT_TLSVER:
      return mqg_options_tls_parse(value, (uint16_t *)field);
    case MQG_OPT_LIST:
      return list_add((mqg_strlist *)field, value, src);
  }
  return -EINVAL;
}

/* set is parse with the error message: |origin| names where the value came
 * from. */
static int set(void *cfg, const mqg_opt *o, const char *value, const char *origin,
               enum opt_src src, char *err, size_t errlen) {
  if (parse(cfg, o, value, src) == 0)
    return 0;
  char flag[NAME_MAX_LEN];
  flag_name(o, flag, sizeof(flag));
  snprintf(err, errlen, "%s: invalid value \"%s\" for %s", origin, value, flag);
  return -EINVAL;
}

/* --- the file -------------------------------------------------------------- */

struct ini_ctx {
  const mqg_opt_table *t;
  void *cfg;
  const char *path;
  char *err;
  size_t errlen;
  int failed;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value) {
  struct ini_ctx *ctx = user;
  const mqg_opt_table *t = ctx->t;
  if (ctx->failed)
    return 0;
  if (section[0] != '\0' && strcmp(section, t->section) != 0) {
    if (t->other_section != NULL && strcmp(section, t->other_section) == 0)
      return 1;
    snprintf(ctx->err, ctx->errlen, "%s: unknown section [%s]", ctx->path, section);
    ctx->failed = 1;
    return 0;
  }
  for (size_t i = 0; i < t->nopts; i++) {
    char flag[NAME_MAX_LEN];
    flag_name(&t->opts[i], flag, sizeof(flag));
    if (strcmp(flag, name) == 0 && !is_config(&t->opts[i])) {
      if (set(ctx->cfg, &t->opts[i], value, ctx->path, SRC_FILE, ctx->err, ctx->errlen) != 0)
        ctx->failed = 1;
      return !ctx->failed;
    }
  }
  snprintf(ctx->err, ctx->errlen, "%s: unknown key \"%s\"", ctx->path, name);
  ctx->failed = 1;
  return 0;
}

static int load_file(const mqg_opt_table *t, void *cfg, const char *file, char *err,
                     size_t errlen) {
  struct ini_ctx ctx = {t, cfg, file, err, errlen, 0};
  int rc = ini_parse(file, on_ini_line, &ctx);
  if (rc == -1) {
    snprintf(err, errlen, "%s: cannot open config file", file);
    return -EINVAL;
  }
  if (ctx.failed)
    return -EINVAL;
  if (rc != 0) {
    snprintf(err, errlen, "%s:%d: syntax error", file, rc);
    return -EINVAL;
  }
  return 0;
}

/* --- the command line ----------------------------------------------------- */

/* getopt_restart makes the next getopt_long call start over at argv[1].
 * 0, not 1: glibc then resets all of getopt's state, including its position
 * inside a "-abc" group, which an earlier call that failed there leaves
 * pointing into that call's argv. */
static void getopt_restart(void) {
  optind = 0;
  opterr = 0;
}

/* The flags of getopt_long: one per row, one per program flag; the names
 * live in the same allocation, after the array. */
static struct option *longopts_new(const mqg_opt_table *t) {
  size_t n = t->nopts + t->nflags;
  struct option *lo = malloc((n + 1) * sizeof(*lo) + t->nopts * NAME_MAX_LEN);
  if (lo == NULL)
    return NULL;
  char *names = (char *)(lo + n + 1);
  for (size_t i = 0; i < t->nopts; i++) {
    char *name = names + i * NAME_MAX_LEN;
    flag_name(&t->opts[i], name, NAME_MAX_LEN);
    /* A BOOL flag alone means yes: its value can only follow an '='. */
    int has_arg = t->opts[i].kind == MQG_OPT_BOOL ? optional_argument : required_argument;
    lo[i] = (struct option){name, has_arg, NULL, VAL_OPT + (int)i};
  }
  for (size_t i = 0; i < t->nflags; i++)
    lo[t->nopts + i] =
        (struct option){t->flags[i].name, no_argument, NULL, VAL_OPT + (int)(t->nopts + i)};
  lo[n] = (struct option){NULL, 0, NULL, 0};
  return lo;
}

/* config_file returns the file named by the last --config flag, else by
 * <prefix>CONFIG, else NULL. The file ranks below the environment and the
 * flags but is named by them, so a first getopt pass finds it: every
 * spelling getopt accepts ("--config F", "--config=F", "--conf=F") names
 * it. Errors are the second pass's to report. */
static const char *config_file(const mqg_opt_table *t, const struct option *lo, int argc,
                               char **argv) {
  const char *file = NULL;
  for (size_t i = 0; i < t->nopts; i++) {
    if (is_config(&t->opts[i])) {
      char env[NAME_MAX_LEN];
      env_name(t, &t->opts[i], env, sizeof(env));
      file = getenv(env);
    }
  }
  getopt_restart();
  for (int c; (c = getopt_long(argc, argv, ":", lo, NULL)) != -1;)
    if (c >= VAL_OPT && (size_t)(c - VAL_OPT) < t->nopts && is_config(&t->opts[c - VAL_OPT]))
      file = optarg;
  return file;
}

/* The flags, in order; after the environment, so they win. */
static int load_flags(const mqg_opt_table *t, const struct option *lo, void *cfg, int argc,
                      char **argv, char *err, size_t errlen) {
  int c;
  getopt_restart();
  while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
    /* getopt_long answers '?' (unknown, or a value given to a flag that
     * takes none) or ':' (missing value), else one of our values. */
    if (c < VAL_OPT || (size_t)(c - VAL_OPT) >= t->nopts + t->nflags) {
      /* A short option inside a group ("-xy") has no argv word of its own. */
      char shortopt[3] = {'-', (char)optopt, '\0'};
      snprintf(err, errlen, "%s: %s (see --help)",
               c == ':' ? "missing value for option" : "unknown option",
               optopt > 0 && optopt < VAL_OPT ? shortopt : argv[optind - 1]);
      return -EINVAL;
    }
    size_t i = (size_t)(c - VAL_OPT);
    if (i >= t->nopts) {
      int rc = t->on_flag(t, i - t->nopts, cfg, argv[0]);
      if (rc != 0)
        return rc;
      continue;
    }
    const char *value = optarg != NULL ? optarg : "yes"; /* a BOOL flag alone */
    if (set(cfg, &t->opts[i], value, "flag", SRC_FLAG, err, errlen) != 0)
      return -EINVAL;
  }
  if (optind < argc) {
    snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
    return -EINVAL;
  }
  return 0;
}

int mqg_options_load(const mqg_opt_table *t, void *cfg, int argc, char **argv, char *err,
                     size_t errlen) {
  int rc = -EINVAL;
  memset(cfg, 0, t->size);
  err[0] = '\0';
  for (size_t i = 0; i < t->nopts; i++)
    if (set(cfg, &t->opts[i], t->opts[i].def, "default", SRC_DEFAULT, err, errlen) != 0)
      return -EINVAL;

  struct option *lo = longopts_new(t);
  if (lo == NULL) {
    snprintf(err, errlen, "out of memory");
    return -EINVAL;
  }
  const char *file = config_file(t, lo, argc, argv);
  if (file != NULL && file[0] != '\0' && load_file(t, cfg, file, err, errlen) != 0)
    goto out;
  for (size_t i = 0; i < t->nopts; i++) {
    char env[NAME_MAX_LEN];
    env_name(t, &t->opts[i], env, sizeof(env));
    const char *v = getenv(env);
    if (v != NULL && set(cfg, &t->opts[i], v, env, SRC_ENV, err, errlen) != 0)
      goto out;
  }
  rc = load_flags(t, lo, cfg, argc, argv, err, errlen);
out:
  free(lo);
  return rc;
}

void mqg_options_cleanup(const mqg_opt_table *t, void *cfg) {
  for (size_t i = 0; i < t->nopts; i++) {
    void *field = (char *)cfg + t->opts[i].offset;
    if (t->opts[i].kind == MQG_OPT_STR)
      free(*(char **)field);
    else if (t->opts[i].kind == MQG_OPT_LIST)
      list_clear((mqg_strlist *)field);
  }
  memset(cfg, 0, t->size);
}

void mqg_options_print_help(const mqg_opt_table *t, FILE *out) {
  for (size_t i = 0; i < t->nopts; i++) {
    const mqg_opt *o = &t->opts[i];
    char flag[NAME_MAX_LEN], env[NAME_MAX_LEN], left[96];
    flag_name(o, flag, sizeof(flag));
    env_name(t, o, env, sizeof(env));
    snprintf(left, sizeof(left), "--%s %s", flag, o->meta);
    fprintf(out, "  %-28s %s\n", left, o->help);
    fprintf(out, "  %-28s env %s, default \"%s\"\n", "", env, o->def);
  }
  for (size_t i = 0; i < t->nflags; i++) {
    char left[NAME_MAX_LEN + 2];
    snprintf(left, sizeof(left), "--%s", t->flags[i].name);
    fprintf(out, "  %-28s %s\n", left, t->flags[i].help);
  }
}
