/* bench_storm.c: the reconnect storm (scenario storm).
 *
 *   RAMP: every device connects (--concurrency at a time) and stays
 *   DROP: at one instant every connection is closed
 *   STORM: each device reconnects after a jittered backoff, as device SDKs
 *          do ("full jitter": a delay drawn uniformly in [0, min(cap,
 *          base * 2^attempt)]; --backoff is the base, --backoff-max the
 *          cap); a failed or timed-out attempt (--conn-timeout) backs off
 *          again; a device is back at its CONNACK and stays connected
 *   DONE: when every device is back, or at --timeout
 *
 * Reported: the time from the drop until 50%, 99% and 100% of the devices
 * are back; attempts, failed and timed-out ones; the share of reconnects
 * that resumed their TLS session (--resume offers each device's last
 * session); the CPU the targets (--pid, one or more) spent from the drop to
 * the end, per reconnect. Due reconnects are kept in a binary heap by time,
 * so a tick costs what is due, not the fleet's size. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NS 1000000000.0

typedef struct {
  uint64_t due;
  uint32_t dev;
} due_entry;

struct mqb_storm {
  due_entry *heap;
  uint32_t n, cap;
  uint8_t *attempt;  /* per device: failed attempts so far */
  uint8_t *back;     /* per device: reconnected */
  uint32_t nback;
  uint64_t rng;
  uint64_t t_drop, t_done;
  uint64_t attempts, failed, timeouts_before, errors_before;
  uint64_t handshakes_before, resumed_before;
  double cpu_before, cpu_after;
  mqb_histo back_ms; /* drop -> back, milliseconds */
  mqb_histo setup;   /* one successful attempt: start -> CONNACK, us */
};

static double rand01(mqb_storm *s) {
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return (double)(s->rng >> 11) / (double)(1ull << 53);
}

static void heap_push(mqb_storm *s, uint64_t due, uint32_t dev) {
  uint32_t i = s->n++;
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (s->heap[p].due <= due)
      break;
    s->heap[i] = s->heap[p];
    i = p;
  }
  s->heap[i] = (due_entry){due, dev};
}

static due_entry heap_pop(mqb_storm *s) {
  due_entry top = s->heap[0], last = s->heap[--s->n];
  uint32_t i = 0;
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    const due_entry *cur = &last;
    if (l < s->n && s->heap[l].due < cur->due)
      m = l, cur = &s->heap[l];
    if (r < s->n && s->heap[r].due < cur->due)
      m = r;
    if (m == i)
      break;
    s->heap[i] = s->heap[m];
    i = m;
  }
  if (s->n > 0)
    s->heap[i] = last;
  return top;
}

/* The delay before attempt |attempt| (0 = the first after the drop). */
static uint64_t backoff_ns(mqb_storm *s, const mqb_opts *o, unsigned attempt) {
  double cap = o->backoff;
  for (unsigned i = 0; i < attempt && cap < o->backoff_max; i++)
    cap *= 2;
  if (cap > o->backoff_max)
    cap = o->backoff_max;
  return (uint64_t)(rand01(s) * cap * NS);
}

static double targets_cpu(const mqb_opts *o) {
  double sum = 0;
  for (unsigned i = 0; i < o->npids; i++) {
    double c = mqb_proc_cpu_seconds(o->pids[i]);
    if (c < 0)
      return -1;
    sum += c;
  }
  return sum;
}

static uint64_t error_count(const mqb_errors *e, const char *kind) {
  for (unsigned i = 0; i < e->n; i++)
    if (strcmp(e->kind[i].name, kind) == 0)
      return e->kind[i].count;
  return 0;
}

int mqb_storm_init(mqb_run *run) {
  mqb_storm *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return -1;
  run->storm = s;
  s->cap = run->ndevs;
  s->heap = calloc(s->cap, sizeof(*s->heap));
  s->attempt = calloc(run->ndevs, 1);
  s->back = calloc(run->ndevs, 1);
  s->rng = 0x9e3779b97f4a7c15ull;
  mqb_histo_init(&s->back_ms);
  mqb_histo_init(&s->setup);
  return s->heap && s->attempt && s->back ? 0 : -1;
}

void mqb_storm_cleanup(mqb_run *run) {
  mqb_storm *s = run->storm;
  if (s == NULL)
    return;
  free(s->heap);
  free(s->attempt);
  free(s->back);
  free(s);
  run->storm = NULL;
}

void mqb_storm_begin(mqb_run *run, uint64_t now) {
  mqb_storm *s = run->storm;
  const mqb_opts *o = run->o;
  s->cpu_before = targets_cpu(o);
  s->t_drop = now;
  s->errors_before = run->errors.total;
  s->timeouts_before = error_count(&run->errors, "timeout");
  s->handshakes_before = run->handshakes;
  s->resumed_before = run->resumed;
  if (!o->quiet)
    fprintf(stderr, "mqgate-bench: storm: dropping %u connections\n", run->open.n);
  /* Devices that never connected in the ramp take part too. */
  while (run->open.head != NULL)
    mqb_conn_close(run->open.head, NULL, NULL);
  for (uint32_t dev = 0; dev < run->ndevs; dev++)
    heap_push(s, now + backoff_ns(s, o, 0), dev);
}

void mqb_storm_tick(mqb_run *run, uint64_t now) {
  mqb_storm *s = run->storm;
  while (s->n > 0 && s->heap[0].due <= now) {
    due_entry e = heap_pop(s);
    s->attempts++;
    mqb_conn_start(run, e.dev, MQB_ROLE_PLAIN);
  }
}

int mqb_storm_done(const mqb_run *run) {
  return run->storm->nback == run->ndevs;
}

void mqb_storm_on_ready(mqb_run *run, mqb_conn *c) {
  mqb_storm *s = run->storm;
  uint64_t now = mqb_now();
  if (s->t_drop == 0 || s->back[c->dev])
    return;
  s->back[c->dev] = 1;
  s->nback++;
  mqb_histo_record(&s->back_ms, (now - s->t_drop) / 1000000);
  mqb_histo_record(&s->setup, (now - c->t_start) / 1000);
  if (s->nback == run->ndevs) {
    s->t_done = now;
    s->cpu_after = targets_cpu(run->o);
  }
}

void mqb_storm_gone(mqb_run *run, uint32_t dev, int failed, int was_ready) {
  mqb_storm *s = run->storm;
  if (s->t_drop == 0 || s->back[dev] || was_ready)
    return;
  /* An attempt that failed (counted by kind) or timed out: back off. */
  (void)failed;
  s->failed++;
  if (s->attempt[dev] < 255)
    s->attempt[dev]++;
  heap_push(s, mqb_now() + backoff_ns(s, run->o, s->attempt[dev]), dev);
}

void mqb_storm_finish(mqb_run *run, uint64_t now) {
  mqb_storm *s = run->storm;
  if (s->t_done == 0) {
    s->t_done = now;
    s->cpu_after = targets_cpu(run->o);
  }
}

/* Percentile |p| of the back times, or -1 if fewer than p% came back. */
static double back_at(const mqb_run *run, double p) {
  const mqb_storm *s = run->storm;
  if ((double)s->nback < p / 100.0 * run->ndevs - 1e-9 || s->nback == 0)
    return -1;
  /* Of the whole fleet, not of those back: p% of ndevs. */
  double share = p / 100.0 * run->ndevs / s->nback * 100.0;
  if (share >= 100.0)
    return (double)s->back_ms.max / 1000.0;
  return (double)mqb_histo_percentile(&s->back_ms, share) / 1000.0;
}

void mqb_storm_report(const mqb_run *run, FILE *f, int json) {
  const mqb_storm *s = run->storm;
  uint64_t reconnects = s->nback;
  uint64_t hs = run->handshakes - s->handshakes_before;
  uint64_t resumed = run->resumed - s->resumed_before;
  uint64_t timeouts = error_count(&run->errors, "timeout") - s->timeouts_before;
  uint64_t errs = run->errors.total - s->errors_before;
  double cpu = s->cpu_before >= 0 && s->cpu_after >= 0 ? s->cpu_after - s->cpu_before : -1;
  double span = s->t_drop && s->t_done > s->t_drop ? (double)(s->t_done - s->t_drop) / NS : 0;
  if (json) {
    fprintf(f, ",\"storm\":{\"devices\":%u,\"back\":%" PRIu64 ",\"back_50_s\":%.3f,"
            "\"back_99_s\":%.3f,\"back_100_s\":%.3f,\"elapsed_s\":%.3f,"
            "\"attempts\":%" PRIu64 ",\"failed_attempts\":%" PRIu64 ",\"timed_out\":%" PRIu64
            ",\"errors\":%" PRIu64 ",\"handshakes\":%" PRIu64 ",\"resumed\":%" PRIu64
            ",\"resumed_share\":%.4f,\"target_cpu_s\":%.3f,\"target_cpu_ms_per_reconnect\":%.4f",
            run->ndevs, reconnects, back_at(run, 50), back_at(run, 99), back_at(run, 100), span,
            s->attempts, s->failed, timeouts, errs, hs, resumed,
            hs ? (double)resumed / (double)hs : 0.0, cpu,
            cpu >= 0 && reconnects ? cpu * 1e3 / (double)reconnects : -1.0);
    fprintf(f, ",\"setup_us\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "}}",
            mqb_histo_percentile(&s->setup, 50), mqb_histo_percentile(&s->setup, 99),
            s->setup.total ? s->setup.max : 0);
    return;
  }
  fprintf(f, "  %-13s %u devices dropped at once, %" PRIu64 " back in %.2f s; 50%% back "
          "at %.2f s, 99%% at %.2f s, 100%% at %.2f s (-1: never)\n", "storm", run->ndevs,
          reconnects, span, back_at(run, 50), back_at(run, 99), back_at(run, 100));
  fprintf(f, "  %-13s %" PRIu64 " attempts, %" PRIu64 " failed (%" PRIu64 " timed out), "
          "%" PRIu64 " of %" PRIu64 " handshakes resumed (%.1f%%)\n", "", s->attempts,
          s->failed, timeouts, resumed, hs, hs ? 100.0 * (double)resumed / (double)hs : 0.0);
  if (cpu >= 0)
    fprintf(f, "  %-13s %.2f s from the drop to the end: %.3f ms per reconnect\n",
            "targets' CPU", cpu, reconnects ? cpu * 1e3 / (double)reconnects : 0.0);
}
