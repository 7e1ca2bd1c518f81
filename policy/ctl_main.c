/* ctl_main.c: mqgatectl, the registry's admin CLI: global options, argument
 * parsing and dispatch. The commands are in ctl_ca.c, ctl_cert.c,
 * ctl_list.c and ctl_settings.c; the registry client in registry.h.
 *
 * Exit codes: 0 ok, 1 refused by the rules (the line names the rule), 2
 * usage or input error, 3 Redis unreachable. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bsslinfo.h"
#include "ctl.h"
#include "redis_url.h"
#include "schema.h"

#define CTL_TIMEOUT_MS 5000

static const char main_help[] =
    "usage: mqgatectl [--redis URL] [--redis-prefix P] [--json] <group> "
    "<command> ...\n"
    "\n"
    "Administers mqgate's certificate registry in Redis: CA certificates,\n"
    "client (device) certificates and the cluster settings.\n"
    "\n"
    "groups:\n"
    "  ca        register, list, show, activate, deactivate, delete CA\n"
    "            certificates\n"
    "  cert      register, list/search, show, activate, deactivate, revoke,\n"
    "            delete client certificates\n"
    "  settings  show or set registration mode, TLS window, client ID mode\n"
    "  migrate   rewrite a layout-1 registry (before mqgate_v2) in layout 2\n"
    "  token     create, list, revoke mqgate-admin's API tokens\n"
    "  audit     the audit log of every change, newest first\n"
    "\n"
    "global options (anywhere on the line):\n"
    "  --redis URL          redis://[user:password@]host[:port][/db] (env\n"
    "                       MQGATE_REDIS; default " MQG_REDIS_URL_DEFAULT ")\n"
    "  --redis-password-file FILE\n"
    "                       the Redis password (first line), instead of the\n"
    "                       URL (env MQGATE_REDIS_PASSWORD_FILE, or the\n"
    "                       password itself in MQGATE_REDIS_PASSWORD)\n"
    "  --redis-prefix P     key prefix, one per cluster (env\n"
    "                       MQGATE_REDIS_PREFIX; default " MQG_DEFAULT_PREFIX
    ")\n"
    "  --json               one JSON document on stdout, also on failure\n"
    "  --help               this text; '<group> --help' for a group\n"
    "  --version            mqgatectl's version and its BoringSSL\n"
    "\n"
    "Certificates are named by their SHA-256 fingerprint (64 hex digits) or\n"
    "a unique prefix of at least 8 hex digits.\n"
    "\n"
    "exit codes: 0 ok, 1 refused by the registry's rules (including the\n"
    "registration rate limit), 2 usage or input error, 3 Redis unreachable.\n";

int ctl_connect(ctl_ctx *ctx) {
  if (ctx->reg != NULL)
    return CTL_EXIT_OK;
  ctx->reg = mqg_registry_new(ctx->prefix);
  if (ctx->reg == NULL)
    return ctl_fail(ctx, CTL_EXIT_REDIS, "redis", "out of memory");
  /* Changes are audited as made by mqgatectl on this host. */
  char host[64] = "localhost", actor[96];
  gethostname(host, sizeof(host) - 1);
  snprintf(actor, sizeof(actor), "mqgatectl@%s", host);
  mqg_registry_set_actor(ctx->reg, actor);
  mqg_reg_status s =
      mqg_registry_connect(ctx->reg, ctx->url, ctx->password_file, CTL_TIMEOUT_MS);
  return s == MQG_REG_OK ? CTL_EXIT_OK : ctl_reg_fail(ctx, s);
}

int ctl_resolve(ctl_ctx *ctx, mqg_reg_kind kind, const char *in,
                char out[65]) {
  int rc = ctl_connect(ctx);
  if (rc != CTL_EXIT_OK)
    return rc;
  mqg_reg_status s = mqg_registry_resolve(ctx->reg, kind, in, out);
  return s == MQG_REG_OK ? CTL_EXIT_OK : ctl_reg_fail(ctx, s);
}

int ctl_one_arg(ctl_ctx *ctx, int argc, char **argv, mqg_reg_kind kind, const char *help,
                const char *group, const char *what, char out[65]) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 1, &npos, help);
  if (rc != 0)
    return rc;
  if (npos != 1)
    return ctl_usage(ctx, "%s %s needs one %s", group, argv[-1], what);
  return ctl_resolve(ctx, kind, pos[0], out);
}

int ctl_parse(ctl_ctx *ctx, int argc, char **argv, ctl_opt *opts,
              size_t nopts, char **pos, int maxpos, int *npos,
              const char *help) {
  int only_pos = 0;
  *npos = 0;
  /* Every slot defined up front: a caller (or an optimiser that inlines one)
   * never sees an unset slot, only NULL, even on a path that returns early. */
  for (int k = 0; k < maxpos; k++)
    pos[k] = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || a[1] == '\0') {
      if (*npos >= maxpos)
        return ctl_usage(ctx, "unexpected argument '%s'", a);
      pos[(*npos)++] = argv[i];
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(help, stdout);
      return -1;
    }
    if (strncmp(a, "--", 2) != 0)
      return ctl_usage(ctx, "unknown option '%s'", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    ctl_opt *o = NULL;
    for (size_t k = 0; k < nopts; k++)
      if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
        o = &opts[k];
    if (o == NULL)
      return ctl_usage(ctx, "unknown option '--%.*s'", (int)len, name);
    o->seen = 1;
    if (o->kind == CTL_OPT_FLAG) {
      if (eq)
        return ctl_usage(ctx, "option '--%s' takes no value", o->name);
    } else if (eq) {
      o->value = eq + 1;
    } else if (o->kind == CTL_OPT_VALUE) {
      if (i + 1 >= argc)
        return ctl_usage(ctx, "option '--%s' needs a value", o->name);
      o->value = argv[++i];
    } else if (i + 1 < argc && argv[i + 1][0] != '\0' &&
               strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1])) {
      o->value = argv[++i];
    }
  }
  return 0;
}

/* take_global removes the global options from |argv| into |ctx|; returns 0,
 * -1 for --help, -2 for --version, or an exit code. */
static int take_global(ctl_ctx *ctx, int *argc, char **argv) {
  int out = 1, help = 0;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i];
    const char **dst = NULL;
    const char *name = NULL;
    if (strcmp(a, "--") == 0) {
      while (i < *argc)
        argv[out++] = argv[i++];
      break;
    }
    if (strcmp(a, "--json") == 0) {
      ctx->json = 1;
      continue;
    }
    if (strncmp(a, "--redis=", 8) == 0) {
      ctx->url = a + 8;
      continue;
    }
    if (strncmp(a, "--redis-prefix=", 15) == 0) {
      ctx->prefix = a + 15;
      continue;
    }
    if (strncmp(a, "--redis-password-file=", 22) == 0) {
      ctx->password_file = a + 22;
      continue;
    }
    if (strcmp(a, "--redis") == 0)
      dst = &ctx->url, name = "--redis";
    else if (strcmp(a, "--redis-prefix") == 0)
      dst = &ctx->prefix, name = "--redis-prefix";
    else if (strcmp(a, "--redis-password-file") == 0)
      dst = &ctx->password_file, name = "--redis-password-file";
    if (dst != NULL) {
      if (i + 1 >= *argc)
        return ctl_usage(ctx, "option '%s' needs a value", name);
      *dst = argv[++i];
      continue;
    }
    if ((strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) && out == 1)
      help = 1;
    if (strcmp(a, "--version") == 0 && out == 1)
      help = 2;
    argv[out++] = argv[i];
  }
  *argc = out;
  return -help;
}

int main(int argc, char **argv) {
  ctl_ctx ctx = {0};
  ctx.url = getenv("MQGATE_REDIS");
  ctx.prefix = getenv("MQGATE_REDIS_PREFIX");
  ctx.password_file = getenv("MQGATE_REDIS_PASSWORD_FILE");
  if (ctx.url == NULL || ctx.url[0] == '\0')
    ctx.url = MQG_REDIS_URL_DEFAULT;
  if (ctx.prefix == NULL || ctx.prefix[0] == '\0')
    ctx.prefix = MQG_DEFAULT_PREFIX;

  int rc = take_global(&ctx, &argc, argv);
  if (rc == -1) {
    fputs(main_help, stdout);
    return CTL_EXIT_OK;
  }
  if (rc == -2) {
    mqg_bsslinfo_print_version(stdout, "mqgatectl", MQG_VERSION);
    return CTL_EXIT_OK;
  }
  if (rc != 0)
    return rc;
  if (argc < 2)
    return ctl_usage(&ctx, "a group is needed: ca, cert, settings, token or audit");

  const char *group = argv[1];
  const char *help = NULL;
  if (strcmp(group, "migrate") == 0) {
    rc = ctl_migrate_main(&ctx, argc - 1, argv + 1);
    mqg_registry_free(ctx.reg);
    return rc < 0 ? CTL_EXIT_OK : rc;
  }
  int (*fn)(ctl_ctx *, int, char **) = NULL;
  if (strcmp(group, "ca") == 0)
    fn = ctl_ca_main, help = ctl_ca_help;
  else if (strcmp(group, "cert") == 0)
    fn = ctl_cert_main, help = ctl_cert_help;
  else if (strcmp(group, "settings") == 0)
    fn = ctl_settings_main, help = ctl_settings_help;
  else if (strcmp(group, "token") == 0)
    fn = ctl_token_main, help = ctl_token_help;
  else if (strcmp(group, "audit") == 0) {
    /* a group without commands: its options follow at once */
    if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
      fputs(ctl_audit_help, stdout);
      return CTL_EXIT_OK;
    }
    rc = ctl_audit_main(&ctx, argc - 1, argv + 1);
    mqg_registry_free(ctx.reg);
    return rc < 0 ? CTL_EXIT_OK : rc;
  }
  else
    return ctl_usage(&ctx, "unknown group '%s'", group);

  if (argc < 3 || strcmp(argv[2], "--help") == 0 ||
      strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "help") == 0) {
    fputs(help, stdout);
    return argc < 3 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
  }
  /* The command sees its name as argv[0]. */
  rc = fn(&ctx, argc - 2, argv + 2);
  if (rc < 0) /* --help */
    rc = CTL_EXIT_OK;
  mqg_registry_free(ctx.reg);
  return rc;
}
