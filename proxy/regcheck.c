/* regcheck.c: auth mode "registry" inside and right after the handshake,
 * and what the registry's events do to this worker.
 *
 * In the handshake, from SSL_CTX_set_custom_verify (read-only: nothing is
 * written for a peer that has not proved it holds the key):
 *
 *   leaf DER --SHA-256--> cache hit?  -- yes --> state + dates --> verdict
 *                             | no
 *                             v
 *              chain vs. registered CAs (local, no Redis)
 *                             | good: the CA it reached
 *                             v
 *              FCALL_RO mqgate_lookup --> ssl_verify_retry ... answer,
 *                             cached unless an invalidation came first;
 *                             the handshake resumes and sees it
 *
 * When the handshake has completed (the peer proved the key: its
 * CertificateVerify or resumption checked out), regcheck__complete runs
 * before any MQTT byte is read:
 *
 *   "auto" answer ------------> FCALL mqgate_auto_register (writes, rate)
 *   anything invalidated since
 *   the answer was asked for --> FCALL_RO mqgate_lookup again
 *   otherwise ----------------> go on
 *
 * Freshness: every answer carries the cache token taken when it was asked
 * for (cache.h); a reply older than an invalidation is neither cached nor
 * trusted at completion. While Redis is unreachable, cached ACTIVE entries
 * serve for --redis-stale; anything else is refused; nothing whose last
 * known state was not ACTIVE is ever accepted. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "hex.h"
#include "internal.h"
#include "log.h"
#include "metrics.h"

/* Checks again at completion, at most, before giving up (registry_busy):
 * only a registry changing under the handshake all the time gets there. */
#define MAX_RECHECKS 3

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

static enum ssl_verify_result_t decide(mqg_conn *c, SSL *ssl, mqg_reason r,
                                       uint8_t *out_alert) {
  c->peer.reason = r;
  if (r == MQG_REASON_OK)
    return ssl_verify_ok;
  *out_alert = mqg_reason_alert(r, SSL_version(ssl));
  return ssl_verify_invalid;
}


/* ask_done ends one registry call of |c|; returns its cache entry. */
static mqg_cache_entry *ask_done(mqg_conn *c) {
  mqg_cache_entry *e = c->pending;
  atomic_fetch_sub(&c->w->opts->pending, 1);
  c->lookup = NULL;
  c->pending = NULL;
  if (e != NULL)
    mqg_metrics_rtt((uv_hrtime() / 1000) - e->fetched_ms);
  return e;
}

/* The answer to the lookup made inside the handshake. */
static void on_lookup(void *arg, const mqg_reg_answer *a) {
  mqg_conn *c = arg;
  mqg_worker *w = c->w;
  mqg_cache_entry *e = ask_done(c);
  c->lookup_state = LOOKUP_DONE;
  c->lookup_verdict = a->verdict;
  c->register_after = a->register_after;
  if (a->verdict == MQG_REASON_OK) {
    free(c->peer.client_id);
    c->peer.client_id = dup_or_null(a->client_id);
  }
  /* Only answers that stay true until an event says otherwise are cached,
   * only while the subscription that carries those events is up, and only
   * if no invalidation came since the question was asked. "auto" is not
   * an answer to keep: the registration decides; nor is a conflict: what
   * frees the identity is an event about the other certificate. */
  if (a->verdict != MQG_REASON_REGISTRY_UNAVAILABLE && a->verdict != MQG_REASON_RATE_LIMITED &&
      a->verdict != MQG_REASON_IDENTITY_CONFLICT && !a->register_after &&
      strlen(a->client_id) <= MQG_CACHE_ID_MAX && mqg_regclient_ready(w->reg)) {
    e->verdict = a->verdict;
    snprintf(e->client_id, sizeof(e->client_id), "%s", a->client_id);
    e->fetched_ms = uv_now(&w->loop);
    mqg_cache_put_fresh(w->opts->cache, e, c->token);
  }
  free(e);
  conn__handshake(c);
}

/* ask sends a registry call for |c| (a lookup, or the registration of
 * c->reg_info) with |cb| as its answer's handler; the cache token is
 * taken now. Returns 0, or the reason to refuse with. */
static mqg_reason ask(mqg_conn *c, int reg, mqg_lookup_cb cb) {
  mqg_worker *w = c->w;
  mqg_cache_entry *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return MQG_REASON_REGISTRY_UNAVAILABLE;
  /* A bound on handshakes parked on Redis: a flood of unknown devices
   * must not pile up memory and Redis work without end. */
  if (atomic_fetch_add(&w->opts->pending, 1) >= w->opts->max_pending) {
    atomic_fetch_sub(&w->opts->pending, 1);
    free(e);
    return MQG_REASON_REGISTRY_BUSY;
  }
  c->token = mqg_cache_token_of(w->opts->cache, c->peer.sha256);
  e->fetched_ms = uv_hrtime() / 1000; /* the send time, in us, until the answer */
  if (c->reg_info != NULL) {
    memcpy(e->fp, c->peer.sha256, 32);
    e->not_before = c->reg_info->not_before;
    e->not_after = c->reg_info->not_after;
    snprintf(e->cn, sizeof(e->cn), "%s", c->reg_info->cn);
  }
  c->lookup = reg ? mqg_regclient_register(w->reg, c->reg_info, c->reg_ca, cb, c)
                  : mqg_regclient_lookup(w->reg, c->peer.sha256, c->reg_ca,
                                         c->peer.cn ? c->peer.cn : "", cb, c);
  if (c->lookup == NULL) {
    atomic_fetch_sub(&w->opts->pending, 1);
    free(e);
    return MQG_REASON_REGISTRY_UNAVAILABLE;
  }
  c->pending = e;
  return MQG_REASON_OK;
}

enum ssl_verify_result_t regcheck__verify(mqg_tls_peer *peer, SSL *ssl, uint8_t *out_alert) {
  mqg_conn *c = container_of(peer, mqg_conn, peer);
  mqg_worker *w = c->w;
  if (c->lookup_state == LOOKUP_DONE)
    return decide(c, ssl, c->lookup_verdict, out_alert);

  const CRYPTO_BUFFER *certs[MQG_MTLS_MAX_DEPTH];
  size_t n = mqg_mtls_chain(SSL_get0_peer_certificates(ssl), certs, MQG_MTLS_MAX_DEPTH);
  if (n == 0)
    return decide(c, ssl, MQG_REASON_NO_CERT, out_alert);
  if (n == SIZE_MAX)
    return decide(c, ssl, MQG_REASON_CHAIN_TOO_LONG, out_alert);
  mqg_certinfo_fingerprint(CRYPTO_BUFFER_data(certs[0]), CRYPTO_BUFFER_len(certs[0]),
                           peer->sha256);
  peer->has_cert = 1;

  /* The token with the read: an invalidation after it makes the answer
   * stale at completion. */
  int fresh = mqg_regclient_down_ms(w->reg) <= w->opts->redis_stale_ms;
  mqg_cache_entry hit;
  if (mqg_cache_get_token(w->opts->cache, peer->sha256, uv_now(&w->loop), &hit, &c->token)) {
    MQG_COUNT(cache_hits, 1);
    free(peer->cn);
    free(peer->client_id);
    peer->cn = dup_or_null(hit.cn);
    peer->client_id = dup_or_null(hit.client_id);
    if (hit.verdict != MQG_REASON_OK)
      return decide(c, ssl, hit.verdict, out_alert);
    if (!fresh)
      return decide(c, ssl, MQG_REASON_REGISTRY_UNAVAILABLE, out_alert);
    return decide(c, ssl, mqg_mtls_dates((int64_t)time(NULL), hit.not_before, hit.not_after), out_alert);
  }

  if (w->verifier == NULL) /* no CA read yet, or the last read failed */
    return decide(c, ssl,
                  mqg_regclient_ready(w->reg) && !w->cas_failed ? MQG_REASON_UNKNOWN_CA
                                                                : MQG_REASON_REGISTRY_UNAVAILABLE,
                  out_alert);
  mqg_certinfo *info = malloc(sizeof(*info));
  if (info == NULL)
    return decide(c, ssl, MQG_REASON_REGISTRY_UNAVAILABLE, out_alert);
  mqg_reason r = mqg_mtls_verify(w->verifier, certs, n, (int64_t)time(NULL), info, c->reg_ca);
  free(peer->cn);
  peer->cn = dup_or_null(info->cn);
  if (r == MQG_REASON_OK) {
    c->have_ca = 1;
    MQG_COUNT(cache_misses, 1);
    /* Kept until completion: an automatic registration needs the facts,
     * and so may a check made then. */
    c->reg_info = info;
    info = NULL;
    r = ask(c, 0, on_lookup);
  }
  free(info);
  if (r != MQG_REASON_OK) {
    free(c->reg_info);
    c->reg_info = NULL;
    return decide(c, ssl, r, out_alert);
  }
  c->lookup_state = LOOKUP_PENDING;
  return ssl_verify_retry;
}

/* The answer to a call made at completion: a registration or a check. */
static void on_complete_answer(void *arg, const mqg_reg_answer *a) {
  mqg_conn *c = arg;
  free(ask_done(c));
  if (a->verdict != MQG_REASON_OK) {
    c->peer.reason = a->verdict;
  } else if (a->register_after) {
    c->register_after = 1; /* still unknown, still eligible: register */
  } else {
    if (c->register_after && a->registered_now) {
      MQG_COUNT(auto_registered, 1);
      char fp[65];
      mqg_hex_encode(c->peer.sha256, 32, fp);
      const mqg_log_field f[] = {{"fp", fp}, {"cn", c->peer.cn}, {"source", "auto"}};
      mqg_log_event(MQG_LOG_INFO, "registered", f, sizeof(f) / sizeof(f[0]));
    }
    c->register_after = 0;
    /* Registered by someone else meanwhile, it may have a client ID. */
    free(c->peer.client_id);
    c->peer.client_id = dup_or_null(a->client_id);
  }
  conn__handshake(c);
}

/* chain_ca finds the registered CA |c|'s chain reaches, for a check at
 * completion after a cache hit (which skipped the chain). */
static mqg_reason chain_ca(mqg_conn *c) {
  if (c->have_ca)
    return MQG_REASON_OK;
  if (c->w->verifier == NULL)
    return MQG_REASON_REGISTRY_UNAVAILABLE;
  const CRYPTO_BUFFER *certs[MQG_MTLS_MAX_DEPTH];
  size_t n = mqg_mtls_chain(SSL_get0_peer_certificates(c->ssl), certs, MQG_MTLS_MAX_DEPTH);
  if (n == 0 || n == SIZE_MAX)
    return MQG_REASON_NO_CERT;
  mqg_certinfo *info = malloc(sizeof(*info));
  if (info == NULL)
    return MQG_REASON_REGISTRY_UNAVAILABLE;
  mqg_reason r = mqg_mtls_verify(c->w->verifier, certs, n, (int64_t)time(NULL), info, c->reg_ca);
  if (r == MQG_REASON_OK) {
    c->have_ca = 1;
    free(c->reg_info);
    c->reg_info = info;
  } else {
    free(info);
  }
  return r;
}

int regcheck__complete(mqg_conn *c) {
  mqg_worker *w = c->w;
  mqg_reason r;
  if (c->lookup != NULL)
    return REGCHECK_WAIT;
  if (c->peer.reason != MQG_REASON_OK)
    return REGCHECK_REFUSE;
  if (c->register_after && c->reg_info != NULL) {
    r = ask(c, 1, on_complete_answer);
  } else if (!mqg_cache_token_fresh(w->opts->cache, c->peer.sha256, c->token)) {
    /* Something that could change the answer happened since it was asked
     * for (the device may have held its Finished): ask again. */
    if (++c->rechecks > MAX_RECHECKS) {
      c->peer.reason = MQG_REASON_REGISTRY_BUSY;
      return REGCHECK_REFUSE;
    }
    MQG_COUNT(rechecks, 1);
    r = chain_ca(c);
    if (r == MQG_REASON_OK)
      r = ask(c, 0, on_complete_answer);
  } else {
    free(c->reg_info);
    c->reg_info = NULL;
    return REGCHECK_OK;
  }
  if (r != MQG_REASON_OK) {
    c->peer.reason = r;
    return REGCHECK_REFUSE;
  }
  return REGCHECK_WAIT;
}

void regcheck__cancel(mqg_conn *c) {
  if (c->lookup != NULL)
    atomic_fetch_sub(&c->w->opts->pending, 1);
  mqg_lookup_cancel(c->lookup);
  c->lookup = NULL;
  free(c->pending);
  c->pending = NULL;
  free(c->reg_info);
  c->reg_info = NULL;
}

/* --- the registry's events ------------------------------------------- */

/* cut ends every live session (and handshake) of certificate |fp| for |r|. */
static void cut(mqg_worker *w, const uint8_t fp[32], mqg_reason r) {
  mqg_conn *next;
  for (mqg_conn *c = w->conns; c != NULL; c = next) {
    next = c->next;
    if (c->peer.has_cert && memcmp(c->peer.sha256, fp, 32) == 0)
      conn__cut(c, r, "cut by a registry change");
  }
}

struct recheck {
  mqg_worker *w;
  uint8_t fp[32];
};

static void on_recheck(void *arg, int answered, mqg_reason r) {
  struct recheck *q = arg;
  if (answered && r != MQG_REASON_OK)
    cut(q->w, q->fp, r);
  free(q);
}

/* Asks again about every live session's certificate (the handshakes in
 * progress check again at completion: their tokens are stale). */
static void recheck_all(mqg_worker *w) {
  for (mqg_conn *c = w->conns; c != NULL; c = c->next) {
    if (!c->peer.has_cert || c->state == CONN_HANDSHAKE || c->state >= CONN_LINGER)
      continue;
    struct recheck *q = malloc(sizeof(*q));
    if (q == NULL)
      continue;
    q->w = w;
    memcpy(q->fp, c->peer.sha256, 32);
    if (mqg_regclient_status(w->reg, c->peer.sha256, on_recheck, q) != 0)
      free(q);
  }
}

static void on_ready(void *arg) {
  mqg_worker *w = arg;
  mqg_regtickets_refresh(w->tickets);
  /* Invalidations may have been missed while the link was down: forget
   * every answer. Live sessions are asked about once the CAs are read
   * (on_cas), which follows every ready. */
  mqg_cache_clear(w->opts->cache);
  atomic_fetch_add(&mqg_metrics.registry_links_ready, 1);
}

static void on_down(void *arg) { atomic_fetch_sub(&mqg_metrics.registry_links_ready, 1); }

static void on_cert_event(void *arg, const char *fp_hex, const char *status) {
  mqg_worker *w = arg;
  uint8_t fp[32];
  if (mqg_hex_decode(fp_hex, sizeof(fp), fp) != 0)
    return;
  mqg_cache_drop(w->opts->cache, fp);
  mqg_reason r = mqg_reason_of_registry(status);
  if (r == MQG_REASON_COUNT) {
    mqg_log(MQG_LOG_WARN, "registry: unknown certificate state \"%s\" in an event", status);
    r = MQG_REASON_CERT_INACTIVE; /* not active: fail closed */
  }
  if (r != MQG_REASON_OK)
    cut(w, fp, r);
}

static void on_invalidate(void *arg) {
  mqg_worker *w = arg;
  /* Answers computed before the change may still be on their way (they
   * come before the new CA set on the command connection): make them
   * stale now. */
  mqg_cache_clear(w->opts->cache);
}

static void on_cas(void *arg, const char *pem, size_t len, int recheck) {
  mqg_worker *w = arg;
  char err[256];
  mqg_mtls_verifier *v = NULL;
  /* Redis answered the first full round (link, library, subscription,
   * CAs): from now on this worker decides handshakes instead of refusing
   * them as registry_unavailable. */
  server__worker_ready(w);
  int failed = pem == NULL;
  if (!failed && len > 0) {
    v = mqg_mtls_verifier_new_pem(pem, len, "the registry's CAs", err, sizeof(err));
    if (v == NULL) {
      mqg_log(MQG_LOG_ERROR, "registry: the registered CAs do not parse (%s): refusing "
              "certificates not cached until they do", err);
      MQG_COUNT(registry_errors, 1);
      failed = 1;
    }
  }
  /* Fail closed: without a CA set that reads, no chain is checked, so no
   * certificate is admitted that is not already known. */
  if (failed && !w->cas_failed && w->index == 0)
    mqg_log(MQG_LOG_ERROR, "registry: CA set unavailable: new certificates are refused");
  w->cas_failed = failed;
  mqg_mtls_verifier_free(w->verifier);
  w->verifier = v;
  /* A CA's state may have changed (or, after a reconnect, anything may
   * have): forget every answer, and ask again about live sessions when
   * one may have lost its standing. */
  mqg_cache_clear(w->opts->cache);
  if (recheck)
    recheck_all(w);
}

static void on_settings(void *arg, const mqg_settings *s) {
  mqg_worker *w = arg;
  mqg_proxy_opts *o = w->opts;
  uint16_t lo = o->tls_min_default, hi = o->tls_max_default;
  if (s->tls_min[0] && mqg_options_tls_parse(s->tls_min, &lo) != 0)
    lo = o->tls_min_default;
  if (s->tls_max[0] && mqg_options_tls_parse(s->tls_max, &hi) != 0)
    hi = o->tls_max_default;
  if (lo > hi) {
    mqg_log(MQG_LOG_ERROR, "registry: TLS window %s..%s is empty; keeping %s..%s",
            s->tls_min, s->tls_max, mqg_options_tls_name(o->tls_min_default),
            mqg_options_tls_name(o->tls_max_default));
    lo = o->tls_min_default;
    hi = o->tls_max_default;
  }
  int strict = s->client_id_mode[0] ? strcmp(s->client_id_mode, "strict") == 0
                                    : o->strict_ids_default;
  mqg_tls_set_window(lo, hi);
  atomic_store(&o->strict_ids, strict);
  /* The registration mode decides what an unknown certificate gets: a
   * cached "not registered" must not outlive a switch to automatic. */
  mqg_cache_clear(o->cache);
  if (w->index == 0) /* every worker applies the same; one says so */
    mqg_log(MQG_LOG_INFO, "registry settings: TLS window %s..%s, client IDs %s, "
            "registration %s", mqg_options_tls_name(lo), mqg_options_tls_name(hi),
            strict ? "strict" : "default", s->registration[0] ? s->registration : "manual");
}

static void on_tickets_event(void *arg) {
  mqg_worker *w = arg;
  mqg_regtickets_refresh(w->tickets);
}

static const mqg_regclient_hooks hooks = {on_ready, on_down, on_cert_event, on_invalidate,
                                          on_cas, on_settings, on_tickets_event};

int regcheck__start(mqg_worker *w, char *err, size_t errlen) {
  mqg_regclient_cfg cfg = {w->opts->redis_url,     w->opts->redis_password_file,
                           w->opts->redis_prefix,  w->opts->max_records,
                           w->opts->redis_sentinels, w->opts->redis_master};
  w->reg = mqg_regclient_new(&w->loop, &cfg, &hooks, w, err, errlen);
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
