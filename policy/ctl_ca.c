/* ctl_ca.c: mqgatectl ca ... */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "registry_json.h"

const char ctl_ca_help[] =
    "usage: mqgatectl ca <command> ...\n"
    "\n"
    "  ca register FILE [--inactive]\n"
    "      registers a CA certificate (PEM or DER; basicConstraints CA:TRUE\n"
    "      required), root or intermediate; active unless --inactive\n"
    "  ca list                  every registered CA\n"
    "  ca show ID               one CA, its certificate counts and PEM\n"
    "  ca activate ID           client certificates of the CA may connect\n"
    "  ca deactivate ID         none of them may connect\n"
    "  ca delete ID             refused while the CA has ACTIVE client\n"
    "                           certificates\n"
    "\n"
    "ID: the CA's SHA-256 fingerprint, or a unique prefix of >= 8 hex "
    "digits.\n";

static int ca_register(ctl_ctx *ctx, int argc, char **argv) {
  ctl_opt opts[] = {{"inactive", CTL_OPT_FLAG, 0, NULL}};
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, opts, 1, pos, 1, &npos, ctl_ca_help);
  if (rc != 0)
    return rc;
  if (npos != 1)
    return ctl_usage(ctx, "ca register needs one FILE");

  ctl_cert ca;
  char err[256];
  if (ctl_cert_load(pos[0], &ca, err, sizeof(err)) < 0)
    return ctl_fail(ctx, CTL_EXIT_USAGE, "input", "%s: %s", pos[0], err);
  if (!ca.info.is_ca) {
    ctl_cert_cleanup(&ca);
    return ctl_fail(ctx, CTL_EXIT_USAGE, "input",
                    "%s: not a CA certificate (basicConstraints CA:TRUE "
                    "missing); device certificates go to 'cert register'",
                    pos[0]);
  }
  int active = !opts[0].seen;
  rc = ctl_connect(ctx);
  if (rc == CTL_EXIT_OK) {
    mqg_reg_status s = mqg_registry_ca_register(ctx->reg, &ca.info, ca.pem,
                                                ca.subject, active);
    if (s != MQG_REG_OK) {
      rc = ctl_reg_fail(ctx, s);
    } else if (ctx->json) {
      ctl_json j;
      ctl_json_init(&j);
      json_t *o = json_pack("{s:b}", "ok", 1);
      json_object_update_new(o, mqg_json_ca_registered(&ca.info, ca.subject, active));
      ctl_json_value(&j, NULL, o);
      ctl_json_done(&j);
    } else {
      printf("registered CA %s (%s), %s\n", ca.info.fingerprint, ca.info.cn,
             active ? "active" : "inactive");
    }
  }
  ctl_cert_cleanup(&ca);
  return rc;
}

static void ca_json(ctl_json *j, const mqg_ca_record *c, int with_pem) {
  ctl_json_value(j, NULL, mqg_json_ca(c, with_pem));
}

static int ca_list(ctl_ctx *ctx, int argc, char **argv) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 0, &npos, ctl_ca_help);
  if (rc != 0 || (rc = ctl_connect(ctx)) != 0)
    return rc;
  mqg_ca_record *list;
  size_t n;
  mqg_reg_status s = mqg_registry_ca_list(ctx->reg, &list, &n);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_int(&j, "total", (long long)n);
    ctl_json_array(&j, "cas");
    for (size_t i = 0; i < n; i++)
      ca_json(&j, &list[i], 0);
    ctl_json_end_array(&j);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    ctl_table t;
    ctl_table_init(&t, 6);
    const char *head[] = {"ID", "STATUS", "CN", "NOT AFTER", "CERTS",
                          "ACTIVE"};
    ctl_table_row(&t, head);
    for (size_t i = 0; i < n; i++) {
      char id[17], na[32], certs[24], active[24];
      snprintf(id, sizeof(id), "%.16s", list[i].id);
      snprintf(certs, sizeof(certs), "%lld", list[i].certs);
      snprintf(active, sizeof(active), "%lld", list[i].active_certs);
      const char *row[] = {id, list[i].status, list[i].cn,
                           ctl_time(list[i].not_after, na, sizeof(na)), certs,
                           active};
      ctl_table_row(&t, row);
    }
    ctl_table_print(&t, stdout);
    ctl_table_cleanup(&t);
    printf("%zu CA%s\n", n, n == 1 ? "" : "s");
  }
  mqg_ca_list_free(list, n);
  return CTL_EXIT_OK;
}

static int ca_show(ctl_ctx *ctx, int argc, char **argv) {
  char id[65];
  int rc = ctl_one_arg(ctx, argc, argv, MQG_REG_KIND_CA, ctl_ca_help, "ca", "ID", id);
  if (rc != 0)
    return rc;
  mqg_ca_record c;
  mqg_reg_status s = mqg_registry_ca_get(ctx->reg, id, &c);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ca_json(&j, &c, 1);
    ctl_json_done(&j);
  } else {
    char nb[32], na[32], ra[32];
    printf("id             %s\n"
           "subject        %s\n"
           "cn             %s\n"
           "serial         %s\n"
           "not before     %s\n"
           "not after      %s\n"
           "status         %s\n"
           "registered at  %s\n"
           "certificates   %lld (%lld active)\n"
           "%s",
           c.id, c.subject, c.cn, c.serial,
           ctl_time(c.not_before, nb, sizeof(nb)),
           ctl_time(c.not_after, na, sizeof(na)), c.status,
           ctl_time(c.registered_at, ra, sizeof(ra)), c.certs, c.active_certs,
           c.pem);
  }
  mqg_ca_record_cleanup(&c);
  return CTL_EXIT_OK;
}

static int ca_change(ctl_ctx *ctx, int argc, char **argv) {
  char id[65];
  int rc = ctl_one_arg(ctx, argc, argv, MQG_REG_KIND_CA, ctl_ca_help, "ca", "ID", id);
  if (rc != 0)
    return rc;
  const char *cmd = argv[-1];
  int del = strcmp(cmd, "delete") == 0;
  mqg_reg_status s = del ? mqg_registry_ca_delete(ctx->reg, id)
                         : mqg_registry_ca_set(ctx->reg, id, cmd);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  const char *status = del                            ? "deleted"
                       : strcmp(cmd, "activate") == 0 ? "active"
                                                      : "inactive";
  char line[128];
  snprintf(line, sizeof(line), "CA %s %s", id, status);
  return ctl_done(ctx, "id", id, "status", status, line);
}

int ctl_ca_main(ctl_ctx *ctx, int argc, char **argv) {
  const char *cmd = argv[0];
  /* Each command parses argv[1..]; argv[-1] (its name) stays readable. */
  if (strcmp(cmd, "register") == 0)
    return ca_register(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "list") == 0)
    return ca_list(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "show") == 0)
    return ca_show(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "activate") == 0 || strcmp(cmd, "deactivate") == 0 ||
      strcmp(cmd, "delete") == 0)
    return ca_change(ctx, argc - 1, argv + 1);
  return ctl_usage(ctx, "unknown command 'ca %s'", cmd);
}
