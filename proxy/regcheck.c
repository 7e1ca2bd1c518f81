/* regcheck.c: auth mode "registry" inside the handshake, and what the
 * registry's events do to this worker.
 *
 * The check, from SSL_CTX_set_custom_verify (one call per handshake, or two
 * when Redis has to answer):
 *
 *   leaf DER --SHA-256--> cache hit?  -- yes --> state + dates --> verdict
 *                             | no
 *                             v
 *              chain vs. registered CAs (local, no Redis)
 *                             | good: the CA it reached
 *                             v
 *              FCALL mqgate_lookup (one round trip) --> ssl_verify_retry
 *                             ...  the handshake waits; the answer is cached,
 *                             v    then the handshake resumes and the
 *                          verdict  callback runs again, seeing it
 *
 * A cache hit skips the chain check: the entry was made for exactly these
 * DER bytes after the chain was verified. Expiry dates and state are still
 * checked on every handshake. While Redis is unreachable, cached ACTIVE
 * entries serve for --redis-stale; anything else is refused; nothing whose
 * last known state was not ACTIVE is ever accepted. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "internal.h"
#include "log.h"
#include "metrics.h"

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

static enum ssl_verify_result_t decide(mqg_conn *c, SSL *ssl, mqg_reason r,
                                       uint8_t *out_alert) {
  c->peer.reason = r;
  if (r == MQG_REASON_OK)
    return ssl_verify_ok;
  *out_alert = mqg_reason_alert(r, SSL_version(ssl));
  return ssl_verify_invalid;
}

static mqg_reason check_dates(int64_t nb, int64_t na) {
  int64_t now = (int64_t)time(NULL);
  if (now < nb)
    return MQG_REASON_CERT_NOT_YET_VALID;
  if (now > na)
    return MQG_REASON_CERT_EXPIRED;
  return MQG_REASON_OK;
}

static void on_lookup(void *arg, mqg_reason verdict, const char *client_id) {
  mqg_conn *c = arg;
  mqg_worker *w = c->w;
  mqg_cache_entry *e = c->pending;
  atomic_fetch_sub(&w->opts->pending, 1);
  c->lookup = NULL;
  c->pending = NULL;
  c->lookup_state = LOOKUP_DONE;
  c->lookup_verdict = verdict;
  if (verdict == MQG_REASON_OK) {
    free(c->peer.client_id);
    c->peer.client_id = dup_or_null(client_id);
  }
  /* Only answers that stay true until an event says otherwise are cached,
   * and only while the subscription that carries those events is up. */
  if (verdict != MQG_REASON_REGISTRY_UNAVAILABLE)
    mqg_metrics_rtt((uv_hrtime() / 1000) - e->fetched_ms);
  if (verdict != MQG_REASON_REGISTRY_UNAVAILABLE && verdict != MQG_REASON_RATE_LIMITED &&
      strlen(client_id) <= MQG_CACHE_ID_MAX && mqg_regclient_ready(w->reg)) {
    e->verdict = verdict;
    snprintf(e->client_id, sizeof(e->client_id), "%s", client_id);
    e->fetched_ms = uv_now(&w->loop);
    mqg_cache_put(w->opts->cache, e);
  }
  free(e);
  conn__handshake(c);
}

enum ssl_verify_result_t regcheck__verify(mqg_tls_peer *peer, SSL *ssl, uint8_t *out_alert) {
  mqg_conn *c = container_of(peer, mqg_conn, peer);
  mqg_worker *w = c->w;
  if (c->lookup_state == LOOKUP_DONE)
    return decide(c, ssl, c->lookup_verdict, out_alert);

  const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
  size_t n = chain ? sk_CRYPTO_BUFFER_num(chain) : 0;
  if (n == 0)
    return decide(c, ssl, MQG_REASON_NO_CERT, out_alert);
  if (n > MQG_MTLS_MAX_DEPTH)
    return decide(c, ssl, MQG_REASON_CHAIN_TOO_LONG, out_alert);
  const CRYPTO_BUFFER *certs[MQG_MTLS_MAX_DEPTH];
  for (size_t i = 0; i < n; i++)
    certs[i] = sk_CRYPTO_BUFFER_value(chain, i);
  const uint8_t *der = CRYPTO_BUFFER_data(certs[0]);
  size_t der_len = CRYPTO_BUFFER_len(certs[0]);
  mqg_certinfo_fingerprint(der, der_len, peer->sha256);
  peer->has_cert = 1;

  int fresh = mqg_regclient_down_ms(w->reg) <= w->opts->redis_stale_ms;
  mqg_cache_entry hit;
  if (mqg_cache_get(w->opts->cache, peer->sha256, uv_now(&w->loop), &hit)) {
    MQG_COUNT(cache_hits, 1);
    free(peer->cn);
    free(peer->client_id);
    peer->cn = dup_or_null(hit.cn);
    peer->client_id = dup_or_null(hit.client_id);
    if (hit.verdict != MQG_REASON_OK)
      return decide(c, ssl, hit.verdict, out_alert);
    if (!fresh)
      return decide(c, ssl, MQG_REASON_REGISTRY_UNAVAILABLE, out_alert);
    return decide(c, ssl, check_dates(hit.not_before, hit.not_after), out_alert);
  }

  if (w->verifier == NULL)
    return decide(c, ssl, mqg_regclient_ready(w->reg) ? MQG_REASON_UNKNOWN_CA
                                                      : MQG_REASON_REGISTRY_UNAVAILABLE,
                  out_alert);
  mqg_cache_entry *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return decide(c, ssl, MQG_REASON_REGISTRY_UNAVAILABLE, out_alert);
  mqg_certinfo info;
  uint8_t ca_id[32];
  mqg_reason r = mqg_mtls_verify(w->verifier, certs, n, (int64_t)time(NULL), &info, ca_id);
  free(peer->cn);
  peer->cn = dup_or_null(info.cn);
  if (r == MQG_REASON_OK) {
    memcpy(e->fp, peer->sha256, 32);
    e->fetched_ms = uv_hrtime() / 1000; /* the send time, in us, until the answer */
    e->not_before = info.not_before;
    e->not_after = info.not_after;
    snprintf(e->cn, sizeof(e->cn), "%s", info.cn);
    MQG_COUNT(cache_misses, 1);
    /* A bound on handshakes parked on Redis: a flood of unknown devices
     * must not pile up memory and Redis work without end. */
    if (atomic_fetch_add(&w->opts->pending, 1) >= w->opts->max_pending) {
      atomic_fetch_sub(&w->opts->pending, 1);
      r = MQG_REASON_REGISTRY_BUSY;
    } else {
      c->lookup = mqg_regclient_lookup(w->reg, &info, ca_id, der, der_len, on_lookup, c);
      if (c->lookup == NULL) {
        atomic_fetch_sub(&w->opts->pending, 1);
        r = MQG_REASON_REGISTRY_UNAVAILABLE;
      }
    }
  }
  if (r != MQG_REASON_OK) {
    free(e);
    return decide(c, ssl, r, out_alert);
  }
  c->pending = e;
  c->lookup_state = LOOKUP_PENDING;
  return ssl_verify_retry;
}

void regcheck__cancel(mqg_conn *c) {
  if (c->lookup != NULL)
    atomic_fetch_sub(&c->w->opts->pending, 1);
  mqg_lookup_cancel(c->lookup);
  c->lookup = NULL;
  free(c->pending);
  c->pending = NULL;
}

/* --- the registry's events ------------------------------------------- */

static void on_cert_event(void *arg, const char *fp_hex, const char *status);

struct recheck {
  mqg_worker *w;
  char fp[65];
};

static void on_recheck(void *arg, const char *status) {
  struct recheck *q = arg;
  if (status != NULL && strcmp(status, "active") != 0)
    on_cert_event(q->w, q->fp, status);
  free(q);
}

/* Asks again about every live session's certificate. */
static void recheck_all(mqg_worker *w) {
  for (mqg_conn *c = w->conns; c != NULL; c = c->next) {
    if (!c->peer.has_cert || c->state == CONN_HANDSHAKE || c->state >= CONN_LINGER)
      continue;
    struct recheck *q = malloc(sizeof(*q));
    if (q == NULL)
      continue;
    q->w = w;
    mqg_hex32(c->peer.sha256, q->fp);
    if (mqg_regclient_status(w->reg, c->peer.sha256, on_recheck, q) != 0)
      free(q);
  }
}

static void on_ready(void *arg) {
  mqg_worker *w = arg;
  /* Invalidations may have been missed while the link was down: forget
   * every answer. Live sessions are asked about once the CAs are read
   * (on_cas), which follows every ready. */
  mqg_cache_clear(w->opts->cache);
  atomic_fetch_add(&mqg_metrics.registry_links_ready, 1);
}

static void on_down(void *arg) { atomic_fetch_sub(&mqg_metrics.registry_links_ready, 1); }

static int hex_to_fp(const char *hex, uint8_t out[32]) {
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static void on_cert_event(void *arg, const char *fp_hex, const char *status) {
  mqg_worker *w = arg;
  uint8_t fp[32];
  if (hex_to_fp(fp_hex, fp) != 0)
    return;
  mqg_cache_drop(w->opts->cache, fp);
  if (strcmp(status, "active") == 0)
    return;
  mqg_reason r = strcmp(status, "revoked") == 0       ? MQG_REASON_CERT_REVOKED
                 : strcmp(status, "deleted") == 0     ? MQG_REASON_CERT_UNREGISTERED
                 : strcmp(status, "ca_inactive") == 0 ? MQG_REASON_CA_INACTIVE
                                                      : MQG_REASON_CERT_INACTIVE;
  /* Every live session (and handshake) with that certificate ends now. */
  mqg_conn *next;
  for (mqg_conn *c = w->conns; c != NULL; c = next) {
    next = c->next;
    if (!c->peer.has_cert || memcmp(c->peer.sha256, fp, 32) != 0)
      continue;
    conn__log_outcome(c, r, "cut by a registry change");
    MQG_COUNT(cuts, 1);
    if (c->state == CONN_HANDSHAKE)
      conn__finish(c, r);
    else
      conn__close_graceful(c, r);
  }
}

static void on_cas(void *arg, const char *pem, size_t len) {
  mqg_worker *w = arg;
  char err[256];
  mqg_mtls_verifier *v = NULL;
  /* Redis answered the first full round (link, library, subscription,
   * CAs): from now on this worker decides handshakes instead of refusing
   * them as registry_unavailable. */
  server__worker_ready(w);
  if (len > 0) {
    v = mqg_mtls_verifier_new_pem(pem, len, "the registry's CAs", err, sizeof(err));
    if (v == NULL) {
      mqg_log(MQG_LOG_ERROR, "registry: keeping the previous CAs: %s", err);
      return;
    }
  }
  mqg_mtls_verifier_free(w->verifier);
  w->verifier = v;
  /* A CA's state may have changed (or, after a reconnect, anything may
   * have): forget every answer and ask again about live sessions. */
  mqg_cache_clear(w->opts->cache);
  recheck_all(w);
}

static int tls_version_of(const char *s, uint16_t *out) {
  static const char *const names[] = {"1.0", "1.1", "1.2", "1.3"};
  static const uint16_t versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
                                      TLS1_3_VERSION};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = versions[i];
      return 0;
    }
  return -1;
}

static void on_settings(void *arg, const mqg_reg_settings *s) {
  mqg_worker *w = arg;
  mqg_proxy_opts *o = w->opts;
  uint16_t lo = o->tls_min_default, hi = o->tls_max_default;
  if (s->tls_min[0] && tls_version_of(s->tls_min, &lo) != 0)
    lo = o->tls_min_default;
  if (s->tls_max[0] && tls_version_of(s->tls_max, &hi) != 0)
    hi = o->tls_max_default;
  if (lo > hi) {
    mqg_log(MQG_LOG_ERROR, "registry: TLS window %s..%s is empty; keeping %s..%s",
            s->tls_min, s->tls_max, mqg_config_tls_name(o->tls_min_default),
            mqg_config_tls_name(o->tls_max_default));
    lo = o->tls_min_default;
    hi = o->tls_max_default;
  }
  int strict = s->client_id_mode[0] ? strcmp(s->client_id_mode, "strict") == 0
                                    : o->strict_ids_default;
  mqg_tls_set_window(lo, hi);
  atomic_store(&o->strict_ids, strict);
  if (w->index == 0) /* every worker applies the same; one says so */
    mqg_log(MQG_LOG_INFO, "registry settings: TLS window %s..%s, client IDs %s, "
            "registration %s", mqg_config_tls_name(lo), mqg_config_tls_name(hi),
            strict ? "strict" : "default", s->registration[0] ? s->registration : "manual");
}

static const mqg_regclient_hooks hooks = {on_ready, on_down, on_cert_event, on_cas,
                                          on_settings};

int regcheck__start(mqg_worker *w, char *err, size_t errlen) {
  w->reg = mqg_regclient_new(&w->loop, w->opts->redis_url, w->opts->redis_prefix, &hooks, w,
                             err, errlen);
  if (w->reg != NULL && w->opts->redis_sentinels[0] != '\0' &&
      mqg_regclient_use_sentinels(w->reg, w->opts->redis_sentinels, w->opts->redis_master,
                                  err, errlen) != 0) {
    mqg_regclient_close(w->reg);
    w->reg = NULL;
  }
  if (w->reg != NULL)
    atomic_fetch_add(&mqg_metrics.registry_links, 1);
  return w->reg ? 0 : -1;
}

void regcheck__stop(mqg_worker *w) {
  if (mqg_regclient_ready(w->reg))
    atomic_fetch_sub(&mqg_metrics.registry_links_ready, 1);
  atomic_fetch_sub(&mqg_metrics.registry_links, 1);
  mqg_regclient_close(w->reg);
  w->reg = NULL;
}
