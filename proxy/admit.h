/* admit.h: whether a just-accepted connection may proceed: the process-wide
 * connection limit and the optional per-source-address rate. Shared by all
 * workers, thread-safe, fixed memory.
 *
 * Errors: mqg_admit_new returns NULL on allocation failure. */
#ifndef MQG_ADMIT_H
#define MQG_ADMIT_H

#include <stdint.h>
#include <sys/socket.h>

#include "reason.h"

typedef struct mqg_admit mqg_admit;

/* mqg_admit_new allows at most |max_conns| connections at once and, if
 * |per_source| is not 0, at most |per_source| new connections per second
 * from one source address. Returns a new object owned by the caller. */
mqg_admit *mqg_admit_new(unsigned max_conns, unsigned per_source);

/* mqg_admit_free releases |a| (NULL ignored). */
void mqg_admit_free(mqg_admit *a);

/* mqg_admit_accept decides for a connection from |peer| at |now_s| (Unix
 * seconds): MQG_REASON_OK (the connection is then counted until
 * mqg_admit_release), TOO_MANY_CONNECTIONS or SOURCE_RATE_LIMITED. */
mqg_reason mqg_admit_accept(mqg_admit *a, const struct sockaddr *peer, uint64_t now_s);

/* mqg_admit_release ends the count of one connection admitted before. */
void mqg_admit_release(mqg_admit *a);

#endif
