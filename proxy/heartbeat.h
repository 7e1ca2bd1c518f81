/* heartbeat.h: this proxy's heartbeat in the registry (auth mode
 * registry), so that an operator sees the whole cluster in one place
 * (mqgate-admin's /api/v1/proxies and console).
 *
 * Every MQG_HEARTBEAT_EVERY_MS on one worker's loop, the proxy writes its
 * facts as JSON under P:proxy:<id> for three periods and in P:proxies
 * (schema.h): id, host, pid, version, boringssl, started_at,
 * connections_open, and the handshakes and refusals (per reason) of the
 * last minute, from the process's counters (metrics.h).
 *
 * Errors: mqg_heartbeat_new returns NULL when out of memory; a heartbeat
 * that cannot be sent (Redis down) is skipped. */
#ifndef MQG_HEARTBEAT_H
#define MQG_HEARTBEAT_H

#include <uv.h>

#include "regclient.h"

#define MQG_HEARTBEAT_EVERY_MS 10000

typedef struct mqg_heartbeat mqg_heartbeat;

/* mqg_heartbeat_new starts the heartbeats of this process on |loop|
 * through |rc| (borrowed; must outlive the heartbeat); |listen| is the
 * device address shown (copied). */
mqg_heartbeat *mqg_heartbeat_new(uv_loop_t *loop, mqg_regclient *rc, const char *listen);

/* mqg_heartbeat_free stops it; its memory goes once the timer closed (the
 * loop must run on). NULL is ignored. */
void mqg_heartbeat_free(mqg_heartbeat *hb);

/* mqg_heartbeat_json builds the heartbeat document of this process now,
 * given the counters of a minute ago (|handshakes_then|, |refusals_then|,
 * MQG_REASON_COUNT entries): a new string (free it) or NULL. Exposed for
 * tests. */
char *mqg_heartbeat_json(const char *id, const char *listen, uint64_t handshakes_then,
                         const uint64_t *refusals_then);

#endif
