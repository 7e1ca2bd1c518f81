/* admin_config.c: mqgate-admin's options (adm.h), the way mqgate reads its
 * own (proxy/config.c): one table, flags > MQGATE_ADMIN_* > INI file >
 * default, --help generated from the table. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"

enum kind { K_STR, K_UINT, K_MS, K_SIZE, K_BOOL };

struct opt {
  const char *name;
  enum kind kind;
  const char *def, *meta, *help;
  size_t offset;
};

static const struct opt opts[] = {
#define ADM_OPTION_ROW(name, kind, def, meta, help) \
  {#name, K_##kind, def, meta, help, offsetof(adm_config, name)},
    ADM_OPTION_MAP(ADM_OPTION_ROW)
#undef ADM_OPTION_ROW
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* getopt_long values: every long option's is above any character, so that
 * an optopt below 256 always is a short option ("-x") and a long option's
 * error names its argv word ("--listen", "--help=3"). */
#define VAL_OPT 256 /* + the row's index */
#define VAL_HELP (VAL_OPT + (int)NOPTS)
#define VAL_VERSION (VAL_HELP + 1)

static void flag_name(const struct opt *o, char *out, size_t cap) {
  snprintf(out, cap, "%s", o->name);
  for (char *p = out; *p; p++)
    if (*p == '_')
      *p = '-';
}

static void env_name(const struct opt *o, char *out, size_t cap) {
  int n = snprintf(out, cap, "MQGATE_ADMIN_%s", o->name);
  for (int i = 13; i < n && (size_t)i < cap; i++)
    out[i] = (char)toupper((unsigned char)out[i]);
}

/* number reads digits and a unit from |units| ("" = none) into |out|. */
static int number(const char *s, uint64_t *out, const char *const *units,
                  const uint64_t *muls, size_t nunits) {
  if (!isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0)
    return -1;
  for (size_t i = 0; i < nunits; i++)
    if (strcmp(end, units[i]) == 0) {
      if (v > UINT64_MAX / 2 / muls[i])
        return -1;
      *out = v * muls[i];
      return 0;
    }
  return -1;
}

static int set(adm_config *cfg, const struct opt *o, const char *v, const char *origin,
               char *err, size_t errlen) {
  void *f = (char *)cfg + o->offset;
  uint64_t u;
  static const char *const none[] = {""};
  static const uint64_t one[] = {1};
  static const char *const ms_units[] = {"", "s", "ms", "m", "h"};
  static const uint64_t ms_muls[] = {1000, 1000, 1, 60000, 3600000};
  static const char *const size_units[] = {"", "k", "K", "m", "M"};
  static const uint64_t size_muls[] = {1, 1024, 1024, 1 << 20, 1 << 20};
  switch (o->kind) {
  case K_STR: {
    char *copy = strdup(v);
    if (copy == NULL)
      goto bad;
    free(*(char **)f);
    *(char **)f = copy;
    return 0;
  }
  case K_UINT:
    if (number(v, &u, none, one, 1) != 0 || u > 1000000)
      goto bad;
    *(unsigned *)f = (unsigned)u;
    return 0;
  case K_MS:
    if (number(v, &u, ms_units, ms_muls, 5) != 0)
      goto bad;
    *(uint64_t *)f = u;
    return 0;
  case K_SIZE:
    if (number(v, &u, size_units, size_muls, 5) != 0)
      goto bad;
    *(size_t *)f = (size_t)u;
    return 0;
  case K_BOOL:
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
      *(int *)f = 1;
    else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
      *(int *)f = 0;
    else
      goto bad;
    return 0;
  }
bad:;
  char flag[64];
  flag_name(o, flag, sizeof(flag));
  snprintf(err, errlen, "%s: invalid value \"%s\" for %s", origin, v, flag);
  return -1;
}

struct ini_ctx {
  adm_config *cfg;
  const char *path;
  char *err;
  size_t errlen;
  int failed;
};

static int on_ini(void *user, const char *section, const char *name, const char *value) {
  struct ini_ctx *c = user;
  if (c->failed)
    return 0;
  if (section[0] != '\0' && strcmp(section, "mqgate-admin") != 0) {
    /* one file may hold mqgate's [mqgate] section too */
    if (strcmp(section, "mqgate") == 0)
      return 1;
    snprintf(c->err, c->errlen, "%s: unknown section [%s]", c->path, section);
    c->failed = 1;
    return 0;
  }
  for (size_t i = 0; i < NOPTS; i++) {
    char flag[64];
    flag_name(&opts[i], flag, sizeof(flag));
    if (strcmp(flag, name) == 0 && strcmp(opts[i].name, "config") != 0) {
      if (set(c->cfg, &opts[i], value, c->path, c->err, c->errlen) != 0)
        c->failed = 1;
      return !c->failed;
    }
  }
  snprintf(c->err, c->errlen, "%s: unknown key \"%s\"", c->path, name);
  c->failed = 1;
  return 0;
}

static void help(const char *prog) {
  printf("Usage: %s [OPTIONS]\n\n"
         "mqgate-admin serves mqgate's control plane: an HTTPS JSON API under\n"
         "/api/v1 with bearer tokens (mqgatectl token create), and the web\n"
         "console at /. Every option can also be set as MQGATE_ADMIN_NAME or\n"
         "as a key of the --config file's [mqgate-admin] section; flags win\n"
         "over the environment, which wins over the file.\n\n",
         prog);
  for (size_t i = 0; i < NOPTS; i++) {
    char flag[64], env[64], left[96];
    flag_name(&opts[i], flag, sizeof(flag));
    env_name(&opts[i], env, sizeof(env));
    snprintf(left, sizeof(left), "--%s %s", flag, opts[i].meta);
    printf("  %-28s %s\n  %-28s env %s, default \"%s\"\n", left, opts[i].help, "", env,
           opts[i].def);
  }
  printf("  %-28s %s\n  %-28s %s\n", "--help", "this text", "--version", "print the version");
}

static int loopback(const char *listen) {
  char host[128];
  const char *colon = strrchr(listen, ':');
  size_t n = colon ? (size_t)(colon - listen) : 0;
  if (n == 0 || n >= sizeof(host))
    return 0;
  memcpy(host, listen, n);
  host[n] = '\0';
  if (host[0] == '[' && host[n - 1] == ']') {
    memmove(host, host + 1, n - 2);
    host[n - 2] = '\0';
  }
  struct in_addr a4;
  struct in6_addr a6;
  if (strcmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return 0;
}

static int check(const adm_config *c, char *err, size_t errlen) {
  if (c->plain_http && !loopback(c->listen)) {
    snprintf(err, errlen, "--plain-http only on a loopback address (127.0.0.0/8, "
                          "::1), not %s: tokens would cross the network in clear",
             c->listen);
    return -1;
  }
  if ((c->cert[0] == '\0') != (c->key[0] == '\0')) {
    snprintf(err, errlen, "--cert and --key go together");
    return -1;
  }
  if (c->threads < 1 || c->threads > 64) {
    snprintf(err, errlen, "threads must be 1..64");
    return -1;
  }
  if (c->max_connections < 1) {
    snprintf(err, errlen, "max-connections must be at least 1");
    return -1;
  }
  if (c->redis_prefix[0] == '\0') {
    snprintf(err, errlen, "--redis-prefix must not be empty");
    return -1;
  }
  return 0;
}

int adm_config_load(adm_config *cfg, int argc, char **argv, char *err, size_t errlen) {
  struct option longopts[NOPTS + 3];
  char names[NOPTS][64];
  memset(cfg, 0, sizeof(*cfg));
  for (size_t i = 0; i < NOPTS; i++) {
    if (set(cfg, &opts[i], opts[i].def, "default", err, errlen) != 0)
      return -1;
    flag_name(&opts[i], names[i], sizeof(names[i]));
    longopts[i] = (struct option){names[i],
                                  opts[i].kind == K_BOOL ? optional_argument
                                                         : required_argument,
                                  NULL, VAL_OPT + (int)i};
  }
  longopts[NOPTS] = (struct option){"help", no_argument, NULL, VAL_HELP};
  longopts[NOPTS + 1] = (struct option){"version", no_argument, NULL, VAL_VERSION};
  longopts[NOPTS + 2] = (struct option){NULL, 0, NULL, 0};

  const char *file = getenv("MQGATE_ADMIN_CONFIG");
  optind = 0;
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1;)
    if (c >= VAL_OPT && c < VAL_HELP && strcmp(opts[c - VAL_OPT].name, "config") == 0)
      file = optarg;
  if (file != NULL && file[0] != '\0') {
    struct ini_ctx ctx = {cfg, file, err, errlen, 0};
    int rc = ini_parse(file, on_ini, &ctx);
    if (rc == -1) {
      snprintf(err, errlen, "%s: cannot open config file", file);
      return -1;
    }
    if (ctx.failed)
      return -1;
    if (rc != 0) {
      snprintf(err, errlen, "%s:%d: syntax error", file, rc);
      return -1;
    }
  }
  for (size_t i = 0; i < NOPTS; i++) {
    char env[64];
    env_name(&opts[i], env, sizeof(env));
    const char *v = getenv(env);
    if (v != NULL && set(cfg, &opts[i], v, env, err, errlen) != 0)
      return -1;
  }
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    if (c == VAL_HELP) {
      help(argv[0]);
      return ADM_CONFIG_EXIT;
    }
    if (c == VAL_VERSION) {
      printf("mqgate-admin %s\n", MQG_VERSION);
      return ADM_CONFIG_EXIT;
    }
    if (c == '?' || c == ':') {
      /* A short option inside a group ("-xy") has no argv word of its own. */
      char shortopt[3] = {'-', (char)optopt, '\0'};
      snprintf(err, errlen, "%s: %s (see --help)",
               c == ':' ? "missing value for option" : "unknown option",
               optopt > 0 && optopt < VAL_OPT ? shortopt : argv[optind - 1]);
      return -1;
    }
    const char *v = optarg ? optarg : "yes"; /* a bare boolean flag */
    if (set(cfg, &opts[c - VAL_OPT], v, "flag", err, errlen) != 0)
      return -1;
  }
  if (optind < argc) {
    snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
    return -1;
  }
  return check(cfg, err, errlen);
}

void adm_config_cleanup(adm_config *cfg) {
  for (size_t i = 0; i < NOPTS; i++)
    if (opts[i].kind == K_STR)
      free(*(char **)((char *)cfg + opts[i].offset));
  memset(cfg, 0, sizeof(*cfg));
}
