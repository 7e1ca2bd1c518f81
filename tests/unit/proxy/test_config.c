/* Tests of proxy/config.c: loading twice in one process (SIGHUP does). */
#include "task.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

/* A load that fails inside a group of short options ("-xyz": 'x' is
 * unknown) must leave nothing of getopt's position in that group to the
 * next load, which would otherwise go on with 'y' from the old argv and
 * refuse a good command line. Found by tests/fuzz/fuzz_config
 * (corpus/config/regression-getopt-group). */
TEST_IMPL(config_reload_after_bad_group) {
  char a0[] = "mqgate", bad1[] = "-xyz";
  char good1[] = "--client-ca=ca.pem", good2[] = "--workers=2";
  char *bad[] = {a0, bad1, NULL};
  char *good[] = {a0, good1, good2, NULL};
  mqg_config cfg;
  char err[512];

  ASSERT_EQ(mqg_config_load(&cfg, 2, bad, err, sizeof(err)), -EINVAL);
  mqg_config_cleanup(&cfg);
  ASSERT_EQ(mqg_config_load(&cfg, 3, good, err, sizeof(err)), 0);
  ASSERT_EQ(cfg.workers, 2);
  ASSERT_STR_EQ(cfg.client_ca, "ca.pem");
  mqg_config_cleanup(&cfg);
  /* And the other way round. */
  ASSERT_EQ(mqg_config_load(&cfg, 2, bad, err, sizeof(err)), -EINVAL);
  mqg_config_cleanup(&cfg);
  return 0;
}

/* Every spelling getopt accepts for --config names the file ("--conf=F"
 * used to be accepted and then ignored), and an unknown short option in a
 * group is named itself, not the program. */
TEST_IMPL(config_file_spellings) {
  char path[] = "/tmp/mqg-config-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  const char ini[] = "[mqgate]\nworkers = 3\nclient-ca = from-file.pem\n";
  ASSERT_EQ(write(fd, ini, sizeof(ini) - 1), (long long)sizeof(ini) - 1);
  close(fd);
  char a0[] = "mqgate", flag[] = "--config", abbrev[64], eq[64];
  snprintf(abbrev, sizeof(abbrev), "--conf=%s", path);
  snprintf(eq, sizeof(eq), "--config=%s", path);
  char *forms[][4] = {{a0, flag, path, NULL}, {a0, abbrev, NULL}, {a0, eq, NULL}};
  int counts[] = {3, 2, 2};
  mqg_config cfg;
  char err[512];
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(mqg_config_load(&cfg, counts[i], forms[i], err, sizeof(err)), 0);
    ASSERT_EQ(cfg.workers, 3);
    ASSERT_STR_EQ(cfg.client_ca, "from-file.pem");
    mqg_config_cleanup(&cfg);
  }
  unlink(path);

  char bad[] = "-xy";
  char *argv[] = {a0, bad, NULL};
  ASSERT_EQ(mqg_config_load(&cfg, 2, argv, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "unknown option: -x") != NULL);
  mqg_config_cleanup(&cfg);
  return 0;
}
