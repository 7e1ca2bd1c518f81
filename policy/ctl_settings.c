/* ctl_settings.c: mqgatectl settings show|set. */
#include <string.h>

#include "ctl.h"
#include "registry_json.h"

const char ctl_settings_help[] =
    "usage: mqgatectl settings show\n"
    "       mqgatectl settings set KEY VALUE\n"
    "\n"
    "  registration    manual | auto (or automatic): whether a device\n"
    "                  certificate of an active registered CA is registered\n"
    "                  (ACTIVE) when it first connects\n"
    "  tls-min         1.0 | 1.1 | 1.2 | 1.3   lowest TLS version accepted\n"
    "  tls-max         1.0 | 1.1 | 1.2 | 1.3   highest; tls-min <= tls-max\n"
    "                  is a rule, checked against the stored other bound\n"
    "  client-id-mode  default | strict: strict refuses a client ID that\n"
    "                  differs from the registered ID (or the CN)\n"
    "\n"
    "Every mqgate of the cluster applies a change at once.\n";

/* Settings: CLI name, schema.h field. */
static const struct {
  const char *name, *field;
} keys[] = {
    {"registration", "registration"},
    {"tls-min", "tls_min"},
    {"tls-max", "tls_max"},
    {"client-id-mode", "client_id_mode"},
};

/* normalize returns the stored form of |value| for |field|, or NULL. */
static const char *normalize(const char *field, const char *value) {
  static const char *const tls[] = {"1.0", "1.1", "1.2", "1.3"};
  if (strcmp(field, "registration") == 0) {
    if (strcmp(value, "manual") == 0)
      return "manual";
    if (strcmp(value, "auto") == 0 || strcmp(value, "automatic") == 0)
      return "auto";
  } else if (strcmp(field, "client_id_mode") == 0) {
    if (strcmp(value, "default") == 0 || strcmp(value, "strict") == 0)
      return value;
  } else {
    for (size_t i = 0; i < 4; i++)
      if (strcmp(value, tls[i]) == 0)
        return tls[i];
  }
  return NULL;
}

static int settings_show(ctl_ctx *ctx, int argc, char **argv) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 0, &npos,
                     ctl_settings_help);
  if (rc != 0 || (rc = ctl_connect(ctx)) != 0)
    return rc;
  mqg_settings st;
  mqg_reg_status s = mqg_registry_settings_get(ctx->reg, &st);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  if (ctx->json) {
    ctl_json j;
    ctl_json_init(&j);
    ctl_json_value(&j, NULL, mqg_json_settings(&st));
    ctl_json_done(&j);
  } else {
    printf("registration    %s\n"
           "tls-min         %s\n"
           "tls-max         %s\n"
           "client-id-mode  %s\n",
           st.registration, st.tls_min, st.tls_max, st.client_id_mode);
  }
  return CTL_EXIT_OK;
}

static int settings_set(ctl_ctx *ctx, int argc, char **argv) {
  char *pos[2];
  int npos;
  int rc = ctl_parse(ctx, argc, argv, NULL, 0, pos, 2, &npos,
                     ctl_settings_help);
  if (rc != 0)
    return rc;
  if (npos != 2)
    return ctl_usage(ctx, "settings set needs KEY VALUE");
  const char *field = NULL;
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    if (strcmp(pos[0], keys[i].name) == 0 || strcmp(pos[0], keys[i].field) == 0)
      field = keys[i].field;
  if (field == NULL)
    return ctl_usage(ctx, "unknown setting '%s' (registration, tls-min, "
                          "tls-max, client-id-mode)",
                     pos[0]);
  const char *value = normalize(field, pos[1]);
  if (value == NULL)
    return ctl_fail(ctx, CTL_EXIT_USAGE, "input",
                    "bad value '%s' for %s (see 'mqgatectl settings --help')",
                    pos[1], pos[0]);
  if ((rc = ctl_connect(ctx)) != 0)
    return rc;
  mqg_reg_status s = mqg_registry_settings_set(ctx->reg, field, value);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  char line[160];
  snprintf(line, sizeof(line), "%s set to %s", pos[0], value);
  return ctl_done(ctx, "key", field, "value", value, line);
}

int ctl_settings_main(ctl_ctx *ctx, int argc, char **argv) {
  if (strcmp(argv[0], "show") == 0)
    return settings_show(ctx, argc - 1, argv + 1);
  if (strcmp(argv[0], "set") == 0)
    return settings_set(ctx, argc - 1, argv + 1);
  return ctl_usage(ctx, "unknown command 'settings %s'", argv[0]);
}
