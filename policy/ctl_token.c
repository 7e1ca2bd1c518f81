/* ctl_token.c: mqgatectl token create|list|revoke (mqgate-admin's API
 * tokens) and mqgatectl audit (the audit log, newest first). */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "options.h"
#include "registry_admin.h"
#include "registry_json.h"

const char ctl_token_help[] =
    "usage: mqgatectl token <command> ...\n"
    "\n"
    "  token create --name NAME --role read|operator|admin\n"
    "      creates an API token for mqgate-admin and prints it ONCE: only\n"
    "      its SHA-256 is stored. read: lists, details, audit; operator:\n"
    "      + register, activate, deactivate, revoke; admin: + delete,\n"
    "      settings. NAME: 1..64 of letters, digits, '.', '_', '-'.\n"
    "  token list               names, roles, creation (never the tokens)\n"
    "  token revoke NAME        the token stops working at once\n"
    "\n"
    "Every create and revoke is recorded in the audit log.\n";

const char ctl_audit_help[] =
    "usage: mqgatectl audit [--object OBJ] [--limit N] [--cursor C]\n"
    "\n"
    "The registry's audit log, newest first: time, actor, action, object,\n"
    "state before and after.\n"
    "  --object OBJ   only entries about OBJ: cert:<fp>, ca:<id>,\n"
    "                 settings:<key>, token:<name>\n"
    "  --limit N      entries per page, 1..1000 (default 50)\n"
    "  --cursor C     continue after entry C (the 'next' of the last page)\n";

static int token_create(ctl_ctx *ctx, int argc, char **argv) {
  ctl_opt opts[] = {
      {"name", CTL_OPT_VALUE, 0, NULL},
      {"role", CTL_OPT_VALUE, 0, NULL},
  };
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, opts, 2, pos, 0, &npos, ctl_token_help);
  if (rc != 0)
    return rc;
  if (opts[0].value == NULL || opts[1].value == NULL)
    return ctl_usage(ctx, "token create needs --name NAME and --role ROLE");
  if ((rc = ctl_connect(ctx)) != 0)
    return rc;
  char token[MQG_TOKEN_LEN + 1], hash[65];
  if (mqg_token_generate(token) < 0)
    return ctl_fail(ctx, CTL_EXIT_REDIS, "redis", "no random bytes");
  mqg_token_hash(token, hash);
  mqg_reg_status s =
      mqg_registry_token_create(ctx->reg, opts[0].value, opts[1].value, hash);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_bool(&j, "ok", 1);
    ctl_json_str(&j, "name", opts[0].value);
    ctl_json_str(&j, "role", opts[1].value);
    ctl_json_str(&j, "token", token);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    printf("%s\n", token);
    fprintf(stderr,
            "mqgatectl: token '%s' (role %s) created; it is shown only this "
            "once: use it as 'Authorization: Bearer <token>'\n",
            opts[0].value, opts[1].value);
  }
  return CTL_EXIT_OK;
}

static int token_list(ctl_ctx *ctx, int argc, char **argv) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 0, &npos, ctl_token_help);
  if (rc != 0 || (rc = ctl_connect(ctx)) != 0)
    return rc;
  mqg_token_list l;
  mqg_reg_status s = mqg_registry_token_list(ctx->reg, &l);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_array(&j, "tokens");
    for (size_t i = 0; i < l.n; i++)
      ctl_json_value(&j, NULL, mqg_json_token(&l.tokens[i]));
    ctl_json_end_array(&j);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    ctl_table t;
    ctl_table_init(&t, 4);
    const char *head[] = {"NAME", "ROLE", "CREATED", "CREATED BY"};
    ctl_table_row(&t, head);
    for (size_t i = 0; i < l.n; i++) {
      char at[32];
      const char *row[] = {l.tokens[i].name, l.tokens[i].role,
                           ctl_time(l.tokens[i].created_at, at, sizeof(at)),
                           l.tokens[i].created_by};
      ctl_table_row(&t, row);
    }
    ctl_table_print(&t, stdout);
    ctl_table_cleanup(&t);
  }
  mqg_token_list_cleanup(&l);
  return CTL_EXIT_OK;
}

static int token_revoke(ctl_ctx *ctx, int argc, char **argv) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 1, &npos, ctl_token_help);
  if (rc != 0)
    return rc;
  if (npos != 1)
    return ctl_usage(ctx, "token revoke needs one NAME");
  if ((rc = ctl_connect(ctx)) != 0)
    return rc;
  char line[128];
  mqg_reg_status s = mqg_registry_token_revoke(ctx->reg, pos[0]);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  snprintf(line, sizeof(line), "token %.64s revoked", pos[0]);
  return ctl_done(ctx, "name", pos[0], "status", "revoked", line);
}

int ctl_token_main(ctl_ctx *ctx, int argc, char **argv) {
  const char *cmd = argv[0];
  if (strcmp(cmd, "create") == 0)
    return token_create(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "list") == 0)
    return token_list(ctx, argc - 1, argv + 1);
  if (strcmp(cmd, "revoke") == 0)
    return token_revoke(ctx, argc - 1, argv + 1);
  return ctl_usage(ctx, "unknown command 'token %s'", cmd);
}

/* --- audit -------------------------------------------------------------------- */

int ctl_audit_main(ctl_ctx *ctx, int argc, char **argv) {
  ctl_opt opts[] = {
      {"object", CTL_OPT_VALUE, 0, NULL},
      {"limit", CTL_OPT_VALUE, 0, NULL},
      {"cursor", CTL_OPT_VALUE, 0, NULL},
  };
  char *pos[1];
  int npos;
  /* "mqgatectl audit" has no command word: argv[0] is "audit" itself. */
  int rc = ctl_parse(ctx, argc - 1, argv + 1, opts, 3, pos, 0, &npos, ctl_audit_help);
  if (rc != 0)
    return rc;
  uint64_t limit = 50;
  if (opts[1].value &&
      (mqg_options_parse_uint(opts[1].value, MQG_AUDIT_LIMIT_MAX, &limit) != 0 || limit < 1))
    return ctl_usage(ctx, "--limit needs a number from 1 to %d", MQG_AUDIT_LIMIT_MAX);
  if ((rc = ctl_connect(ctx)) != 0)
    return rc;
  mqg_audit_page p;
  mqg_reg_status s = mqg_registry_audit_list(ctx->reg, opts[0].value, limit,
                                             opts[2].value, &p);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_object(&j, NULL);
    ctl_json_array(&j, "entries");
    for (size_t i = 0; i < p.n; i++)
      ctl_json_value(&j, NULL, mqg_json_audit(&p.entries[i]));
    ctl_json_end_array(&j);
    ctl_json_str(&j, "next_cursor", p.next_cursor);
    ctl_json_end_object(&j);
    ctl_json_done(&j);
  } else {
    ctl_table t;
    ctl_table_init(&t, 6);
    const char *head[] = {"TIME", "ACTOR", "ACTION", "OBJECT", "BEFORE", "AFTER"};
    ctl_table_row(&t, head);
    for (size_t i = 0; i < p.n; i++) {
      const mqg_audit_entry *e = &p.entries[i];
      char at[32], obj[96];
      /* "cert:<64 hex>" is shortened as the listings shorten fingerprints */
      snprintf(obj, sizeof(obj), "%.*s", strlen(e->object) > 40 ? 21 : 90, e->object);
      const char *row[] = {ctl_time(e->time_ms / 1000, at, sizeof(at)), e->actor,
                           e->action, obj, e->before, e->after};
      ctl_table_row(&t, row);
    }
    ctl_table_print(&t, stdout);
    ctl_table_cleanup(&t);
    if (p.next_cursor[0])
      printf("more: --cursor %s\n", p.next_cursor);
  }
  mqg_audit_page_cleanup(&p);
  return CTL_EXIT_OK;
}
