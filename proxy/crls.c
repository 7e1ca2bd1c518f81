/* crls.c: see crls.h. */
#include "crls.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "crl.h"
#include "internal.h"
#include "log.h"
#include "metrics.h"

#define DEBOUNCE_MS 200     /* quiet time after a change before reading */
#define DEBOUNCE_MAX_MS 1000 /* longest wait after the first change */

/* One watched directory (an atomic rename replaces the file's inode, so
 * the file itself cannot be watched). Freed by its close callback. */
struct watch {
  uv_fs_event_t h;
  struct watch *next;
};

/* What the files looked like when last read, for --crl-poll. */
struct file_stat {
  int ok;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
};

static struct {
  /* Read by every worker. */
  pthread_mutex_t lock; /* guards |set| and |deny| */
  mqg_crl_set *set;     /* in force; NULL: no CRL */
  int deny;             /* --crl-expired deny */
  _Atomic int any;      /* |set| is not NULL: without CRLs a handshake
                           skips the lock */
  /* Main thread only. */
  uv_loop_t *loop;
  mqg_server *server;
  mqg_tls *tls;         /* whose CA bundle the CRLs were matched against */
  char **paths;
  size_t npaths;
  struct file_stat *stats;
  uint8_t digest[32];   /* of the files' bytes behind |set| */
  struct watch *watches;
  int timers;           /* the timers below are initialised */
  uv_timer_t debounce, poll, stale;
  int pending;          /* the debounce timer runs */
  uint64_t first_change;
  int64_t stale_seen;   /* stale CRLs up to this time were reported */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* get1 returns a reference to the set in force (NULL if none). */
static mqg_crl_set *get1(int *deny) {
  pthread_mutex_lock(&g.lock);
  mqg_crl_set *s = g.set ? mqg_crl_set_up_ref(g.set) : NULL;
  *deny = g.deny;
  pthread_mutex_unlock(&g.lock);
  return s;
}

/* --- reading the files ----------------------------------------------- */

struct files {
  mqg_crl_input *in;
  struct file_stat *stats;
  size_t n;
  uint8_t digest[32];
};

static void files_free(struct files *f) {
  for (size_t i = 0; i < f->n; i++)
    free((void *)f->in[i].data);
  free(f->in);
  free(f->stats);
  memset(f, 0, sizeof(*f));
}

static int read_one(const char *path, mqg_crl_input *in, struct file_stat *st, char *err,
                    size_t errlen) {
  struct stat sb;
  int e = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &sb) != 0)
    e = errno;
  else if (!S_ISREG(sb.st_mode))
    e = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
  else if ((uint64_t)sb.st_size > MQG_CRL_INPUT_MAX)
    e = EFBIG;
  if (e != 0) {
    snprintf(err, errlen, "cannot read CRL file %s: %s", path, strerror(e));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  uint8_t *data = malloc((size_t)sb.st_size + 1);
  size_t got = 0;
  while (data != NULL && got < (size_t)sb.st_size) {
    ssize_t r = read(fd, data + got, (size_t)sb.st_size - got);
    if (r <= 0)
      break; /* a file that shrank while read: short, caught below */
    got += (size_t)r;
  }
  close(fd);
  if (data == NULL || got != (size_t)sb.st_size) {
    snprintf(err, errlen, "cannot read CRL file %s: %s", path,
             data == NULL ? "out of memory" : "it changed while being read");
    free(data);
    return -1;
  }
  *in = (mqg_crl_input){path, data, got};
  *st = (struct file_stat){1, sb.st_dev, sb.st_ino, sb.st_size, sb.st_mtim};
  return 0;
}

/* read_files reads every file of |paths| whole and digests them. */
static int read_files(char *const *paths, size_t n, struct files *f, char *err, size_t errlen) {
  SHA256_CTX sha;
  memset(f, 0, sizeof(*f));
  f->in = calloc(n ? n : 1, sizeof(*f->in));
  f->stats = calloc(n ? n : 1, sizeof(*f->stats));
  if (f->in == NULL || f->stats == NULL) {
    snprintf(err, errlen, "out of memory");
    files_free(f);
    return -1;
  }
  SHA256_Init(&sha);
  for (size_t i = 0; i < n; i++) {
    if (read_one(paths[i], &f->in[i], &f->stats[i], err, errlen) != 0) {
      files_free(f);
      return -1;
    }
    f->n = i + 1;
    uint64_t len = f->in[i].len;
    SHA256_Update(&sha, paths[i], strlen(paths[i]) + 1);
    SHA256_Update(&sha, &len, sizeof(len));
    SHA256_Update(&sha, f->in[i].data, f->in[i].len);
  }
  SHA256_Final(f->digest, &sha);
  return 0;
}

/* build makes the set of |f| against the CA bundle of |tls|. */
static mqg_crl_set *build(const struct files *f, mqg_tls *tls, char *err, size_t errlen) {
  const mqg_mtls_verifier *v = mqg_tls_get0_verifier(tls);
  if (v == NULL) {
    snprintf(err, errlen, "--crl needs the --client-ca bundle of auth mode mtls");
    return NULL;
  }
  return mqg_crl_set_new(f->in, f->n, mqg_mtls_verifier_get0_cas(v), err, errlen);
}

/* --- putting a set in force ------------------------------------------ */

static void utc(int64_t t, char *out, size_t cap) {
  struct tm tm;
  time_t tt = (time_t)t;
  if (t == 0 || gmtime_r(&tt, &tm) == NULL)
    snprintf(out, cap, "none");
  else
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void report_stale(int64_t now) {
  int deny;
  mqg_crl_set *s = get1(&deny);
  for (size_t i = 0; s != NULL && i < mqg_crl_set_count(s); i++) {
    mqg_crl_info info;
    mqg_crl_set_info(s, i, &info);
    if (!mqg_crl_set_is_stale(s, i, now) || info.next_update <= g.stale_seen)
      continue;
    char when[32];
    utc(info.next_update, when, sizeof(when));
    mqg_log(MQG_LOG_WARN,
            "CRL %s of CA \"%s\" is past its nextUpdate (%s): the CA's certificates are %s "
            "until a fresh CRL is published (--crl-expired %s)",
            info.source, info.issuer_cn, when, deny ? "refused" : "still admitted",
            deny ? "deny" : "allow");
  }
  g.stale_seen = now;
  mqg_crl_set_free(s);
}

static void on_stale(uv_timer_t *t);

/* arm_stale starts the timer for the next CRL to go stale. */
static void arm_stale(void) {
  if (!g.timers)
    return;
  int64_t now = (int64_t)time(NULL);
  report_stale(now);
  int deny;
  mqg_crl_set *s = get1(&deny);
  int64_t next = s != NULL ? mqg_crl_set_next_change(s, now) : 0;
  mqg_crl_set_free(s);
  uv_timer_stop(&g.stale);
  if (next != 0) {
    int64_t wait_s = next - now + 1;
    if (wait_s > 86400)
      wait_s = 86400; /* a wall clock that jumps is met within a day */
    uv_timer_start(&g.stale, on_stale, (uint64_t)wait_s * 1000, 0);
  }
}

static void on_stale(uv_timer_t *t) { arm_stale(); }

/* A load's duration: wall clock, and the CPU the main thread spent (the
 * wall clock also counts the waits of a busy machine). */
typedef struct {
  struct timespec wall, cpu;
} stopwatch;

static void stopwatch_start(stopwatch *w) {
  clock_gettime(CLOCK_MONOTONIC, &w->wall);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &w->cpu);
}

static double ms_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void log_set(const mqg_crl_set *s, size_t files, const stopwatch *w) {
  struct timespec wall, cpu;
  clock_gettime(CLOCK_MONOTONIC, &wall);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  mqg_log(MQG_LOG_INFO, "CRLs in force: %zu CRLs, %zu revoked serials, from %zu files, "
          "loaded in %.1f ms (%.1f ms CPU)", mqg_crl_set_count(s), mqg_crl_set_entries(s),
          files, ms_between(&w->wall, &wall), ms_between(&w->cpu, &cpu));
  for (size_t i = 0; i < mqg_crl_set_count(s); i++) {
    mqg_crl_info info;
    char this_u[32], next_u[32];
    mqg_crl_set_info(s, i, &info);
    utc(info.this_update, this_u, sizeof(this_u));
    utc(info.next_update, next_u, sizeof(next_u));
    mqg_log(MQG_LOG_INFO, "CRL %s: CA \"%s\" (%s), %zu entries, number %s, thisUpdate %s, "
            "nextUpdate %s", info.source, info.issuer_cn, info.issuer_id, info.entries,
            info.number[0] ? info.number : "none", this_u, next_u);
  }
}

/* warn_older says when a CRL of |s| is older than the one of the same CA
 * it replaces: revocations made between the two are undone. Taken anyway
 * (an operator may mean it), but never silently. */
static void warn_older(const mqg_crl_set *s, const mqg_crl_set *old) {
  for (size_t i = 0; s != NULL && old != NULL && i < mqg_crl_set_count(s); i++) {
    mqg_crl_info a, b;
    mqg_crl_set_info(s, i, &a);
    for (size_t k = 0; k < mqg_crl_set_count(old); k++) {
      mqg_crl_set_info(old, k, &b);
      if (strcmp(a.issuer_id, b.issuer_id) == 0 && a.this_update < b.this_update) {
        char was[32], now[32];
        utc(b.this_update, was, sizeof(was));
        utc(a.this_update, now, sizeof(now));
        mqg_log(MQG_LOG_WARN, "CRL %s of CA \"%s\" is older than the one it replaces "
                "(thisUpdate %s, was %s): revocations published in between are undone",
                a.source, a.issuer_cn, now, was);
      }
    }
  }
}

/* install puts |s| (taken over; NULL for none) in force, then has every
 * worker re-check its sessions against it. */
static void install(mqg_crl_set *s, int deny) {
  warn_older(s, g.set); /* the main thread is the only writer of |g.set| */
  pthread_mutex_lock(&g.lock);
  mqg_crl_set *old = g.set;
  g.set = s;
  g.deny = deny;
  atomic_store(&g.any, s != NULL);
  pthread_mutex_unlock(&g.lock);
  mqg_crl_set_free(old);
  g.stale_seen = 0;
  if (s != NULL && g.server != NULL)
    mqg_server_recheck_crls(g.server);
  arm_stale();
}

/* --- watching the files ---------------------------------------------- */

static void on_debounce(uv_timer_t *t);

/* changed schedules a re-read: after DEBOUNCE_MS without a new change,
 * or DEBOUNCE_MAX_MS after the first one at the latest. */
static void changed(void) {
  uint64_t now = uv_now(g.loop);
  if (!g.pending) {
    g.pending = 1;
    g.first_change = now;
  } else if (now - g.first_change + DEBOUNCE_MS > DEBOUNCE_MAX_MS) {
    return; /* the timer already runs and fires within the bound */
  }
  uv_timer_start(&g.debounce, on_debounce, DEBOUNCE_MS, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status) {
  /* Any change in the directory: a Kubernetes volume swaps a "..data"
   * symlink, not the file; unchanged bytes are found out cheaply. */
  changed();
}

static void on_poll(uv_timer_t *t) {
  for (size_t i = 0; i < g.npaths; i++) {
    struct stat sb;
    int ok = stat(g.paths[i], &sb) == 0;
    const struct file_stat *was = &g.stats[i];
    if (ok != was->ok ||
        (ok && (sb.st_dev != was->dev || sb.st_ino != was->ino || sb.st_size != was->size ||
                sb.st_mtim.tv_sec != was->mtime.tv_sec ||
                sb.st_mtim.tv_nsec != was->mtime.tv_nsec))) {
      changed();
      return;
    }
  }
}

static void on_debounce(uv_timer_t *t) {
  struct files f;
  stopwatch t0;
  char err[512];
  g.pending = 0;
  stopwatch_start(&t0);
  if (read_files(g.paths, g.npaths, &f, err, sizeof(err)) != 0) {
    /* A file missing for a moment (a publisher without atomic rename) is
     * read again at its next change. */
    mqg_log(MQG_LOG_ERROR, "CRL reload refused, keeping the CRLs in force: %s", err);
    MQG_COUNT(crl_reload_failures, 1);
    return;
  }
  memcpy(g.stats, f.stats, g.npaths * sizeof(*g.stats));
  if (memcmp(f.digest, g.digest, 32) == 0) {
    files_free(&f);
    return;
  }
  memcpy(g.digest, f.digest, 32); /* the same bad bytes are not retried */
  mqg_crl_set *s = build(&f, g.tls, err, sizeof(err));
  if (s == NULL) {
    mqg_log(MQG_LOG_ERROR, "CRL reload refused, keeping the CRLs in force: %s", err);
    MQG_COUNT(crl_reload_failures, 1);
  } else {
    log_set(s, f.n, &t0);
    MQG_COUNT(crl_reloads, 1);
    install(s, g.deny);
  }
  files_free(&f);
}

static void on_watch_closed(uv_handle_t *h) { free(h->data); }

static void unwatch(void) {
  for (struct watch *w = g.watches, *next; w != NULL; w = next) {
    next = w->next;
    uv_close((uv_handle_t *)&w->h, on_watch_closed);
  }
  g.watches = NULL;
}

/* watch_dirs watches the directory of every file, each directory once. */
static void watch_dirs(void) {
  for (size_t i = 0; i < g.npaths; i++) {
    char buf[4096], prev[4096];
    snprintf(buf, sizeof(buf), "%s", g.paths[i]);
    const char *dir = dirname(buf);
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++) {
      snprintf(prev, sizeof(prev), "%s", g.paths[k]);
      seen = strcmp(dirname(prev), dir) == 0;
    }
    if (seen)
      continue;
    struct watch *w = calloc(1, sizeof(*w));
    if (w == NULL || uv_fs_event_init(g.loop, &w->h) != 0) {
      free(w);
      continue;
    }
    w->h.data = w;
    int rc = uv_fs_event_start(&w->h, on_fs_event, dir, 0);
    if (rc != 0)
      mqg_log(MQG_LOG_WARN, "cannot watch %s for CRL changes (%s); --crl-poll still looks",
              dir, uv_strerror(rc));
    w->next = g.watches;
    g.watches = w;
  }
}

/* --- metrics ---------------------------------------------------------- */

/* label writes |s| as a Prometheus label value (quotes, backslashes and
 * line ends escaped; other control bytes as '?'). */
static void label(char *out, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s != '\0' && o + 3 < cap; s++) {
    char ch = *s;
    if (ch == '"' || ch == '\\' || ch == '\n') {
      out[o++] = '\\';
      ch = ch == '\n' ? 'n' : ch;
    } else if ((unsigned char)ch < 0x20 || ch == 0x7f) {
      ch = '?';
    }
    out[o++] = ch;
  }
  out[o] = '\0';
}

#define PUT(...) mqg_metrics_appendf(buf, cap, &len, __VA_ARGS__)

/* format_metrics appends the series of the CRLs in force to /metrics. */
static size_t format_metrics(char *buf, size_t cap, void *arg) {
  static const char *const series[][2] = {
      {"mqgate_crl_entries", "Revoked serials a CRL in force lists"},
      {"mqgate_crl_this_update_seconds", "thisUpdate of a CRL in force, Unix seconds"},
      {"mqgate_crl_next_update_seconds",
       "nextUpdate of a CRL in force, Unix seconds (none: no nextUpdate)"},
      {"mqgate_crl_stale", "1 while a CRL in force is past its nextUpdate"},
  };
  size_t len = 0;
  int deny;
  int64_t now = (int64_t)time(NULL);
  mqg_crl_set *s = get1(&deny);
  size_t n = s != NULL ? mqg_crl_set_count(s) : 0;
  PUT("# HELP mqgate_crls_loaded CRLs in force\n# TYPE mqgate_crls_loaded gauge\n"
      "mqgate_crls_loaded %zu\n", n);
  for (size_t k = 0; k < 4 && n > 0; k++) {
    PUT("# HELP %s %s\n# TYPE %s gauge\n", series[k][0], series[k][1], series[k][0]);
    for (size_t i = 0; i < n; i++) {
      mqg_crl_info info;
      char file[512];
      mqg_crl_set_info(s, i, &info);
      long long v = k == 0 ? (long long)info.entries
                    : k == 1 ? (long long)info.this_update
                    : k == 2 ? (long long)info.next_update
                             : (long long)mqg_crl_set_is_stale(s, i, now);
      if (k == 2 && info.next_update == 0)
        continue;
      label(file, sizeof(file), info.source);
      PUT("%s{issuer=\"%s\",issuer_id=\"%s\",file=\"%s\"} %lld\n", series[k][0],
          info.issuer_cn, info.issuer_id, file, v);
    }
  }
  mqg_crl_set_free(s);
  return len;
}

/* --- configuration --------------------------------------------------- */

static void free_paths(char **paths, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
}

static int load(const mqg_config *cfg, mqg_tls *tls, struct files *f, mqg_crl_set **out,
                char *err, size_t errlen) {
  *out = NULL;
  if (read_files(cfg->crl.v, cfg->crl.n, f, err, errlen) != 0)
    return -1;
  if ((*out = build(f, tls, err, errlen)) == NULL) {
    files_free(f);
    return -1;
  }
  return 0;
}

int mqg_crls_try(const mqg_config *cfg, mqg_tls *tls, char *err, size_t errlen) {
  struct files f;
  mqg_crl_set *s;
  if (strcmp(cfg->auth, "mtls") != 0 || cfg->crl.n == 0)
    return 0;
  if (load(cfg, tls, &f, &s, err, errlen) != 0)
    return -1;
  mqg_crl_set_free(s);
  files_free(&f);
  return 0;
}

int mqg_crls_configure(uv_loop_t *loop, const mqg_config *cfg, mqg_tls *tls,
                       char *err, size_t errlen) {
  struct files f = {0};
  mqg_crl_set *s = NULL;
  char **paths = NULL;
  stopwatch t0;
  size_t n = strcmp(cfg->auth, "mtls") == 0 ? cfg->crl.n : 0;

  stopwatch_start(&t0);
  if (n > 0) {
    if (load(cfg, tls, &f, &s, err, errlen) != 0) {
      MQG_COUNT(crl_reload_failures, 1);
      return -1;
    }
    paths = calloc(n, sizeof(*paths));
    for (size_t i = 0; paths != NULL && i < n; i++)
      if ((paths[i] = strdup(cfg->crl.v[i])) == NULL) {
        free_paths(paths, i);
        paths = NULL;
      }
    if (paths == NULL) {
      snprintf(err, errlen, "out of memory");
      mqg_crl_set_free(s);
      files_free(&f);
      return -1;
    }
  }
  /* Nothing can fail from here on. */
  if (!g.timers && loop != NULL) {
    g.loop = loop;
    mqg_metrics_set_extra_fn(format_metrics, NULL);
    uv_timer_init(loop, &g.debounce);
    uv_timer_init(loop, &g.poll);
    uv_timer_init(loop, &g.stale);
    g.timers = 1;
  }
  unwatch();
  if (g.timers) {
    uv_timer_stop(&g.debounce);
    uv_timer_stop(&g.poll);
  }
  g.pending = 0;
  free_paths(g.paths, g.npaths);
  free(g.stats);
  g.paths = paths;
  g.npaths = n;
  g.stats = f.stats;
  f.stats = NULL;
  memcpy(g.digest, f.digest, 32);
  if (tls != NULL)
    mqg_tls_up_ref(tls);
  mqg_tls_free(g.tls);
  g.tls = tls;
  if (s != NULL) {
    log_set(s, f.n, &t0);
    MQG_COUNT(crl_reloads, 1);
  }
  files_free(&f);
  install(s, strcmp(cfg->crl_expired, "deny") == 0);
  if (n > 0 && g.timers) {
    watch_dirs();
    if (cfg->crl_poll > 0)
      uv_timer_start(&g.poll, on_poll, cfg->crl_poll, cfg->crl_poll);
  }
  return 0;
}

void mqg_crls_set_server(mqg_server *s) { g.server = s; }

void mqg_crls_close(void) {
  unwatch();
  if (g.timers) {
    uv_close((uv_handle_t *)&g.debounce, NULL);
    uv_close((uv_handle_t *)&g.poll, NULL);
    uv_close((uv_handle_t *)&g.stale, NULL);
    g.timers = 0;
    mqg_metrics_set_extra_fn(NULL, NULL);
  }
  g.server = NULL;
  install(NULL, 0);
  free_paths(g.paths, g.npaths);
  free(g.stats);
  g.paths = NULL;
  g.stats = NULL;
  g.npaths = 0;
  mqg_tls_free(g.tls);
  g.tls = NULL;
}

/* --- checking ---------------------------------------------------------- */

mqg_reason mqg_crls_check(const STACK_OF(CRYPTO_BUFFER) *chain, mqg_reason verdict) {
  /* A handshake that misses a set just put in force is checked again by
   * the re-check that follows it (crls.h). */
  if ((verdict != MQG_REASON_OK && verdict != MQG_REASON_CERT_EXPIRED &&
       verdict != MQG_REASON_CERT_NOT_YET_VALID) ||
      !atomic_load_explicit(&g.any, memory_order_relaxed))
    return verdict;
  int deny;
  mqg_crl_set *s = get1(&deny);
  if (s == NULL)
    return verdict;
  const CRYPTO_BUFFER *certs[MQG_CRL_CHAIN_MAX];
  size_t n = mqg_mtls_chain(chain, certs, MQG_CRL_CHAIN_MAX);
  mqg_crl_result res;
  mqg_crl_status st = n == SIZE_MAX ? MQG_CRL_ERROR
                                    : mqg_crl_check_chain(s, certs, n, (int64_t)time(NULL), &res);
  switch (st) {
    case MQG_CRL_REVOKED:
      if (mqg_log_enabled(MQG_LOG_DEBUG)) {
        mqg_crl_info info;
        mqg_crl_set_info(s, res.crl, &info);
        mqg_log(MQG_LOG_DEBUG, "CRL %s of CA \"%s\" lists serial %s (chain position %zu)",
                info.source, info.issuer_cn, res.serial, res.depth);
      }
      verdict = MQG_REASON_CERT_REVOKED;
      break;
    case MQG_CRL_STALE:
      if (verdict == MQG_REASON_OK && deny)
        verdict = MQG_REASON_CRL_EXPIRED;
      else if (verdict == MQG_REASON_OK)
        MQG_COUNT(crl_expired_admissions, 1);
      break;
    case MQG_CRL_ERROR:
      verdict = MQG_REASON_BAD_CERT; /* cannot tell: fail closed */
      break;
    case MQG_CRL_GOOD:
      break;
  }
  mqg_crl_set_free(s);
  return verdict;
}

void crls__recheck(mqg_worker *w) {
  int deny;
  mqg_crl_set *s = get1(&deny);
  size_t checked = 0, cut = 0;
  int64_t now = (int64_t)time(NULL);
  for (mqg_conn *c = w->conns, *next; s != NULL && c != NULL; c = next) {
    next = c->next;
    /* A session, or a handshake whose certificate check already passed. */
    if (c->state >= CONN_LINGER || c->peer.check != NULL || !c->peer.has_cert ||
        c->peer.reason != MQG_REASON_OK)
      continue;
    const CRYPTO_BUFFER *certs[MQG_CRL_CHAIN_MAX];
    size_t n = mqg_mtls_chain(SSL_get0_peer_certificates(c->ssl), certs, MQG_CRL_CHAIN_MAX);
    mqg_crl_result res;
    checked++;
    if (n == SIZE_MAX || mqg_crl_check_chain(s, certs, n, now, &res) != MQG_CRL_REVOKED)
      continue;
    mqg_crl_info info;
    char detail[200];
    mqg_crl_set_info(s, res.crl, &info);
    snprintf(detail, sizeof(detail), "cut by a CRL: %s of CA \"%s\" lists serial %s",
             info.source, info.issuer_cn, res.serial);
    cut += (size_t)conn__cut(c, MQG_REASON_CERT_REVOKED, detail);
  }
  if (s != NULL)
    mqg_log(cut ? MQG_LOG_INFO : MQG_LOG_DEBUG,
            "worker %d: live sessions checked against the new CRLs: %zu, cut: %zu", w->index,
            checked, cut);
  mqg_crl_set_free(s);
}
