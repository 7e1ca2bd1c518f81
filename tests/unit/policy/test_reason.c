#include "task.h"

#include "reason.h"

TEST_IMPL(reason_table) {
  /* Every reason has its own label. */
  for (int i = 0; i < MQG_REASON_COUNT; i++)
    for (int j = i + 1; j < MQG_REASON_COUNT; j++)
      ASSERT(strcmp(mqg_reason_label(i), mqg_reason_label(j)) != 0);
  ASSERT_EQ(mqg_reason_alert(MQG_REASON_NO_CERT, 0x0304),
            MQG_ALERT_CERTIFICATE_REQUIRED);
  ASSERT_EQ(mqg_reason_alert(MQG_REASON_NO_CERT, 0x0303),
            MQG_ALERT_HANDSHAKE_FAILURE);
  ASSERT_EQ(mqg_reason_alert(MQG_REASON_CERT_REVOKED, 0x0303),
            MQG_ALERT_CERTIFICATE_REVOKED);
  ASSERT_EQ(mqg_reason_connack_code(MQG_REASON_BACKEND_UNAVAILABLE, 4), 3);
  ASSERT_EQ(mqg_reason_connack_code(MQG_REASON_BACKEND_UNAVAILABLE, 5), 0x88);
  ASSERT_EQ(mqg_reason_connack_code(MQG_REASON_CONNECT_MALFORMED, 4), 0);
  ASSERT_STR_EQ(mqg_reason_label(MQG_REASON_COUNT), "unknown");
  return 0;
}
