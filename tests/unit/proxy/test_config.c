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

/* A bad flag is named as it was written: a long option by its argv word (a
 * missing value, a value given to a flag that takes none), a short one by
 * its letter, also inside a group. */
TEST_IMPL(config_error_names) {
  static const struct {
    const char *arg, *err;
  } cases[] = {
      {"--listen", "missing value for option: --listen (see --help)"},
      {"--config", "missing value for option: --config (see --help)"},
      {"--help=3", "unknown option: --help=3 (see --help)"},
      {"--check-config=1", "unknown option: --check-config=1 (see --help)"},
      {"--no-such", "unknown option: --no-such (see --help)"},
      {"-x", "unknown option: -x (see --help)"},
      {"-qx", "unknown option: -q (see --help)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char a0[] = "mqgate", a1[32];
    snprintf(a1, sizeof(a1), "%s", cases[i].arg);
    char *argv[] = {a0, a1, NULL};
    mqg_config cfg;
    char err[512];
    ASSERT_EQ(mqg_config_load(&cfg, 2, argv, err, sizeof(err)), -EINVAL);
    ASSERT_STR_EQ(err, cases[i].err);
    mqg_config_cleanup(&cfg);
  }
  return 0;
}

/* A LIST option (--crl): repeated flags and file keys add up, commas split,
 * a higher source replaces a lower one's list, an empty value empties it,
 * an empty item is refused. */
TEST_IMPL(config_lists) {
  char path[] = "/tmp/mqg-config-list-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  const char ini[] = "[mqgate]\nclient-ca = ca.pem\ncrl = f1.crl\ncrl = f2.crl , f3.crl\n";
  ASSERT_EQ(write(fd, ini, sizeof(ini) - 1), (long long)sizeof(ini) - 1);
  close(fd);
  char a0[] = "mqgate", conf[] = "--config", f1[] = "--crl", v1[] = "a.crl",
       f2[] = "--crl=b.crl,c.crl", empty[] = "--crl=", bad[] = "--crl=a,,b",
       mode[] = "--crl-expired=never", reg[] = "--auth=registry";
  mqg_config cfg;
  char err[512];

  char *file_only[] = {a0, conf, path, NULL};
  unsetenv("MQGATE_CRL");
  ASSERT_EQ(mqg_config_load(&cfg, 3, file_only, err, sizeof(err)), 0);
  ASSERT_EQ(cfg.crl.n, 3);
  ASSERT_STR_EQ(cfg.crl.v[0], "f1.crl");
  ASSERT_STR_EQ(cfg.crl.v[1], "f2.crl");
  ASSERT_STR_EQ(cfg.crl.v[2], "f3.crl");
  ASSERT_STR_EQ(cfg.crl_expired, "allow");
  mqg_config_cleanup(&cfg);

  setenv("MQGATE_CRL", "e1.crl, e2.crl", 1);
  ASSERT_EQ(mqg_config_load(&cfg, 3, file_only, err, sizeof(err)), 0);
  ASSERT_EQ(cfg.crl.n, 2); /* the environment replaces the file's list */
  ASSERT_STR_EQ(cfg.crl.v[1], "e2.crl");
  mqg_config_cleanup(&cfg);

  char *flags[] = {a0, conf, path, f1, v1, f2, NULL};
  ASSERT_EQ(mqg_config_load(&cfg, 6, flags, err, sizeof(err)), 0);
  ASSERT_EQ(cfg.crl.n, 3); /* flags replace both, and add up */
  ASSERT_STR_EQ(cfg.crl.v[0], "a.crl");
  ASSERT_STR_EQ(cfg.crl.v[1], "b.crl");
  ASSERT_STR_EQ(cfg.crl.v[2], "c.crl");
  mqg_config_cleanup(&cfg);
  unsetenv("MQGATE_CRL");

  char *emptied[] = {a0, conf, path, empty, NULL};
  ASSERT_EQ(mqg_config_load(&cfg, 4, emptied, err, sizeof(err)), 0);
  ASSERT_EQ(cfg.crl.n, 0);
  mqg_config_cleanup(&cfg);

  char *bad_item[] = {a0, conf, path, bad, NULL};
  ASSERT_EQ(mqg_config_load(&cfg, 4, bad_item, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "invalid value \"a,,b\" for crl") != NULL);
  mqg_config_cleanup(&cfg);

  char *bad_mode[] = {a0, conf, path, mode, NULL};
  ASSERT_EQ(mqg_config_load(&cfg, 4, bad_mode, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "crl-expired \"never\" is not allow or deny") != NULL);
  mqg_config_cleanup(&cfg);

  char *registry[] = {a0, conf, path, reg, NULL};
  ASSERT_EQ(mqg_config_load(&cfg, 4, registry, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "--crl applies to auth mode mtls") != NULL);
  mqg_config_cleanup(&cfg);
  unlink(path);
  return 0;
}

/* Registry mode holds --redis and --redis-prefix to the rules mqgatectl and
 * mqgate-admin apply (redis_url.h): a prefix of 129 characters used to be
 * cut to 127, and a bad port to pass --check-config. At most 8 Sentinels. */
TEST_IMPL(config_registry_address) {
  char a0[] = "mqgate", reg[] = "--auth=registry", good[] = "--redis=redis://h:6380/3",
       port[] = "--redis=redis://h:99999/0", scheme[] = "--redis=http://h/",
       spaced[] = "--redis-prefix=a b", longest[2 + 16 + 128 + 1], too_long[2 + 16 + 129 + 1],
       eight[] = "--redis-sentinels=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,"
                 "127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,[::1]:8",
       nine[] = "--redis-sentinels=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,"
                "127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,127.0.0.1:8,127.0.0.1:9";
  snprintf(longest, sizeof(longest), "--redis-prefix=%0128d", 0);
  snprintf(too_long, sizeof(too_long), "--redis-prefix=%0129d", 0);
  struct {
    char *arg;
    int rc;
    const char *says;
  } cases[] = {
      {good, 0, NULL},
      {longest, 0, NULL},
      {port, -EINVAL, "needs --redis redis://"},
      {scheme, -EINVAL, "needs --redis redis://"},
      {spaced, -EINVAL, "--redis-prefix must be 1..128 characters"},
      {too_long, -EINVAL, "--redis-prefix must be 1..128 characters"},
      {eight, 0, NULL},
      {nine, -EINVAL, "more than 8 Sentinels"}, /* the ninth was dropped unsaid */
  };
  unsetenv("MQGATE_REDIS");
  unsetenv("MQGATE_REDIS_PREFIX");
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *argv[] = {a0, reg, cases[i].arg, NULL};
    mqg_config cfg;
    char err[512];
    ASSERT_EQ(mqg_config_load(&cfg, 3, argv, err, sizeof(err)), cases[i].rc);
    if (cases[i].says != NULL)
      ASSERT(strstr(err, cases[i].says) != NULL);
    mqg_config_cleanup(&cfg);
  }
  return 0;
}
