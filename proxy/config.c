/* config.c: see config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bsslinfo.h"
#include "log.h"
#include "redis_url.h"
#include "regclient.h"
#include "tlsgroups.h"

static const mqg_opt opts[] = {
#define MQG_OPTION_ROW(name, kind, def, meta, help) \
  MQG_OPT_ROW(mqg_config, name, kind, def, meta, help),
    MQG_OPTION_MAP(MQG_OPTION_ROW)
#undef MQG_OPTION_ROW
};

/* mqgate's own flags, in the order --help lists them. */
enum { FLAG_CHECK, FLAG_HELP, FLAG_VERSION };
static const mqg_opt_flag flags[] = {
    [FLAG_CHECK] = {"check-config",
                    "check the options, certificates and keys, then exit (0: good, 2: not)"},
    [FLAG_HELP] = {"help", "this text"},
    [FLAG_VERSION] = {"version", "the version and which BoringSSL build it runs on"},
};

static void print_help(const mqg_opt_table *t, const char *prog) {
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
  mqg_options_print_help(t, stdout);
}

/* --check-config goes on (main checks the files after the load); --help
 * and --version print and stop. */
static int on_flag(const mqg_opt_table *t, size_t flag, void *cfg, const char *prog) {
  switch (flag) {
    case FLAG_CHECK:
      ((mqg_config *)cfg)->check_only = 1;
      return 0;
    case FLAG_HELP:
      print_help(t, prog);
      return MQG_CONFIG_EXIT;
    default:
      mqg_bsslinfo_print_version(stdout, "mqgate", MQG_VERSION);
      return MQG_CONFIG_EXIT;
  }
}

static const mqg_opt_table table = {
    .opts = opts,
    .nopts = sizeof(opts) / sizeof(opts[0]),
    .size = sizeof(mqg_config),
    .env_prefix = "MQGATE_",
    .section = "mqgate",
    .flags = flags,
    .nflags = sizeof(flags) / sizeof(flags[0]),
    .on_flag = on_flag,
};

static int check(const mqg_config *cfg, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  mqg_log_level lvl;
  if (cfg->tls_min > cfg->tls_max) {
    snprintf(err, errlen, "tls-min %s is above tls-max %s",
             mqg_options_tls_name(cfg->tls_min), mqg_options_tls_name(cfg->tls_max));
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
  if (strcmp(cfg->auth, "registry") == 0) {
    mqg_redis_addr a;
    int bad = mqg_redis_url_parse(cfg->redis, &a);
    explicit_bzero(&a, sizeof(a));
    if (bad) { /* not echoed: the URL may hold a password */
      snprintf(err, errlen, "auth mode registry needs --redis "
               "redis://[user:password@]host[:port][/db]");
      return -EINVAL;
    }
    if (!mqg_redis_prefix_ok(cfg->redis_prefix)) {
      snprintf(err, errlen, "--redis-prefix must be 1..%d characters without spaces "
               "or control characters", MQG_REDIS_PREFIX_MAX);
      return -EINVAL;
    }
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
  if (mqg_options_parse_addr(cfg->listen, &ss) != 0) {
    snprintf(err, errlen, "listen address \"%s\" is not HOST:PORT", cfg->listen);
    return -EINVAL;
  }
  if (mqg_options_parse_addr(cfg->backend, &ss) != 0) {
    snprintf(err, errlen, "backend address \"%s\" is not HOST:PORT", cfg->backend);
    return -EINVAL;
  }
  if (cfg->redis_sentinels[0] != '\0') {
    char list[1024], *save = NULL;
    snprintf(list, sizeof(list), "%s", cfg->redis_sentinels);
    int n = 0;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (mqg_options_parse_addr(t, &ss) != 0) {
        snprintf(err, errlen, "sentinel address \"%s\" is not HOST:PORT", t);
        return -EINVAL;
      }
      if (++n > MQG_REGCLIENT_SENTINELS_MAX) {
        snprintf(err, errlen, "more than %d Sentinels in --redis-sentinels",
                 MQG_REGCLIENT_SENTINELS_MAX);
        return -EINVAL;
      }
    }
  }
  if (cfg->metrics[0] != '\0' && mqg_options_parse_addr(cfg->metrics, &ss) != 0) {
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
  int rc = mqg_options_load(&table, cfg, argc, argv, err, errlen);
  return rc != 0 ? rc : check(cfg, err, errlen);
}

void mqg_config_cleanup(mqg_config *cfg) { mqg_options_cleanup(&table, cfg); }
