/* runner.c: runs the unit tests of test-list.h, all of them or those whose
 * group or name is given. Each test runs in a child process so that one
 * failure (abort) does not hide the others. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-list.h"

#define DECLARE(group, name) int run_test_##name(void);
TEST_LIST(DECLARE)
#undef DECLARE

struct test {
  const char *group;
  const char *name;
  int (*fn)(void);
};

static const struct test tests[] = {
#define ENTRY(group, name) {#group, #name, run_test_##name},
    TEST_LIST(ENTRY)
#undef ENTRY
};

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
    const struct test *t = &tests[i];
    if (argc > 1 && strcmp(argv[1], t->group) != 0 &&
        strcmp(argv[1], t->name) != 0)
      continue;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
      _exit(t->fn() == 0 ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      printf("ok     %s.%s\n", t->group, t->name);
      passed++;
    } else {
      printf("FAILED %s.%s\n", t->group, t->name);
      failed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
