/* redis_url.c: see redis_url.h. */
#include "redis_url.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* parse_uint reads the decimal digits of [s, end) into |*out| (at most
 * |max|); none, or anything else, is -EINVAL. */
static int parse_uint(const char *s, const char *end, long max, int *out) {
  if (s == end)
    return -EINVAL;
  long v = 0;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9')
      return -EINVAL;
    v = v * 10 + (*s - '0');
    if (v > max)
      return -EINVAL;
  }
  *out = (int)v;
  return 0;
}

int mqg_redis_url_parse(const char *url, char *host, size_t hostlen, int *port,
                        int *db) {
  static const char scheme[] = "redis://";
  if (url == NULL || host == NULL || hostlen == 0 ||
      strncmp(url, scheme, sizeof(scheme) - 1) != 0)
    return -EINVAL;
  const char *p = url + sizeof(scheme) - 1;
  const char *end = p + strcspn(p, "/");

  /* host: "[v6]" or a name / IPv4 address up to the port's colon */
  const char *h, *hend, *colon;
  if (*p == '[') {
    h = p + 1;
    hend = memchr(h, ']', (size_t)(end - h));
    if (hend == NULL)
      return -EINVAL;
    colon = hend + 1;
    if (colon != end && *colon != ':')
      return -EINVAL;
  } else {
    h = p;
    colon = memchr(p, ':', (size_t)(end - p));
    hend = colon ? colon : end;
    if (colon == NULL)
      colon = end;
  }
  size_t n = (size_t)(hend - h);
  if (n == 0 || n >= hostlen || memchr(h, '@', n) != NULL)
    return -EINVAL;

  int prt = 6379, dbn = 0;
  if (colon != end && parse_uint(colon + 1, end, 65535, &prt) < 0)
    return -EINVAL;
  if (prt == 0)
    return -EINVAL;
  if (*end == '/' && end[1] != '\0' &&
      parse_uint(end + 1, end + strlen(end), INT_MAX, &dbn) < 0)
    return -EINVAL;

  memcpy(host, h, n);
  host[n] = '\0';
  *port = prt;
  *db = dbn;
  return 0;
}
