/* admit.c: see admit.h.
 *
 * Both per-source limits are fixed tables of slots indexed by the source's
 * key. A rate slot counts one source's connections in the current second;
 * two sources that share a slot evict each other (each then starts a fresh
 * count). A concurrency slot counts one source's open connections; a
 * source whose slot another source holds is not counted at all. Either
 * way a collision can only let more through, never refuse an innocent
 * source, and memory stays fixed whatever a scanner does. */
#include "admit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RATE_SLOTS 16384
#define CONN_SLOTS 65536

struct rate_slot {
  uint64_t key; /* 0 = empty */
  uint64_t second;
  uint32_t count;
};

struct conn_slot {
  uint64_t key; /* 0 = empty */
  uint32_t count;
};

struct mqg_admit {
  _Atomic unsigned open;
  unsigned max_conns;
  unsigned per_source_rate, per_source_conns;
  pthread_mutex_t lock;
  struct rate_slot *rate;  /* only when per_source_rate != 0 */
  struct conn_slot *conns; /* only when per_source_conns != 0 */
};

mqg_admit *mqg_admit_new(unsigned max_conns, unsigned per_source_rate,
                         unsigned per_source_conns) {
  mqg_admit *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->max_conns = max_conns;
  a->per_source_rate = per_source_rate;
  a->per_source_conns = per_source_conns;
  pthread_mutex_init(&a->lock, NULL);
  if ((per_source_rate != 0 && (a->rate = calloc(RATE_SLOTS, sizeof(*a->rate))) == NULL) ||
      (per_source_conns != 0 && (a->conns = calloc(CONN_SLOTS, sizeof(*a->conns))) == NULL)) {
    mqg_admit_free(a);
    return NULL;
  }
  return a;
}

void mqg_admit_free(mqg_admit *a) {
  if (a == NULL)
    return;
  pthread_mutex_destroy(&a->lock);
  free(a->rate);
  free(a->conns);
  free(a);
}

uint64_t mqg_admit_source_key(const struct sockaddr *sa) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const uint8_t *p = NULL;
  size_t n = 0;
  if (sa->sa_family == AF_INET) {
    p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    n = 4;
  } else if (sa->sa_family == AF_INET6) {
    p = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    n = 8; /* the /64 */
    if (memcmp(p, mapped, sizeof(mapped)) == 0) {
      p += 12; /* the IPv4 address it carries */
      n = 4;
    }
  }
  /* FNV-1a, with the length in so that an IPv4 address and a /64 never
   * share a key by construction. */
  uint64_t h = 1469598103934665603ULL ^ n;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ULL;
  return h ? h : 1;
}

/* rate_allowed counts one new connection of |key| in second |now_s|. */
static int rate_allowed(mqg_admit *a, uint64_t key, uint64_t now_s) {
  struct rate_slot *s = &a->rate[key % RATE_SLOTS];
  if (s->key != key || s->second != now_s) {
    s->key = key;
    s->second = now_s;
    s->count = 0;
  }
  if (s->count >= a->per_source_rate)
    return 0;
  s->count++;
  return 1;
}

/* conn_take counts one more open connection of |key|: 1 and the slot
 * (from 1) in |*ticket|, 1 and 0 when the slot is another source's (not
 * counted), 0 when the source is at its limit. */
static int conn_take(mqg_admit *a, uint64_t key, mqg_admit_ticket *ticket) {
  uint32_t i = (uint32_t)(key % CONN_SLOTS);
  struct conn_slot *s = &a->conns[i];
  if (s->count == 0)
    s->key = key;
  if (s->key != key)
    return 1;
  if (s->count >= a->per_source_conns)
    return 0;
  s->count++;
  *ticket = i + 1;
  return 1;
}

/* source_release ends the count of |ticket|'s source, if it was counted. */
static void source_release(mqg_admit *a, mqg_admit_ticket ticket) {
  if (ticket == 0 || a->conns == NULL)
    return;
  pthread_mutex_lock(&a->lock);
  struct conn_slot *s = &a->conns[ticket - 1];
  if (s->count > 0)
    s->count--;
  pthread_mutex_unlock(&a->lock);
}

mqg_reason mqg_admit_accept(mqg_admit *a, const struct sockaddr *peer, uint64_t now_s,
                            mqg_admit_ticket *ticket) {
  *ticket = 0;
  if (a->rate != NULL || a->conns != NULL) {
    uint64_t key = mqg_admit_source_key(peer);
    mqg_reason r = MQG_REASON_OK;
    pthread_mutex_lock(&a->lock);
    if (a->rate != NULL && !rate_allowed(a, key, now_s))
      r = MQG_REASON_SOURCE_RATE_LIMITED;
    else if (a->conns != NULL && !conn_take(a, key, ticket))
      r = MQG_REASON_SOURCE_CONNECTIONS;
    pthread_mutex_unlock(&a->lock);
    if (r != MQG_REASON_OK)
      return r;
  }
  unsigned open = atomic_fetch_add(&a->open, 1);
  if (open >= a->max_conns) {
    atomic_fetch_sub(&a->open, 1);
    source_release(a, *ticket);
    *ticket = 0;
    return MQG_REASON_TOO_MANY_CONNECTIONS;
  }
  return MQG_REASON_OK;
}

void mqg_admit_release(mqg_admit *a, mqg_admit_ticket ticket) {
  atomic_fetch_sub(&a->open, 1);
  source_release(a, ticket);
}
