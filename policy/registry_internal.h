/* registry_internal.h: what registry.c, registry_list.c and
 * registry_admin.c share; mqgatectl uses it too (ctl_pem.c's checks leave
 * their refusals in the registry's error; ctl_cert.c reaches the test
 * set-up registration, which no other program may; ctl_migrate.c
 * pipelines). */
#ifndef MQG_REGISTRY_INTERNAL_H
#define MQG_REGISTRY_INTERNAL_H

#include <stdarg.h>

#include <hiredis/hiredis.h>

#include "redis_url.h"
#include "registry.h"

#define REGISTRY_PREFIX_MAX MQG_REDIS_PREFIX_MAX

struct mqg_registry {
  redisContext *c;
  char prefix[REGISTRY_PREFIX_MAX + 1];
  char host[256];
  int port;
  char actor[129];
  char err[512];
  const char *err_class;
};

/* registry__fail records a failure of class |cls| with a printf-style
 * message and returns |s|. */
__attribute__((format(printf, 4, 5))) mqg_reg_status
registry__fail(mqg_registry *r, mqg_reg_status s, const char *cls,
               const char *fmt, ...);

/* registry__command runs one hiredis-formatted command and returns its new
 * reply, or NULL after recording the failure (MQG_REG_UNAVAILABLE: no
 * connection, I/O error, or an error reply). */
redisReply *registry__command(mqg_registry *r, const char *fmt, ...);

/* registry__command_argv is registry__command for binary-safe arguments. */
redisReply *registry__command_argv(mqg_registry *r, int argc, const char **argv,
                                   const size_t *lens);

/* registry__append queues one command of a pipeline (0 or -1 after
 * recording the failure); registry__reply reads the next reply as
 * registry__command does. Either failing (an error reply too) closes the
 * connection, with what the pipeline still had queued on it: the caller
 * stops there, and later commands fail as not connected (MQG_REG_UNAVAILABLE)
 * until mqg_registry_connect, so none reads another command's reply. */
int registry__append(mqg_registry *r, const char *fmt, ...);
redisReply *registry__reply(mqg_registry *r);

#define REGISTRY_FCALL_MAX_ARGS 48

/* registry__fcall calls library function |fn| (FCALL_RO when |ro|) with
 * the prefix and |argc| arguments; on MQG_REG_OK |*out| (if not NULL)
 * receives the reply, owned by the caller. An error reply becomes the
 * status and class of its first word (RULE, RATE, INPUT, NOTFOUND). When
 * Redis does not know the function, the library is loaded and the call
 * made once more. */
mqg_reg_status registry__fcall(mqg_registry *r, const char *fn, int ro, int argc,
                               const char *const *args, redisReply **out);

/* registry__cert_register is mqg_registry_cert_register through library
 * function |fn|: "mqgate_cert_register", or for mqgatectl's test set-up
 * flag "mqgate_cert_register_unlimited_test_setup" (the same rules without
 * the cluster's rate limit, neither checked nor counted). */
mqg_reg_status registry__cert_register(mqg_registry *r, const char *fn,
                                      const mqg_certinfo *ci, const char *ca_id,
                                      const mqg_cert_reg_opts *o);

#endif
