/* admit.h: whether a just-accepted connection may proceed: the process-wide
 * connection limit, and per source the rate of new connections and the
 * connections open at once. A source is an IPv4 address, or an IPv6 /64
 * (one subscriber's prefix: the addresses inside it are the attacker's to
 * choose). Shared by all workers, thread-safe, fixed memory.
 *
 * Errors: mqg_admit_new returns NULL on allocation failure. */
#ifndef MQG_ADMIT_H
#define MQG_ADMIT_H

#include <stdint.h>
#include <sys/socket.h>

#include "reason.h"

typedef struct mqg_admit mqg_admit;

/* What an admitted connection holds until mqg_admit_release. */
typedef uint32_t mqg_admit_ticket;

/* mqg_admit_new allows at most |max_conns| connections at once and, when
 * not 0, at most |per_source_rate| new connections per second and
 * |per_source_conns| connections at once from one source. Returns a new
 * object owned by the caller. */
mqg_admit *mqg_admit_new(unsigned max_conns, unsigned per_source_rate,
                         unsigned per_source_conns);

/* mqg_admit_free releases |a| (NULL ignored). */
void mqg_admit_free(mqg_admit *a);

/* mqg_admit_accept decides for a connection from |peer| at |now_s| (Unix
 * seconds): MQG_REASON_OK (the connection is then counted until
 * mqg_admit_release with |*ticket|), TOO_MANY_CONNECTIONS,
 * SOURCE_RATE_LIMITED or SOURCE_CONNECTIONS. */
mqg_reason mqg_admit_accept(mqg_admit *a, const struct sockaddr *peer, uint64_t now_s,
                            mqg_admit_ticket *ticket);

/* mqg_admit_release ends the count of one connection admitted before. */
void mqg_admit_release(mqg_admit *a, mqg_admit_ticket ticket);

/* mqg_admit_source_key returns the 64-bit key of |peer|'s source: its
 * IPv4 address (also when written as an IPv4-mapped IPv6 address) or its
 * IPv6 /64, hashed; never 0. Exposed for tests. */
uint64_t mqg_admit_source_key(const struct sockaddr *peer);

#endif
