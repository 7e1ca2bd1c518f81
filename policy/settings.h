/* settings.h: the cluster's settings as stored in P:settings (schema.h),
 * one type for both of their readers: every mqgate (proxy/regclient.c,
 * asynchronously, at ready and on every "settings" event) and the admin
 * client (registry.h: mqg_registry_settings_get, for mqgatectl and
 * mqgate-admin).
 *
 * Each reader fills in its own defaults (the proxy leaves "" where unset:
 * its flags decide; the admin client writes the Lua library's defaults),
 * then passes every field of the hash to mqg_settings_set.
 *
 * Errors: mqg_settings_set returns -1 for a key that is not a setting. */
#ifndef MQG_SETTINGS_H
#define MQG_SETTINGS_H

typedef struct {
  char registration[16];   /* manual | auto */
  char tls_min[8];         /* "1.0".."1.3" */
  char tls_max[8];
  char client_id_mode[16]; /* default | strict */
} mqg_settings;

/* mqg_settings_set copies |value| into the field of |s| named |key|
 * ("registration", "tls_min", "tls_max" or "client_id_mode"), cut to the
 * field's size (the Lua library stores only values that fit). Returns 0,
 * or -1 with |s| unchanged when |key| names none of them. */
int mqg_settings_set(mqg_settings *s, const char *key, const char *value);

#endif
