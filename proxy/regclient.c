/* regclient.c: see regclient.h.
 *
 *   connect both ──> SELECT db, FUNCTION LOAD, SUBSCRIBE ──> ready
 *        ^                                                    │ either
 *        └──── retry timer (100 ms, doubling to 2 s) <─── drop ┘ drops
 *
 * hiredis frees a context itself after its connect (failure) or
 * disconnect callback; the adapter closes its uv handle on its own. */
#include "regclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/base64.h>

#include "log.h"
#include "lua_library.h"
#include "redis_url.h"
#include "schema.h"

#define BACKOFF_MIN_MS 100
/* hiredis 0.14's libuv adapter ignores poll errors, so a refused connect
 * never reports back: every attempt has its own deadline. */
#define CONNECT_DEADLINE_MS 1000
#define BACKOFF_MAX_MS 2000

struct mqg_regclient {
  uv_loop_t *loop;
  char host[256];
  int port, db;
  char prefix[128];
  char channel[160];
  const mqg_regclient_hooks *hooks;
  void *arg;
  redisAsyncContext *cmd, *sub;
  int cmd_ready, sub_ready, ready;
  uv_timer_t retry;       /* the next attempt, or the current one's deadline */
  int connecting;         /* |retry| is the connect deadline */
  uint64_t backoff_ms;
  uint64_t down_since; /* loop ms; 0 while ready */
  unsigned cas_gen;    /* ignore CA loads overtaken by a newer one */
  int closing;
  /* Sentinel mode: where to ask for the master, and the query under way. */
  struct {
    char host[256];
    int port;
  } sentinels[8];
  int nsentinels, next_sentinel;
  char master[128];
  redisAsyncContext *sent;
};

struct mqg_lookup {
  mqg_lookup_cb cb; /* NULL once cancelled */
  void *arg;
};

void mqg_hex32(const uint8_t b[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[64] = '\0';
}

static void start(mqg_regclient *rc);
static void resolve(mqg_regclient *rc);
static void drop(mqg_regclient *rc, const char *why);
static void on_retry(uv_timer_t *t) {
  mqg_regclient *rc = t->data;
  if (rc->nsentinels > 0)
    resolve(rc);
  else
    start(rc);
}
static void on_connect_deadline(uv_timer_t *t) { drop(t->data, "connect timed out"); }
static void load_settings(mqg_regclient *rc);
static void load_cas(mqg_regclient *rc);

/* Frees every connection (hiredis runs their pending callbacks with NULL
 * replies, and the disconnect callbacks of those that were up). */
static void free_links(mqg_regclient *rc) {
  redisAsyncContext *cmd = rc->cmd, *sub = rc->sub, *sent = rc->sent;
  rc->cmd = rc->sub = rc->sent = NULL;
  if (cmd)
    redisAsyncFree(cmd);
  if (sub)
    redisAsyncFree(sub);
  if (sent)
    redisAsyncFree(sent);
}

/* Tears down whatever is connected and schedules a retry. */
static void drop(mqg_regclient *rc, const char *why) {
  int was_ready = rc->ready;
  mqg_log(MQG_LOG_DEBUG, "registry: link down: %s", why);
  rc->ready = rc->cmd_ready = rc->sub_ready = 0;
  if (rc->down_since == 0)
    rc->down_since = uv_now(rc->loop) ? uv_now(rc->loop) : 1;
  /* Each disconnect callback calls drop() again for its own context. */
  free_links(rc);
  if (was_ready) {
    mqg_log(MQG_LOG_WARN, "registry: Redis %s:%d unreachable (%s); serving cached "
            "active certificates for a bounded time", rc->host, rc->port, why);
    rc->hooks->on_down(rc->arg);
  }
  if (!rc->closing && (!uv_is_active((uv_handle_t *)&rc->retry) || rc->connecting)) {
    rc->connecting = 0;
    uv_timer_start(&rc->retry, on_retry, rc->backoff_ms, 0);
    rc->backoff_ms = rc->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rc->backoff_ms * 2;
  }
}

static void check_ready(mqg_regclient *rc) {
  if (rc->ready || !rc->cmd_ready || !rc->sub_ready)
    return;
  rc->ready = 1;
  rc->connecting = 0;
  uv_timer_stop(&rc->retry); /* the connect deadline */
  rc->down_since = 0;
  rc->backoff_ms = BACKOFF_MIN_MS;
  mqg_log(MQG_LOG_INFO, "registry: connected to Redis %s:%d db %d, prefix \"%s\"", rc->host,
          rc->port, rc->db, rc->prefix);
  rc->hooks->on_ready(rc->arg);
  load_settings(rc);
  load_cas(rc);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  mqg_regclient *rc = ac->data;
  /* hiredis frees |ac| after this callback. */
  if (rc->cmd == ac)
    rc->cmd = NULL;
  if (rc->sub == ac)
    rc->sub = NULL;
  if (rc->sent == ac) { /* a Sentinel query ended: a result, or try another */
    rc->sent = NULL;
    if (rc->cmd != NULL || rc->closing)
      return;
  }
  drop(rc, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void on_connect(const redisAsyncContext *ac, int status) {
  if (status != REDIS_OK)
    on_disconnect(ac, status);
}

static void on_select(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing)
    return;
  if (reply->type == REDIS_REPLY_ERROR) {
    mqg_log(MQG_LOG_ERROR, "registry: SELECT %d: %s", rc->db, reply->str);
    return;
  }
  if (priv == NULL) { /* the command connection: the library, then ready */
    rc->cmd_ready = 1;
    check_ready(rc);
  }
}

static void on_function_load(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  if (reply && reply->type == REDIS_REPLY_ERROR)
    mqg_log(MQG_LOG_ERROR, "registry: FUNCTION LOAD: %s", reply->str);
}

static void on_event(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
    return;
  const char *kind = reply->element[0]->str;
  if (kind == NULL)
    return;
  if (strcmp(kind, "subscribe") == 0) {
    rc->sub_ready = 1;
    check_ready(rc);
    return;
  }
  if (strcmp(kind, "message") != 0 || reply->element[2]->type != REDIS_REPLY_STRING)
    return;
  char msg[256], what[16], id[80], status[32];
  snprintf(msg, sizeof(msg), "%.*s", (int)reply->element[2]->len, reply->element[2]->str);
  int n = sscanf(msg, "%15s %79s %31s", what, id, status);
  if (n == 3 && strcmp(what, "cert") == 0 && strlen(id) == 64) {
    rc->hooks->on_cert_event(rc->arg, id, status);
  } else if (n == 3 && strcmp(what, "ca") == 0) {
    load_cas(rc);
  } else if (n >= 1 && strcmp(what, "settings") == 0) {
    load_settings(rc);
  } else {
    mqg_log(MQG_LOG_WARN, "registry: unknown event \"%s\"", msg);
  }
}

static void on_role(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
      reply->element[0]->str == NULL || strcmp(reply->element[0]->str, "master") != 0) {
    mqg_log(MQG_LOG_WARN, "registry: %s:%d is not a master; asking the Sentinels again",
            rc->host, rc->port);
    redisAsyncDisconnect(ac); /* on_disconnect then drops and retries */
  }
}

static void on_master_addr(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing)
    return;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->str != NULL && reply->element[1]->str != NULL) {
    snprintf(rc->host, sizeof(rc->host), "%s", reply->element[0]->str);
    rc->port = atoi(reply->element[1]->str);
    mqg_log(MQG_LOG_DEBUG, "registry: Sentinel says master \"%s\" is %s:%d", rc->master,
            rc->host, rc->port);
    uv_timer_stop(&rc->retry);
    rc->connecting = 0;
    start(rc); /* rc->cmd is set before this query's disconnect runs */
  } else {
    mqg_log(MQG_LOG_WARN, "registry: Sentinel %s:%d does not know master \"%s\"",
            rc->sentinels[(rc->next_sentinel + rc->nsentinels - 1) % rc->nsentinels].host,
            rc->sentinels[(rc->next_sentinel + rc->nsentinels - 1) % rc->nsentinels].port,
            rc->master);
  }
  redisAsyncDisconnect(ac);
}

/* Asks the next Sentinel where the master is; on any failure, on_disconnect
 * or the deadline moves on (drop -> retry -> resolve -> the next one). */
static void resolve(mqg_regclient *rc) {
  if (rc->closing)
    return;
  int i = rc->next_sentinel++ % rc->nsentinels;
  rc->sent = redisAsyncConnect(rc->sentinels[i].host, rc->sentinels[i].port);
  if (rc->sent == NULL || rc->sent->err) {
    drop(rc, "cannot reach a Sentinel");
    return;
  }
  rc->sent->data = rc;
  redisLibuvAttach(rc->sent, rc->loop);
  redisAsyncSetConnectCallback(rc->sent, on_connect);
  redisAsyncSetDisconnectCallback(rc->sent, on_disconnect);
  redisAsyncCommand(rc->sent, on_master_addr, NULL, "SENTINEL get-master-addr-by-name %s",
                    rc->master);
  rc->connecting = 1;
  uv_timer_start(&rc->retry, on_connect_deadline, CONNECT_DEADLINE_MS, 0);
}

int mqg_regclient_use_sentinels(mqg_regclient *rc, const char *list, const char *name,
                                char *err, size_t errlen) {
  char buf[1024], *save = NULL;
  snprintf(buf, sizeof(buf), "%s", list);
  rc->nsentinels = 0;
  for (char *t = strtok_r(buf, ",", &save); t && rc->nsentinels < 8;
       t = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(t, ':');
    if (colon == NULL) {
      snprintf(err, errlen, "sentinel \"%s\" is not HOST:PORT", t);
      return -1;
    }
    *colon = '\0';
    const char *host = t;
    if (host[0] == '[') { /* [v6]:port */
      host++;
      t[strlen(t) - 1] = '\0';
    }
    snprintf(rc->sentinels[rc->nsentinels].host, sizeof(rc->sentinels[0].host), "%s", host);
    rc->sentinels[rc->nsentinels].port = atoi(colon + 1);
    rc->nsentinels++;
  }
  snprintf(rc->master, sizeof(rc->master), "%s", name);
  /* mqg_regclient_new already started towards --redis: go through the
   * Sentinels instead. */
  drop(rc, "using Sentinel");
  return 0;
}

static void start(mqg_regclient *rc) {
  if (rc->closing)
    return;
  mqg_log(MQG_LOG_DEBUG, "registry: connecting to Redis %s:%d", rc->host, rc->port);
  rc->cmd = redisAsyncConnect(rc->host, rc->port);
  rc->sub = redisAsyncConnect(rc->host, rc->port);
  if (rc->cmd == NULL || rc->sub == NULL || rc->cmd->err || rc->sub->err) {
    drop(rc, "cannot create a connection");
    return;
  }
  redisAsyncContext *both[2] = {rc->cmd, rc->sub};
  for (int i = 0; i < 2; i++) {
    both[i]->data = rc;
    redisLibuvAttach(both[i], rc->loop);
    redisAsyncSetConnectCallback(both[i], on_connect);
    redisAsyncSetDisconnectCallback(both[i], on_disconnect);
  }
  /* Commands are queued until the connection is up. Behind Sentinel, the
   * server must still be the master when we reach it. */
  if (rc->nsentinels > 0)
    redisAsyncCommand(rc->cmd, on_role, NULL, "ROLE");
  /* REPLACE: the library's name carries its version, so whatever runs
   * under this name is this code; a stale copy from a development build
   * must not survive. */
  redisAsyncCommand(rc->cmd, on_function_load, NULL, "FUNCTION LOAD REPLACE %b",
                    mqg_lua_library, mqg_lua_library_len);
  redisAsyncCommand(rc->cmd, on_select, NULL, "SELECT %d", rc->db);
  redisAsyncCommand(rc->sub, on_select, rc, "SELECT %d", rc->db);
  redisAsyncCommand(rc->sub, on_event, NULL, "SUBSCRIBE %s", rc->channel);
  rc->connecting = 1;
  uv_timer_start(&rc->retry, on_connect_deadline, CONNECT_DEADLINE_MS, 0);
}

mqg_regclient *mqg_regclient_new(uv_loop_t *loop, const char *url, const char *prefix,
                                 const mqg_regclient_hooks *hooks, void *arg,
                                 char *err, size_t errlen) {
  mqg_regclient *rc = calloc(1, sizeof(*rc));
  if (rc == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (mqg_redis_url_parse(url, rc->host, sizeof(rc->host), &rc->port, &rc->db) != 0) {
    snprintf(err, errlen, "redis URL \"%s\" is not redis://HOST:PORT/DB", url);
    free(rc);
    return NULL;
  }
  rc->loop = loop;
  rc->hooks = hooks;
  rc->arg = arg;
  snprintf(rc->prefix, sizeof(rc->prefix), "%s", prefix);
  snprintf(rc->channel, sizeof(rc->channel), "%s:events", prefix);
  rc->backoff_ms = BACKOFF_MIN_MS;
  rc->down_since = 1;
  uv_timer_init(loop, &rc->retry);
  rc->retry.data = rc;
  start(rc);
  return rc;
}

static void on_retry_closed(uv_handle_t *h) { free(h->data); }

void mqg_regclient_close(mqg_regclient *rc) {
  if (rc == NULL)
    return;
  rc->closing = 1;
  rc->ready = 0;
  free_links(rc); /* their disconnect callbacks see |closing| */
  uv_close((uv_handle_t *)&rc->retry, on_retry_closed);
}

int mqg_regclient_ready(const mqg_regclient *rc) { return rc->ready; }

uint64_t mqg_regclient_down_ms(const mqg_regclient *rc) {
  return rc->ready ? 0 : uv_now(rc->loop) - rc->down_since;
}

/* --- lookups --------------------------------------------------------- */

static mqg_reason verdict_of(const redisReply *r, const char **client_id) {
  *client_id = "";
  if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
    return MQG_REASON_REGISTRY_UNAVAILABLE;
  const char *v = r->element[0]->str, *status = r->element[1]->str;
  if (r->element[2]->str)
    *client_id = r->element[2]->str;
  if (v == NULL)
    return MQG_REASON_REGISTRY_UNAVAILABLE;
  if (strcmp(v, "ok") == 0)
    return MQG_REASON_OK;
  if (strcmp(v, "unknown_ca") == 0)
    return MQG_REASON_UNKNOWN_CA;
  if (strcmp(v, "ca_inactive") == 0)
    return MQG_REASON_CA_INACTIVE;
  if (strcmp(v, "unregistered") == 0)
    return MQG_REASON_CERT_UNREGISTERED;
  if (strcmp(v, "rate_limited") == 0)
    return MQG_REASON_RATE_LIMITED;
  if (strcmp(v, "cert") == 0 && status != NULL) {
    if (strcmp(status, "active") == 0)
      return MQG_REASON_OK;
    if (strcmp(status, "revoked") == 0)
      return MQG_REASON_CERT_REVOKED;
    return MQG_REASON_CERT_INACTIVE;
  }
  return MQG_REASON_REGISTRY_UNAVAILABLE;
}

static void on_lookup(redisAsyncContext *ac, void *r, void *priv) {
  mqg_lookup *l = priv;
  redisReply *reply = r;
  const char *client_id;
  mqg_reason v = verdict_of(reply, &client_id);
  if (reply && reply->type == REDIS_REPLY_ERROR)
    mqg_log(MQG_LOG_ERROR, "registry: lookup failed: %s", reply->str);
  if (l->cb)
    l->cb(l->arg, v, client_id);
  free(l);
}

void mqg_lookup_cancel(mqg_lookup *l) {
  if (l)
    l->cb = NULL;
}

/* PEM text of a DER certificate, for automatic registration. */
static char *der_to_pem(const uint8_t *der, size_t len, size_t *out_len) {
  size_t b64 = 0;
  if (!EVP_EncodedLength(&b64, len))
    return NULL;
  size_t cap = b64 + b64 / 64 + 64;
  char *pem = malloc(cap), *p = pem;
  if (pem == NULL)
    return NULL;
  p += sprintf(p, "-----BEGIN CERTIFICATE-----\n");
  for (size_t off = 0; off < len; off += 48) {
    size_t n = len - off < 48 ? len - off : 48;
    p += EVP_EncodeBlock((uint8_t *)p, der + off, n);
    *p++ = '\n';
  }
  p += sprintf(p, "-----END CERTIFICATE-----\n");
  *out_len = (size_t)(p - pem);
  return pem;
}

mqg_lookup *mqg_regclient_lookup(mqg_regclient *rc, const mqg_certinfo *info,
                                 const uint8_t ca_id[32], const uint8_t *der,
                                 size_t der_len, mqg_lookup_cb cb, void *arg) {
  if (!rc->ready)
    return NULL;
  mqg_lookup *l = malloc(sizeof(*l));
  size_t pem_len = 0;
  char *pem = der_to_pem(der, der_len, &pem_len);
  if (l == NULL || pem == NULL) {
    free(l);
    free(pem);
    return NULL;
  }
  l->cb = cb;
  l->arg = arg;
  char ca_hex[65], nb[24], na[24];
  mqg_hex32(ca_id, ca_hex);
  snprintf(nb, sizeof(nb), "%lld", (long long)info->not_before);
  snprintf(na, sizeof(na), "%lld", (long long)info->not_after);
  const char *argv[] = {"FCALL", "mqgate_lookup", "0", rc->prefix, info->fingerprint,
                        ca_hex, info->serial, info->cn, info->ou, nb, na, pem};
  size_t lens[sizeof(argv) / sizeof(argv[0])];
  for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
    lens[i] = strlen(argv[i]);
  lens[11] = pem_len;
  int rc_send = redisAsyncCommandArgv(rc->cmd, on_lookup, l, 12, argv, lens);
  free(pem);
  if (rc_send != REDIS_OK) {
    free(l);
    return NULL;
  }
  return l;
}

void mqg_regclient_touch(mqg_regclient *rc, const uint8_t fp[32], const char *client_id,
                         size_t client_id_len) {
  if (!rc->ready)
    return;
  char hex[65], now[24];
  mqg_hex32(fp, hex);
  snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
  const char *argv[] = {"FCALL", "mqgate_touch", "0", rc->prefix, hex, client_id, now};
  size_t lens[] = {5, 12, 1, strlen(rc->prefix), 64, client_id_len, strlen(now)};
  redisAsyncCommandArgv(rc->cmd, NULL, NULL, 7, argv, lens);
}

struct status_req {
  mqg_status_cb cb;
  void *arg;
};

static void on_status(redisAsyncContext *ac, void *r, void *priv) {
  struct status_req *q = priv;
  redisReply *reply = r;
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    mqg_log(MQG_LOG_ERROR, "registry: status check failed: %s", reply->str);
  q->cb(q->arg, reply != NULL && reply->type == REDIS_REPLY_STRING ? reply->str : NULL);
  free(q);
}

/* The state a live session sees: the certificate's, unless its CA is off. */
static const char status_script[] =
    "local c = redis.call('HMGET', ARGV[1] .. ':cert:' .. ARGV[2], 'status', 'ca')\n"
    "if not c[1] then return 'deleted' end\n"
    "if c[1] ~= 'active' then return c[1] end\n"
    "if redis.call('HGET', ARGV[1] .. ':ca:' .. c[2], 'status') ~= 'active' then\n"
    "  return 'ca_inactive'\n"
    "end\n"
    "return 'active'\n";

int mqg_regclient_status(mqg_regclient *rc, const uint8_t fp[32], mqg_status_cb cb,
                         void *arg) {
  if (!rc->ready)
    return -1;
  struct status_req *q = malloc(sizeof(*q));
  if (q == NULL)
    return -1;
  q->cb = cb;
  q->arg = arg;
  char hex[65];
  mqg_hex32(fp, hex);
  if (redisAsyncCommand(rc->cmd, on_status, q, "EVAL_RO %s 0 %s %s", status_script,
                        rc->prefix, hex) != REDIS_OK) {
    free(q);
    return -1;
  }
  return 0;
}

/* --- settings and CAs ------------------------------------------------ */

static void on_settings(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing || reply->type != REDIS_REPLY_ARRAY)
    return;
  mqg_reg_settings s;
  memset(&s, 0, sizeof(s));
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const char *k = reply->element[i]->str, *v = reply->element[i + 1]->str;
    if (k == NULL || v == NULL)
      continue;
    if (strcmp(k, "tls_min") == 0)
      snprintf(s.tls_min, sizeof(s.tls_min), "%s", v);
    else if (strcmp(k, "tls_max") == 0)
      snprintf(s.tls_max, sizeof(s.tls_max), "%s", v);
    else if (strcmp(k, "registration") == 0)
      snprintf(s.registration, sizeof(s.registration), "%s", v);
    else if (strcmp(k, "client_id_mode") == 0)
      snprintf(s.client_id_mode, sizeof(s.client_id_mode), "%s", v);
  }
  rc->hooks->on_settings(rc->arg, &s);
}

static void load_settings(mqg_regclient *rc) {
  if (rc->cmd)
    redisAsyncCommand(rc->cmd, on_settings, NULL, "HGETALL %s:settings", rc->prefix);
}

static void on_cas(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing || (unsigned)(uintptr_t)priv != rc->cas_gen)
    return;
  if (reply->type != REDIS_REPLY_ARRAY) {
    mqg_log(MQG_LOG_ERROR, "registry: reading CAs failed: %s",
            reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    return;
  }
  size_t total = 0;
  for (size_t i = 0; i < reply->elements; i++)
    if (reply->element[i]->type == REDIS_REPLY_STRING)
      total += reply->element[i]->len + 1;
  char *pem = malloc(total + 1), *p = pem;
  if (pem == NULL)
    return;
  for (size_t i = 0; i < reply->elements; i++) {
    redisReply *e = reply->element[i];
    if (e->type != REDIS_REPLY_STRING)
      continue;
    memcpy(p, e->str, e->len);
    p += e->len;
    *p++ = '\n';
  }
  rc->hooks->on_cas(rc->arg, pem, (size_t)(p - pem));
  free(pem);
}

/* Every registered CA's PEM in one round trip: a read-only script, so the
 * set and the hashes are read at one instant. */
static const char cas_script[] =
    "local out = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', ARGV[1] .. ':cas')) do\n"
    "  local pem = redis.call('HGET', ARGV[1] .. ':ca:' .. id, 'pem')\n"
    "  if pem then out[#out + 1] = pem end\n"
    "end\n"
    "return out\n";

static void load_cas(mqg_regclient *rc) {
  if (rc->cmd == NULL)
    return;
  rc->cas_gen++;
  redisAsyncCommand(rc->cmd, on_cas, (void *)(uintptr_t)rc->cas_gen, "EVAL_RO %s 0 %s",
                    cas_script, rc->prefix);
}
