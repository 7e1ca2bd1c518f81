/* bench_scen.c: what each scenario does with its connections once they
 * are ready, and what it counts as a unit ("ok"):
 *
 *   conn, idle  a connection that reached CONNACK (conn closes it at once,
 *               or after --hold; idle keeps it)
 *   pub         a message written (QoS 0) or acknowledged (QoS 1)
 *   sub         a message delivered to one subscriber
 *   latency     a message delivered to its pair's subscriber
 *
 * Publishing is scheduled globally: at a total rate R, by time t the run
 * owes floor(R * t) messages, handed to the ready publishers round robin,
 * so the per-tick work is proportional to the messages, not the devices.
 * A publisher whose queue is long or whose QoS 1 window is full skips its
 * turn (counted as "skipped": the offered load was not met). With no rate
 * at all (flood), each publisher is kept full instead. Messages of
 * sub/latency carry the send time (monotonic ns) and a sequence number in
 * their first 16 bytes. */
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "bench.h"

#define NS 1000000000.0
#define HEADROOM 600            /* room for a PUBLISH header before the payload */
#define QUEUE_LIMIT (64u << 10) /* bytes queued on a publisher before it skips */
#define KERNEL_LIMIT (128 << 10) /* flood: bytes in the socket's send queue */

int mqb_scen_init(mqb_run *run) {
  const mqb_opts *o = run->o;
  if (o->scenario == MQB_SCEN_STORM)
    return mqb_storm_init(run);
  if (o->scenario != MQB_SCEN_PUB && o->scenario != MQB_SCEN_SUB &&
      o->scenario != MQB_SCEN_LATENCY)
    return 0;
  run->pub_buf = calloc(1, HEADROOM + (size_t)o->payload);
  return run->pub_buf != NULL ? 0 : -1;
}

void mqb_scen_cleanup(mqb_run *run) {
  mqb_storm_cleanup(run);
  free(run->pub_buf);
  free(run->pubs);
}

static int pubs_add(mqb_run *run, mqb_conn *c) {
  if (run->n_pubs == run->cap_pubs) {
    uint32_t cap = run->cap_pubs ? run->cap_pubs * 2 : 64;
    mqb_conn **p = realloc(run->pubs, cap * sizeof(*p));
    if (p == NULL)
      return -1;
    run->pubs = p;
    run->cap_pubs = cap;
  }
  c->pub_slot = run->n_pubs;
  run->pubs[run->n_pubs++] = c;
  return 0;
}

static void pubs_remove(mqb_run *run, mqb_conn *c) {
  uint32_t i = c->pub_slot;
  if (i == UINT32_MAX)
    return;
  mqb_conn *last = run->pubs[--run->n_pubs];
  run->pubs[i] = last;
  last->pub_slot = i;
  c->pub_slot = UINT32_MAX;
}

/* publish_one sends one message on |c|. Returns 0 if sent, 1 if skipped
 * (queue or window full), -1 if the connection failed. */
static int publish_one(mqb_run *run, mqb_conn *c) {
  const mqb_opts *o = run->o;
  uint16_t pid = 0;
  uint32_t slot = 0;
  if (c->out.len > QUEUE_LIMIT)
    return 1;
  if (o->qos == 1) {
    slot = c->next_pid;
    if (c->sent_at[slot] != 0)
      return 1;
    pid = (uint16_t)(slot + 1);
  }
  uint8_t hdr[HEADROOM];
  size_t h = mqb_mqtt_publish_header(hdr, sizeof(hdr), o->mqtt_level, c->topic,
                                     c->topic_len, o->qos, pid, o->payload);
  uint8_t *pkt = run->pub_buf + HEADROOM - h;
  memcpy(pkt, hdr, h);
  uint64_t now = mqb_now();
  uint64_t seq = run->published;
  if (o->payload >= 16) {
    memcpy(run->pub_buf + HEADROOM, &now, 8);
    memcpy(run->pub_buf + HEADROOM + 8, &seq, 8);
  }
  if (o->qos == 1) {
    c->sent_at[slot] = now ? now : 1;
    c->next_pid = (uint16_t)((slot + 1) % o->inflight);
    c->inflight_n++;
    run->inflight_total++;
  }
  if (mqb_conn_send(c, pkt, h + o->payload) != 0)
    return -1;
  run->published++;
  run->pub_bytes += o->payload;
  if (o->scenario == MQB_SCEN_PUB && o->qos == 0)
    run->ok++;
  return 0;
}

/* fill keeps a flooding publisher busy: up to its queue limit or window,
 * at most 256 messages per call so that one connection does not hold the
 * loop. The socket's own send queue is bounded too: autotuned up to
 * megabytes, it would otherwise count as "sent" what has not left. With
 * --cork the burst leaves in full segments: one record per message still,
 * but not one packet (and one wake-up of the target) per message. */
static void fill(mqb_run *run, mqb_conn *c) {
  int queued = 0, on = 1, off = 0;
  if (run->o->qos == 0 && ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued > KERNEL_LIMIT)
    return;
  if (run->o->cork)
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
  for (int i = 0; i < 256 && c->state == MQB_ST_READY; i++)
    if (publish_one(run, c) != 0)
      return; /* closed: nothing left to send */
  if (run->o->cork)
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

static int flooding(const mqb_run *run) {
  return run->pub_rate == 0;
}

void mqb_scen_on_ready(mqb_run *run, mqb_conn *c) {
  const mqb_opts *o = run->o;
  run->connected++;
  switch (o->scenario) {
    case MQB_SCEN_CONN:
      run->ok++;
      if (o->hold <= 0)
        mqb_conn_close(c, NULL, NULL);
      return;
    case MQB_SCEN_IDLE:
      run->ok++;
      return;
    case MQB_SCEN_STORM:
      run->ok++;
      mqb_storm_on_ready(run, c);
      return;
    default:
      break;
  }
  if (c->role == MQB_ROLE_SUB) {
    run->subs_ready++;
    return;
  }
  char topic[300];
  int n;
  if (o->scenario == MQB_SCEN_SUB)
    n = snprintf(topic, sizeof(topic), "%s/fanout", o->topic);
  else if (o->scenario == MQB_SCEN_LATENCY)
    n = snprintf(topic, sizeof(topic), "%s/lat/%u", o->topic, c->dev);
  else
    n = snprintf(topic, sizeof(topic), "%s/pub/%u", o->topic, c->dev);
  c->topic = strdup(topic);
  c->topic_len = (size_t)n;
  if (o->qos == 1)
    c->sent_at = calloc(o->inflight, sizeof(*c->sent_at));
  if (c->topic == NULL || (o->qos == 1 && c->sent_at == NULL))
    mqb_conn_close(c, "other", "out of memory");
}

void mqb_scen_enter_run(mqb_run *run, uint64_t now) {
  const mqb_opts *o = run->o;
  if (o->scenario == MQB_SCEN_STORM) {
    mqb_storm_begin(run, now);
    return;
  }
  /* Publishers that can publish: for latency, only those whose
   * subscriber is there too. */
  for (mqb_conn *c = run->open.head; c != NULL; c = c->next) {
    if (c->role != MQB_ROLE_PUB || c->state != MQB_ST_READY)
      continue;
    if (o->scenario == MQB_SCEN_LATENCY) {
      mqb_conn *sub = run->devs[c->dev + o->connections].conn;
      if (sub == NULL || sub->state != MQB_ST_READY)
        continue;
    }
    if (pubs_add(run, c) != 0) {
      mqb_errors_add(&run->errors, "other", "out of memory");
      break;
    }
  }
  run->subs_at_run = run->subs_ready;
  if (o->total_rate > 0)
    run->pub_rate = o->total_rate;
  else
    run->pub_rate = o->msg_rate * run->n_pubs;
  run->pub_attempts = 0;
}

void mqb_scen_tick(mqb_run *run, uint64_t now) {
  if (run->storm != NULL) {
    mqb_storm_tick(run, now);
    return;
  }
  if (run->n_pubs == 0)
    return;
  if (flooding(run)) {
    for (uint32_t i = 0; i < run->n_pubs; i++) {
      mqb_conn *c = run->pubs[i];
      fill(run, c); /* a failure removes c: pubs[i] is then another */
      if (i < run->n_pubs && run->pubs[i] != c)
        i--;
    }
    return;
  }
  uint64_t due = (uint64_t)(run->pub_rate * (double)(now - run->t_run_start) / NS);
  while (run->pub_attempts < due && run->n_pubs > 0) {
    mqb_conn *c = run->pubs[run->pub_cursor++ % run->n_pubs];
    run->pub_attempts++;
    if (publish_one(run, c) == 1)
      run->pub_skipped++;
  }
}

void mqb_scen_writable(mqb_run *run, mqb_conn *c) {
  if (run->phase == MQB_PHASE_RUN && flooding(run) && c->pub_slot != UINT32_MAX)
    fill(run, c);
}

void mqb_scen_on_puback(mqb_run *run, mqb_conn *c, uint64_t ns) {
  run->inflight_total--;
  if (run->o->scenario != MQB_SCEN_PUB)
    return;
  run->ok++;
  mqb_histo_record(&run->lat, ns / 1000);
  if (run->phase == MQB_PHASE_RUN && flooding(run))
    fill(run, c);
}

void mqb_scen_on_publish(mqb_run *run, mqb_conn *c, const mqb_publish *p,
                         uint64_t now) {
  uint64_t sent;
  if (c->role != MQB_ROLE_SUB || p->payload_len < 16)
    return;
  memcpy(&sent, p->payload, 8);
  run->ok++;
  run->delivered_bytes += p->payload_len;
  mqb_histo_record(&run->lat, now > sent ? (now - sent) / 1000 : 0);
}

void mqb_scen_on_closed(mqb_run *run, mqb_conn *c, int failed, int was_ready) {
  (void)failed;
  pubs_remove(run, c);
  run->inflight_total -= c->inflight_n;
  c->inflight_n = 0;
  if (c->role == MQB_ROLE_SUB && was_ready)
    run->subs_ready--;
}

/* expected returns how many units the run should have seen by now. */
static uint64_t expected(const mqb_run *run) {
  switch (run->o->scenario) {
    case MQB_SCEN_SUB:
      return run->published * run->subs_at_run;
    case MQB_SCEN_LATENCY:
      return run->published;
    default:
      return run->ok;
  }
}

int mqb_scen_drained(const mqb_run *run) {
  if (run->o->scenario == MQB_SCEN_PUB)
    return run->inflight_total == 0;
  return run->ok >= expected(run);
}

void mqb_scen_finish(mqb_run *run) {
  const mqb_opts *o = run->o;
  if (run->storm != NULL)
    mqb_storm_finish(run, mqb_now());
  uint64_t missing = 0;
  if (o->scenario == MQB_SCEN_PUB && o->qos == 1)
    missing = run->inflight_total;
  else if (o->scenario == MQB_SCEN_SUB || o->scenario == MQB_SCEN_LATENCY)
    missing = expected(run) > run->ok ? expected(run) - run->ok : 0;
  if (missing > 0)
    mqb_errors_add_n(&run->errors, "timeout", missing,
                     o->scenario == MQB_SCEN_PUB
                         ? "PUBACKs missing at the end of the run"
                         : "messages not delivered by the end of the run");
}
