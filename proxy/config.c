/* config.c: see config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "bsslinfo.h"
#include "log.h"
#include "tlsgroups.h"

enum opt_kind { KIND_STR, KIND_UINT, KIND_MS, KIND_SIZE, KIND_TLSVER, KIND_LIST };

/* Where a value comes from, in order of precedence (a LIST keeps the items
 * of one source only). */
enum opt_src { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

#define LIST_MAX 64 /* items of one LIST option */

struct opt {
  const char *name;    /* field name, '_' separated */
  enum opt_kind kind;
  const char *def;
  const char *meta;
  const char *help;
  size_t offset;
};

static const struct opt opts[] = {
#define MQG_OPTION_ROW(name, kind, def, meta, help) \
  {#name, KIND_##kind, def, meta, help, offsetof(mqg_config, name)},
    MQG_OPTION_MAP(MQG_OPTION_ROW)
#undef MQG_OPTION_ROW
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* getopt_long values: every long option's is above any character, so that
 * an optopt below 256 always is a short option ("-x") and a long option's
 * error names its argv word ("--listen", "--help=3"). */
#define VAL_OPT 256                       /* + the row's index */
#define VAL_HELP (VAL_OPT + (int)NOPTS)
#define VAL_VERSION (VAL_HELP + 1)
#define VAL_CHECK (VAL_HELP + 2)

/* "tls_min" -> "tls-min" (flag and file key) or "MQGATE_TLS_MIN". */
static void opt_flag_name(const struct opt *o, char *out, size_t cap) {
  snprintf(out, cap, "%s", o->name);
  for (char *p = out; *p; p++)
    if (*p == '_')
      *p = '-';
}

static void opt_env_name(const struct opt *o, char *out, size_t cap) {
  int n = snprintf(out, cap, "MQGATE_%s", o->name);
  for (int i = 7; i < n && (size_t)i < cap; i++)
    out[i] = (char)toupper((unsigned char)out[i]);
}

static const struct opt *opt_find(const char *flag_name) {
  char buf[64];
  for (size_t i = 0; i < NOPTS; i++) {
    opt_flag_name(&opts[i], buf, sizeof(buf));
    if (strcmp(buf, flag_name) == 0)
      return &opts[i];
  }
  return NULL;
}

static int parse_uint(const char *s, uint64_t *out, const char **rest) {
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

static int parse_ms(const char *s, uint64_t *out) {
  uint64_t v;
  const char *u;
  if (parse_uint(s, &v, &u) != 0)
    return -EINVAL;
  uint64_t mul;
  if (*u == '\0' || strcmp(u, "s") == 0)
    mul = 1000;
  else if (strcmp(u, "ms") == 0)
    mul = 1;
  else if (strcmp(u, "m") == 0)
    mul = 60000;
  else if (strcmp(u, "h") == 0)
    mul = 3600000;
  else
    return -EINVAL;
  if (v > UINT64_MAX / mul / 2)
    return -EINVAL;
  *out = v * mul;
  return 0;
}

static int parse_size(const char *s, size_t *out) {
  uint64_t v;
  const char *u;
  if (parse_uint(s, &v, &u) != 0)
    return -EINVAL;
  uint64_t mul;
  if (*u == '\0')
    mul = 1;
  else if (strcmp(u, "k") == 0 || strcmp(u, "K") == 0)
    mul = 1024;
  else if (strcmp(u, "m") == 0 || strcmp(u, "M") == 0)
    mul = 1024 * 1024;
  else
    return -EINVAL;
  if (v > (SIZE_MAX / 2) / mul)
    return -EINVAL;
  *out = (size_t)(v * mul);
  return 0;
}

static const struct {
  const char *name;
  uint16_t version;
} tls_versions[] = {{"1.0", TLS1_VERSION},
                    {"1.1", TLS1_1_VERSION},
                    {"1.2", TLS1_2_VERSION},
                    {"1.3", TLS1_3_VERSION}};

const char *mqg_config_tls_name(uint16_t version) {
  for (size_t i = 0; i < 4; i++)
    if (tls_versions[i].version == version)
      return tls_versions[i].name;
  return "?";
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
 * memory), |l| then holding what it had before the bad item. */
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
    if (len == 0 || l->n == LIST_MAX)
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

/* Sets one option from text; |origin| names where it came from for errors,
 * |src| ranks it. */
static int opt_set(mqg_config *cfg, const struct opt *o, const char *value,
                   const char *origin, enum opt_src src, char *err, size_t errlen) {
  void *field = (char *)cfg + o->offset;
  uint64_t u;
  const char *rest;
  switch (o->kind) {
    case KIND_STR: {
      char *copy = strdup(value);
      if (copy == NULL)
        goto bad;
      free(*(char **)field);
      *(char **)field = copy;
      return 0;
    }
    case KIND_UINT:
      if (parse_uint(value, &u, &rest) != 0 || *rest != '\0' || u > 1000000)
        goto bad;
      *(unsigned *)field = (unsigned)u;
      return 0;
    case KIND_MS:
      if (parse_ms(value, (uint64_t *)field) != 0)
        goto bad;
      return 0;
    case KIND_SIZE:
      if (parse_size(value, (size_t *)field) != 0)
        goto bad;
      return 0;
    case KIND_TLSVER:
      for (size_t i = 0; i < 4; i++) {
        if (strcmp(value, tls_versions[i].name) == 0) {
          *(uint16_t *)field = tls_versions[i].version;
          return 0;
        }
      }
      goto bad;
    case KIND_LIST:
      if (list_add((mqg_strlist *)field, value, src) != 0)
        goto bad;
      return 0;
  }
bad:;
  char flag[64];
  opt_flag_name(o, flag, sizeof(flag));
  snprintf(err, errlen, "%s: invalid value \"%s\" for %s", origin, value, flag);
  return -EINVAL;
}

struct ini_ctx {
  mqg_config *cfg;
  const char *path;
  char *err;
  size_t errlen;
  int failed;
};

static int on_ini_line(void *user, const char *section, const char *name,
                       const char *value) {
  struct ini_ctx *ctx = user;
  if (ctx->failed)
    return 0;
  if (section[0] != '\0' && strcmp(section, "mqgate") != 0) {
    snprintf(ctx->err, ctx->errlen, "%s: unknown section [%s]", ctx->path,
             section);
    ctx->failed = 1;
    return 0;
  }
  const struct opt *o = opt_find(name);
  if (o == NULL || strcmp(o->name, "config") == 0) {
    snprintf(ctx->err, ctx->errlen, "%s: unknown key \"%s\"", ctx->path, name);
    ctx->failed = 1;
    return 0;
  }
  if (opt_set(ctx->cfg, o, value, ctx->path, SRC_FILE, ctx->err, ctx->errlen) != 0) {
    ctx->failed = 1;
    return 0;
  }
  return 1;
}

static void print_help(const char *prog) {
  printf("Usage: %s [OPTIONS]\n\n"
         "mqgate terminates mutual TLS for MQTT devices, checks each device\n"
         "certificate and forwards plaintext MQTT to a broker.\n\n"
         "Every option can also be set as an environment variable MQGATE_NAME\n"
         "or as a key in the --config file; flags win over the environment,\n"
         "which wins over the file. A repeatable option takes several values:\n"
         "repeat the flag or the file key, or separate values with commas.\n"
         "SIGHUP re-reads the options and reloads the server certificate and\n"
         "key, the CA bundle, the CRLs, the limits, the TLS window and the log\n"
         "level (for new connections; live sessions stay, except those a new CRL\n"
         "revokes). --crl files are also re-read when they change on disk.\n\n",
         prog);
  for (size_t i = 0; i < NOPTS; i++) {
    char flag[64], env[64], left[96];
    opt_flag_name(&opts[i], flag, sizeof(flag));
    opt_env_name(&opts[i], env, sizeof(env));
    snprintf(left, sizeof(left), "--%s %s", flag, opts[i].meta);
    printf("  %-28s %s\n", left, opts[i].help);
    printf("  %-28s env %s, default \"%s\"\n", "", env, opts[i].def);
  }
  printf("  %-28s %s\n  %-28s %s\n  %-28s %s\n", "--check-config",
         "check the options, certificates and keys, then exit (0: good, 2: not)",
         "--help", "this text", "--version", "the version and which BoringSSL build it runs on");
}

int mqg_config_parse_addr(const char *s, struct sockaddr_storage *out) {
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
  const char *rest;
  if (parse_uint(port_s, &port, &rest) != 0 || *rest != '\0' || port > 65535)
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

static int check(const mqg_config *cfg, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  mqg_log_level lvl;
  if (cfg->tls_min > cfg->tls_max) {
    snprintf(err, errlen, "tls-min %s is above tls-max %s",
             mqg_config_tls_name(cfg->tls_min), mqg_config_tls_name(cfg->tls_max));
    return -EINVAL;
  }
  if (strcmp(cfg->auth, "mtls") != 0 && strcmp(cfg->auth, "registry") != 0) {
    snprintf(err, errlen, "auth mode \"%s\" is not mtls or registry", cfg->auth);
    return -EINVAL;
  }
  if (strcmp(cfg->client_id_mode, "default") != 0 &&
      strcmp(cfg->client_id_mode, "strict") != 0) {
    snprintf(err, errlen, "client-id-mode \"%s\" is not default or strict",
             cfg->client_id_mode);
    return -EINVAL;
  }
  if (strcmp(cfg->auth, "registry") == 0 &&
      (strncmp(cfg->redis, "redis://", 8) != 0 || cfg->redis_prefix[0] == '\0')) {
    snprintf(err, errlen, "auth mode registry needs --redis redis://HOST:PORT/DB "
             "and a non-empty --redis-prefix");
    return -EINVAL;
  }
  if (strcmp(cfg->auth, "mtls") == 0 && cfg->client_ca[0] == '\0') {
    snprintf(err, errlen, "auth mode mtls needs --client-ca FILE");
    return -EINVAL;
  }
  if (cfg->crl.n > 0 && strcmp(cfg->auth, "mtls") != 0) {
    snprintf(err, errlen, "--crl applies to auth mode mtls (in registry mode, revoke "
             "with mqgatectl cert revoke)");
    return -EINVAL;
  }
  if (strcmp(cfg->auth, "registry") == 0 && cfg->ticket_keys[0] != '\0') {
    snprintf(err, errlen, "--ticket-keys is for auth mode mtls (the registry's proxies "
             "share their keys through Redis)");
    return -EINVAL;
  }
  if (strcmp(cfg->crl_expired, "allow") != 0 && strcmp(cfg->crl_expired, "deny") != 0) {
    snprintf(err, errlen, "crl-expired \"%s\" is not allow or deny", cfg->crl_expired);
    return -EINVAL;
  }
  if (mqg_config_parse_addr(cfg->listen, &ss) != 0) {
    snprintf(err, errlen, "listen address \"%s\" is not HOST:PORT", cfg->listen);
    return -EINVAL;
  }
  if (mqg_config_parse_addr(cfg->backend, &ss) != 0) {
    snprintf(err, errlen, "backend address \"%s\" is not HOST:PORT", cfg->backend);
    return -EINVAL;
  }
  if (cfg->redis_sentinels[0] != '\0') {
    char list[1024], *save = NULL;
    snprintf(list, sizeof(list), "%s", cfg->redis_sentinels);
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (mqg_config_parse_addr(t, &ss) != 0) {
        snprintf(err, errlen, "sentinel address \"%s\" is not HOST:PORT", t);
        return -EINVAL;
      }
    }
  }
  if (cfg->metrics[0] != '\0' && mqg_config_parse_addr(cfg->metrics, &ss) != 0) {
    snprintf(err, errlen, "metrics address \"%s\" is not HOST:PORT", cfg->metrics);
    return -EINVAL;
  }
  if ((cfg->cert[0] == '\0') != (cfg->key[0] == '\0')) {
    snprintf(err, errlen, "--cert and --key go together");
    return -EINVAL;
  }
  if (cfg->workers > 64) {
    snprintf(err, errlen, "workers %u is above 64", cfg->workers);
    return -EINVAL;
  }
  if (cfg->max_connect_size < 16 || cfg->max_connect_size > 256 * 1024 * 1024) {
    snprintf(err, errlen, "max-connect-size must be 16 bytes to 256m");
    return -EINVAL;
  }
  if (cfg->write_queue_limit < 1024) {
    snprintf(err, errlen, "write-queue-limit must be at least 1k");
    return -EINVAL;
  }
  if (strcmp(cfg->proxy_protocol, "off") != 0 && strcmp(cfg->proxy_protocol, "v2") != 0) {
    snprintf(err, errlen, "proxy-protocol \"%s\" is not off or v2", cfg->proxy_protocol);
    return -EINVAL;
  }
  if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0) {
    snprintf(err, errlen, "log format \"%s\" is not text or json", cfg->log_format);
    return -EINVAL;
  }
  mqg_tls_groups groups;
  if (mqg_tls_groups_parse(cfg->tls_groups, &groups, err, errlen) != 0)
    return -EINVAL;
  if (mqg_log_parse_level(cfg->log_level, &lvl) != 0) {
    snprintf(err, errlen, "log level \"%s\" is not error|warn|info|debug",
             cfg->log_level);
    return -EINVAL;
  }
  return 0;
}

int mqg_config_load(mqg_config *cfg, int argc, char **argv, char *err,
                    size_t errlen) {
  struct option longopts[NOPTS + 4];
  char names[NOPTS][64];
  memset(cfg, 0, sizeof(*cfg));
  err[0] = '\0';

  for (size_t i = 0; i < NOPTS; i++) {
    if (opt_set(cfg, &opts[i], opts[i].def, "default", SRC_DEFAULT, err, errlen) != 0)
      return -EINVAL;
    opt_flag_name(&opts[i], names[i], sizeof(names[i]));
    longopts[i] = (struct option){names[i], required_argument, NULL, VAL_OPT + (int)i};
  }
  longopts[NOPTS] = (struct option){"help", no_argument, NULL, VAL_HELP};
  longopts[NOPTS + 1] = (struct option){"version", no_argument, NULL, VAL_VERSION};
  longopts[NOPTS + 2] = (struct option){"check-config", no_argument, NULL, VAL_CHECK};
  longopts[NOPTS + 3] = (struct option){NULL, 0, NULL, 0};

  /* The file comes first in precedence order but is named by a flag or the
   * environment, so find its name before anything else: a first getopt
   * pass, so that every spelling getopt accepts ("--config F",
   * "--config=F", "--conf=F") names it. Errors are reported by the second. */
  const char *file = getenv("MQGATE_CONFIG");
  optind = 0; /* 0, not 1: glibc then resets all of getopt's state */
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1;)
    if (c >= VAL_OPT && c < VAL_HELP && strcmp(opts[c - VAL_OPT].name, "config") == 0)
      file = optarg;
  if (file != NULL && file[0] != '\0') {
    struct ini_ctx ctx = {cfg, file, err, errlen, 0};
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
  }

  for (size_t i = 0; i < NOPTS; i++) {
    char env[64];
    opt_env_name(&opts[i], env, sizeof(env));
    const char *v = getenv(env);
    if (v != NULL && opt_set(cfg, &opts[i], v, env, SRC_ENV, err, errlen) != 0)
      return -EINVAL;
  }

  /* 0, not 1: glibc then resets all of getopt's state, including its
   * position inside a "-abc" group, which an earlier call that failed
   * there leaves pointing into that call's argv. */
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    if (c == VAL_HELP) {
      print_help(argv[0]);
      return MQG_CONFIG_EXIT;
    }
    if (c == VAL_CHECK) {
      cfg->check_only = 1;
      continue;
    }
    if (c == VAL_VERSION) {
      mqg_bsslinfo_print_version(stdout, "mqgate", MQG_VERSION);
      return MQG_CONFIG_EXIT;
    }
    if (c == '?' || c == ':') {
      /* A short option inside a group ("-xy") has no argv word of its own. */
      char shortopt[3] = {'-', (char)optopt, '\0'};
      snprintf(err, errlen, "%s: %s (see --help)",
               c == ':' ? "missing value for option" : "unknown option",
               optopt > 0 && optopt < VAL_OPT ? shortopt : argv[optind - 1]);
      return -EINVAL;
    }
    if (opt_set(cfg, &opts[c - VAL_OPT], optarg, "flag", SRC_FLAG, err, errlen) != 0)
      return -EINVAL;
  }
  if (optind < argc) {
    snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
    return -EINVAL;
  }
  return check(cfg, err, errlen);
}

void mqg_config_cleanup(mqg_config *cfg) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (opts[i].kind == KIND_STR)
      free(*(char **)((char *)cfg + opts[i].offset));
    else if (opts[i].kind == KIND_LIST)
      list_clear((mqg_strlist *)((char *)cfg + opts[i].offset));
  }
  memset(cfg, 0, sizeof(*cfg));
}
