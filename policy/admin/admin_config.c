/* admin_config.c: mqgate-admin's options (adm.h) on policy/options.h, as
 * mqgate's are (proxy/config.c): the table, the checks, --help and
 * --version. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adm.h"
#include "bsslinfo.h"

static const mqg_opt opts[] = {
#define ADM_OPTION_ROW(name, kind, def, meta, help) \
  MQG_OPT_ROW(adm_config, name, kind, def, meta, help),
    ADM_OPTION_MAP(ADM_OPTION_ROW)
#undef ADM_OPTION_ROW
};

enum { FLAG_HELP, FLAG_VERSION };
static const mqg_opt_flag flags[] = {
    [FLAG_HELP] = {"help", "this text"},
    [FLAG_VERSION] = {"version", "print the version"},
};

static void help(const mqg_opt_table *t, const char *prog) {
  printf("Usage: %s [OPTIONS]\n\n"
         "mqgate-admin serves mqgate's control plane: an HTTPS JSON API under\n"
         "/api/v1 with bearer tokens (mqgatectl token create), and the web\n"
         "console at /. Every option can also be set as MQGATE_ADMIN_NAME or\n"
         "as a key of the --config file's [mqgate-admin] section; flags win\n"
         "over the environment, which wins over the file.\n\n",
         prog);
  mqg_options_print_help(t, stdout);
}

/* --help and --version print and stop. */
static int on_flag(const mqg_opt_table *t, size_t flag, void *cfg, const char *prog) {
  if (flag == FLAG_HELP)
    help(t, prog);
  else
    mqg_bsslinfo_print_version(stdout, "mqgate-admin", MQG_VERSION);
  return ADM_CONFIG_EXIT;
}

static const mqg_opt_table table = {
    .opts = opts,
    .nopts = sizeof(opts) / sizeof(opts[0]),
    .size = sizeof(adm_config),
    .env_prefix = "MQGATE_ADMIN_",
    .section = "mqgate-admin",
    .other_section = "mqgate", /* one file may hold mqgate's section too */
    .flags = flags,
    .nflags = sizeof(flags) / sizeof(flags[0]),
    .on_flag = on_flag,
};

static int loopback(const char *listen) {
  struct sockaddr_storage ss;
  if (mqg_options_parse_addr(listen, &ss) != 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
  return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

static int check(const adm_config *c, char *err, size_t errlen) {
  if (c->plain_http && !loopback(c->listen)) {
    snprintf(err, errlen, "--plain-http only on a loopback address (127.0.0.0/8, "
                          "::1), not %s: tokens would cross the network in clear",
             c->listen);
    return -EINVAL;
  }
  if ((c->cert[0] == '\0') != (c->key[0] == '\0')) {
    snprintf(err, errlen, "--cert and --key go together");
    return -EINVAL;
  }
  if (c->threads < 1 || c->threads > 64) {
    snprintf(err, errlen, "threads must be 1..64");
    return -EINVAL;
  }
  if (c->max_connections < 1) {
    snprintf(err, errlen, "max-connections must be at least 1");
    return -EINVAL;
  }
  if (c->redis_prefix[0] == '\0') {
    snprintf(err, errlen, "--redis-prefix must not be empty");
    return -EINVAL;
  }
  return 0;
}

int adm_config_load(adm_config *cfg, int argc, char **argv, char *err, size_t errlen) {
  int rc = mqg_options_load(&table, cfg, argc, argv, err, errlen);
  return rc != 0 ? rc : check(cfg, err, errlen);
}

void adm_config_cleanup(adm_config *cfg) { mqg_options_cleanup(&table, cfg); }
