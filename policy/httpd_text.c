/* httpd_text.c: the pure functions of httpd.h: reason phrases and query
 * parameter decoding (fuzzed: tests/fuzz/fuzz_query.c). */
#include <string.h>

#include "hex.h"
#include "httpd.h"

const char *mqg_http_status_text(int code) {
  switch (code) {
#define STATUS_CASE(c, text) \
  case c:                    \
    return text;
    MQG_HTTP_STATUS_MAP(STATUS_CASE)
#undef STATUS_CASE
  }
  return "Unknown";
}

int mqg_http_query_get(const char *q, const char *name, char *out, size_t len) {
  size_t nl = strlen(name);
  for (const char *p = q; p && *p;) {
    const char *end = strchr(p, '&');
    size_t plen = end ? (size_t)(end - p) : strlen(p);
    if (plen >= nl && strncmp(p, name, nl) == 0 && (plen == nl || p[nl] == '=')) {
      const char *v = plen == nl ? p + nl : p + nl + 1;
      size_t o = 0;
      for (; v < p + plen; v++) {
        int ch = (unsigned char)*v;
        if (ch == '+') {
          ch = ' ';
        } else if (ch == '%') {
          if (v + 2 >= p + plen) /* "%" or "%A" at the end */
            return -1;
          int hi = mqg_hex_digit((unsigned char)v[1]);
          int lo = mqg_hex_digit((unsigned char)v[2]);
          if (hi < 0 || lo < 0)
            return -1;
          ch = hi * 16 + lo;
          v += 2;
        }
        if (o + 1 >= len || ch == 0)
          return -1;
        out[o++] = (char)ch;
      }
      out[o] = '\0';
      return 1;
    }
    p = end ? end + 1 : NULL;
  }
  return 0;
}
