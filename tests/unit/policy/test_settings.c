#include "task.h"

#include "settings.h"

TEST_IMPL(settings_set) {
  mqg_settings s;
  memset(&s, 0, sizeof(s));
  ASSERT_EQ(mqg_settings_set(&s, "registration", "auto"), 0);
  ASSERT_EQ(mqg_settings_set(&s, "tls_min", "1.2"), 0);
  ASSERT_EQ(mqg_settings_set(&s, "tls_max", "1.3"), 0);
  ASSERT_EQ(mqg_settings_set(&s, "client_id_mode", "strict"), 0);
  ASSERT_STR_EQ(s.registration, "auto");
  ASSERT_STR_EQ(s.tls_min, "1.2");
  ASSERT_STR_EQ(s.tls_max, "1.3");
  ASSERT_STR_EQ(s.client_id_mode, "strict");
  /* Not a setting (or not spelled as one): ignored, nothing changes. */
  mqg_settings before = s;
  ASSERT_EQ(mqg_settings_set(&s, "tls", "1.0"), -1);
  ASSERT_EQ(mqg_settings_set(&s, "TLS_MIN", "1.0"), -1);
  ASSERT_EQ(mqg_settings_set(&s, "", "1.0"), -1);
  ASSERT_MEM_EQ(&s, &before, sizeof(s));
  /* A value longer than its field is cut, never overflows it. */
  ASSERT_EQ(mqg_settings_set(&s, "tls_min", "1.2.3.4.5.6"), 0);
  ASSERT_STR_EQ(s.tls_min, "1.2.3.4");
  ASSERT_STR_EQ(s.tls_max, "1.3");
  ASSERT_EQ(mqg_settings_set(&s, "registration", ""), 0);
  ASSERT_STR_EQ(s.registration, "");
  return 0;
}
