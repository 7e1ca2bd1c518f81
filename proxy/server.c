/* server.c: see server.h. */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/resource.h>
#include <time.h>

#include "internal.h"
#include "log.h"
#include "metrics.h"

#define READ_BUF_SIZE (64 * 1024)
#define ACCEPTS_PER_WAKEUP 64
#define EMFILE_RETRY_MS 100
#define BUSY_WINDOW_MS 50
#define BUSY_WINDOW_NS (BUSY_WINDOW_MS * 1000000ull)

struct mqg_server {
  mqg_proxy_opts opts;
  mqg_worker *workers;
  unsigned nworkers;
  int started;
};

static size_t cache_size_of(void *cache) { return mqg_cache_size(cache); }

static int listen_socket(const struct sockaddr_storage *addr) {
  int one = 1;
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, 4096) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

static void on_accept(uv_poll_t *h, int status, int events);
static void on_hs_check(uv_timer_t *t);

static void on_accept_retry(uv_timer_t *t) {
  mqg_worker *w = t->data;
  if (!atomic_load(&w->stopping) && !w->accept_paused)
    uv_poll_start(&w->accept_poll, UV_READABLE, on_accept);
}

/* Whether the worker's loop is busy: idle (waiting in epoll) less than a
 * fifth of the last BUSY_WINDOW_NS or more (uv_metrics_idle_time). */
static int worker_busy(mqg_worker *w) {
  uint64_t now = uv_hrtime();
  if (now - w->busy_t >= BUSY_WINDOW_NS) {
    uint64_t idle = uv_metrics_idle_time(&w->loop);
    w->busy = (idle - w->busy_idle) * 5 < now - w->busy_t;
    w->busy_t = now;
    w->busy_idle = idle;
  }
  return w->busy;
}

static void resume_accept(mqg_worker *w) {
  w->accept_paused = 0;
  uv_timer_stop(&w->hs_check);
  if (w->drain_phase == 0 && !atomic_load(&w->stopping) &&
      !uv_is_active((uv_handle_t *)&w->accept_retry)) /* not paused for EMFILE */
    uv_poll_start(&w->accept_poll, UV_READABLE, on_accept);
}

/* At --max-handshakes, while the worker is busy, the listener is not
 * polled: new connections wait in the kernel's backlog and the handshakes
 * in progress get the worker's CPU and finish, instead of every one of a
 * storm's slowing down all the others until all time out. Each handshake
 * that ends makes room again. Handshakes that wait for their peers (slow
 * or silent clients) cost no CPU and leave the loop idle: they never stop
 * accepting, so they cannot lock devices out (their timeout ends them). */
static int at_handshake_bound(mqg_worker *w) {
  unsigned max = atomic_load_explicit(&w->opts->max_handshakes, memory_order_relaxed);
  if (max == 0 || w->handshakes < max || !worker_busy(w))
    return 0;
  if (!w->accept_paused) {
    w->accept_paused = 1;
    MQG_COUNT(accept_pauses, 1);
    uv_poll_stop(&w->accept_poll);
    uv_timer_start(&w->hs_check, on_hs_check, BUSY_WINDOW_MS, BUSY_WINDOW_MS);
  }
  return 1;
}

static void on_hs_check(uv_timer_t *t) {
  mqg_worker *w = t->data;
  if (!w->accept_paused || !worker_busy(w))
    resume_accept(w);
}

void server__handshake_done(mqg_worker *w) {
  w->handshakes--;
  if (w->accept_paused &&
      w->handshakes < atomic_load_explicit(&w->opts->max_handshakes, memory_order_relaxed))
    resume_accept(w);
}

static void on_accept(uv_poll_t *h, int status, int events) {
  mqg_worker *w = h->data;
  for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
    if (at_handshake_bound(w))
      return;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int fd = accept4(w->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors: stop accepting for a moment instead of spinning
         * on a listening socket that stays readable. The pending connections
         * wait in the backlog. */
        mqg_log(MQG_LOG_WARN, "worker %d: accept: %s; pausing %d ms", w->index,
                strerror(errno), EMFILE_RETRY_MS);
        uv_poll_stop(&w->accept_poll);
        uv_timer_start(&w->accept_retry, on_accept_retry, EMFILE_RETRY_MS, 0);
      }
      return; /* EAGAIN, or a connection that died in the backlog */
    }
    mqg_admit_ticket ticket;
    mqg_reason r = mqg_admit_accept(w->opts->admit, (struct sockaddr *)&peer,
                                    (uint64_t)time(NULL), &ticket);
    if (r != MQG_REASON_OK) {
      /* Refused before any TLS byte: the answer is an immediate close. */
      mqg_metrics_refused(r);
      mqg_log(MQG_LOG_DEBUG, "worker %d: %s", w->index, mqg_reason_text(r));
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn__accept(w, fd, (struct sockaddr *)&peer, plen, ticket);
  }
}

/* The worker's own handles go once it has no connection left; its loop
 * then returns. */
static void worker_close(mqg_worker *w) {
  if (w->drain_phase == 3)
    return;
  w->drain_phase = 3;
  uv_close((uv_handle_t *)&w->accept_retry, NULL);
  uv_close((uv_handle_t *)&w->hs_check, NULL);
  uv_close((uv_handle_t *)&w->wakeup, NULL);
  uv_close((uv_handle_t *)&w->crl_recheck, NULL);
  uv_close((uv_handle_t *)&w->drain, NULL);
  mqg_heartbeat_free(w->heartbeat);
  w->heartbeat = NULL;
  mqg_regtickets_free(w->tickets);
  w->tickets = NULL;
  if (w->reg != NULL)
    regcheck__stop(w);
}

mqg_tls *server__tls(mqg_proxy_opts *o) {
  pthread_mutex_lock(&o->tls_lock);
  mqg_tls *t = mqg_tls_up_ref(o->tls);
  pthread_mutex_unlock(&o->tls_lock);
  return t;
}

void mqg_server_set_tls(mqg_server *s, mqg_tls *tls) {
  mqg_tls_up_ref(tls);
  pthread_mutex_lock(&s->opts.tls_lock);
  mqg_tls *old = s->opts.tls;
  s->opts.tls = tls;
  pthread_mutex_unlock(&s->opts.tls_lock);
  mqg_tls_retire(old);
  mqg_tls_free(old);
}

void server__worker_ready(mqg_worker *w) {
  mqg_proxy_opts *o = w->opts;
  if (w->ready)
    return;
  w->ready = 1;
  if (atomic_fetch_sub(&o->unready, 1) == 1 && o->ready_cb != NULL)
    o->ready_cb(o->ready_arg);
}

void mqg_server_on_ready(mqg_server *s, void (*cb)(void *arg), void *arg) {
  s->opts.ready_cb = cb;
  s->opts.ready_arg = arg;
}

void server__conn_gone(mqg_worker *w) {
  if (w->drain_phase > 0 && w->conns == NULL)
    worker_close(w);
}

/* The drain deadline: close what is left cleanly, then (phase 2) force. */
static void on_drain_deadline(uv_timer_t *t) {
  mqg_worker *w = t->data;
  if (w->drain_phase == 1) {
    w->drain_phase = 2;
    uv_timer_start(&w->drain, on_drain_deadline, w->opts->linger_ms + 500, 0);
    for (mqg_conn *c = w->conns, *next; c != NULL; c = next) {
      next = c->next;
      conn__shutdown(c);
    }
    return;
  }
  while (w->conns != NULL)
    conn__end(w->conns, CONN_END_NOW, MQG_REASON_SHUTDOWN, NULL);
}

static void on_wakeup(uv_async_t *a) {
  mqg_worker *w = a->data;
  if (!atomic_load(&w->stopping) || w->drain_phase != 0)
    return;
  /* Stop accepting: new connections are refused from now on, not left in
   * the backlog. Live sessions may go on until the drain deadline. */
  w->drain_phase = 1;
  uv_close((uv_handle_t *)&w->accept_poll, NULL);
  close(w->lfd);
  w->lfd = -1;
  uv_timer_stop(&w->accept_retry);
  uv_timer_stop(&w->hs_check);
  for (mqg_conn *c = w->conns, *next; c != NULL; c = next) {
    next = c->next;
    if (c->state == CONN_HANDSHAKE || c->state == CONN_CONNECT || c->state == CONN_BACKEND)
      conn__shutdown(c); /* not a session yet: nothing to wait for */
  }
  if (w->conns == NULL)
    worker_close(w);
  else
    uv_timer_start(&w->drain, on_drain_deadline, w->opts->drain_ms, 0);
}

static void on_crl_recheck(uv_async_t *a) {
  mqg_worker *w = a->data;
  if (w->drain_phase < 3)
    crls__recheck(w);
}

void mqg_server_recheck_crls(mqg_server *s) {
  for (unsigned i = 0; i < s->nworkers; i++)
    uv_async_send(&s->workers[i].crl_recheck);
}

static void worker_main(void *arg) {
  mqg_worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

mqg_server *mqg_server_new(const mqg_config *cfg, mqg_tls *tls, char *err,
                           size_t errlen) {
  struct sockaddr_storage listen_addr;
  mqg_server *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->opts.tls_lock, NULL);
  s->opts.tls = mqg_tls_up_ref(tls);
  mqg_tls_set_window(cfg->tls_min, cfg->tls_max);
  mqg_options_parse_addr(cfg->listen, &listen_addr);
  mqg_options_parse_addr(cfg->backend, &s->opts.backend);
  s->opts.handshake_ms = cfg->handshake_timeout;
  s->opts.connect_ms = cfg->connect_timeout;
  s->opts.backend_ms = cfg->backend_timeout;
  s->opts.linger_ms = 1000;
  s->opts.write_ms = cfg->write_timeout;
  s->opts.proxy_protocol = strcmp(cfg->proxy_protocol, "v2") == 0;
  s->opts.max_connect_size = cfg->max_connect_size;
  s->opts.max_client_id = cfg->max_client_id;
  s->opts.write_queue_limit = cfg->write_queue_limit;
  /* Two descriptors per device (TLS side, broker side), and some spare. */
  unsigned max_conns = cfg->max_connections;
  struct rlimit rl;
  if (max_conns == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
    max_conns = rl.rlim_cur > 256 ? (unsigned)((rl.rlim_cur - 128) / 2) : 64;
  s->opts.admit = mqg_admit_new(max_conns, cfg->source_rate, cfg->source_connections);
  if (s->opts.admit == NULL) {
    snprintf(err, errlen, "out of memory");
    mqg_server_free(s);
    return NULL;
  }
  s->opts.max_pending = cfg->max_pending_lookups ? cfg->max_pending_lookups : 1;
  s->opts.max_records = cfg->max_pending_records;
  s->opts.max_handshakes = cfg->max_handshakes;
  s->opts.strict_ids_default = strcmp(cfg->client_id_mode, "strict") == 0;
  atomic_store(&s->opts.strict_ids, s->opts.strict_ids_default);
  s->opts.tls_min_default = cfg->tls_min;
  s->opts.tls_max_default = cfg->tls_max;
  if (strcmp(cfg->auth, "registry") == 0) {
    s->opts.registry = 1;
    s->opts.redis_url = cfg->redis;
    s->opts.redis_password_file = cfg->redis_password_file;
    s->opts.ticket_rotate_ms = cfg->ticket_rotate;
    s->opts.redis_prefix = cfg->redis_prefix;
    s->opts.redis_sentinels = cfg->redis_sentinels;
    s->opts.redis_master = cfg->redis_master;
    s->opts.redis_stale_ms = cfg->redis_stale;
    s->opts.cache = mqg_cache_new(cfg->cache_size, cfg->cache_ttl);
    if (s->opts.cache != NULL)
      mqg_metrics_set_cache_size_fn(cache_size_of, s->opts.cache);
    if (s->opts.cache == NULL) {
      snprintf(err, errlen, "out of memory");
      mqg_server_free(s);
      return NULL;
    }
  }

  unsigned n = cfg->workers;
  if (n == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    n = cores > 0 ? (unsigned)cores : 1;
  }
  s->workers = calloc(n, sizeof(*s->workers));
  if (s->workers == NULL) {
    snprintf(err, errlen, "out of memory");
    mqg_server_free(s);
    return NULL;
  }
  for (unsigned i = 0; i < n; i++) {
    mqg_worker *w = &s->workers[i];
    w->index = (int)i;
    w->opts = &s->opts;
    w->lfd = listen_socket(&listen_addr);
    w->rbuf_cap = w->rxbuf_cap = READ_BUF_SIZE;
    w->rbuf = malloc(w->rbuf_cap);
    w->rxbuf = malloc(w->rxbuf_cap);
    if (w->lfd < 0 || w->rbuf == NULL || w->rxbuf == NULL) {
      snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen,
               w->lfd < 0 ? strerror(-w->lfd) : "out of memory");
      free(w->rbuf);
      free(w->rxbuf);
      if (w->lfd >= 0)
        close(w->lfd);
      s->nworkers = i;
      mqg_server_free(s);
      return NULL;
    }
    uv_loop_init(&w->loop);
    /* For --max-handshakes: whether the loop is busy. */
    uv_loop_configure(&w->loop, UV_METRICS_IDLE_TIME);
    uv_poll_init_socket(&w->loop, &w->accept_poll, w->lfd);
    uv_timer_init(&w->loop, &w->accept_retry);
    uv_timer_init(&w->loop, &w->hs_check);
    w->hs_check.data = w;
    w->busy_t = uv_hrtime(); /* the first busy window starts now */
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    uv_async_init(&w->loop, &w->crl_recheck, on_crl_recheck);
    w->crl_recheck.data = w;
    uv_timer_init(&w->loop, &w->drain);
    w->accept_poll.data = w->accept_retry.data = w->wakeup.data = w->drain.data = w;
    uv_poll_start(&w->accept_poll, UV_READABLE, on_accept);
    s->nworkers = i + 1;
    if (s->opts.registry && regcheck__start(w, err, errlen) != 0) {
      mqg_server_free(s);
      return NULL;
    }
    /* One heartbeat per process, from the first worker's link. */
    if (s->opts.registry && i == 0) {
      w->heartbeat = mqg_heartbeat_new(&w->loop, w->reg, cfg->listen);
      if (s->opts.ticket_rotate_ms > 0)
        w->tickets = mqg_regtickets_new(&w->loop, w->reg, s->opts.ticket_rotate_ms);
    }
  }
  mqg_log(MQG_LOG_INFO, "listening on %s with %u workers, backend %s", cfg->listen,
          n, cfg->backend);
  return s;
}

int mqg_server_start(mqg_server *s) {
  /* Every worker reports once: in registry mode from its own thread when
   * Redis has answered; in mtls mode nothing else is awaited (the
   * listening sockets are bound and queue connections already). */
  atomic_store(&s->opts.unready, s->nworkers);
  for (unsigned i = 0; i < s->nworkers; i++) {
    int rc = uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
    if (rc != 0)
      return rc;
    s->started = (int)i + 1;
  }
  if (!s->opts.registry)
    for (unsigned i = 0; i < s->nworkers; i++)
      server__worker_ready(&s->workers[i]);
  return 0;
}

void mqg_server_reload(mqg_server *s, const mqg_config *cfg) {
  mqg_proxy_opts *o = &s->opts;
  o->handshake_ms = cfg->handshake_timeout;
  o->connect_ms = cfg->connect_timeout;
  o->backend_ms = cfg->backend_timeout;
  o->write_ms = cfg->write_timeout;
  o->max_connect_size = cfg->max_connect_size;
  o->max_client_id = cfg->max_client_id;
  o->write_queue_limit = cfg->write_queue_limit;
  o->max_handshakes = cfg->max_handshakes;
  o->strict_ids_default = strcmp(cfg->client_id_mode, "strict") == 0;
  o->tls_min_default = cfg->tls_min;
  o->tls_max_default = cfg->tls_max;
  /* In registry mode the cluster's settings rule the window and the ID
   * mode; the flags are their defaults, applied at the next settings read. */
  if (!o->registry) {
    o->strict_ids = o->strict_ids_default;
    mqg_tls_set_window(cfg->tls_min, cfg->tls_max);
  }
}

void mqg_server_stop(mqg_server *s, uint64_t drain_ms) {
  s->opts.drain_ms = drain_ms;
  for (int i = 0; i < s->started; i++) {
    atomic_store(&s->workers[i].stopping, 1);
    uv_async_send(&s->workers[i].wakeup);
  }
  for (int i = 0; i < s->started; i++)
    uv_thread_join(&s->workers[i].thread);
  s->started = 0;
}

void mqg_server_free(mqg_server *s) {
  if (s == NULL)
    return;
  for (unsigned i = 0; i < s->nworkers; i++) {
    mqg_worker *w = &s->workers[i];
    if (w->drain_phase != 3) { /* never started, or never stopped */
      atomic_store(&w->stopping, 1);
      on_wakeup(&w->wakeup);
      while (w->conns != NULL)
        conn__end(w->conns, CONN_END_NOW, MQG_REASON_SHUTDOWN, NULL);
      worker_close(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    if (w->lfd >= 0)
      close(w->lfd);
    free(w->rbuf);
    free(w->rxbuf);
    mqg_mtls_verifier_free(w->verifier);
  }
  mqg_cache_free(s->opts.cache);
  mqg_admit_free(s->opts.admit);
  mqg_tls_free(s->opts.tls);
  pthread_mutex_destroy(&s->opts.tls_lock);
  free(s->workers);
  free(s);
}
