/* regtickets.h: in auth mode registry, the session-ticket keys every proxy
 * of the cluster shares through the registry (P:tickets, schema.h), so that
 * a device resumes its session on whichever proxy it reaches, also after a
 * restart.
 *
 * One worker per process asks for the set at start, whenever the registry
 * says it changed (a "tickets" event) and every quarter of the rotation
 * period (at most a minute), offering two fresh random keys the registry
 * takes when it creates or rotates the set. The first proxy to ask after a
 * period has passed rotates it: the next key (which every proxy already
 * decrypts with) becomes current, a new next one is made, the older ones
 * are kept for decryption. The keys go to mqg_tls_set_ticket_keys (the
 * current one encrypts). While Redis is unreachable the last set stays in
 * force. Key material is never logged.
 *
 * Errors: mqg_regtickets_new returns NULL when out of memory. */
#ifndef MQG_REGTICKETS_H
#define MQG_REGTICKETS_H

#include <stdint.h>

#include <uv.h>

#include "regclient.h"

typedef struct mqg_regtickets mqg_regtickets;

/* mqg_regtickets_new keeps this process's ticket keys those of the cluster
 * of |rc| (borrowed; must outlive it) on |loop|, rotated every
 * |rotate_ms|. */
mqg_regtickets *mqg_regtickets_new(uv_loop_t *loop, mqg_regclient *rc, uint64_t rotate_ms);

/* mqg_regtickets_refresh asks for the set now (the link became ready, or
 * the set changed). NULL is ignored. */
void mqg_regtickets_refresh(mqg_regtickets *t);

/* mqg_regtickets_free stops it (memory freed once its timer closed and any
 * request in flight answered). NULL is ignored. */
void mqg_regtickets_free(mqg_regtickets *t);

#endif
