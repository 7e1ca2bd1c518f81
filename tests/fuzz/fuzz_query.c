/* fuzz_query: mqg_http_query_get (policy/httpd.c), the decoder of
 * mqgate-admin's query parameters (?cn=...&cursor=...), on arbitrary bytes.
 * The input is "NAME\nQUERY". Checked: the answer is 1, 0 or -1; on 1 the
 * value is NUL-terminated inside the buffer, holds no NUL of its own, and
 * is never longer than the query; a larger buffer gives the same answer
 * unless the smaller one was too short. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  if (in == NULL)
    return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  char *nl = memchr(in, '\n', size);
  const char *name = "cn", *query = in;
  if (nl != NULL) {
    *nl = '\0';
    name = in;
    query = nl + 1;
  }
  char small[8], big[4096];
  memset(small, 'x', sizeof(small));
  int r = mqg_http_query_get(query, name, small, sizeof(small));
  CHECK(r >= -1 && r <= 1);
  if (r == 1) {
    size_t n = strnlen(small, sizeof(small));
    CHECK(n < sizeof(small));
    CHECK(n <= strlen(query));
  }
  int r2 = mqg_http_query_get(query, name, big, sizeof(big));
  CHECK(r2 >= -1 && r2 <= 1);
  if (r != -1)
    CHECK(r2 == r);
  if (r == 1)
    CHECK(strcmp(small, big) == 0);
  free(in);
  return 0;
}
