/* redis_url.h: the registry's address, "redis://host:port/db".
 *
 * Used by mqgatectl and by every mqgate. The port defaults to 6379 and the
 * database to 0; an IPv6 host is written in brackets ("redis://[::1]:6379").
 * No user, password or TLS ("rediss://") in this version.
 *
 * Errors: 0 or -EINVAL. */
#ifndef MQG_REDIS_URL_H
#define MQG_REDIS_URL_H

#include <stddef.h>

#define MQG_REDIS_URL_DEFAULT "redis://127.0.0.1:6379/0"

/* mqg_redis_url_parse splits |url| into |host| (NUL-terminated, at most
 * |hostlen| bytes with the NUL, brackets of an IPv6 address removed), |*port|
 * (1..65535) and |*db| (0..INT_MAX). It returns -EINVAL, leaving the outputs
 * unspecified, for another scheme, an empty or too long host, a bad port or
 * database number, or anything after the database. */
int mqg_redis_url_parse(const char *url, char *host, size_t hostlen, int *port,
                        int *db);

#endif
