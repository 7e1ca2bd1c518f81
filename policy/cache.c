/* cache.c: see cache.h. uthash keeps the table; its insertion-order list
 * gives the oldest entry to evict when full. */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

struct node {
  mqg_cache_entry e;
  UT_hash_handle hh;
};

#define GEN_BUCKETS 256 /* by the first byte of the fingerprint */

struct mqg_cache {
  pthread_mutex_t lock;
  struct node *table;
  size_t max_entries;
  uint64_t ttl_ms;
  uint64_t gen_all;                   /* clears */
  uint64_t gen_bucket[GEN_BUCKETS];   /* drops, per bucket */
};

mqg_cache *mqg_cache_new(size_t max_entries, uint64_t ttl_ms) {
  mqg_cache *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  pthread_mutex_init(&c->lock, NULL);
  c->max_entries = max_entries ? max_entries : 1;
  c->ttl_ms = ttl_ms;
  return c;
}

static void remove_node(mqg_cache *c, struct node *n) {
  HASH_DEL(c->table, n);
  free(n);
}

void mqg_cache_free(mqg_cache *c) {
  if (c == NULL)
    return;
  mqg_cache_clear(c);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

int mqg_cache_get(mqg_cache *c, const uint8_t fp[32], uint64_t now_ms,
                  mqg_cache_entry *out) {
  return mqg_cache_get_token(c, fp, now_ms, out, NULL);
}

int mqg_cache_get_token(mqg_cache *c, const uint8_t fp[32], uint64_t now_ms,
                        mqg_cache_entry *out, mqg_cache_token *token) {
  struct node *n;
  int hit = 0;
  pthread_mutex_lock(&c->lock);
  if (token != NULL)
    *token = (mqg_cache_token){c->gen_all, c->gen_bucket[fp[0]]};
  HASH_FIND(hh, c->table, fp, 32, n);
  if (n != NULL) {
    if (now_ms - n->e.fetched_ms > c->ttl_ms) {
      remove_node(c, n);
    } else {
      *out = n->e;
      hit = 1;
    }
  }
  pthread_mutex_unlock(&c->lock);
  return hit;
}

/* put_locked stores |n| (taken over); the lock is held. */
static void put_locked(mqg_cache *c, struct node *n) {
  struct node *old;
  HASH_FIND(hh, c->table, n->e.fp, 32, old);
  if (old != NULL)
    remove_node(c, old);
  else if (HASH_COUNT(c->table) >= c->max_entries)
    remove_node(c, c->table); /* the head of the list is the oldest */
  HASH_ADD(hh, c->table, e.fp, 32, n);
}

int mqg_cache_put(mqg_cache *c, const mqg_cache_entry *e) {
  struct node *n = malloc(sizeof(*n));
  if (n == NULL)
    return -ENOMEM;
  n->e = *e;
  pthread_mutex_lock(&c->lock);
  put_locked(c, n);
  pthread_mutex_unlock(&c->lock);
  return 0;
}

static int fresh_locked(mqg_cache *c, const uint8_t fp[32], mqg_cache_token t) {
  return t.all == c->gen_all && t.bucket == c->gen_bucket[fp[0]];
}

mqg_cache_token mqg_cache_token_of(mqg_cache *c, const uint8_t fp[32]) {
  pthread_mutex_lock(&c->lock);
  mqg_cache_token t = {c->gen_all, c->gen_bucket[fp[0]]};
  pthread_mutex_unlock(&c->lock);
  return t;
}

int mqg_cache_token_fresh(mqg_cache *c, const uint8_t fp[32], mqg_cache_token t) {
  pthread_mutex_lock(&c->lock);
  int fresh = fresh_locked(c, fp, t);
  pthread_mutex_unlock(&c->lock);
  return fresh;
}

int mqg_cache_put_fresh(mqg_cache *c, const mqg_cache_entry *e, mqg_cache_token t) {
  struct node *n = malloc(sizeof(*n));
  if (n == NULL)
    return -ENOMEM;
  n->e = *e;
  pthread_mutex_lock(&c->lock);
  int fresh = fresh_locked(c, e->fp, t);
  if (fresh)
    put_locked(c, n);
  pthread_mutex_unlock(&c->lock);
  if (!fresh)
    free(n);
  return fresh;
}

void mqg_cache_drop(mqg_cache *c, const uint8_t fp[32]) {
  struct node *n;
  pthread_mutex_lock(&c->lock);
  HASH_FIND(hh, c->table, fp, 32, n);
  if (n != NULL)
    remove_node(c, n);
  c->gen_bucket[fp[0]]++;
  pthread_mutex_unlock(&c->lock);
}

void mqg_cache_clear(mqg_cache *c) {
  struct node *n, *tmp;
  pthread_mutex_lock(&c->lock);
  HASH_ITER(hh, c->table, n, tmp) {
    remove_node(c, n);
  }
  c->gen_all++;
  pthread_mutex_unlock(&c->lock);
}

size_t mqg_cache_size(mqg_cache *c) {
  pthread_mutex_lock(&c->lock);
  size_t n = HASH_COUNT(c->table);
  pthread_mutex_unlock(&c->lock);
  return n;
}
