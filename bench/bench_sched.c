/* bench_sched.c: the run. Which device connects when (--rate,
 * --concurrency, --repeat), connection timeouts, the phases and the
 * deadline, and the loop from start to summary.
 *
 *   RAMP --all devices connected or failed--> RUN --duration--> DRAIN
 *     |  (conn: every round done -> DONE)      (idle: -> DONE)    |
 *     +--- --timeout or SIGINT, from any phase ---> DONE <--------+
 *
 * One repeating timer (the tick) drives starts at a rate, publishing,
 * timeouts and phase changes; a second one prints the progress line once
 * a second and pings idle connections. Connections are kept on two
 * intrusive lists: setup (in start order, so the oldest is first for the
 * timeout sweep) and open (in ready order, so the oldest is first for
 * --hold). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

#define NS 1000000000.0

uint64_t mqb_now(void) {
  return uv_hrtime();
}

static mqb_list *list_of(mqb_run *run, int which) {
  return which == 1 ? &run->setup : &run->open;
}

void mqb_list_push(mqb_run *run, mqb_conn *c, int which) {
  mqb_list *l = list_of(run, which);
  c->in_list = (uint8_t)which;
  c->next = NULL;
  c->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = c;
  else
    l->head = c;
  l->tail = c;
  l->n++;
}

void mqb_list_remove(mqb_run *run, mqb_conn *c) {
  if (c->in_list == 0)
    return;
  mqb_list *l = list_of(run, c->in_list);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    l->head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  else
    l->tail = c->prev;
  l->n--;
  c->in_list = 0;
  c->prev = c->next = NULL;
}

static mqb_role role_of(const mqb_opts *o, uint32_t dev) {
  switch (o->scenario) {
    case MQB_SCEN_PUB:
      return MQB_ROLE_PUB;
    case MQB_SCEN_SUB:
      return dev < o->subscribers ? MQB_ROLE_SUB : MQB_ROLE_PUB;
    case MQB_SCEN_LATENCY:
      return dev < o->connections ? MQB_ROLE_PUB : MQB_ROLE_SUB;
    default:
      return MQB_ROLE_PLAIN;
  }
}

void mqb_sched_kick(mqb_run *run) {
  const mqb_opts *o = run->o;
  /* A start that fails at once comes back here through conn_gone. */
  if (run->in_pump) {
    run->pump_again = 1;
    return;
  }
  run->in_pump = 1;
  int limit = o->rate == 0 || o->concurrency_set;
  do {
    run->pump_again = 0;
    uint64_t allowed = UINT64_MAX;
    if (o->rate > 0)
      allowed = (uint64_t)(o->rate * (double)(mqb_now() - run->t0) / NS) + 1;
    while (run->phase == MQB_PHASE_RAMP && run->q_len > 0 &&
           run->started < allowed && !(limit && run->setup.n >= o->concurrency)) {
      uint32_t dev = run->queue[run->q_head];
      run->q_head = (run->q_head + 1) % run->ndevs;
      run->q_len--;
      mqb_conn_start(run, dev, (mqb_role)run->devs[dev].role);
    }
  } while (run->pump_again);
  run->in_pump = 0;
}

void mqb_sched_setup_done(mqb_run *run, mqb_conn *c, uint64_t now) {
  mqb_list_remove(run, c);
  mqb_list_push(run, c, 2);
  if (run->open.n > run->max_open)
    run->max_open = run->open.n;
  mqb_histo_record(&run->conn_lat, (now - c->t_start) / 1000);
  run->t_last_setup = now;
  mqb_sched_kick(run);
}

void mqb_sched_conn_gone(mqb_run *run, uint32_t dev, mqb_conn *c, int failed,
                         int was_ready) {
  mqb_device *d = &run->devs[dev];
  int in_setup = c == NULL || c->in_list == 1;
  if (c != NULL) {
    mqb_list_remove(run, c);
    mqb_scen_on_closed(run, c, failed, was_ready);
  }
  d->conn = NULL;
  if (in_setup)
    run->t_last_setup = mqb_now();
  d->rounds++;
  if (run->storm != NULL && run->phase == MQB_PHASE_RUN)
    mqb_storm_gone(run, dev, failed, was_ready);
  /* conn: the device's next connection, once this one is over. */
  if (run->o->scenario == MQB_SCEN_CONN && run->phase == MQB_PHASE_RAMP &&
      d->rounds < run->rounds) {
    run->queue[(run->q_head + run->q_len) % run->ndevs] = dev;
    run->q_len++;
  }
  mqb_sched_kick(run);
}

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void finish(mqb_run *run, uint64_t now) {
  if (run->phase == MQB_PHASE_DONE)
    return;
  if (run->phase == MQB_PHASE_RAMP)
    run->t_ramp_end = now;
  run->phase = MQB_PHASE_DONE;
  run->t_end = now;
  run->cpu_after = mqb_cpu_seconds();
  if (run->o->pid > 0)
    run->target_cpu_after = mqb_proc_cpu_seconds(run->o->pid);
  if (run->o->scenario == MQB_SCEN_IDLE && !run->rss_read) {
    run->rss_read = 1;
    run->open_at_rss = run->open.n;
    if (run->o->pid > 0)
      run->rss_after_kb = mqb_proc_rss_kb(run->o->pid);
  }
  mqb_scen_finish(run);
  /* What is still setting up missed the deadline; the rest closes. */
  while (run->setup.head != NULL)
    mqb_conn_close(run->setup.head, "timeout",
                   "the run ended (--timeout or interrupt) before this connection was set up");
  while (run->open.head != NULL)
    mqb_conn_close(run->open.head, NULL, NULL);
  uv_timer_stop(&run->tick);
  uv_timer_stop(&run->progress);
  uv_walk(&run->loop, close_handle, NULL);
}

static void enter_run(mqb_run *run, uint64_t now) {
  const mqb_opts *o = run->o;
  run->t_ramp_end = now;
  run->phase = MQB_PHASE_RUN;
  run->t_run_start = now;
  double secs = o->duration;
  if (o->scenario == MQB_SCEN_IDLE) {
    if (o->settle > secs)
      secs = o->settle;
    run->t_rss_at = now + (uint64_t)(o->settle * NS);
  }
  run->t_run_end = now + (uint64_t)(secs * NS);
  if (o->scenario == MQB_SCEN_STORM)
    run->t_run_end = UINT64_MAX; /* until every device is back, or --timeout */
  mqb_scen_enter_run(run, now);
}

static void sweep(mqb_run *run, uint64_t now) {
  const mqb_opts *o = run->o;
  uint64_t limit = (uint64_t)(o->conn_timeout * NS);
  while (run->setup.head != NULL && now - run->setup.head->t_start > limit)
    mqb_conn_close(run->setup.head, "timeout",
                   "no CONNACK (or SUBACK) within --conn-timeout");
  if (o->scenario == MQB_SCEN_CONN) {
    uint64_t hold = (uint64_t)(o->hold * NS);
    while (run->open.head != NULL && now - run->open.head->t_ready >= hold)
      mqb_conn_close(run->open.head, NULL, NULL);
  }
}

static void on_tick(uv_timer_t *t) {
  mqb_run *run = t->data;
  const mqb_opts *o = run->o;
  uint64_t now = mqb_now();
  sweep(run, now);
  switch (run->phase) {
    case MQB_PHASE_RAMP:
      mqb_sched_kick(run);
      if (run->q_len > 0 || run->setup.n > 0)
        break;
      if (o->scenario != MQB_SCEN_CONN)
        enter_run(run, now);
      else if (run->open.n == 0)
        finish(run, now);
      break;
    case MQB_PHASE_RUN:
      if (o->scenario == MQB_SCEN_IDLE && !run->rss_read && now >= run->t_rss_at) {
        run->rss_read = 1;
        run->open_at_rss = run->open.n;
        if (o->pid > 0)
          run->rss_after_kb = mqb_proc_rss_kb(o->pid);
      }
      if (o->scenario == MQB_SCEN_STORM && mqb_storm_done(run)) {
        run->t_run_end = now;
        finish(run, now);
        break;
      }
      if (now >= run->t_run_end) {
        run->t_run_end = now;
        if (o->scenario == MQB_SCEN_IDLE) {
          finish(run, now);
          break;
        }
        run->phase = MQB_PHASE_DRAIN;
        run->t_drain_end = now + (uint64_t)(o->drain * NS);
        break;
      }
      mqb_scen_tick(run, now);
      break;
    case MQB_PHASE_DRAIN:
      if (mqb_scen_drained(run) || now >= run->t_drain_end)
        finish(run, now);
      break;
    case MQB_PHASE_DONE:
      return;
  }
  if (run->phase != MQB_PHASE_DONE && now - run->t0 >= (uint64_t)(o->timeout * NS)) {
    run->timed_out = 1;
    if (!o->quiet)
      fprintf(stderr, "mqgate-bench: --timeout %.0f s reached, stopping\n", o->timeout);
    finish(run, now);
  }
}

static void on_progress(uv_timer_t *t) {
  mqb_run *run = t->data;
  const mqb_opts *o = run->o;
  uint64_t now = mqb_now();
  if (!o->quiet)
    mqb_report_progress(run, now);
  /* Keep alive: a PINGREQ for whoever has been silent half the period. */
  if (o->keepalive > 0) {
    static const uint8_t ping[2] = {0xc0, 0x00};
    uint64_t quiet_ns = (uint64_t)o->keepalive * 500000000ull;
    mqb_conn *c = run->open.head;
    while (c != NULL) {
      mqb_conn *next = c->next; /* a failed send closes c */
      if (c->state == MQB_ST_READY && now - c->t_last_tx > quiet_ns)
        mqb_conn_send(c, ping, sizeof(ping));
      c = next;
    }
  }
}

static void on_sigint(uv_signal_t *h, int signum) {
  mqb_run *run = h->data;
  (void)signum;
  run->interrupted = 1;
  if (!run->o->quiet)
    fprintf(stderr, "mqgate-bench: interrupted, stopping\n");
  finish(run, mqb_now());
}

static uint32_t device_count(const mqb_opts *o) {
  switch (o->scenario) {
    case MQB_SCEN_SUB:
      return o->subscribers + 1;
    case MQB_SCEN_LATENCY:
      return 2 * o->connections;
    default:
      return o->connections;
  }
}

/* raise_nofile lifts the soft limit on open files to the hard one. */
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int run_init(mqb_run *run, const mqb_opts *o) {
  char err[512];
  run->o = o;
  run->ndevs = device_count(o);
  run->rounds = o->scenario == MQB_SCEN_CONN ? 1 + o->repeat : 1;
  run->errors.quiet = o->quiet;
  mqb_histo_init(&run->lat);
  mqb_histo_init(&run->conn_lat);
  run->rss_before_kb = run->rss_after_kb = -1;
  run->devs = calloc(run->ndevs, sizeof(*run->devs));
  run->queue = calloc(run->ndevs, sizeof(*run->queue));
  if (run->devs == NULL || run->queue == NULL) {
    fprintf(stderr, "mqgate-bench: out of memory for %u devices\n", run->ndevs);
    return -1;
  }
  for (uint32_t i = 0; i < run->ndevs; i++) {
    run->devs[i].role = (uint8_t)role_of(o, i);
    /* Subscribers first, so they listen before anyone publishes. */
    run->queue[i] = o->scenario == MQB_SCEN_LATENCY ? (i + o->connections) % run->ndevs : i;
  }
  run->q_len = run->ndevs;
  if (mqb_tls_init(&run->tls, o, run->ndevs, err, sizeof(err)) != 0) {
    fprintf(stderr, "mqgate-bench: %s\n", err);
    return -1;
  }
  if (o->empty_id && mqb_tls_pool_size(&run->tls) < run->ndevs &&
      o->scenario != MQB_SCEN_CONN && !o->quiet)
    fprintf(stderr, "mqgate-bench: warning: --empty-id with %zu identities for "
            "%u devices: devices sharing a certificate get the same client ID "
            "and take over each other's session\n",
            mqb_tls_pool_size(&run->tls), run->ndevs);
  if (mqb_scen_init(run) != 0) {
    fprintf(stderr, "mqgate-bench: out of memory\n");
    return -1;
  }
  return 0;
}

static void run_cleanup(mqb_run *run) {
  for (uint32_t i = 0; run->devs != NULL && i < run->ndevs; i++)
    SSL_SESSION_free(run->devs[i].session);
  mqb_scen_cleanup(run);
  mqb_tls_cleanup(&run->tls);
  free(run->devs);
  free(run->queue);
}

int mqb_run_main(const mqb_opts *o) {
  mqb_run *run = calloc(1, sizeof(*run));
  if (run == NULL)
    return 2;
  signal(SIGPIPE, SIG_IGN); /* BoringSSL writes to sockets with write(2) */
  raise_nofile();
  if (run_init(run, o) != 0 || uv_loop_init(&run->loop) != 0) {
    run_cleanup(run);
    free(run);
    return 2;
  }
  uv_timer_init(&run->loop, &run->tick);
  uv_timer_init(&run->loop, &run->progress);
  uv_signal_init(&run->loop, &run->sigint);
  run->tick.data = run->progress.data = run->sigint.data = run;
  uv_signal_start(&run->sigint, on_sigint, SIGINT);

  if (o->pid > 0) {
    run->rss_before_kb = mqb_proc_rss_kb(o->pid);
    run->target_cpu_before = mqb_proc_cpu_seconds(o->pid);
    if (run->rss_before_kb < 0 && !o->quiet)
      fprintf(stderr, "mqgate-bench: warning: cannot read /proc/%ld/status\n", o->pid);
  }
  /* Rate-driven work needs a fine tick; the rest a coarse one. */
  uint64_t tick_ms = o->rate > 0 || o->scenario == MQB_SCEN_PUB ||
                             o->scenario == MQB_SCEN_SUB || o->scenario == MQB_SCEN_LATENCY ||
                             o->scenario == MQB_SCEN_STORM
                         ? 1 : 10;
  run->cpu_before = mqb_cpu_seconds();
  run->t0 = mqb_now();
  uv_update_time(&run->loop);
  uv_timer_start(&run->tick, on_tick, tick_ms, tick_ms);
  uv_timer_start(&run->progress, on_progress, 1000, 1000);
  mqb_sched_kick(run);
  uv_run(&run->loop, UV_RUN_DEFAULT);

  mqb_report_final(run);
  int rc = run->errors.total > 0 || run->timed_out || run->interrupted ? 1 : 0;
  uv_loop_close(&run->loop);
  run_cleanup(run);
  free(run);
  return rc;
}
