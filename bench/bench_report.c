/* bench_report.c: error counts, the process figures (own CPU, target RSS
 * and CPU), the progress line and the final summary.
 *
 * The JSON summary is one object on one line; its keys are relied upon by
 * the compare script:
 *   scenario, target, connections, ok, errors {kind: count}, duration_s,
 *   rate_per_s, latency_us {p50, p90, p99, p999, max}, client_cpu_s,
 *   resumed; and per scenario msgs_per_s, bytes_per_s (pub, sub,
 *   latency), rss_before_kb, rss_after_kb, bytes_per_conn (idle),
 *   max_open (all). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define NS 1000000000.0

static void errors_add(mqb_errors *e, const char *kind, uint64_t n,
                       const char *detail) {
  unsigned i;
  for (i = 0; i < e->n; i++)
    if (strcmp(e->kind[i].name, kind) == 0)
      break;
  if (i == e->n) {
    /* Keep the last slot for "other", where overflowing kinds go. */
    if (e->n == MQB_ERR_KINDS_MAX - 1 && strcmp(kind, "other") != 0) {
      errors_add(e, "other", n, detail);
      return;
    }
    snprintf(e->kind[i].name, sizeof(e->kind[i].name), "%s", kind);
    e->kind[i].count = 0;
    e->n++;
    if (!e->quiet)
      fprintf(stderr, "mqgate-bench: first '%s' error: %s\n", kind,
              detail != NULL ? detail : "-");
  }
  e->kind[i].count += n;
  e->total += n;
}

void mqb_errors_add(mqb_errors *e, const char *kind, const char *detail) {
  errors_add(e, kind, 1, detail);
}

void mqb_errors_add_n(mqb_errors *e, const char *kind, uint64_t n,
                      const char *detail) {
  if (n > 0)
    errors_add(e, kind, n, detail);
}

double mqb_cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

long mqb_proc_rss_kb(long pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof(path), "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

double mqb_proc_cpu_seconds(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: fields are counted
   * from the last ')'. utime and stime are fields 14 and 15. */
  char *p = strrchr(buf, ')');
  unsigned long long ut, st;
  if (p == NULL ||
      sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static const char *phase_name(mqb_phase p) {
  static const char *const names[] = {"ramp", "run", "drain", "done"};
  return names[p];
}

void mqb_report_progress(mqb_run *run, uint64_t now) {
  uint64_t delta = run->ok - run->ok_at_last_progress;
  run->ok_at_last_progress = run->ok;
  fprintf(stderr,
          "[%7.1fs] %s %s: ok %" PRIu64 " (%" PRIu64 "/s), open %u, "
          "connecting %u, errors %" PRIu64 "\n",
          (double)(now - run->t0) / NS, run->o->scenario_name,
          phase_name(run->phase), run->ok, delta, run->open.n, run->setup.n,
          run->errors.total);
}

/* The measured phase: conn and idle measure the connecting (first start
 * to last connection set up), the others the RUN phase. */
static double measured_seconds(const mqb_run *run) {
  const mqb_opts *o = run->o;
  uint64_t from = run->t0, to = run->t_last_setup;
  if (o->scenario != MQB_SCEN_CONN && o->scenario != MQB_SCEN_IDLE) {
    from = run->t_run_start;
    to = run->t_run_start ? run->t_run_end : 0;
  }
  if (to <= from)
    return 0;
  return (double)(to - from) / NS;
}

static const mqb_histo *unit_histo(const mqb_run *run) {
  mqb_scenario s = run->o->scenario;
  return s == MQB_SCEN_CONN || s == MQB_SCEN_IDLE || s == MQB_SCEN_STORM ? &run->conn_lat
                                                                        : &run->lat;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void json_latency(FILE *f, const char *key, const mqb_histo *h) {
  fprintf(f, ",\"%s\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
          ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 ",\"mean\":%.1f,\"count\":%" PRIu64 "}",
          key, mqb_histo_percentile(h, 50), mqb_histo_percentile(h, 90),
          mqb_histo_percentile(h, 99), mqb_histo_percentile(h, 99.9),
          h->total ? h->max : 0, mqb_histo_mean(h), h->total);
}

static int msg_scenario(const mqb_opts *o) {
  return o->scenario == MQB_SCEN_PUB || o->scenario == MQB_SCEN_SUB ||
         o->scenario == MQB_SCEN_LATENCY;
}

/* msgs_moved is the messages of the scenario: those published (pub:
 * those counted ok, i.e. acknowledged with QoS 1). */
static uint64_t msgs_moved(const mqb_run *run) {
  return run->o->scenario == MQB_SCEN_PUB ? run->ok : run->published;
}

/* bytes_moved is the payload volume of the scenario's units. */
static uint64_t bytes_moved(const mqb_run *run) {
  return run->o->scenario == MQB_SCEN_PUB ? run->ok * run->o->payload
                                          : run->delivered_bytes;
}

static void report_json(const mqb_run *run, FILE *f) {
  const mqb_opts *o = run->o;
  double secs = measured_seconds(run), cpu = run->cpu_after - run->cpu_before;
  fputs("{\"scenario\":", f);
  json_string(f, o->scenario_name);
  fputs(",\"target\":", f);
  json_string(f, o->target);
  fprintf(f, ",\"connections\":%u,\"ok\":%" PRIu64 ",\"errors\":{", run->ndevs, run->ok);
  for (unsigned i = 0; i < run->errors.n; i++) {
    if (i > 0)
      fputc(',', f);
    json_string(f, run->errors.kind[i].name);
    fprintf(f, ":%" PRIu64, run->errors.kind[i].count);
  }
  fprintf(f, "},\"duration_s\":%.6f,\"rate_per_s\":%.3f", secs,
          secs > 0 ? (double)run->ok / secs : 0.0);
  json_latency(f, "latency_us", unit_histo(run));
  fprintf(f, ",\"client_cpu_s\":%.6f,\"resumed\":%" PRIu64 ",\"handshakes\":%" PRIu64
          ",\"client_cpu_us_per_handshake\":%.1f,\"max_open\":%u",
          cpu, run->resumed, run->handshakes,
          run->handshakes ? cpu * 1e6 / (double)run->handshakes : 0.0, run->max_open);
  fprintf(f, ",\"tls\":\"%s\",\"mqtt\":%d,\"timed_out\":%s,\"elapsed_s\":%.3f",
          o->tls_version == TLS1_3_VERSION ? "1.3" : "1.2", o->mqtt_level,
          run->timed_out || run->interrupted ? "true" : "false",
          (double)(run->t_end - run->t0) / NS);
  if (msg_scenario(o)) {
    fprintf(f, ",\"msgs_per_s\":%.3f,\"bytes_per_s\":%.1f,\"published\":%" PRIu64
            ",\"skipped\":%" PRIu64 ",\"payload\":%u,\"qos\":%d",
            secs > 0 ? (double)msgs_moved(run) / secs : 0.0,
            secs > 0 ? (double)bytes_moved(run) / secs : 0.0, run->published,
            run->pub_skipped, o->payload, o->qos);
    json_latency(f, "connect_latency_us", &run->conn_lat);
  }
  if (o->scenario == MQB_SCEN_IDLE) {
    if (run->rss_before_kb >= 0 && run->rss_after_kb >= 0) {
      fprintf(f, ",\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"bytes_per_conn\":%.0f",
              run->rss_before_kb, run->rss_after_kb,
              run->open_at_rss ? (double)(run->rss_after_kb - run->rss_before_kb) *
                                     1024.0 / run->open_at_rss
                               : 0.0);
    } else {
      fputs(",\"rss_before_kb\":null,\"rss_after_kb\":null,\"bytes_per_conn\":null", f);
    }
    fprintf(f, ",\"open_at_rss\":%u,\"held_s\":%.3f", run->open_at_rss,
            run->t_run_start ? (double)(run->t_end - run->t_run_start) / NS : 0.0);
  }
  if (o->pid > 0 && run->target_cpu_before >= 0 && run->target_cpu_after >= 0)
    fprintf(f, ",\"target_cpu_s\":%.2f", run->target_cpu_after - run->target_cpu_before);
  if (run->storm != NULL)
    mqb_storm_report(run, f, 1);
  static const char *const group_names[5] = {"X25519", "P-256", "P-384", "P-521", "other"};
  fputs(",\"groups\":{", f);
  for (int i = 0, first = 1; i < 5; i++)
    if (run->groups[i] > 0) {
      fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", group_names[i], run->groups[i]);
      first = 0;
    }
  fputs("}}\n", f);
}

static void text_latency(FILE *f, const char *label, const mqb_histo *h) {
  fprintf(f, "  %-13s p50 %" PRIu64 " us, p90 %" PRIu64 " us, p99 %" PRIu64
          " us, p99.9 %" PRIu64 " us, max %" PRIu64 " us (%" PRIu64 " samples)\n",
          label, mqb_histo_percentile(h, 50), mqb_histo_percentile(h, 90),
          mqb_histo_percentile(h, 99), mqb_histo_percentile(h, 99.9),
          h->total ? h->max : 0, h->total);
}

static void report_text(const mqb_run *run, FILE *f) {
  const mqb_opts *o = run->o;
  double secs = measured_seconds(run), cpu = run->cpu_after - run->cpu_before;
  const char *unit = o->scenario == MQB_SCEN_CONN || o->scenario == MQB_SCEN_IDLE ||
                             o->scenario == MQB_SCEN_STORM
                         ? "connections" : o->scenario == MQB_SCEN_PUB
                         ? (o->qos ? "messages acknowledged" : "messages sent")
                         : "messages delivered";
  fprintf(f, "mqgate-bench %s -> %s (TLS %s, MQTT level %d)%s\n", o->scenario_name,
          o->target, o->tls_version == TLS1_3_VERSION ? "1.3" : "1.2",
          o->mqtt_level, run->timed_out ? ", stopped by --timeout"
                         : run->interrupted ? ", interrupted" : "");
  fprintf(f, "  %-13s %u requested, %" PRIu64 " handshakes (%" PRIu64
          " resumed), at most %u open at once\n", "connections", run->ndevs,
          run->handshakes, run->resumed, run->max_open);
  fprintf(f, "  %-13s %" PRIu64 " %s in %.3f s: %.1f/s\n", "ok", run->ok, unit,
          secs, secs > 0 ? (double)run->ok / secs : 0.0);
  text_latency(f, "latency", unit_histo(run));
  if (msg_scenario(o)) {
    text_latency(f, "connect", &run->conn_lat);
    fprintf(f, "  %-13s %" PRIu64 " published (%" PRIu64 " skipped), %.1f msgs/s, "
            "%.0f payload bytes/s\n", "messages", run->published, run->pub_skipped,
            secs > 0 ? (double)msgs_moved(run) / secs : 0.0,
            secs > 0 ? (double)bytes_moved(run) / secs : 0.0);
  }
  fprintf(f, "  %-13s %.3f s", "client CPU", cpu);
  if (run->handshakes > 0 && !msg_scenario(o))
    fprintf(f, ", %.1f us per handshake", cpu * 1e6 / (double)run->handshakes);
  fputc('\n', f);
  if (o->pid > 0 && run->target_cpu_before >= 0 && run->target_cpu_after >= 0)
    fprintf(f, "  %-13s %.2f s (pid %ld)\n", "target CPU",
            run->target_cpu_after - run->target_cpu_before, o->pid);
  if (o->scenario == MQB_SCEN_IDLE && run->rss_before_kb >= 0 && run->rss_after_kb >= 0)
    fprintf(f, "  %-13s %ld KiB before, %ld KiB with %u open: %.0f bytes per connection\n",
            "target RSS", run->rss_before_kb, run->rss_after_kb, run->open_at_rss,
            run->open_at_rss ? (double)(run->rss_after_kb - run->rss_before_kb) * 1024.0 /
                                   run->open_at_rss : 0.0);
  if (run->storm != NULL)
    mqb_storm_report(run, f, 0);
  fprintf(f, "  %-13s %" PRIu64, "errors", run->errors.total);
  for (unsigned i = 0; i < run->errors.n; i++)
    fprintf(f, "%s%s %" PRIu64, i ? ", " : ": ", run->errors.kind[i].name,
            run->errors.kind[i].count);
  fputc('\n', f);
}

void mqb_report_final(mqb_run *run) {
  if (run->o->json)
    report_json(run, stdout);
  else
    report_text(run, stdout);
  fflush(stdout);
}
