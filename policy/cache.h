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
 * An answer must never be cached after an invalidation it predates: a
 * reply and the event that invalidates it travel on two connections (and
 * reach several workers), so the event may be handled first. Every drop
 * and clear moves a generation (one per cluster-wide clear, one per
 * fingerprint bucket); a token taken when a question is sent
 * (mqg_cache_token_of) tells, when the answer comes, whether anything
 * that could change it happened since (mqg_cache_token_fresh), and
 * mqg_cache_put_fresh stores the answer only if nothing did, under the
 * same lock as the drops.
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

/* What the cache had seen of invalidations at one moment, for one
 * fingerprint. */
typedef struct {
  uint64_t all, bucket;
} mqg_cache_token;

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

/* mqg_cache_get_token is mqg_cache_get that also gives the token of |fp|
 * (mqg_cache_token_of) in |*token|, taken under the same lock: a lookup
 * and the token to judge its answer by for one lock instead of two. */
int mqg_cache_get_token(mqg_cache *c, const uint8_t fp[32], uint64_t now_ms,
                        mqg_cache_entry *out, mqg_cache_token *token);

/* mqg_cache_put stores a copy of |e|, replacing any entry for the same
 * fingerprint. Returns 0, or -ENOMEM (the cache is then unchanged). */
int mqg_cache_put(mqg_cache *c, const mqg_cache_entry *e);

/* mqg_cache_token_of returns the token of |fp| now. */
mqg_cache_token mqg_cache_token_of(mqg_cache *c, const uint8_t fp[32]);

/* mqg_cache_token_fresh returns 1 if no invalidation that concerns |fp|
 * (a drop of its bucket, a clear) happened since |t| was taken, else 0. */
int mqg_cache_token_fresh(mqg_cache *c, const uint8_t fp[32], mqg_cache_token t);

/* mqg_cache_put_fresh is mqg_cache_put for an answer asked for when |t|
 * was taken: it stores |e| and returns 1 if the token is still fresh,
 * returns 0 (nothing stored) if not, -ENOMEM if out of memory. */
int mqg_cache_put_fresh(mqg_cache *c, const mqg_cache_entry *e, mqg_cache_token t);

/* mqg_cache_drop removes the entry for |fp|, if any, and makes the tokens
 * of |fp|'s bucket stale. */
void mqg_cache_drop(mqg_cache *c, const uint8_t fp[32]);

/* mqg_cache_clear removes every entry and makes every token stale. */
void mqg_cache_clear(mqg_cache *c);

/* mqg_cache_size returns the number of entries. */
size_t mqg_cache_size(mqg_cache *c);

#endif
