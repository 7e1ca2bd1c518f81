/* admit.c: see admit.h.
 *
 * The per-source rate is a fixed table of slots indexed by a hash of the
 * address; a slot counts one address's connections in the current second.
 * Two addresses that share a slot evict each other (each then starts a
 * fresh count), so a collision can only let more through, never refuse an
 * innocent address, and memory stays fixed whatever a scanner does. */
#include "admit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16384

struct slot {
  uint64_t key;    /* address hash, 0 = empty */
  uint64_t second;
  uint32_t count;
};

struct mqg_admit {
  _Atomic unsigned open;
  unsigned max_conns;
  unsigned per_source;
  pthread_mutex_t lock;
  struct slot *slots; /* only when per_source != 0 */
};

mqg_admit *mqg_admit_new(unsigned max_conns, unsigned per_source) {
  mqg_admit *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->max_conns = max_conns;
  a->per_source = per_source;
  pthread_mutex_init(&a->lock, NULL);
  if (per_source != 0 && (a->slots = calloc(SLOTS, sizeof(*a->slots))) == NULL) {
    free(a);
    return NULL;
  }
  return a;
}

void mqg_admit_free(mqg_admit *a) {
  if (a == NULL)
    return;
  pthread_mutex_destroy(&a->lock);
  free(a->slots);
  free(a);
}

/* FNV-1a over the address bytes (not the port); never 0. */
static uint64_t addr_key(const struct sockaddr *sa) {
  const uint8_t *p = NULL;
  size_t n = 0;
  if (sa->sa_family == AF_INET) {
    p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    n = 4;
  } else if (sa->sa_family == AF_INET6) {
    p = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    n = 16;
  }
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ULL;
  return h ? h : 1;
}

static int source_allowed(mqg_admit *a, const struct sockaddr *peer, uint64_t now_s) {
  uint64_t key = addr_key(peer);
  struct slot *s = &a->slots[key % SLOTS];
  int ok;
  pthread_mutex_lock(&a->lock);
  if (s->key != key || s->second != now_s) {
    s->key = key;
    s->second = now_s;
    s->count = 0;
  }
  ok = s->count < a->per_source;
  if (ok)
    s->count++;
  pthread_mutex_unlock(&a->lock);
  return ok;
}

mqg_reason mqg_admit_accept(mqg_admit *a, const struct sockaddr *peer, uint64_t now_s) {
  if (a->per_source != 0 && !source_allowed(a, peer, now_s))
    return MQG_REASON_SOURCE_RATE_LIMITED;
  unsigned open = atomic_fetch_add(&a->open, 1);
  if (open >= a->max_conns) {
    atomic_fetch_sub(&a->open, 1);
    return MQG_REASON_TOO_MANY_CONNECTIONS;
  }
  return MQG_REASON_OK;
}

void mqg_admit_release(mqg_admit *a) { atomic_fetch_sub(&a->open, 1); }
