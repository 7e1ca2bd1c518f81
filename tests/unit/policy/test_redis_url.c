#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "redis_url.h"

TEST_IMPL(redis_url_forms) {
  mqg_redis_addr a;
  ASSERT_EQ(mqg_redis_url_parse("redis://127.0.0.1:6380/2", &a), 0);
  ASSERT_STR_EQ(a.host, "127.0.0.1");
  ASSERT_EQ(a.port, 6380);
  ASSERT_EQ(a.db, 2);
  ASSERT_STR_EQ(a.user, "");
  ASSERT_STR_EQ(a.password, "");
  ASSERT_EQ(mqg_redis_url_parse("redis://h", &a), 0);
  ASSERT_EQ(a.port, 6379);
  ASSERT_EQ(a.db, 0);
  ASSERT_EQ(mqg_redis_url_parse("redis://[::1]:7000/1", &a), 0);
  ASSERT_STR_EQ(a.host, "::1");
  /* Credentials, as redis-cli -u reads them. */
  ASSERT_EQ(mqg_redis_url_parse("redis://fleet:s3cret@h:1/0", &a), 0);
  ASSERT_STR_EQ(a.user, "fleet");
  ASSERT_STR_EQ(a.password, "s3cret");
  ASSERT_EQ(mqg_redis_url_parse("redis://:s3cret@h", &a), 0);
  ASSERT_STR_EQ(a.user, "");
  ASSERT_STR_EQ(a.password, "s3cret");
  ASSERT_EQ(mqg_redis_url_parse("redis://s3cret@h", &a), 0);
  ASSERT_STR_EQ(a.user, "");
  ASSERT_STR_EQ(a.password, "s3cret");
  ASSERT_EQ(mqg_redis_url_parse("redis://fleet:@h", &a), 0);
  ASSERT_STR_EQ(a.user, "fleet");
  ASSERT_STR_EQ(a.password, "");
  /* %-escapes, and an '@' inside the password. */
  ASSERT_EQ(mqg_redis_url_parse("redis://u%3Ax:p%40ss@w@h:5", &a), 0);
  ASSERT_STR_EQ(a.user, "u:x");
  ASSERT_STR_EQ(a.password, "p@ss@w");
  ASSERT_STR_EQ(a.host, "h");
  const char *argv[3];
  ASSERT_EQ(mqg_redis_auth_argv(&a, argv), 3);
  ASSERT_STR_EQ(argv[1], "u:x");
  ASSERT_EQ(mqg_redis_url_parse("redis://:pw@h", &a), 0);
  ASSERT_EQ(mqg_redis_auth_argv(&a, argv), 2);
  ASSERT_STR_EQ(argv[1], "pw");
  ASSERT_EQ(mqg_redis_url_parse("redis://h", &a), 0);
  ASSERT_EQ(mqg_redis_auth_argv(&a, argv), 0);
  return 0;
}

TEST_IMPL(redis_url_bad) {
  mqg_redis_addr a;
  const char *bad[] = {
      "http://h",        "redis://",          "redis://:1",      "redis://h:0",
      "redis://h:65536", "redis://h:x",       "redis://h/x",     "redis://h/1/2",
      "redis://[::1",    "redis://u:%4@h",    "redis://u:%zz@h", "redis://u:%00@h",
      "redis://@h",      NULL,
  };
  for (int i = 0; bad[i] != NULL; i++) {
    if (strcmp(bad[i], "redis://@h") == 0) {
      /* An empty userinfo is no credential at all, not an error. */
      ASSERT_EQ(mqg_redis_url_parse(bad[i], &a), 0);
      ASSERT_STR_EQ(a.password, "");
      continue;
    }
    if (mqg_redis_url_parse(bad[i], &a) != -EINVAL) {
      fprintf(stderr, "accepted: %s\n", bad[i]);
      ASSERT(0);
    }
  }
  ASSERT_EQ(mqg_redis_url_parse(NULL, &a), -EINVAL);
  return 0;
}

TEST_IMPL(redis_password_sources) {
  mqg_redis_addr a;
  char err[256] = "", path[] = "/tmp/mqg-pw-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, "from-file\nsecond line\n", 22), 22);
  close(fd);
  ASSERT_EQ(mqg_redis_url_parse("redis://u:in-url@h", &a), 0);
  unsetenv(MQG_REDIS_PASSWORD_ENV);
  ASSERT_EQ(mqg_redis_password_load(&a, "", err, sizeof(err)), 0);
  ASSERT_STR_EQ(a.password, "in-url");
  setenv(MQG_REDIS_PASSWORD_ENV, "from-env", 1);
  ASSERT_EQ(mqg_redis_password_load(&a, NULL, err, sizeof(err)), 0);
  ASSERT_STR_EQ(a.password, "from-env");
  ASSERT_EQ(mqg_redis_password_load(&a, path, err, sizeof(err)), 0);
  ASSERT_STR_EQ(a.password, "from-file"); /* the file wins, first line only */
  unsetenv(MQG_REDIS_PASSWORD_ENV);
  ASSERT(mqg_redis_password_load(&a, "/nonexistent/pw", err, sizeof(err)) < 0);
  ASSERT(strstr(err, "/nonexistent/pw") != NULL);
  fd = open(path, O_WRONLY | O_TRUNC);
  close(fd);
  ASSERT_EQ(mqg_redis_password_load(&a, path, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "empty") != NULL);
  unlink(path);
  return 0;
}
