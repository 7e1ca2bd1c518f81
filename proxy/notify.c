/* notify.c: see notify.h. */
#include "notify.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#ifdef MQG_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

int mqg_notify_available(void) { return 1; }

static void send_state(const char *state) {
  static atomic_int warned;
  /* 0: NOTIFY_SOCKET stays set, so that every later state change (reload,
   * stop) still reaches the service manager. */
  int rc = sd_notify(0, state);
  if (rc < 0 && atomic_exchange(&warned, 1) == 0)
    mqg_log(MQG_LOG_WARN, "cannot notify the service manager ($NOTIFY_SOCKET): %s",
            strerror(-rc));
}
#else
int mqg_notify_available(void) { return 0; }
static void send_state(const char *state) { (void)state; }
#endif

/* A STATUS= value ends at the first newline: keep it on one line. */
static void send_with_status(const char *head, const char *status) {
  char line[256], msg[320];
  if (status == NULL) {
    send_state(head);
    return;
  }
  snprintf(line, sizeof(line), "%s", status);
  for (char *p = line; *p != '\0'; p++)
    if (*p == '\n')
      *p = ' ';
  snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", head, head[0] ? "\n" : "", line);
  send_state(msg);
}

void mqg_notify_ready(const char *status) { send_with_status("READY=1", status); }

void mqg_notify_status(const char *status) { send_with_status("", status); }

void mqg_notify_stopping(void) { send_state("STOPPING=1\nSTATUS=draining and stopping"); }

void mqg_notify_reloading(void) {
  struct timespec ts;
  char msg[96];
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
  send_state(msg);
}
