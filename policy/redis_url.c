/* redis_url.c: see redis_url.h. */
#include "redis_url.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

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

/* decode percent-decodes [s, end) into |out| (|cap| bytes with the NUL);
 * -EINVAL for a bad escape, a NUL byte or no room. */
static int decode(const char *s, const char *end, char *out, size_t cap) {
  size_t n = 0;
  while (s < end) {
    int c = (unsigned char)*s++;
    if (c == '%') {
      if (end - s < 2)
        return -EINVAL;
      int hi = mqg_hex_digit((unsigned char)s[0]), lo = mqg_hex_digit((unsigned char)s[1]);
      if (hi < 0 || lo < 0)
        return -EINVAL;
      c = hi * 16 + lo;
      s += 2;
    }
    if (c == 0 || n + 1 >= cap)
      return -EINVAL;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return 0;
}

int mqg_redis_url_parse(const char *url, mqg_redis_addr *out) {
  static const char scheme[] = "redis://";
  if (url == NULL || out == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
    return -EINVAL;
  memset(out, 0, sizeof(*out));
  const char *p = url + sizeof(scheme) - 1;
  const char *end = p + strcspn(p, "/");

  /* credentials: everything before the last '@' of the authority */
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q;
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon == NULL) /* "password@host", as redis-cli -u takes it */
      colon = p - 1;
    if ((colon >= p && decode(p, colon, out->user, sizeof(out->user)) < 0) ||
        decode(colon + 1, at, out->password, sizeof(out->password)) < 0)
      return -EINVAL;
    p = at + 1;
  }

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
  if (n == 0 || n >= sizeof(out->host))
    return -EINVAL;

  int prt = 6379, dbn = 0;
  if (colon != end && parse_uint(colon + 1, end, 65535, &prt) < 0)
    return -EINVAL;
  if (prt == 0)
    return -EINVAL;
  if (*end == '/' && end[1] != '\0' &&
      parse_uint(end + 1, end + strlen(end), INT_MAX, &dbn) < 0)
    return -EINVAL;

  memcpy(out->host, h, n);
  out->host[n] = '\0';
  out->port = prt;
  out->db = dbn;
  return 0;
}

int mqg_redis_password_load(mqg_redis_addr *a, const char *file, char *err,
                            size_t errlen) {
  const char *env = getenv(MQG_REDIS_PASSWORD_ENV);
  if (file == NULL || file[0] == '\0') {
    if (env == NULL)
      return 0;
    if (strlen(env) >= sizeof(a->password)) {
      snprintf(err, errlen, "$%s is too long", MQG_REDIS_PASSWORD_ENV);
      return -EINVAL;
    }
    snprintf(a->password, sizeof(a->password), "%s", env);
    return 0;
  }
  FILE *f = fopen(file, "r");
  if (f == NULL) {
    int e = errno;
    snprintf(err, errlen, "cannot read the Redis password file %s: %s", file, strerror(e));
    return -e;
  }
  char line[sizeof(a->password) + 2];
  int rc = 0;
  if (fgets(line, sizeof(line), f) == NULL) {
    snprintf(err, errlen, "the Redis password file %s is empty", file);
    rc = -EINVAL;
  } else {
    line[strcspn(line, "\r\n")] = '\0';
    if (strlen(line) >= sizeof(a->password) || line[0] == '\0') {
      snprintf(err, errlen, "the Redis password in %s is empty or too long", file);
      rc = -EINVAL;
    } else {
      memcpy(a->password, line, strlen(line) + 1);
    }
  }
  fclose(f);
  explicit_bzero(line, sizeof(line));
  return rc;
}

int mqg_redis_prefix_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > MQG_REDIS_PREFIX_MAX)
    return 0;
  for (; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return 0;
  return 1;
}

int mqg_redis_auth_argv(const mqg_redis_addr *a, const char *argv[3]) {
  if (a->password[0] == '\0')
    return 0;
  argv[0] = "AUTH";
  if (a->user[0] == '\0') {
    argv[1] = a->password;
    return 2;
  }
  argv[1] = a->user;
  argv[2] = a->password;
  return 3;
}
