/* regclient.c: see regclient.h.
 *
 *   connect both ──> AUTH, FUNCTION LOAD, SELECT db, SUBSCRIBE ──> ready
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

#include "hex.h"
#include "log.h"
#include "lua_library.h"
#include "metrics.h"
#include "redis_url.h"
#include "schema.h"

#define BACKOFF_MIN_MS 100
/* hiredis 0.14's libuv adapter ignores poll errors, so a refused connect
 * never reports back: every attempt has its own deadline. */
#define CONNECT_DEADLINE_MS 1000
#define BACKOFF_MAX_MS 2000
/* After a failed read of the CAs, the next attempt. */
#define CAS_RETRY_MS 2000

struct mqg_regclient {
  uv_loop_t *loop;
  mqg_redis_addr addr;    /* host, port, db and credentials */
  char host[256];         /* where the link goes now (Sentinel may move it) */
  int port;
  char prefix[MQG_REDIS_PREFIX_MAX + 1];
  char channel[MQG_REDIS_PREFIX_MAX + sizeof(":events")];
  const mqg_regclient_hooks *hooks;
  void *arg;
  redisAsyncContext *cmd, *sub;
  int cmd_selected, lib_loaded, sub_ready, ready;
  uv_timer_t retry;       /* the next attempt, or the current one's deadline */
  uv_timer_t cas_retry;   /* the next read of the CAs after a failed one */
  int connecting;         /* |retry| is the connect deadline */
  uint64_t backoff_ms;
  uint64_t down_since; /* loop ms; 0 while ready */
  unsigned cas_gen;    /* ignore CA loads overtaken by a newer one */
  int cas_recheck;     /* hooks->on_cas's |recheck| for the next CAs delivered */
  unsigned touches;    /* touch commands waiting for their reply */
  unsigned max_touches;
  int auth_refused;    /* the last AUTH was refused (logged once) */
  int closing;
  int open_timers;     /* timer handles whose close callback has not run */
  /* Sentinel mode: where to ask for the master, and the query under way. */
  struct {
    char host[256];
    int port;
  } sentinels[MQG_REGCLIENT_SENTINELS_MAX];
  int nsentinels, next_sentinel;
  char master[128];
  char sentinel_password[256];
  redisAsyncContext *sent;
};

struct mqg_lookup {
  mqg_lookup_cb cb; /* NULL once cancelled */
  void *arg;
};

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
  rc->ready = rc->cmd_selected = rc->lib_loaded = rc->sub_ready = 0;
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

/* A layout-1 registry (mqgate_v1's keys, no layout mark) is reported once
 * per connection: its data is invisible to this version until migrated. */
static void on_layout(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing || reply->type != REDIS_REPLY_INTEGER)
    return;
  if (reply->integer == 1)
    mqg_log(MQG_LOG_ERROR, "registry: prefix \"%s\" holds a layout-1 registry (%s:certs) "
            "that this version does not read: run `mqgatectl migrate` once", rc->prefix,
            rc->prefix);
}

static void check_ready(mqg_regclient *rc) {
  if (rc->ready || !rc->cmd_selected || !rc->lib_loaded || !rc->sub_ready)
    return;
  rc->ready = 1;
  rc->connecting = 0;
  uv_timer_stop(&rc->retry); /* the connect deadline */
  rc->down_since = 0;
  rc->backoff_ms = BACKOFF_MIN_MS;
  rc->auth_refused = 0;
  mqg_log(MQG_LOG_INFO, "registry: connected to Redis %s:%d db %d, prefix \"%s\"", rc->host,
          rc->port, rc->addr.db, rc->prefix);
  rc->hooks->on_ready(rc->arg);
  load_settings(rc);
  rc->cas_recheck = 1; /* events may have been missed while down */
  load_cas(rc);
  redisAsyncCommand(rc->cmd, on_layout, NULL, "FCALL_RO mqgate_layout 0 %s", rc->prefix);
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

/* AUTH's answer: refused credentials keep the link down (and say so once
 * until a link is ready again: the retries would repeat it every 2 s). */
static void on_auth(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing || reply->type != REDIS_REPLY_ERROR)
    return;
  if (!rc->auth_refused)
    mqg_log(MQG_LOG_ERROR, "registry: Redis %s:%d refused the credentials: %s", rc->host,
            rc->port, reply->str);
  rc->auth_refused = 1;
  redisAsyncDisconnect(ac); /* on_disconnect then drops and retries */
}

/* auth sends AUTH first on |ac| when there is a password. */
static void auth(mqg_regclient *rc, redisAsyncContext *ac) {
  const char *argv[3];
  int n = mqg_redis_auth_argv(&rc->addr, argv);
  if (n > 0)
    redisAsyncCommandArgv(ac, on_auth, NULL, n, argv, NULL);
}

static void on_select(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing)
    return;
  if (reply->type == REDIS_REPLY_ERROR) {
    mqg_log(MQG_LOG_ERROR, "registry: SELECT %d: %s", rc->addr.db, reply->str);
    return;
  }
  if (priv == NULL) { /* the command connection: the library, then ready */
    rc->cmd_selected = 1;
    check_ready(rc);
  }
}

static void load_library(mqg_regclient *rc, int attempt);

static void on_function_load(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing)
    return;
  if (reply->type != REDIS_REPLY_ERROR) {
    rc->lib_loaded = 1;
    check_ready(rc);
    return;
  }
  /* Layout 1's library holds the same function names: replace it. */
  if (priv == NULL && strstr(reply->str, "already exists") != NULL) {
    redisAsyncCommand(rc->cmd, NULL, NULL, "FUNCTION DELETE %s", MQG_LUA_LIBRARY_V1);
    load_library(rc, 1);
    return;
  }
  mqg_log(MQG_LOG_ERROR, "registry: FUNCTION LOAD (Redis 7 or later needed): %s", reply->str);
}

/* REPLACE: the library's name carries its version, so whatever runs under
 * this name is this code; a stale copy from a development build must not
 * survive. */
static void load_library(mqg_regclient *rc, int attempt) {
  redisAsyncCommand(rc->cmd, on_function_load, attempt ? rc : NULL,
                    "FUNCTION LOAD REPLACE %b", mqg_lua_library, mqg_lua_library_len);
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
    rc->hooks->on_invalidate(rc->arg);
    if (strcmp(status, "registered") != 0 && strcmp(status, "active") != 0)
      rc->cas_recheck = 1;
    load_cas(rc);
  } else if (n >= 1 && strcmp(what, "settings") == 0) {
    rc->hooks->on_invalidate(rc->arg);
    load_settings(rc);
  } else if (n >= 1 && strcmp(what, "tickets") == 0) {
    rc->hooks->on_tickets_event(rc->arg);
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
  if (rc->sentinel_password[0] != '\0')
    redisAsyncCommand(rc->sent, on_auth, NULL, "AUTH %s", rc->sentinel_password);
  redisAsyncCommand(rc->sent, on_master_addr, NULL, "SENTINEL get-master-addr-by-name %s",
                    rc->master);
  rc->connecting = 1;
  uv_timer_start(&rc->retry, on_connect_deadline, CONNECT_DEADLINE_MS, 0);
}

/* set_sentinels reads |list| ("host:port,...") into |rc|, to be asked
 * for master |name|. */
static int set_sentinels(mqg_regclient *rc, const char *list, const char *name, char *err,
                         size_t errlen) {
  char buf[1024], *save = NULL;
  snprintf(buf, sizeof(buf), "%s", list);
  rc->nsentinels = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(t, ':');
    if (colon == NULL) {
      snprintf(err, errlen, "sentinel \"%.200s\" is not HOST:PORT", t);
      return -1;
    }
    if (rc->nsentinels == MQG_REGCLIENT_SENTINELS_MAX) {
      snprintf(err, errlen, "more than %d Sentinels", MQG_REGCLIENT_SENTINELS_MAX);
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
  const char *sp = getenv("MQGATE_REDIS_SENTINEL_PASSWORD");
  snprintf(rc->sentinel_password, sizeof(rc->sentinel_password), "%s", sp ? sp : "");
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
  /* Commands are queued until the connection is up: credentials first.
   * Behind Sentinel, the server must still be the master when we reach
   * it. */
  auth(rc, rc->cmd);
  auth(rc, rc->sub);
  if (rc->nsentinels > 0)
    redisAsyncCommand(rc->cmd, on_role, NULL, "ROLE");
  load_library(rc, 0);
  redisAsyncCommand(rc->cmd, on_select, NULL, "SELECT %d", rc->addr.db);
  redisAsyncCommand(rc->sub, on_select, rc, "SELECT %d", rc->addr.db);
  redisAsyncCommand(rc->sub, on_event, NULL, "SUBSCRIBE %s", rc->channel);
  rc->connecting = 1;
  uv_timer_start(&rc->retry, on_connect_deadline, CONNECT_DEADLINE_MS, 0);
}

static void on_cas_retry(uv_timer_t *t);

mqg_regclient *mqg_regclient_new(uv_loop_t *loop, const mqg_regclient_cfg *cfg,
                                 const mqg_regclient_hooks *hooks, void *arg,
                                 char *err, size_t errlen) {
  mqg_regclient *rc = calloc(1, sizeof(*rc));
  if (rc == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (mqg_redis_url_parse(cfg->url, &rc->addr) != 0) {
    snprintf(err, errlen, "the Redis URL is not redis://[user:password@]HOST[:PORT][/DB]");
    free(rc);
    return NULL;
  }
  if (mqg_redis_password_load(&rc->addr, cfg->password_file, err, errlen) != 0 ||
      (cfg->sentinels && cfg->sentinels[0] &&
       set_sentinels(rc, cfg->sentinels, cfg->master, err, errlen) != 0)) {
    explicit_bzero(&rc->addr, sizeof(rc->addr));
    free(rc);
    return NULL;
  }
  snprintf(rc->host, sizeof(rc->host), "%s", rc->addr.host);
  rc->max_touches = cfg->max_records;
  rc->port = rc->addr.port;
  rc->loop = loop;
  rc->hooks = hooks;
  rc->arg = arg;
  snprintf(rc->prefix, sizeof(rc->prefix), "%s", cfg->prefix);
  snprintf(rc->channel, sizeof(rc->channel), "%s:events", cfg->prefix);
  rc->backoff_ms = BACKOFF_MIN_MS;
  rc->down_since = 1;
  uv_timer_init(loop, &rc->retry);
  uv_timer_init(loop, &rc->cas_retry);
  rc->retry.data = rc->cas_retry.data = rc;
  rc->open_timers = 2;
  on_retry(&rc->retry); /* the first attempt: through Sentinel or not */
  return rc;
}

static void on_timer_closed(uv_handle_t *h) {
  mqg_regclient *rc = h->data;
  if (--rc->open_timers > 0)
    return;
  explicit_bzero(rc, sizeof(*rc)); /* the credentials */
  free(rc);
}

void mqg_regclient_close(mqg_regclient *rc) {
  if (rc == NULL)
    return;
  rc->closing = 1;
  rc->ready = 0;
  free_links(rc); /* their disconnect callbacks see |closing| */
  uv_close((uv_handle_t *)&rc->retry, on_timer_closed);
  uv_close((uv_handle_t *)&rc->cas_retry, on_timer_closed);
}

int mqg_regclient_ready(const mqg_regclient *rc) { return rc->ready; }

uint64_t mqg_regclient_down_ms(const mqg_regclient *rc) {
  return rc->ready ? 0 : uv_now(rc->loop) - rc->down_since;
}

/* --- lookups --------------------------------------------------------- */

/* A reply that is not what the library answers: counted and logged, and
 * the caller fails closed. */
static void malformed(const char *what, const redisReply *r) {
  MQG_COUNT(registry_errors, 1);
  mqg_log(MQG_LOG_ERROR, "registry: %s failed: %s", what,
          r == NULL                         ? "no reply"
          : r->type == REDIS_REPLY_ERROR    ? r->str
                                            : "malformed reply");
}

/* answer_of reads {verdict, status, client_id} (schema.h). */
static void answer_of(const redisReply *r, mqg_reg_answer *a) {
  a->verdict = MQG_REASON_REGISTRY_UNAVAILABLE;
  a->register_after = 0;
  a->registered_now = 0;
  a->client_id = "";
  if (r == NULL)
    return; /* the link dropped: no answer */
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
    malformed("lookup", r);
    return;
  }
  for (size_t i = 0; i < 3; i++)
    if (r->element[i]->type != REDIS_REPLY_STRING) {
      malformed("lookup", r);
      return;
    }
  const char *v = r->element[0]->str, *status = r->element[1]->str;
  a->client_id = r->element[2]->str;
  if (strcmp(v, "auto") == 0) {
    a->verdict = MQG_REASON_OK;
    a->register_after = 1;
    return;
  }
  mqg_reason reason = mqg_reason_of_registry(strcmp(v, "cert") == 0 ? status : v);
  if (reason == MQG_REASON_COUNT) {
    malformed("lookup", r);
    return;
  }
  a->verdict = reason;
  a->registered_now = reason == MQG_REASON_OK && strcmp(status, "registered") == 0;
}

static void on_lookup(redisAsyncContext *ac, void *r, void *priv) {
  mqg_lookup *l = priv;
  mqg_reg_answer a;
  answer_of(r, &a);
  if (l->cb)
    l->cb(l->arg, &a);
  free(l);
}

void mqg_lookup_cancel(mqg_lookup *l) {
  if (l)
    l->cb = NULL;
}

/* send_call sends FCALL[_RO] |fn| 0 P argv... with |l| as the request. */
static mqg_lookup *send_call(mqg_regclient *rc, int ro, const char *fn, int argc,
                             const char **args, mqg_lookup_cb cb, void *arg) {
  if (!rc->ready)
    return NULL;
  mqg_lookup *l = malloc(sizeof(*l));
  if (l == NULL)
    return NULL;
  l->cb = cb;
  l->arg = arg;
  const char *argv[16] = {ro ? "FCALL_RO" : "FCALL", fn, "0", rc->prefix};
  for (int i = 0; i < argc && i < 12; i++)
    argv[4 + i] = args[i];
  if (redisAsyncCommandArgv(rc->cmd, on_lookup, l, 4 + argc, argv, NULL) != REDIS_OK) {
    free(l);
    return NULL;
  }
  return l;
}

mqg_lookup *mqg_regclient_lookup(mqg_regclient *rc, const uint8_t fp[32],
                                 const uint8_t ca_id[32], const char *cn,
                                 mqg_lookup_cb cb, void *arg) {
  char fp_hex[65], ca_hex[65];
  mqg_hex_encode(fp, 32, fp_hex);
  mqg_hex_encode(ca_id, 32, ca_hex);
  const char *args[] = {fp_hex, ca_hex, cn};
  return send_call(rc, 1, "mqgate_lookup", 3, args, cb, arg);
}

mqg_lookup *mqg_regclient_register(mqg_regclient *rc, const mqg_certinfo *info,
                                   const uint8_t ca_id[32], mqg_lookup_cb cb, void *arg) {
  char ca_hex[65], nb[24], na[24];
  mqg_hex_encode(ca_id, 32, ca_hex);
  snprintf(nb, sizeof(nb), "%lld", (long long)info->not_before);
  snprintf(na, sizeof(na), "%lld", (long long)info->not_after);
  const char *args[] = {info->fingerprint, ca_hex, info->serial, info->cn, info->ou,
                        nb, na, "auto"};
  return send_call(rc, 0, "mqgate_auto_register", 8, args, cb, arg);
}

static void on_touch(redisAsyncContext *ac, void *r, void *priv) {
  mqg_regclient *rc = priv;
  rc->touches--;
}

void mqg_regclient_touch(mqg_regclient *rc, const uint8_t fp[32], const char *client_id,
                         size_t client_id_len) {
  if (!rc->ready)
    return;
  /* A slow Redis must not let device-driven writes pile up in hiredis'
   * buffer: associated clients are a record, not a decision. */
  if (rc->touches >= rc->max_touches) {
    MQG_COUNT(touch_dropped, 1);
    return;
  }
  char hex[65], now[24];
  mqg_hex_encode(fp, 32, hex);
  snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
  const char *argv[] = {"FCALL", "mqgate_touch", "0", rc->prefix, hex, client_id, now};
  size_t lens[] = {5, 12, 1, strlen(rc->prefix), 64, client_id_len, strlen(now)};
  if (redisAsyncCommandArgv(rc->cmd, on_touch, rc, 7, argv, lens) == REDIS_OK)
    rc->touches++;
}

void mqg_regclient_heartbeat(mqg_regclient *rc, const char *id, const char *json,
                             unsigned ttl_s) {
  if (!rc->ready)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  redisAsyncCommand(rc->cmd, NULL, NULL, "SET %s:proxy:%s %s EX %u", rc->prefix, id, json,
                    ttl_s);
  redisAsyncCommand(rc->cmd, NULL, NULL, "ZADD %s:proxies %lld %s", rc->prefix, now_ms, id);
  /* Proxies gone for a day leave the set (each is one member). */
  redisAsyncCommand(rc->cmd, NULL, NULL, "ZREMRANGEBYSCORE %s:proxies -inf %lld", rc->prefix,
                    now_ms - 86400000LL);
}

struct status_req {
  mqg_status_cb cb;
  void *arg;
};

static void on_status(redisAsyncContext *ac, void *r, void *priv) {
  struct status_req *q = priv;
  redisReply *reply = r;
  mqg_reason reason = MQG_REASON_COUNT;
  if (reply != NULL && reply->type == REDIS_REPLY_STRING)
    reason = mqg_reason_of_registry(reply->str);
  if (reply != NULL && reason == MQG_REASON_COUNT)
    malformed("status check", reply);
  /* A malformed answer fails closed: the session ends. */
  if (reply != NULL && reason == MQG_REASON_COUNT)
    reason = MQG_REASON_REGISTRY_UNAVAILABLE;
  q->cb(q->arg, reply != NULL, reason);
  free(q);
}

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
  mqg_hex_encode(fp, 32, hex);
  if (redisAsyncCommand(rc->cmd, on_status, q, "FCALL_RO mqgate_status 0 %s %s", rc->prefix,
                        hex) != REDIS_OK) {
    free(q);
    return -1;
  }
  return 0;
}

struct tickets_req {
  mqg_tickets_cb cb;
  void *arg;
};

static void on_ticket_keys(redisAsyncContext *ac, void *r, void *priv) {
  struct tickets_req *q = priv;
  redisReply *reply = r;
  if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->type == REDIS_REPLY_STRING &&
      reply->element[1]->type == REDIS_REPLY_STRING) {
    q->cb(q->arg, strtoll(reply->element[0]->str, NULL, 10),
          (const uint8_t *)reply->element[1]->str, reply->element[1]->len);
  } else {
    if (reply != NULL)
      malformed("reading the ticket keys", reply);
    q->cb(q->arg, 0, NULL, 0);
  }
  free(q);
}

int mqg_regclient_ticket_keys(mqg_regclient *rc, const uint8_t candidate[160],
                              unsigned rotate_s, mqg_tickets_cb cb, void *arg) {
  if (!rc->ready)
    return -1;
  struct tickets_req *q = malloc(sizeof(*q));
  if (q == NULL)
    return -1;
  q->cb = cb;
  q->arg = arg;
  char now[24], every[24];
  snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
  snprintf(every, sizeof(every), "%u", rotate_s);
  const char *argv[] = {"FCALL", "mqgate_ticket_keys", "0", rc->prefix, now, every,
                        (const char *)candidate, "proxy"};
  size_t lens[] = {5, 18, 1, strlen(rc->prefix), strlen(now), strlen(every), 160, 5};
  if (redisAsyncCommandArgv(rc->cmd, on_ticket_keys, q, 8, argv, lens) != REDIS_OK) {
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
  mqg_settings s;
  memset(&s, 0, sizeof(s)); /* "" where unset: the owner's defaults apply */
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const char *k = reply->element[i]->str, *v = reply->element[i + 1]->str;
    if (k != NULL && v != NULL)
      mqg_settings_set(&s, k, v); /* other fields: not a setting, ignored */
  }
  rc->hooks->on_settings(rc->arg, &s);
}

static void load_settings(mqg_regclient *rc) {
  if (rc->cmd)
    redisAsyncCommand(rc->cmd, on_settings, NULL, "HGETALL %s:settings", rc->prefix);
}

/* cas_failed tells the owner to fail closed and tries again soon. */
static void cas_failed(mqg_regclient *rc, const redisReply *reply) {
  malformed("reading the registered CAs", reply);
  rc->hooks->on_cas(rc->arg, NULL, 0, rc->cas_recheck);
  uv_timer_start(&rc->cas_retry, on_cas_retry, CAS_RETRY_MS, 0);
}

/* The reply of mqgate_cas: id, status, pem triples. */
static void on_cas(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  mqg_regclient *rc = ac->data;
  if (reply == NULL || rc->closing || (unsigned)(uintptr_t)priv != rc->cas_gen)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 3 != 0) {
    cas_failed(rc, reply);
    return;
  }
  size_t total = 0;
  for (size_t i = 0; i < reply->elements; i++) {
    if (reply->element[i]->type != REDIS_REPLY_STRING) {
      cas_failed(rc, reply);
      return;
    }
    if (i % 3 == 2)
      total += reply->element[i]->len + 1;
  }
  char *pem = malloc(total + 1), *p = pem;
  if (pem == NULL) {
    cas_failed(rc, NULL);
    return;
  }
  for (size_t i = 2; i < reply->elements; i += 3) {
    redisReply *e = reply->element[i];
    memcpy(p, e->str, e->len);
    p += e->len;
    *p++ = '\n';
  }
  uv_timer_stop(&rc->cas_retry);
  int recheck = rc->cas_recheck;
  rc->cas_recheck = 0;
  rc->hooks->on_cas(rc->arg, pem, (size_t)(p - pem), recheck);
  free(pem);
}

static void load_cas(mqg_regclient *rc) {
  if (rc->cmd == NULL)
    return;
  rc->cas_gen++;
  redisAsyncCommand(rc->cmd, on_cas, (void *)(uintptr_t)rc->cas_gen, "FCALL_RO mqgate_cas 0 %s",
                    rc->prefix);
}

static void on_cas_retry(uv_timer_t *t) {
  mqg_regclient *rc = t->data;
  if (rc->ready)
    load_cas(rc);
}
