/* heartbeat.c: see heartbeat.h. The last minute's figures are the
 * difference between the counters now and six periods ago, kept in a ring
 * of snapshots. */
#include "heartbeat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bsslinfo.h"
#include "metrics.h"

#define SNAPSHOTS (60000 / MQG_HEARTBEAT_EVERY_MS)

struct snapshot {
  uint64_t handshakes;
  uint64_t refusals[MQG_REASON_COUNT];
};

struct mqg_heartbeat {
  uv_timer_t timer;
  mqg_regclient *rc;
  char id[128];
  char listen[128];
  struct snapshot ring[SNAPSHOTS];
  unsigned next, filled;
};

static int64_t started_at;
static char bssl[160]; /* "BoringSSL, full-speed build" etc., once */

static void snapshot_now(struct snapshot *s) {
  s->handshakes = atomic_load(&mqg_metrics.handshakes);
  for (int r = 0; r < MQG_REASON_COUNT; r++)
    s->refusals[r] = atomic_load(&mqg_metrics.refusals[r]);
}

char *mqg_heartbeat_json(const char *id, const char *listen, uint64_t handshakes_then,
                         const uint64_t *refusals_then) {
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  json_t *refusals = json_object();
  for (int r = 0; r < MQG_REASON_COUNT; r++) {
    uint64_t n = atomic_load(&mqg_metrics.refusals[r]) - refusals_then[r];
    if (n > 0)
      json_object_set_new(refusals, mqg_reason_label((mqg_reason)r), json_integer((json_int_t)n));
  }
  if (bssl[0] == '\0') {
    mqg_bsslinfo info;
    mqg_bsslinfo_get(&info);
    snprintf(bssl, sizeof(bssl), "%s (%s build)", info.version,
             info.build == MQG_BSSL_BUILD_FULL    ? "full-speed"
             : info.build == MQG_BSSL_BUILD_SMALL ? "OPENSSL_SMALL"
                                                  : "unknown");
  }
  json_t *doc = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:I, s:o}",
                          "id", id,
                          "host", host,
                          "pid", (json_int_t)getpid(),
                          "version", MQG_VERSION,
                          "boringssl", bssl,
                          "started_at", (json_int_t)started_at,
                          "listen", listen,
                          "connections_open", (json_int_t)atomic_load(&mqg_metrics.open),
                          "handshakes_1m",
                          (json_int_t)(atomic_load(&mqg_metrics.handshakes) - handshakes_then),
                          "refusals_1m", refusals);
  char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  return out;
}

static void on_beat(uv_timer_t *t) {
  mqg_heartbeat *hb = t->data;
  struct snapshot now;
  snapshot_now(&now);
  /* The oldest snapshot kept is a minute old once the ring is full; until
   * then, the first one (the process's first minute). */
  const struct snapshot *then = &hb->ring[hb->filled < SNAPSHOTS ? 0 : hb->next];
  char *json = mqg_heartbeat_json(hb->id, hb->listen, then->handshakes, then->refusals);
  if (json != NULL)
    mqg_regclient_heartbeat(hb->rc, hb->id, json, 3 * MQG_HEARTBEAT_EVERY_MS / 1000);
  free(json);
  hb->ring[hb->next] = now;
  hb->next = (hb->next + 1) % SNAPSHOTS;
  if (hb->filled < SNAPSHOTS)
    hb->filled++;
}

mqg_heartbeat *mqg_heartbeat_new(uv_loop_t *loop, mqg_regclient *rc, const char *listen) {
  mqg_heartbeat *hb = calloc(1, sizeof(*hb));
  if (hb == NULL)
    return NULL;
  if (started_at == 0)
    started_at = (int64_t)time(NULL);
  char host[64] = "host";
  gethostname(host, sizeof(host) - 1);
  /* Unique per process: a restarted proxy is a new one. */
  snprintf(hb->id, sizeof(hb->id), "%s-%d-%lld", host, (int)getpid(), (long long)started_at);
  for (char *p = hb->id; *p; p++)
    if (*p == ' ' || (unsigned char)*p < 0x21)
      *p = '_';
  snprintf(hb->listen, sizeof(hb->listen), "%s", listen);
  hb->rc = rc;
  snapshot_now(&hb->ring[0]);
  hb->next = 1;
  hb->filled = 1;
  uv_timer_init(loop, &hb->timer);
  hb->timer.data = hb;
  /* The first one soon after the link is up; then every period. */
  uv_timer_start(&hb->timer, on_beat, 1000, MQG_HEARTBEAT_EVERY_MS);
  return hb;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void mqg_heartbeat_free(mqg_heartbeat *hb) {
  if (hb != NULL)
    uv_close((uv_handle_t *)&hb->timer, on_closed);
}
