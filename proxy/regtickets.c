/* regtickets.c: see regtickets.h. */
#include "regtickets.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "log.h"
#include "schema.h"
#include "tlskeys.h"

#define KEY_BYTES MQG_TICKET_KEY_BYTES
_Static_assert(MQG_TICKET_KEYS_KEPT <= MQG_TICKET_KEYS_MAX,
               "the registry keeps more ticket keys than a proxy holds");
#define REFRESH_MAX_MS 60000
#define REFRESH_MIN_MS 250

struct mqg_regtickets {
  uv_timer_t timer;
  mqg_regclient *rc;
  unsigned rotate_s;
  int inflight;            /* a request is waiting for its answer */
  int closing;             /* freed once the timer closed and no request waits */
  int timer_closed;
  uint8_t applied[32];     /* SHA-256 of the set in force */
};

static void release(mqg_regtickets *t) {
  if (t->timer_closed && !t->inflight)
    free(t);
}

/* apply makes the cluster's set |keys| (older..., current, next) the
 * process's: current first (it encrypts), then next, then the older ones
 * from the newest. */
static void apply(mqg_regtickets *t, int64_t at, const uint8_t *keys, size_t len) {
  size_t n = len / KEY_BYTES;
  if (len % KEY_BYTES != 0 || n < 2) {
    mqg_log(MQG_LOG_ERROR, "registry: the cluster's ticket keys are malformed; keeping ours");
    return;
  }
  uint8_t digest[32];
  SHA256(keys, len, digest);
  if (memcmp(digest, t->applied, sizeof(digest)) == 0)
    return;
  mqg_ticket_key set[MQG_TICKET_KEYS_MAX];
  size_t m = 0;
  for (size_t k = 0; k < n && m < MQG_TICKET_KEYS_MAX; k++) {
    /* n-2 (current), n-1 (next), n-3, n-4, ... */
    size_t i = k == 0 ? n - 2 : k == 1 ? n - 1 : n - 1 - k;
    const uint8_t *p = keys + i * KEY_BYTES;
    memcpy(set[m].name, p, SSL_TICKET_KEY_NAME_LEN);
    memcpy(set[m].aes_key, p + 16, 32);
    memcpy(set[m].hmac_key, p + 48, 32);
    set[m].key_len = 32;
    m++;
  }
  if (mqg_tls_set_ticket_keys(set, m) == 0) {
    memcpy(t->applied, digest, sizeof(digest));
    mqg_log(MQG_LOG_INFO, "registry: the cluster's session-ticket keys in force (%zu, current "
            "since %lld)", m, (long long)at);
  } else {
    mqg_log(MQG_LOG_ERROR, "registry: the cluster's ticket keys were refused; keeping ours");
  }
  OPENSSL_cleanse(set, sizeof(set));
}

static void on_keys(void *arg, int64_t at, const uint8_t *keys, size_t len) {
  mqg_regtickets *t = arg;
  t->inflight = 0;
  if (keys != NULL && !t->closing)
    apply(t, at, keys, len);
  release(t);
}

void mqg_regtickets_refresh(mqg_regtickets *t) {
  if (t == NULL || t->inflight || t->closing)
    return;
  uint8_t candidate[2 * KEY_BYTES];
  RAND_bytes(candidate, sizeof(candidate));
  if (mqg_regclient_ticket_keys(t->rc, candidate, t->rotate_s, on_keys, t) == 0)
    t->inflight = 1;
  OPENSSL_cleanse(candidate, sizeof(candidate));
}

static void on_timer(uv_timer_t *h) { mqg_regtickets_refresh(h->data); }

mqg_regtickets *mqg_regtickets_new(uv_loop_t *loop, mqg_regclient *rc, uint64_t rotate_ms) {
  mqg_regtickets *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->rc = rc;
  t->rotate_s = rotate_ms >= 1000 ? (unsigned)(rotate_ms / 1000) : 1;
  uint64_t every = rotate_ms / 4;
  every = every > REFRESH_MAX_MS ? REFRESH_MAX_MS : every < REFRESH_MIN_MS ? REFRESH_MIN_MS : every;
  uv_timer_init(loop, &t->timer);
  t->timer.data = t;
  uv_timer_start(&t->timer, on_timer, every, every);
  return t;
}

static void on_closed(uv_handle_t *h) {
  mqg_regtickets *t = h->data;
  t->timer_closed = 1;
  release(t);
}

void mqg_regtickets_free(mqg_regtickets *t) {
  if (t == NULL)
    return;
  t->closing = 1;
  uv_close((uv_handle_t *)&t->timer, on_closed);
}
