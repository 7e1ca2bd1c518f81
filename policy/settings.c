/* settings.c: see settings.h. */
#include "settings.h"

#include <stdio.h>
#include <string.h>

int mqg_settings_set(mqg_settings *s, const char *key, const char *value) {
  char *field;
  size_t len;
  if (strcmp(key, "registration") == 0)
    field = s->registration, len = sizeof(s->registration);
  else if (strcmp(key, "tls_min") == 0)
    field = s->tls_min, len = sizeof(s->tls_min);
  else if (strcmp(key, "tls_max") == 0)
    field = s->tls_max, len = sizeof(s->tls_max);
  else if (strcmp(key, "client_id_mode") == 0)
    field = s->client_id_mode, len = sizeof(s->client_id_mode);
  else
    return -1;
  snprintf(field, len, "%s", value);
  return 0;
}
