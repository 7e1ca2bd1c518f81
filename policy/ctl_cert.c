/* ctl_cert.c: mqgatectl cert ... (the listing is in ctl_list.c). */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

const char ctl_cert_help[] =
    "usage: mqgatectl cert <command> ...\n"
    "\n"
    "  cert register FILE... --ca ID [--client-id ID] [--inactive]\n"
    "      registers client (device) certificates issued by the registered\n"
    "      CA ID (each is checked to be signed by that CA's key), ACTIVE,\n"
    "      or REGISTERED_INACTIVE with --inactive; one result line per file.\n"
    "      --client-id (the registered client ID, unique in the cluster)\n"
    "      only with one FILE. At most 15 registrations per second per\n"
    "      cluster, automatic ones included: over that, refused (exit 1).\n"
    "  cert activate FP         INACTIVE or REGISTERED_INACTIVE -> ACTIVE\n"
    "  cert deactivate FP       ACTIVE -> INACTIVE\n"
    "  cert revoke FP           -> REVOKED, final: never active again\n"
    "  cert delete FP           only INACTIVE, REGISTERED_INACTIVE or REVOKED\n"
    "  cert show FP             every field, associated clients, PEM\n"
    "  cert list [filters] [--page N] [--page-size M]\n"
    "      ordered by expiry (not_after), then fingerprint; filters combine:\n"
    "      --serial HEX  --cn CN  --ou OU  --ca ID\n"
    "      --status active|inactive|registered_inactive|revoked\n"
    "      --not-after-after DATE    expiring at or after DATE\n"
    "      --not-after-before DATE   expiring before DATE\n"
    "      --expired                 already expired\n"
    "      --expiring-within [DAYS]  expired, or expiring within DAYS\n"
    "                                (default 30)\n"
    "      --page N (from 1), --page-size M (default 50, at most 1000)\n"
    "      DATE: YYYY-MM-DD (00:00 UTC) or Unix seconds\n"
    "\n"
    "FP: the certificate's SHA-256 fingerprint, or a unique prefix of >= 8\n"
    "hex digits.\n";

/* register_one registers |path|; returns its exit code after printing its
 * result line (or JSON object). */
static int register_one(ctl_ctx *ctx, ctl_json *j, const char *path,
                        const ctl_cert *ca, const char *ca_id,
                        const char *client_id, int activate) {
  ctl_cert c;
  char err[768];
  int rc = CTL_EXIT_OK;
  const char *cls = "input";
  const char *lead = "";

  if (ctl_cert_load(path, &c, err, sizeof(err)) < 0) {
    rc = CTL_EXIT_USAGE;
  } else if (c.info.is_ca) {
    snprintf(err, sizeof(err),
             "a CA certificate, not a device certificate; CAs go to "
             "'ca register'");
    rc = CTL_EXIT_USAGE;
  } else if (!ctl_cert_signed_by(&c, ca)) {
    snprintf(err, sizeof(err), "not signed by CA %.16s (%.256s)", ca_id,
             ca->info.cn);
    rc = CTL_EXIT_USAGE;
  } else {
    mqg_reg_status s = mqg_registry_cert_register(ctx->reg, &c.info, c.pem,
                                                  ca_id, client_id, activate);
    if (s != MQG_REG_OK) {
      rc = s;
      cls = mqg_registry_error_class(ctx->reg);
      lead = s == MQG_REG_REFUSED ? "refused: " : "";
      snprintf(err, sizeof(err), "%s", mqg_registry_error(ctx->reg));
    }
  }

  const char *status = activate ? "active" : "registered_inactive";
  if (ctx->json) {
    ctl_json_object(j, NULL);
    ctl_json_str(j, "file", path);
    ctl_json_bool(j, "ok", rc == CTL_EXIT_OK);
    if (c.x509 != NULL) {
      ctl_json_str(j, "fp", c.info.fingerprint);
      ctl_json_str(j, "cn", c.info.cn);
    }
    if (rc == CTL_EXIT_OK) {
      ctl_json_str(j, "status", status);
    } else {
      ctl_json_str(j, "error", cls);
      ctl_json_str(j, "message", err);
    }
    ctl_json_end_object(j);
  }
  if (rc == CTL_EXIT_OK) {
    if (!ctx->json)
      printf("%s: registered %s (%s), %s\n", path, c.info.fingerprint,
             c.info.cn, status);
  } else {
    fprintf(stderr, "mqgatectl: %s: %s%s\n", path, lead, err);
  }
  ctl_cert_cleanup(&c);
  return rc;
}

static int cert_register(ctl_ctx *ctx, int argc, char **argv) {
  ctl_opt opts[] = {
      {"ca", CTL_OPT_VALUE, 0, NULL},
      {"client-id", CTL_OPT_VALUE, 0, NULL},
      {"inactive", CTL_OPT_FLAG, 0, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  int npos;
  if (pos == NULL)
    return ctl_fail(ctx, CTL_EXIT_USAGE, "input", "out of memory");
  int rc = ctl_parse(ctx, argc, argv, opts, 3, pos, argc, &npos, ctl_cert_help);
  if (rc == 0 && npos == 0)
    rc = ctl_usage(ctx, "cert register needs at least one FILE");
  if (rc == 0 && opts[0].value == NULL)
    rc = ctl_usage(ctx, "cert register needs --ca ID (the issuing CA)");
  if (rc == 0 && opts[1].value != NULL && npos > 1)
    rc = ctl_usage(ctx, "--client-id registers one certificate: give one FILE");
  if (rc == 0 && opts[1].value != NULL &&
      (strlen(opts[1].value) > MQG_CERTINFO_NAME_MAX ||
       strpbrk(opts[1].value, "\n\r\t") != NULL))
    rc = ctl_usage(ctx, "--client-id must be at most %d bytes of text",
                   MQG_CERTINFO_NAME_MAX);
  char ca_id[65];
  if (rc == 0)
    rc = ctl_resolve(ctx, MQG_REG_KIND_CA, opts[0].value, ca_id);
  if (rc != 0) {
    free(pos);
    return rc;
  }

  mqg_ca_record rec;
  mqg_reg_status s = mqg_registry_ca_get(ctx->reg, ca_id, &rec);
  if (s != MQG_REG_OK) {
    free(pos);
    return ctl_reg_fail(ctx, s);
  }
  ctl_cert ca;
  char err[256];
  if (ctl_cert_from_pem(rec.pem, &ca, err, sizeof(err)) < 0) {
    mqg_ca_record_cleanup(&rec);
    free(pos);
    return ctl_fail(ctx, CTL_EXIT_REDIS, "redis",
                    "the stored PEM of CA %.16s does not parse: %s", ca_id,
                    err);
  }
  mqg_ca_record_cleanup(&rec);

  ctl_json j;
  ctl_json_init(&j);
  if (ctx->json) {
    ctl_json_object(&j, NULL);
    ctl_json_array(&j, "results");
  }
  int worst = CTL_EXIT_OK, ok = 0;
  for (int i = 0; i < npos; i++) {
    int r = register_one(ctx, &j, pos[i], &ca, ca_id,
                         opts[1].value ? opts[1].value : "", !opts[2].seen);
    ok += r == CTL_EXIT_OK;
    if (r > worst)
      worst = r;
    if (r == CTL_EXIT_REDIS)
      break; /* the connection is gone */
  }
  if (ctx->json) {
    ctl_json_end_array(&j);
    ctl_json_bool(&j, "ok", worst == CTL_EXIT_OK);
    ctl_json_int(&j, "registered", ok);
    ctl_json_int(&j, "failed", npos - ok);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  }
  ctl_cert_cleanup(&ca);
  free(pos);
  return worst;
}

/* one_fp parses "cert <cmd> FP" and resolves the fingerprint. */
static int one_fp(ctl_ctx *ctx, int argc, char **argv, char fp[65]) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 1, &npos, ctl_cert_help);
  if (rc != 0)
    return rc;
  if (npos != 1)
    return ctl_usage(ctx, "cert %s needs one FP", argv[-1]);
  return ctl_resolve(ctx, MQG_REG_KIND_CERT, pos[0], fp);
}

static int cert_change(ctl_ctx *ctx, int argc, char **argv) {
  char fp[65], status[32] = "deleted";
  int rc = one_fp(ctx, argc, argv, fp);
  if (rc != 0)
    return rc;
  const char *cmd = argv[-1];
  mqg_reg_status s = strcmp(cmd, "delete") == 0
                         ? mqg_registry_cert_delete(ctx->reg, fp)
                         : mqg_registry_cert_set(ctx->reg, fp, cmd, status);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_bool(&j, "ok", 1);
    ctl_json_str(&j, "fp", fp);
    ctl_json_str(&j, "status", status);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else if (strcmp(status, "deleted") == 0) {
    printf("certificate %s deleted\n", fp);
  } else {
    printf("certificate %s is now %s\n", fp, status);
  }
  return CTL_EXIT_OK;
}

static int cert_show(ctl_ctx *ctx, int argc, char **argv) {
  char fp[65];
  int rc = one_fp(ctx, argc, argv, fp);
  if (rc != 0)
    return rc;
  mqg_cert_details d;
  mqg_reg_status s = mqg_registry_cert_get(ctx->reg, fp, &d);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  const mqg_cert_record *c = &d.cert;
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_cert_json(&j, "cert", c, 1);
    ctl_json_array(&j, "clients");
    for (size_t i = 0; i < d.nclients; i++) {
      ctl_json_object(&j, NULL);
      ctl_json_str(&j, "client_id", d.clients[i].client_id);
      ctl_json_int(&j, "last_seen", d.clients[i].last_seen);
      ctl_json_end_object(&j);
    }
    ctl_json_end_array(&j);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    char nb[32], na[32], ra[32], sa[32];
    printf("fingerprint        %s\n"
           "status             %s\n"
           "CN                 %s\n"
           "OU                 %s\n"
           "serial             %s\n"
           "CA                 %s\n"
           "not before         %s\n"
           "not after          %s\n"
           "client ID          %s\n"
           "source             %s\n"
           "registered at      %s\n"
           "status changed at  %s\n",
           c->fp, c->status, c->cn, c->ou, c->serial, c->ca,
           ctl_time(c->not_before, nb, sizeof(nb)),
           ctl_time(c->not_after, na, sizeof(na)), c->client_id, c->source,
           ctl_time(c->registered_at, ra, sizeof(ra)),
           ctl_time(c->status_changed_at, sa, sizeof(sa)));
    printf("associated clients (%zu)\n", d.nclients);
    if (d.nclients > 0) {
      ctl_table t;
      ctl_table_init(&t, 2);
      const char *head[] = {"  CLIENT ID", "LAST SEEN"};
      ctl_table_row(&t, head);
      for (size_t i = 0; i < d.nclients; i++) {
        char id[300], ls[32];
        snprintf(id, sizeof(id), "  %s", d.clients[i].client_id);
        const char *row[] = {id, ctl_time(d.clients[i].last_seen, ls,
                                          sizeof(ls))};
        ctl_table_row(&t, row);
      }
      ctl_table_print(&t, stdout);
      ctl_table_cleanup(&t);
    }
    fputs(c->pem, stdout);
  }
  mqg_cert_details_cleanup(&d);
  return CTL_EXIT_OK;
}

int ctl_cert_main(ctl_ctx *ctx, int argc, char **argv) {
  const char *cmd = argv[0];
  if (strcmp(cmd, "register") == 0)
    return cert_register(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "list") == 0 || strcmp(cmd, "search") == 0)
    return ctl_cert_list(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "show") == 0)
    return cert_show(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "activate") == 0 || strcmp(cmd, "deactivate") == 0 ||
      strcmp(cmd, "revoke") == 0 || strcmp(cmd, "delete") == 0)
    return cert_change(ctx, argc - 1, argv + 1);
  return ctl_usage(ctx, "unknown command 'cert %s'", cmd);
}
