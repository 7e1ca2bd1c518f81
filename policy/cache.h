/* cache.h: the in-process registry cache, one per process, shared by every
 * worker thread (a mutex around a uthash table; a lookup is a hash probe
 * and a short copy, well under 1% of a handshake).
 *
 * Keyed by the SHA-256 of a client certificate's DER. An entry is what one
 * registry lookup decided for those exact bytes after the chain was
 * verified, so a hit may skip the chain check; validity dates are kept in
 * the entry and still checked on every handshake by the caller.
 *
 * Freshness: Redis pub/sub drops entries as the registry changes
 * (mqg_cache_drop), a reconnect to Redis drops them all (mqg_cache_clear),
 * and every entry also expires |ttl_ms| after it was fetched, as a bound on
 * the damage of any invalidation missed in some way not foreseen.
 *
 * Bounded: at most |max_entries|; when full, the oldest entry goes. */
#ifndef MQG_CACHE_H
#define MQG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"

#define MQG_CACHE_ID_MAX 256 /* longest client ID / CN cached */

typedef struct {
  uint8_t fp[32];
  mqg_reason verdict;       /* MQG_REASON_OK or the refusal */
  int64_t not_before;       /* Unix seconds */
  int64_t not_after;
  char client_id[MQG_CACHE_ID_MAX + 1]; /* registered client ID, "" if none */
  char cn[MQG_CACHE_ID_MAX + 1];        /* subject CN, "" if none */
  uint64_t fetched_ms;      /* monotonic ms when the registry answered */
} mqg_cache_entry;

typedef struct mqg_cache mqg_cache;

/* mqg_cache_new returns an empty cache of at most |max_entries| entries
 * whose entries expire |ttl_ms| after they were fetched, or NULL. */
mqg_cache *mqg_cache_new(size_t max_entries, uint64_t ttl_ms);

/* mqg_cache_free releases |c| (NULL ignored). */
void mqg_cache_free(mqg_cache *c);

/* mqg_cache_get copies the entry for |fp| into |*out| and returns 1, or
 * returns 0 if there is none or it expired by |now_ms| (it is then
 * removed). */
int mqg_cache_get(mqg_cache *c, const uint8_t fp[32], uint64_t now_ms,
                  mqg_cache_entry *out);

/* mqg_cache_put stores a copy of |e|, replacing any entry for the same
 * fingerprint. Returns 0, or -ENOMEM (the cache is then unchanged). */
int mqg_cache_put(mqg_cache *c, const mqg_cache_entry *e);

/* mqg_cache_drop removes the entry for |fp|, if any. */
void mqg_cache_drop(mqg_cache *c, const uint8_t fp[32]);

/* mqg_cache_clear removes every entry. */
void mqg_cache_clear(mqg_cache *c);

/* mqg_cache_size returns the number of entries. */
size_t mqg_cache_size(mqg_cache *c);

#endif
