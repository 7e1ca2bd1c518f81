/* Tests of policy/options.c on a table of its own: every kind, the
 * precedence of the sources, LIST, the file, the command line and --help.
 * The programs' own tables are tested through them (test_config.c, the
 * integration tests 06, 53 and 60). */
#include "task.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "options.h"

#define T_OPTION_MAP(X)                                 \
  X(config, STR, "", "FILE", "the file")                \
  X(name, STR, "anon", "TEXT", "a name")                \
  X(count, UINT, "7", "N", "a count")                   \
  X(wait, MS, "2s", "DUR", "a wait")                    \
  X(room, SIZE, "64k", "BYTES", "a size")               \
  X(loud, BOOL, "no", "yes|no", "a switch")             \
  X(tls_min, TLSVER, "1.2", "VER", "a TLS version")     \
  X(item, LIST, "", "ITEM", "items, repeatable")

typedef struct {
  T_OPTION_MAP(MQG_OPT_FIELD)
  int checked; /* --check seen */
} t_cfg;

static const mqg_opt t_rows[] = {
#define T_ROW(name, kind, def, meta, help) MQG_OPT_ROW(t_cfg, name, kind, def, meta, help),
    T_OPTION_MAP(T_ROW)
#undef T_ROW
};

static const mqg_opt_flag t_flags[] = {{"check", "check, then go on"}, {"help", "this text"}};

static int t_on_flag(const mqg_opt_table *t, size_t flag, void *cfg, const char *prog) {
  if (flag == 0) {
    ((t_cfg *)cfg)->checked = 1;
    return 0;
  }
  return MQG_OPTIONS_EXIT;
}

static const mqg_opt_table t_table = {
    .opts = t_rows,
    .nopts = sizeof(t_rows) / sizeof(t_rows[0]),
    .size = sizeof(t_cfg),
    .env_prefix = "MQGTEST_",
    .section = "test",
    .other_section = "neighbour",
    .flags = t_flags,
    .nflags = 2,
    .on_flag = t_on_flag,
};

static char err[1024];

/* load runs mqg_options_load on { "prog", the arguments..., NULL }, each a
 * heap copy freed afterwards: a stale pointer into them (getopt's state)
 * would show under ASan in the next load. */
static int load(t_cfg *c, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  argv[argc++] = strdup("prog");
  va_start(ap, c);
  for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 31;)
    argv[argc++] = strdup(a);
  va_end(ap);
  argv[argc] = NULL;
  int rc = mqg_options_load(&t_table, c, argc, argv, err, sizeof(err));
  for (int i = 0; i < argc; i++)
    free(argv[i]);
  return rc;
}

/* LOAD(c, args...) loads { "prog", args... } into |c| (the caller cleans it
 * up); an argument NULL ends the list early. */
#define LOAD(c, ...) load(c, __VA_ARGS__, (const char *)NULL)

static void clear_env(void) {
  static const char *const names[] = {"MQGTEST_CONFIG", "MQGTEST_NAME", "MQGTEST_COUNT",
                                      "MQGTEST_WAIT", "MQGTEST_ROOM", "MQGTEST_LOUD",
                                      "MQGTEST_TLS_MIN", "MQGTEST_ITEM"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    unsetenv(names[i]);
}

/* A flag's value |v| for |flag| is accepted; the field is then checked by
 * the caller. */
static void accept_value(t_cfg *c, const char *flag, const char *v) {
  char arg[1024];
  snprintf(arg, sizeof(arg), "--%s=%s", flag, v);
  mqg_options_cleanup(&t_table, c);
  if (LOAD(c, arg) != 0) {
    fprintf(stderr, "%s refused: %s\n", arg, err);
    abort();
  }
}

/* ... and refused with the exact message of a bad flag value. */
static void refuse(const char *flag, const char *v) {
  char arg[1024], want[1024];
  t_cfg c;
  snprintf(arg, sizeof(arg), "--%s=%s", flag, v);
  snprintf(want, sizeof(want), "flag: invalid value \"%s\" for %s", v, flag);
  if (LOAD(&c, arg) != -EINVAL || strcmp(err, want) != 0) {
    fprintf(stderr, "%s: \"%s\", wanted \"%s\"\n", arg, err, want);
    abort();
  }
  mqg_options_cleanup(&t_table, &c);
}

static char *write_file(const char *text) {
  static char path[64];
  snprintf(path, sizeof(path), "/tmp/mqg-options-test-XXXXXX");
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
  close(fd);
  return path;
}

TEST_IMPL(options_kinds) {
  t_cfg c;
  clear_env();
  ASSERT_EQ(LOAD(&c, NULL), 0);
  ASSERT_STR_EQ(err, "");
  ASSERT_STR_EQ(c.name, "anon");
  ASSERT_EQ(c.count, 7);
  ASSERT_EQ(c.wait, 2000);
  ASSERT_EQ(c.room, 65536);
  ASSERT_EQ(c.loud, 0);
  ASSERT_EQ(c.tls_min, TLS1_2_VERSION);
  ASSERT_EQ(c.item.n, 0);
  ASSERT_EQ(c.checked, 0);

  /* STR: anything, also empty. */
  accept_value(&c, "name", "");
  ASSERT_STR_EQ(c.name, "");
  accept_value(&c, "name", " a b,c ");
  ASSERT_STR_EQ(c.name, " a b,c ");

  /* UINT: digits only, at most 1000000. */
  accept_value(&c, "count", "0");
  ASSERT_EQ(c.count, 0);
  accept_value(&c, "count", "1000000");
  ASSERT_EQ(c.count, 1000000);
  accept_value(&c, "count", "0064");
  ASSERT_EQ(c.count, 64);
  static const char *const bad_uint[] = {"1000001", "-1", "+1", " 1", "1 ", "1x", "", "0x10",
                                         "99999999999999999999999"};
  for (size_t i = 0; i < sizeof(bad_uint) / sizeof(bad_uint[0]); i++)
    refuse("count", bad_uint[i]);

  /* MS: ms, s, m, h; a bare number is seconds; at most half of 64 bits. */
  static const struct {
    const char *v;
    uint64_t ms;
  } durations[] = {{"250ms", 250}, {"10s", 10000}, {"10", 10000},   {"0", 0},
                   {"2m", 120000}, {"1h", 3600000}, {"0ms", 0},      {"007s", 7000},
                   {"2562047788015h", 2562047788015ULL * 3600000}};
  for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
    accept_value(&c, "wait", durations[i].v);
    ASSERT_EQ(c.wait, durations[i].ms);
  }
  static const char *const bad_ms[] = {"2x",   "1d",  "",    "ms",  "1.5s",
                                       "1 s",  "1S",  "-1s", "1hh", "2562047788016h",
                                       "99999999999999999999"};
  for (size_t i = 0; i < sizeof(bad_ms) / sizeof(bad_ms[0]); i++)
    refuse("wait", bad_ms[i]);

  /* SIZE: k/K and m/M, powers of two. */
  static const struct {
    const char *v;
    size_t n;
  } sizes[] = {{"65536", 65536}, {"64k", 65536}, {"64K", 65536}, {"1m", 1048576},
               {"1M", 1048576},  {"0", 0}};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    accept_value(&c, "room", sizes[i].v);
    ASSERT_EQ(c.room, sizes[i].n);
  }
  static const char *const bad_size[] = {"1g", "1kb", "k", "", "1 k", "-1",
                                         "9999999999999999999m"};
  for (size_t i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++)
    refuse("room", bad_size[i]);

  /* BOOL: the flag alone is yes; a value after '='. */
  static const struct {
    const char *v;
    int b;
  } bools[] = {{"yes", 1}, {"true", 1}, {"1", 1}, {"no", 0}, {"false", 0}, {"0", 0}};
  for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
    accept_value(&c, "loud", bools[i].v);
    ASSERT_EQ(c.loud, bools[i].b);
  }
  refuse("loud", "maybe");
  refuse("loud", "YES");
  refuse("loud", "");
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--loud"), 0);
  ASSERT_EQ(c.loud, 1);
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--loud", "yes"), -EINVAL); /* a value only after '=' */
  ASSERT_STR_EQ(err, "unexpected argument \"yes\" (see --help)");
  mqg_options_cleanup(&t_table, &c);

  /* TLSVER, and its names. */
  static const struct {
    const char *v;
    uint16_t version;
  } versions[] = {{"1.0", TLS1_VERSION},
                  {"1.1", TLS1_1_VERSION},
                  {"1.2", TLS1_2_VERSION},
                  {"1.3", TLS1_3_VERSION}};
  for (size_t i = 0; i < 4; i++) {
    accept_value(&c, "tls-min", versions[i].v);
    ASSERT_EQ(c.tls_min, versions[i].version);
    ASSERT_STR_EQ(mqg_options_tls_name(versions[i].version), versions[i].v);
  }
  ASSERT_STR_EQ(mqg_options_tls_name(0x0300), "?");
  refuse("tls-min", "1.4");
  refuse("tls-min", "1");
  refuse("tls-min", "TLS1.2");
  mqg_options_cleanup(&t_table, &c);

  uint64_t u;
  ASSERT_EQ(mqg_options_parse_uint("65535", 65535, &u), 0);
  ASSERT_EQ(u, 65535);
  ASSERT_EQ(mqg_options_parse_uint("65536", 65535, &u), -EINVAL);
  ASSERT_EQ(mqg_options_parse_uint("", 65535, &u), -EINVAL);
  ASSERT_EQ(mqg_options_parse_uint("1 ", 65535, &u), -EINVAL);
  return 0;
}

/* flag > environment > file > default, value by value; the file named by
 * the flag or the variable; its sections and errors. */
TEST_IMPL(options_precedence) {
  t_cfg c;
  clear_env();
  char *path = write_file("name = top\n[test]\ncount = 3\nwait = 5s\nroom = 1k\n"
                          "[neighbour]\nwhatever = not ours\n[test]\nloud = yes\n");
  char cfg_flag[96];
  snprintf(cfg_flag, sizeof(cfg_flag), "--config=%s", path);

  ASSERT_EQ(LOAD(&c, cfg_flag), 0);
  ASSERT_STR_EQ(c.name, "top"); /* before any section: ours */
  ASSERT_EQ(c.count, 3);
  ASSERT_EQ(c.wait, 5000);
  ASSERT_EQ(c.room, 1024);
  ASSERT_EQ(c.loud, 1);
  ASSERT_EQ(c.tls_min, TLS1_2_VERSION); /* default */
  mqg_options_cleanup(&t_table, &c);

  setenv("MQGTEST_COUNT", "4", 1);
  setenv("MQGTEST_WAIT", "6s", 1);
  ASSERT_EQ(LOAD(&c, cfg_flag, "--wait", "7s"), 0);
  ASSERT_EQ(c.count, 4);   /* environment over file */
  ASSERT_EQ(c.wait, 7000); /* flag over environment */
  ASSERT_EQ(c.room, 1024); /* file over default */
  mqg_options_cleanup(&t_table, &c);

  /* A bad variable is refused even when a flag would override it. */
  setenv("MQGTEST_COUNT", "four", 1);
  ASSERT_EQ(LOAD(&c, cfg_flag, "--count=5"), -EINVAL);
  ASSERT_STR_EQ(err, "MQGTEST_COUNT: invalid value \"four\" for count");
  mqg_options_cleanup(&t_table, &c);
  clear_env();

  /* The file named by the variable; a flag names another (or none). */
  setenv("MQGTEST_CONFIG", path, 1);
  ASSERT_EQ(LOAD(&c, NULL), 0);
  ASSERT_EQ(c.count, 3);
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--config="), 0);
  ASSERT_EQ(c.count, 7);
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--conf", "/nonexistent/x.ini"), -EINVAL);
  ASSERT_STR_EQ(err, "/nonexistent/x.ini: cannot open config file");
  mqg_options_cleanup(&t_table, &c);
  clear_env();
  unlink(path);

  static const struct {
    const char *text, *err; /* err after the path */
  } bad_files[] = {
      {"[other]\ncount = 1\n", ": unknown section [other]"},
      {"[test]\nnope = 1\n", ": unknown key \"nope\""},
      {"count = 1\nconfig = /x\n", ": unknown key \"config\""},
      {"[test]\ncount = 1\ncount = many\n", ": invalid value \"many\" for count"},
      {"[test]\nloud = maybe\n", ": invalid value \"maybe\" for loud"},
      {"[test]\ncount = 1\nno equals sign\n", ":3: syntax error"},
      {"[test\ncount = 1\n", ":1: syntax error"},
      {"tls_min = 1.3\n", ": unknown key \"tls_min\""}, /* keys are spelled as flags */
  };
  for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
    path = write_file(bad_files[i].text);
    char want[256];
    snprintf(want, sizeof(want), "%s%s", path, bad_files[i].err);
    ASSERT_EQ(LOAD(&c, "--config", path), -EINVAL);
    ASSERT_STR_EQ(err, want);
    mqg_options_cleanup(&t_table, &c);
    unlink(path);
  }
  return 0;
}

/* LIST: occurrences add up, commas split, a higher source replaces the
 * list, an empty value empties it, an empty item is refused, 64 items. */
TEST_IMPL(options_lists) {
  t_cfg c;
  clear_env();
  char *path = write_file("[test]\nitem = f1\nitem = f2 , f3\n");
  char cfg_flag[96];
  snprintf(cfg_flag, sizeof(cfg_flag), "--config=%s", path);

  ASSERT_EQ(LOAD(&c, cfg_flag), 0);
  ASSERT_EQ(c.item.n, 3);
  ASSERT_STR_EQ(c.item.v[0], "f1");
  ASSERT_STR_EQ(c.item.v[1], "f2");
  ASSERT_STR_EQ(c.item.v[2], "f3");
  mqg_options_cleanup(&t_table, &c);

  setenv("MQGTEST_ITEM", "e1, e2", 1);
  ASSERT_EQ(LOAD(&c, cfg_flag), 0);
  ASSERT_EQ(c.item.n, 2);
  ASSERT_STR_EQ(c.item.v[0], "e1");
  ASSERT_STR_EQ(c.item.v[1], "e2");
  mqg_options_cleanup(&t_table, &c);

  ASSERT_EQ(LOAD(&c, cfg_flag, "--item", "a", "--item=b,c"), 0);
  ASSERT_EQ(c.item.n, 3);
  ASSERT_STR_EQ(c.item.v[0], "a");
  ASSERT_STR_EQ(c.item.v[1], "b");
  ASSERT_STR_EQ(c.item.v[2], "c");
  mqg_options_cleanup(&t_table, &c);

  setenv("MQGTEST_ITEM", "", 1); /* the environment empties the file's */
  ASSERT_EQ(LOAD(&c, cfg_flag), 0);
  ASSERT_EQ(c.item.n, 0);
  mqg_options_cleanup(&t_table, &c);
  clear_env();

  ASSERT_EQ(LOAD(&c, cfg_flag, "--item= \t"), 0);
  ASSERT_EQ(c.item.n, 0);
  mqg_options_cleanup(&t_table, &c);
  /* An emptied list takes items again from the same source. */
  ASSERT_EQ(LOAD(&c, "--item=a", "--item=", "--item=b"), 0);
  ASSERT_EQ(c.item.n, 1);
  ASSERT_STR_EQ(c.item.v[0], "b");
  mqg_options_cleanup(&t_table, &c);

  static const char *const bad[] = {"a,,b", "a,", ",a", " , ", "a, ,b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    refuse("item", bad[i]);
  setenv("MQGTEST_ITEM", "a,,b", 1);
  ASSERT_EQ(LOAD(&c, NULL), -EINVAL);
  ASSERT_STR_EQ(err, "MQGTEST_ITEM: invalid value \"a,,b\" for item");
  mqg_options_cleanup(&t_table, &c);
  clear_env();

  char many[512] = "";
  for (int i = 0; i < MQG_OPT_LIST_MAX; i++)
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "%si%d", i ? "," : "", i);
  accept_value(&c, "item", many);
  ASSERT_EQ(c.item.n, MQG_OPT_LIST_MAX);
  ASSERT_STR_EQ(c.item.v[MQG_OPT_LIST_MAX - 1], "i63");
  mqg_options_cleanup(&t_table, &c);
  char more[600];
  snprintf(more, sizeof(more), "%s,i64", many);
  refuse("item", more);
  /* The 65th item in another occurrence is refused too. */
  char flag[600];
  snprintf(flag, sizeof(flag), "--item=%s", many);
  ASSERT_EQ(LOAD(&c, flag, "--item=x"), -EINVAL);
  ASSERT_STR_EQ(err, "flag: invalid value \"x\" for item");
  mqg_options_cleanup(&t_table, &c);
  unlink(path);
  return 0;
}

/* The command line: program flags in order, how a bad flag is named,
 * abbreviations, and a second load after a failed one. */
TEST_IMPL(options_command_line) {
  t_cfg c;
  clear_env();
  ASSERT_EQ(LOAD(&c, "--check", "--count=2"), 0);
  ASSERT_EQ(c.checked, 1);
  ASSERT_EQ(c.count, 2);
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--help", "--count=x"), MQG_OPTIONS_EXIT);
  ASSERT_STR_EQ(err, "");
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--count=x", "--help"), -EINVAL);
  ASSERT_STR_EQ(err, "flag: invalid value \"x\" for count");
  mqg_options_cleanup(&t_table, &c);
  ASSERT_EQ(LOAD(&c, "--cou", "9", "--tls=1.3"), 0); /* unambiguous abbreviations */
  ASSERT_EQ(c.count, 9);
  ASSERT_EQ(c.tls_min, TLS1_3_VERSION);
  mqg_options_cleanup(&t_table, &c);

  static const struct {
    const char *arg, *next, *err;
  } cases[] = {
      {"--name", NULL, "missing value for option: --name (see --help)"},
      {"--config", NULL, "missing value for option: --config (see --help)"},
      {"--help=3", NULL, "unknown option: --help=3 (see --help)"},
      {"--check=", NULL, "unknown option: --check= (see --help)"},
      {"--nope", NULL, "unknown option: --nope (see --help)"},
      {"--c=1", NULL, "unknown option: --c=1 (see --help)"}, /* ambiguous */
      {"-x", NULL, "unknown option: -x (see --help)"},
      {"-qx", NULL, "unknown option: -q (see --help)"},
      {"pos", NULL, "unexpected argument \"pos\" (see --help)"},
      {"--", "--help", "unexpected argument \"--help\" (see --help)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT_EQ(LOAD(&c, cases[i].arg, cases[i].next), -EINVAL);
    ASSERT_STR_EQ(err, cases[i].err);
    mqg_options_cleanup(&t_table, &c);
  }
  /* A flag that takes a value takes the next word, whatever it is. */
  ASSERT_EQ(LOAD(&c, "--name", "--help"), 0);
  ASSERT_STR_EQ(c.name, "--help");
  mqg_options_cleanup(&t_table, &c);

  /* A load that fails inside a group of short options leaves nothing of
   * getopt's position in that group to the next (corpus/config/
   * regression-getopt-group). */
  for (int round = 0; round < 2; round++) {
    ASSERT_EQ(LOAD(&c, "-xyz"), -EINVAL);
    ASSERT_STR_EQ(err, "unknown option: -x (see --help)");
    mqg_options_cleanup(&t_table, &c);
    ASSERT_EQ(LOAD(&c, "--count=2", "--name=n"), 0);
    ASSERT_EQ(c.count, 2);
    ASSERT_STR_EQ(c.name, "n");
    mqg_options_cleanup(&t_table, &c);
  }
  /* The same with the file named: each load gives the same answer
   * (fuzz_config's regression-getopt-group). */
  char *path = write_file("name = f\n");
  for (int round = 0; round < 2; round++) {
    ASSERT_EQ(LOAD(&c, "--config", path, "-abc", "--count=2"), -EINVAL);
    ASSERT_STR_EQ(err, "unknown option: -a (see --help)");
    mqg_options_cleanup(&t_table, &c);
  }
  ASSERT_EQ(LOAD(&c, "--config", path, "--count=2"), 0);
  ASSERT_STR_EQ(c.name, "f");
  ASSERT_EQ(c.count, 2);
  mqg_options_cleanup(&t_table, &c);
  unlink(path);

  /* Cleanup zeroes, and a zeroed struct cleans up again. */
  mqg_options_cleanup(&t_table, &c);
  ASSERT(c.name == NULL && c.item.v == NULL && c.count == 0);
  return 0;
}

TEST_IMPL(options_help) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  ASSERT(out != NULL);
  mqg_options_print_help(&t_table, out);
  ASSERT_EQ(fclose(out), 0);
  ASSERT_STR_EQ(text,
                "  --config FILE                the file\n"
                "                               env MQGTEST_CONFIG, default \"\"\n"
                "  --name TEXT                  a name\n"
                "                               env MQGTEST_NAME, default \"anon\"\n"
                "  --count N                    a count\n"
                "                               env MQGTEST_COUNT, default \"7\"\n"
                "  --wait DUR                   a wait\n"
                "                               env MQGTEST_WAIT, default \"2s\"\n"
                "  --room BYTES                 a size\n"
                "                               env MQGTEST_ROOM, default \"64k\"\n"
                "  --loud yes|no                a switch\n"
                "                               env MQGTEST_LOUD, default \"no\"\n"
                "  --tls-min VER                a TLS version\n"
                "                               env MQGTEST_TLS_MIN, default \"1.2\"\n"
                "  --item ITEM                  items, repeatable\n"
                "                               env MQGTEST_ITEM, default \"\"\n"
                "  --check                      check, then go on\n"
                "  --help                       this text\n");
  free(text);
  return 0;
}

/* HOST:PORT, the one parser of mqgate's and mqgate-admin's addresses. */
TEST_IMPL(options_parse_addr) {
  struct sockaddr_storage ss;
  const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
  const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
  ASSERT_EQ(mqg_options_parse_addr("127.0.0.1:8883", &ss), 0);
  ASSERT_EQ(ss.ss_family, AF_INET);
  ASSERT_EQ(ntohs(v4->sin_port), 8883);
  ASSERT_EQ(ntohl(v4->sin_addr.s_addr), 0x7f000001);
  ASSERT_EQ(mqg_options_parse_addr("localhost:0", &ss), 0);
  ASSERT_EQ(ss.ss_family, AF_INET);
  ASSERT_EQ(ntohl(v4->sin_addr.s_addr), 0x7f000001);
  ASSERT_EQ(mqg_options_parse_addr("0.0.0.0:65535", &ss), 0);
  ASSERT_EQ(ntohs(v4->sin_port), 65535);
  ASSERT_EQ(mqg_options_parse_addr("[::1]:8443", &ss), 0);
  ASSERT_EQ(ss.ss_family, AF_INET6);
  ASSERT_EQ(ntohs(v6->sin6_port), 8443);
  ASSERT(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
  ASSERT_EQ(mqg_options_parse_addr("::1:80", &ss), 0); /* the last colon */
  ASSERT_EQ(ss.ss_family, AF_INET6);
  ASSERT_EQ(ntohs(v6->sin6_port), 80);
  static const char *const bad[] = {
      "",        "127.0.0.1",    "127.0.0.1:",   "127.0.0.1:65536", "127.0.0.1:+1",
      "127.0.0.1:1x", "127.0.0.1: 1", ":80",    "[::1]80",         "[::1]",
      "[::1:80", "example.com:80", "256.0.0.1:80",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (mqg_options_parse_addr(bad[i], &ss) != -EINVAL) {
      fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
      ASSERT(0);
    }
  return 0;
}
