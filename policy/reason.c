/* reason.c: the refusal-reason table of reason.h. */
#include "reason.h"

#include <stddef.h>
#include <string.h>

struct reason_row {
  const char *label;
  const char *text;
  uint8_t alert;
  uint8_t connack_v4;
  uint8_t reason_v5;
};

static const struct reason_row rows[MQG_REASON_COUNT] = {
#define MQG_REASON_ROW(name, label, alert, v4, v5, text) \
  [MQG_REASON_##name] = {label, text, alert, v4, v5},
    MQG_REASON_MAP(MQG_REASON_ROW)
#undef MQG_REASON_ROW
};

const char *mqg_reason_label(mqg_reason r) {
  return (unsigned)r < MQG_REASON_COUNT ? rows[r].label : "unknown";
}

const char *mqg_reason_text(mqg_reason r) {
  return (unsigned)r < MQG_REASON_COUNT ? rows[r].text : "unknown reason";
}

uint8_t mqg_reason_alert(mqg_reason r, uint16_t tls_version) {
  if ((unsigned)r >= MQG_REASON_COUNT)
    return MQG_ALERT_INTERNAL_ERROR;
  if (r == MQG_REASON_NO_CERT && tls_version >= 0x0304)
    return MQG_ALERT_CERTIFICATE_REQUIRED;
  return rows[r].alert;
}

uint8_t mqg_reason_connack_code(mqg_reason r, uint8_t level) {
  if ((unsigned)r >= MQG_REASON_COUNT)
    return 0;
  return level >= 5 ? rows[r].reason_v5 : rows[r].connack_v4;
}

mqg_reason mqg_reason_of_registry(const char *word) {
  static const struct {
    const char *word;
    mqg_reason reason;
  } table[] = {
      {"ok", MQG_REASON_OK},
      {"active", MQG_REASON_OK},
      {"unknown_ca", MQG_REASON_UNKNOWN_CA},
      {"ca_inactive", MQG_REASON_CA_INACTIVE},
      {"unregistered", MQG_REASON_CERT_UNREGISTERED},
      {"rate_limited", MQG_REASON_RATE_LIMITED},
      {"inactive", MQG_REASON_CERT_INACTIVE},
      {"registered_inactive", MQG_REASON_CERT_INACTIVE},
      {"revoked", MQG_REASON_CERT_REVOKED},
      {"deleted", MQG_REASON_CERT_DELETED},
      {"identity_conflict", MQG_REASON_IDENTITY_CONFLICT},
  };
  for (size_t i = 0; word != NULL && i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(word, table[i].word) == 0)
      return table[i].reason;
  return MQG_REASON_COUNT;
}
