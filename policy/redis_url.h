/* redis_url.h: the registry's address and credentials,
 * "redis://[user:password@]host[:port][/db]".
 *
 * Credentials as redis-cli -u reads them: "user:password@", ":password@"
 * and "password@" (no colon: a password); "user:@" names an ACL user whose
 * password comes from elsewhere (mqg_redis_password_load).
 *
 * Used by mqgatectl, mqgate-admin and every mqgate. The port defaults to
 * 6379 and the database to 0; an IPv6 host is written in brackets
 * ("redis://[::1]:6379"). A password is better not written in the URL
 * (it would show in `ps` and in shell histories): mqg_redis_password_load
 * reads it from a file or from the environment instead. User and password
 * are percent-decoded. No TLS ("rediss://"): hiredis 0.14, Debian 12's,
 * has none.
 *
 * Errors: 0 or -EINVAL (or -errno for the password file, with a message). */
#ifndef MQG_REDIS_URL_H
#define MQG_REDIS_URL_H

#include <stddef.h>

#define MQG_REDIS_URL_DEFAULT "redis://127.0.0.1:6379/0"

/* The environment variable a password is read from when no file is named. */
#define MQG_REDIS_PASSWORD_ENV "MQGATE_REDIS_PASSWORD"

typedef struct {
  char host[256]; /* NUL-terminated, brackets of an IPv6 address removed */
  int port;       /* 1..65535 */
  int db;         /* 0..INT_MAX */
  char user[128]; /* "" = the default user */
  char password[256]; /* "" = no AUTH */
} mqg_redis_addr;

/* mqg_redis_url_parse fills |out| from |url|. It returns -EINVAL, leaving
 * |out| unspecified, for another scheme, an empty or too long host, user
 * or password, a bad port or database number, a bad %-escape, or anything
 * after the database. */
int mqg_redis_url_parse(const char *url, mqg_redis_addr *out);

/* mqg_redis_password_load sets |a|'s password from the first line of
 * |file| when |file| is not empty, else from $MQGATE_REDIS_PASSWORD when
 * set; otherwise |a| keeps the URL's. Returns 0, or -errno / -EINVAL with
 * a one-line message in |err|. */
int mqg_redis_password_load(mqg_redis_addr *a, const char *file, char *err,
                            size_t errlen);

/* The registry's key prefix names its keys and its events channel: 1 to
 * MQG_REDIS_PREFIX_MAX characters, none a space or a control character.
 * mqg_redis_prefix_ok says whether |prefix| is one. */
#define MQG_REDIS_PREFIX_MAX 128
int mqg_redis_prefix_ok(const char *prefix);

/* mqg_redis_auth_argv gives the AUTH command for |a| ("AUTH password" or
 * "AUTH user password") in |argv| (at most 3 entries, borrowed from |a|):
 * returns the argument count, 0 when there is no password. */
int mqg_redis_auth_argv(const mqg_redis_addr *a, const char *argv[3]);

#endif
