/* fuzz_config: mqg_config_load (proxy/config.h) on an arbitrary INI file and
 * command line.
 *
 * The input is split on NUL bytes: the first piece is the contents of the
 * file named by --config, the others are the arguments that follow it:
 *
 *   argv = { "mqgate", "--config", FILE, piece 1, piece 2, ... }
 *
 * so a seed is an INI file, then optionally "\0--flag\0value...". The file
 * is a memfd, rewritten for each input and named by its /proc/self/fd path.
 * Every result (0, MQG_CONFIG_EXIT, -EINVAL) is fine as long as nothing
 * crashes or leaks and the error message is set exactly on failure; but a
 * second load of the same input must give the same result: nothing of one
 * call (getopt's state, say) may reach the next. The first load's arguments
 * stay allocated during the second, so that a stale pointer into them reads
 * real bytes and shows as a different result. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_check.h"

#define MAX_ARGS 64

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
  CHECK(memfd >= 0);
  snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
  /* --help and --version print to stdout: keep the fuzzer's output
   * readable (its own messages go to stderr). */
  CHECK(freopen("/dev/null", "w", stdout) != NULL);
  /* The environment is a source of options too: only the input counts. */
  for (char **e = environ; *e != NULL;) {
    if (strncmp(*e, "MQGATE_", 7) == 0) {
      char name[128];
      size_t n = strcspn(*e, "=");
      snprintf(name, sizeof(name), "%.*s", (int)n, *e);
      unsetenv(name);
    } else {
      e++;
    }
  }
  return 0;
}

struct args {
  int argc;
  char *argv[MAX_ARGS + 1];
  char *owned[MAX_ARGS]; /* getopt_long permutes argv */
};

static void args_free(struct args *a) {
  for (int i = 0; i < a->argc; i++)
    free(a->owned[i]);
  a->argc = 0;
}

/* args_make builds { "mqgate", "--config", path, pieces after the first
 * NUL... }, each a heap string of its own so an access past one is seen. */
static void args_make(struct args *a, const uint8_t *data, size_t len) {
  const uint8_t *nul = memchr(data, 0, len);
  a->argc = 0;
  a->argv[a->argc++] = strdup("mqgate");
  a->argv[a->argc++] = strdup("--config");
  a->argv[a->argc++] = strdup(path);
  if (nul != NULL) {
    const uint8_t *p = nul + 1, *end = data + len;
    while (a->argc < MAX_ARGS) {
      const uint8_t *q = memchr(p, 0, (size_t)(end - p));
      size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
      char *s = malloc(n + 1);
      CHECK(s != NULL);
      memcpy(s, p, n);
      s[n] = '\0';
      a->argv[a->argc++] = s;
      if (q == NULL)
        break;
      p = q + 1;
    }
  }
  a->argv[a->argc] = NULL;
  for (int i = 0; i < a->argc; i++)
    CHECK(a->argv[i] != NULL);
  memcpy(a->owned, a->argv, (size_t)a->argc * sizeof(char *));
}

static int load(struct args *a, char *err, size_t errlen) {
  mqg_config cfg;
  int rc = mqg_config_load(&cfg, a->argc, a->argv, err, errlen);
  CHECK(rc == 0 || rc == MQG_CONFIG_EXIT || rc == -EINVAL);
  CHECK((rc == -EINVAL) == (err[0] != '\0'));
  if (rc == 0)
    CHECK(cfg.listen != NULL && cfg.backend != NULL && cfg.auth != NULL);
  mqg_config_cleanup(&cfg);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  struct args a, b;
  char err1[512], err2[512];

  const uint8_t *nul = memchr(data, 0, len);
  size_t file_len = nul ? (size_t)(nul - data) : len;
  CHECK(ftruncate(memfd, 0) == 0);
  CHECK(file_len == 0 ||
        pwrite(memfd, data, file_len, 0) == (ssize_t)file_len);

  args_make(&a, data, len);
  int rc1 = load(&a, err1, sizeof(err1));
  args_make(&b, data, len);
  int rc2 = load(&b, err2, sizeof(err2));
  if (rc1 != rc2 || strcmp(err1, err2) != 0) {
    fprintf(stderr, "second load differs: %d \"%s\" then %d \"%s\"\n", rc1,
            err1, rc2, err2);
    abort();
  }
  args_free(&a);
  args_free(&b);
  return 0;
}
