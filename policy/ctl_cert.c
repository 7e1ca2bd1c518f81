/* ctl_cert.c: mqgatectl cert ... (the listing is in ctl_list.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "registry_internal.h"
#include "registry_json.h"

const char ctl_cert_help[] =
    "usage: mqgatectl cert <command> ...\n"
    "\n"
    "  cert register FILE... --ca ID [--client-id ID] [--inactive]\n"
    "                           [--renews FP]\n"
    "      registers client (device) certificates issued by the registered\n"
    "      CA ID (each is checked to be signed by that CA's key), ACTIVE,\n"
    "      or REGISTERED_INACTIVE with --inactive; one result line per file.\n"
    "      A certificate's identity (its client ID, else its CN) is unique\n"
    "      in the cluster; --renews FP registers a new certificate of the\n"
    "      device of certificate FP, which shares its identity (and client\n"
    "      ID) until FP is revoked or deleted. --client-id and --renews only\n"
    "      with one FILE. At most 15 registrations per second per\n"
    "      cluster, automatic ones included: over that, refused (exit 1).\n"
    "      --from-index INDEX  also every certificate of a device pool's\n"
    "                          index.tsv (mqgate-certgen pool)\n"
    "      --unsafe-bypass-rate-limit-for-test-setup\n"
    "          TEST SET-UP ONLY (benchmarks): registers without the rate\n"
    "          limit, neither checked nor counted; every other rule holds.\n"
    "  cert activate FP         INACTIVE or REGISTERED_INACTIVE -> ACTIVE\n"
    "  cert deactivate FP       ACTIVE -> INACTIVE\n"
    "  cert revoke FP           -> REVOKED, final: never active again\n"
    "  cert delete FP           only INACTIVE, REGISTERED_INACTIVE or REVOKED;\n"
    "                           the fingerprint stays refused (revoked) or\n"
    "                           never registers itself again (the others)\n"
    "  cert show FP             every field and the associated clients\n"
    "  cert list [filters] [--limit N] [--cursor C | --all]\n"
    "      ordered by expiry (not_after), then fingerprint; filters combine:\n"
    "      --serial HEX  --cn CN  --ou OU  --ca ID\n"
    "      --status active|inactive|registered_inactive|revoked (any case,\n"
    "                                '-' for '_')\n"
    "      --not-after-after DATE    expiring at or after DATE\n"
    "      --not-after-before DATE   expiring before DATE\n"
    "      --expired                 already expired\n"
    "      --expiring-within [DAYS]  expired, or expiring within DAYS\n"
    "                                (default 30, at most 999999)\n"
    "      --limit N: a page of N (default 50, at most 100); the next\n"
    "      page starts at the --cursor the previous one printed; --all\n"
    "      walks every page\n"
    "      DATE: YYYY-MM-DD (00:00 UTC) or Unix seconds\n"
    "\n"
    "FP: the certificate's SHA-256 fingerprint, or a unique prefix of >= 8\n"
    "hex digits.\n";

/* --- cert register ------------------------------------------------------- */

typedef struct {
  char **v;
  int n, cap;
} path_list;

/* path_list_add appends |p| (taken over; freed on failure); -1 when out of
 * memory. */
static int path_list_add(path_list *l, char *p) {
  if (p == NULL)
    return -1;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    char **v = realloc(l->v, (size_t)cap * sizeof(*v));
    if (v == NULL) {
      free(p);
      return -1;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = p;
  return 0;
}

static void path_list_cleanup(path_list *l) {
  for (int i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
}

/* index_paths appends the certificate files of a device pool's index
 * (mqgate-certgen pool: name, CN, fingerprint, cert, key, tab-separated)
 * to |out|. A relative cert path is used as written when it exists from
 * here, else as a file name in the index's directory. Returns an exit code
 * after reporting a problem. */
static int index_paths(ctl_ctx *ctx, const char *index, path_list *out) {
  FILE *f = fopen(index, "r");
  if (f == NULL)
    return ctl_fail(ctx, CTL_EXIT_USAGE, "input", "%s: cannot read", index);
  const char *slash = strrchr(index, '/');
  int dirlen = slash ? (int)(slash - index) : 1;
  const char *dir = slash ? index : ".";
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = CTL_EXIT_OK, lineno = 0;
  while (rc == CTL_EXIT_OK && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (len == 0)
      continue;
    char *col[5];
    int ncol = 0;
    for (char *p = line; ncol < 5 && p != NULL; ncol++) {
      col[ncol] = p;
      p = strchr(p, '\t');
      if (p != NULL)
        *p++ = '\0';
    }
    if (ncol < 5 || col[3][0] == '\0') {
      rc = ctl_fail(ctx, CTL_EXIT_USAGE, "input",
                    "%s:%d: expected name, CN, fingerprint, cert, key "
                    "separated by tabs",
                    index, lineno);
      break;
    }
    char *path;
    if (col[3][0] == '/' || access(col[3], F_OK) == 0) {
      path = strdup(col[3]);
    } else {
      const char *base = strrchr(col[3], '/');
      base = base ? base + 1 : col[3];
      size_t n = (size_t)dirlen + strlen(base) + 2;
      path = malloc(n);
      if (path != NULL)
        snprintf(path, n, "%.*s/%s", dirlen, dir, base);
    }
    if (path_list_add(out, path) < 0)
      rc = ctl_fail(ctx, CTL_EXIT_USAGE, "input", "out of memory");
  }
  free(line);
  fclose(f);
  return rc;
}

/* register_one registers |path|; returns its exit code after printing its
 * result line (or JSON object). */
static int register_one(ctl_ctx *ctx, ctl_json *j, const char *path,
                        const ctl_cert *ca, const char *ca_id,
                        const mqg_cert_reg_opts *o, int unlimited) {
  ctl_cert c;
  char err[768];
  const char *cls = NULL, *msg = err;
  int rc = CTL_EXIT_OK;
  if (ctl_cert_load(path, &c, err, sizeof(err)) < 0) {
    rc = CTL_EXIT_USAGE;
    cls = "input";
  } else if ((rc = ctl_cert_check(ctx->reg, &c, ca, ca_id, "'ca register'")) != MQG_REG_OK ||
             (rc = registry__cert_register(ctx->reg,
                                           unlimited ? "mqgate_cert_register_unlimited_test_setup"
                                                     : "mqgate_cert_register",
                                           &c.info, ca_id, o)) != MQG_REG_OK) {
    cls = mqg_registry_error_class(ctx->reg);
    msg = mqg_registry_error(ctx->reg);
  }

  const char *status = o->activate ? "active" : "registered_inactive";
  if (ctx->json) {
    json_t *res = json_object();
    mqg_json_set_text(res, "file", path);
    json_object_update_new(res, mqg_json_reg_result(c.x509 ? &c.info : NULL, status, cls,
                                                    msg));
    ctl_json_value(j, NULL, res);
  }
  if (rc == CTL_EXIT_OK) {
    if (!ctx->json)
      printf("%s: registered %s (%s), %s\n", path, c.info.fingerprint,
             c.info.cn, status);
  } else {
    fprintf(stderr, "mqgatectl: %s: %s%s\n", path,
            rc == MQG_REG_REFUSED ? "refused: " : "", msg);
  }
  ctl_cert_cleanup(&c);
  return rc;
}

static int cert_register(ctl_ctx *ctx, int argc, char **argv) {
  ctl_opt opts[] = {
      {"ca", CTL_OPT_VALUE, 0, NULL},
      {"client-id", CTL_OPT_VALUE, 0, NULL},
      {"inactive", CTL_OPT_FLAG, 0, NULL},
      {"from-index", CTL_OPT_VALUE, 0, NULL},
      {"unsafe-bypass-rate-limit-for-test-setup", CTL_OPT_FLAG, 0, NULL},
      {"renews", CTL_OPT_VALUE, 0, NULL},
  };
  enum { NOPTS = sizeof(opts) / sizeof(opts[0]) };
  path_list files = {0};
  ctl_cert ca = {0};
  char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  int npos;
  if (pos == NULL)
    return ctl_fail(ctx, CTL_EXIT_USAGE, "input", "out of memory");
  int rc =
      ctl_parse(ctx, argc, argv, opts, NOPTS, pos, argc, &npos, ctl_cert_help);
  const char *client_id = opts[1].value;
  int unlimited = opts[4].seen;
  for (int i = 0; rc == 0 && i < npos; i++)
    if (path_list_add(&files, strdup(pos[i])) < 0)
      rc = ctl_fail(ctx, CTL_EXIT_USAGE, "input", "out of memory");
  if (rc == 0 && opts[3].value != NULL)
    rc = index_paths(ctx, opts[3].value, &files);
  if (rc == 0 && files.n == 0)
    rc = ctl_usage(ctx, "cert register needs at least one FILE");
  if (rc == 0 && opts[0].value == NULL)
    rc = ctl_usage(ctx, "cert register needs --ca ID (the issuing CA)");
  if (rc == 0 && client_id != NULL && files.n > 1)
    rc = ctl_usage(ctx, "--client-id registers one certificate: give one FILE");
  if (rc == 0 && opts[5].value != NULL && files.n > 1)
    rc = ctl_usage(ctx, "--renews registers one certificate: give one FILE");
  if (rc == 0 && client_id != NULL && !ctl_client_id_ok(client_id))
    rc = ctl_usage(ctx, "--client-id must be at most %d bytes of text",
                   MQG_CERTINFO_NAME_MAX);
  char ca_id[65], renews[65] = "";
  if (rc == 0)
    rc = ctl_resolve(ctx, MQG_REG_KIND_CA, opts[0].value, ca_id);
  if (rc == 0 && opts[5].value != NULL)
    rc = ctl_resolve(ctx, MQG_REG_KIND_CERT, opts[5].value, renews);
  if (rc != 0)
    goto done;

  mqg_reg_status s = ctl_ca_load(ctx->reg, ca_id, &ca);
  if (s != MQG_REG_OK) {
    rc = ctl_reg_fail(ctx, s);
    goto done;
  }
  if (unlimited)
    fprintf(stderr,
            "mqgatectl: WARNING: "
            "--unsafe-bypass-rate-limit-for-test-setup: registering "
            "%d certificate(s) without the cluster's rate limit "
            "(test set-up only)\n",
            files.n);

  ctl_json j;
  ctl_json_init(&j);
  if (ctx->json) {
    ctl_json_object(&j, NULL);
    ctl_json_array(&j, "results");
  }
  int ok = 0;
  for (int i = 0; i < files.n; i++) {
    mqg_cert_reg_opts o = {.client_id = client_id ? client_id : "",
                           .activate = !opts[2].seen,
                           .renews = renews};
    int r = register_one(ctx, &j, files.v[i], &ca, ca_id, &o, unlimited);
    ok += r == CTL_EXIT_OK;
    if (r > rc)
      rc = r;
    if (r == CTL_EXIT_REDIS)
      break; /* the connection is gone */
  }
  if (ctx->json) {
    ctl_json_end_array(&j);
    ctl_json_bool(&j, "ok", rc == CTL_EXIT_OK);
    ctl_json_int(&j, "registered", ok);
    ctl_json_int(&j, "failed", files.n - ok);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  }
done:
  ctl_cert_cleanup(&ca);
  path_list_cleanup(&files);
  free(pos);
  return rc;
}

static int cert_change(ctl_ctx *ctx, int argc, char **argv) {
  char fp[65], status[32] = "deleted";
  int rc = ctl_one_arg(ctx, argc, argv, MQG_REG_KIND_CERT, ctl_cert_help, "cert", "FP", fp);
  if (rc != 0)
    return rc;
  const char *cmd = argv[-1];
  mqg_reg_status s = strcmp(cmd, "delete") == 0
                         ? mqg_registry_cert_delete(ctx->reg, fp)
                         : mqg_registry_cert_set(ctx->reg, fp, cmd, status);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  char line[128];
  snprintf(line, sizeof(line), strcmp(status, "deleted") == 0 ? "certificate %s %s"
                                                              : "certificate %s is now %s",
           fp, status);
  return ctl_done(ctx, "fp", fp, "status", status, line);
}

/* show_tombstone reports what is left of a deleted certificate: exit 2
 * (not registered), saying whether it stays refused. */
static int show_tombstone(ctl_ctx *ctx, const char *fp, const mqg_cert_tombstone *t) {
  char ra[32], da[32];
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_bool(&j, "ok", 0);
    ctl_json_str(&j, "error", "notfound");
    ctl_json_str(&j, "message", mqg_registry_error(ctx->reg));
    ctl_json_object(&j, "tombstone");
    ctl_json_str(&j, "fp", fp);
    ctl_json_str(&j, "status", t->revoked ? "revoked" : t->last_status);
    ctl_json_bool(&j, "deleted", 1);
    if (t->revoked)
      ctl_json_int(&j, "revoked_at", t->revoked_at);
    ctl_json_int(&j, "deleted_at", t->deleted_at);
    ctl_json_bool(&j, "refused_forever", t->revoked);
    ctl_json_end_object(&j);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  }
  if (t->revoked)
    fprintf(stderr, "mqgatectl: certificate %s was revoked at %s and deleted at %s: it stays "
            "refused in every mode\n", fp, ctl_time(t->revoked_at, ra, sizeof(ra)),
            ctl_time(t->deleted_at, da, sizeof(da)));
  else
    fprintf(stderr, "mqgatectl: certificate %s was deleted at %s (it was %s): it does not "
            "register itself again; 'cert register' can\n", fp,
            ctl_time(t->deleted_at, da, sizeof(da)), t->last_status);
  return CTL_EXIT_USAGE;
}

static int cert_show(ctl_ctx *ctx, int argc, char **argv) {
  char fp[65];
  int rc = ctl_one_arg(ctx, argc, argv, MQG_REG_KIND_CERT, ctl_cert_help, "cert", "FP", fp);
  if (rc != 0)
    return rc;
  mqg_cert_details d;
  mqg_cert_tombstone tomb;
  mqg_reg_status s = mqg_registry_cert_get(ctx->reg, fp, &d, &tomb);
  if (s == MQG_REG_INPUT && tomb.deleted_at != 0)
    return show_tombstone(ctx, fp, &tomb);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  const mqg_cert_record *c = &d.cert;
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_cert_json(&j, "cert", c);
    ctl_json_value(&j, "clients", mqg_json_clients(&d));
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
    if (c->renews[0])
      printf("renews             %s\n", c->renews);
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
