/* main.c: the mqgate daemon: options, TLS context, workers, signals.
 *
 * The main thread only waits for signals (and serves metrics, and watches
 * the CRL files): SIGHUP re-reads the options and reloads certificates, CA
 * bundle, CRLs, limits, TLS window and log level for new connections;
 * SIGINT and SIGTERM drain and stop. It also reports to the service
 * manager (notify.h): READY=1 once every worker can serve, RELOADING=1 /
 * READY=1 around a SIGHUP reload, STOPPING=1 when the drain starts. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <openssl/mem.h>

#include "bsslinfo.h"
#include "config.h"
#include "crls.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "server.h"
#include "tlsctx.h"
#include "tlskeys.h"

struct daemon {
  int argc;
  char **argv;
  mqg_tls *tls;
  mqg_server *server;
  int file_keys; /* the ticket keys in force came from --ticket-keys */
  uv_signal_t hup, term, intr;
  uv_async_t ready;  /* sent by the last worker to become ready */
  int is_ready;      /* READY=1 was sent */
  char status[320];  /* STATUS= once ready */
};

static void apply_log_level(const mqg_config *cfg) {
  mqg_log_level lvl = MQG_LOG_INFO;
  mqg_log_parse_level(cfg->log_level, &lvl);
  mqg_log_set_level(lvl);
  mqg_log_set_json(strcmp(cfg->log_format, "json") == 0);
}

/* log_boringssl says at start-up which BoringSSL runs, and warns when it is
 * the slow OPENSSL_SMALL build (the same facts as --version). */
static void log_boringssl(void) {
  mqg_bsslinfo info;
  mqg_bsslinfo_get(&info);
  mqg_log_field f[] = {{"path", info.path},
                       {"build", mqg_bsslinfo_build_name(info.build)},
                       {"detail", info.detail}};
  mqg_log_event(MQG_LOG_INFO, "boringssl", f, sizeof(f) / sizeof(f[0]));
  if (info.build == MQG_BSSL_BUILD_SMALL)
    mqg_log(MQG_LOG_WARN, "BoringSSL is Debian's OPENSSL_SMALL build (ECDSA P-256 handshakes "
            "cost about 3x): run `make boringssl` and rebuild for the full-speed one");
}

static void on_hup(uv_signal_t *h, int signum) {
  struct daemon *d = h->data;
  mqg_config cfg;
  char err[512];
  mqg_tls *t = NULL;
  mqg_ticket_key keys[MQG_TICKET_KEYS_MAX];
  size_t nkeys = 0;
  int taken = 0;
  /* Before the first READY=1 a reload is not announced: RELOADING=1 then
   * READY=1 would tell the service manager we are ready when we are not. */
  if (d->is_ready)
    mqg_notify_reloading();
  /* All or nothing: a file that does not parse, or certificates that do
   * not load, leave every running setting as it was. */
  if (mqg_config_load(&cfg, d->argc, d->argv, err, sizeof(err)) != 0 ||
      (t = mqg_tls_new(&cfg, err, sizeof(err))) == NULL ||
      (cfg.ticket_keys[0] != '\0' &&
       mqg_tls_ticket_keys_read(cfg.ticket_keys, keys, &nkeys, err, sizeof(err)) != 0) ||
      mqg_crls_configure(h->loop, &cfg, t, err, sizeof(err)) != 0) {
    mqg_log(MQG_LOG_ERROR, "reload refused, keeping the running settings: %s", err);
  } else {
    if (nkeys > 0)
      mqg_tls_set_ticket_keys(keys, nkeys);
    else if (d->file_keys)
      mqg_tls_clear_ticket_keys(); /* the option was removed */
    d->file_keys = cfg.ticket_keys[0] != '\0';
    mqg_server_set_tls(d->server, t);
    mqg_server_reload(d->server, &cfg);
    apply_log_level(&cfg);
    taken = 1;
    mqg_log(MQG_LOG_INFO, "reloaded: certificates, CRLs, limits; TLS window %s..%s for new "
            "handshakes", mqg_options_tls_name(cfg.tls_min), mqg_options_tls_name(cfg.tls_max));
  }
  mqg_tls_free(t);
  mqg_config_cleanup(&cfg);
  OPENSSL_cleanse(keys, sizeof(keys));
  if (d->is_ready)
    mqg_notify_ready(!taken ? "reload refused, running with the previous settings"
                               : d->status);
}

/* Runs on the thread that made the server ready (in registry mode a
 * worker's): only wakes the main loop. */
static void ready_from_worker(void *arg) { uv_async_send(arg); }

static void on_ready(uv_async_t *a) {
  struct daemon *d = a->data;
  if (d->is_ready)
    return;
  d->is_ready = 1;
  mqg_log(MQG_LOG_INFO, "serving: every worker is ready (%s)", d->status);
  mqg_notify_ready(d->status);
}

static void close_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void on_stop(uv_signal_t *h, int signum) {
  mqg_log(MQG_LOG_INFO, "signal %d: stopping", signum);
  mqg_notify_stopping();
  /* The metrics listener and its requests in flight (with their own close
   * callbacks), then the signal handles: the main loop then returns. */
  mqg_metrics_close();
  mqg_crls_close();
  uv_walk(h->loop, close_handle, NULL);
}

int main(int argc, char **argv) {
  mqg_config cfg;
  char err[512];
  int rc = mqg_config_load(&cfg, argc, argv, err, sizeof(err));
  if (rc != 0) {
    mqg_config_cleanup(&cfg);
    if (rc == MQG_CONFIG_EXIT)
      return 0;
    fprintf(stderr, "mqgate: %s\n", err);
    return 2;
  }
  apply_log_level(&cfg);
  signal(SIGPIPE, SIG_IGN); /* BoringSSL writes to sockets with write(2) */

  if (cfg.check_only) {
    /* Everything that can be checked without binding or connecting. */
    mqg_tls *t = mqg_tls_new(&cfg, err, sizeof(err));
    rc = t == NULL || mqg_crls_try(&cfg, t, err, sizeof(err)) != 0 ||
                 (cfg.ticket_keys[0] != '\0' &&
                  mqg_tls_ticket_keys_load(cfg.ticket_keys, err, sizeof(err)) != 0)
             ? 2
             : 0;
    if (rc != 0)
      fprintf(stderr, "mqgate: %s\n", err);
    else
      printf("mqgate: configuration OK (auth %s, TLS %s..%s, listen %s, backend %s)\n",
             cfg.auth, mqg_options_tls_name(cfg.tls_min), mqg_options_tls_name(cfg.tls_max),
             cfg.listen, cfg.backend);
    mqg_tls_free(t);
    mqg_config_cleanup(&cfg);
    return rc;
  }

  log_boringssl();
  struct daemon d = {.argc = argc, .argv = argv};
  mqg_server *server = NULL;
  uv_loop_t *loop = uv_default_loop();
  /* The metrics port opens before the device port, so that whoever waits
   * for the latter finds the former ready. */
  struct sockaddr_storage backend;
  mqg_options_parse_addr(cfg.backend, &backend);
  if (cfg.metrics[0] != '\0' && (rc = mqg_metrics_listen(loop, cfg.metrics, &backend)) != 0)
    snprintf(err, sizeof(err), "cannot serve metrics on %s: %s", cfg.metrics, uv_strerror(rc));
  else if (cfg.ticket_keys[0] != '\0' &&
           mqg_tls_ticket_keys_load(cfg.ticket_keys, err, sizeof(err)) != 0)
    ; /* refused: the message is in |err| */
  else if ((d.tls = mqg_tls_new(&cfg, err, sizeof(err))) != NULL &&
           mqg_crls_configure(loop, &cfg, d.tls, err, sizeof(err)) == 0)
    server = mqg_server_new(&cfg, d.tls, err, sizeof(err));
  d.file_keys = cfg.ticket_keys[0] != '\0';
  if (server == NULL) {
    fprintf(stderr, "mqgate: %s\n", err);
    mqg_metrics_close();
    mqg_crls_close();
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    mqg_tls_free(d.tls);
    mqg_config_cleanup(&cfg);
    return 1;
  }
  d.server = server;
  mqg_crls_set_server(server);
  mqg_log(MQG_LOG_INFO, "mqgate ready: auth=%s TLS window %s..%s", cfg.auth,
          mqg_options_tls_name(cfg.tls_min), mqg_options_tls_name(cfg.tls_max));

  uv_signal_init(loop, &d.hup);
  uv_signal_init(loop, &d.term);
  uv_signal_init(loop, &d.intr);
  d.hup.data = d.term.data = d.intr.data = &d;
  uv_signal_start(&d.hup, on_hup, SIGHUP);
  uv_signal_start(&d.term, on_stop, SIGTERM);
  uv_signal_start(&d.intr, on_stop, SIGINT);
  /* on_stop's uv_walk closes |ready| with the rest; a worker may still send
   * on it until mqg_server_stop has joined them, which is harmless: the
   * loop is closed only after that. */
  uv_async_init(loop, &d.ready, on_ready);
  d.ready.data = &d;
  snprintf(d.status, sizeof(d.status), "serving %s -> %s, auth %s", cfg.listen, cfg.backend,
           cfg.auth);
  mqg_server_on_ready(server, ready_from_worker, &d.ready);
  if (strcmp(cfg.auth, "registry") == 0)
    mqg_notify_status("listening; waiting for the registry's Redis to answer");
  if (!mqg_notify_available() && getenv("NOTIFY_SOCKET") != NULL)
    mqg_log(MQG_LOG_WARN, "NOTIFY_SOCKET is set but this mqgate was built without libsystemd: "
            "a Type=notify unit will wait for READY=1 in vain");

  rc = mqg_server_start(server);
  if (rc != 0) {
    fprintf(stderr, "mqgate: cannot start workers: %s\n", uv_strerror(rc));
  } else {
    uv_run(loop, UV_RUN_DEFAULT);
  }
  mqg_server_stop(server, cfg.drain_timeout);
  mqg_server_free(server);
  mqg_tls_free(d.tls);
  uv_loop_close(loop);
  mqg_config_cleanup(&cfg);
  mqg_log(MQG_LOG_INFO, "stopped");
  return rc == 0 ? 0 : 1;
}
