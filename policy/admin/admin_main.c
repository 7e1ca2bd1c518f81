/* admin_main.c: mqgate-admin, the control plane's server (adm.h): options,
 * the HTTPS context (the operator's certificate, or a self-signed one made
 * once in the state dir), the console's files, the HTTP server, signals. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "adm.h"
#include "certgen.h"
#include "redis_url.h"

static mqg_httpd *server;
static uv_signal_t sig_term, sig_int;

/* self_signed makes <dir>/admin.{crt,key} once (ECDSA P-256, localhost,
 * 127.0.0.1, ::1) and writes their paths. */
static int self_signed(const char *dir, char *crt, char *key, size_t cap, char *err,
                       size_t errlen) {
  snprintf(crt, cap, "%s/admin.crt", dir);
  snprintf(key, cap, "%s/admin.key", dir);
  struct stat st;
  if (stat(crt, &st) == 0 && stat(key, &st) == 0)
    return 0;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create state dir %s: %s", dir, strerror(errno));
    return -1;
  }
  time_t now = time(NULL);
  mqg_cert_spec spec = {.cn = "localhost", .org = "mqgate-admin self-signed",
                        .not_before = (int64_t)now - 86400,
                        .not_after = (int64_t)now + 5 * 365 * 86400LL, .server = 1};
  EVP_PKEY *k = mqg_certgen_key(MQG_KEY_EC_P256);
  X509 *c = k ? mqg_certgen_issue(&spec, k, NULL, NULL) : NULL;
  int rc = c ? mqg_certgen_write(crt, c, NULL, key, k) : -ENOMEM;
  X509_free(c);
  EVP_PKEY_free(k);
  if (rc != 0) {
    snprintf(err, errlen, "cannot write a self-signed certificate to %s: %s", dir,
             strerror(-rc));
    return -1;
  }
  fprintf(stderr, "mqgate-admin: generated self-signed certificate %s\n", crt);
  return 0;
}

static SSL_CTX *tls_context(const adm_config *cfg, char *err, size_t errlen) {
  char crt[PATH_MAX], key[PATH_MAX];
  if (cfg->cert[0]) {
    snprintf(crt, sizeof(crt), "%s", cfg->cert);
    snprintf(key, sizeof(key), "%s", cfg->key);
  } else if (self_signed(cfg->state_dir, crt, key, sizeof(crt), err, errlen) != 0) {
    return NULL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
      SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    snprintf(err, errlen, "HTTPS certificate %.400s / key %.400s: %s", crt, key,
             ERR_reason_error_string(ERR_peek_last_error()) ?: "cannot be loaded");
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* console_dir: the option, else <bin>/../share/mqgate/console when
 * installed, else the source tree's. */
static const char *console_dir(const adm_config *cfg, char *buf, size_t len) {
  if (cfg->console_dir[0])
    return cfg->console_dir;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      if ((size_t)snprintf(buf, len, "%.3000s/../share/mqgate/console", exe) >= len)
        return MQG_ADMIN_SOURCE_CONSOLE;
      struct stat st;
      char index[PATH_MAX + 32];
      snprintf(index, sizeof(index), "%s/index.html", buf);
      if (stat(index, &st) == 0)
        return buf;
    }
  }
  return MQG_ADMIN_SOURCE_CONSOLE;
}

static void on_stop(uv_signal_t *h, int signum) {
  fprintf(stderr, "mqgate-admin: signal %d: stopping\n", signum);
  mqg_httpd_close(server);
  uv_close((uv_handle_t *)&sig_term, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
}

int main(int argc, char **argv) {
  adm_config cfg;
  char err[1024], dirbuf[PATH_MAX];
  struct sockaddr_storage ss;
  int rc = adm_config_load(&cfg, argc, argv, err, sizeof(err));
  if (rc == 0 && mqg_options_parse_addr(cfg.listen, &ss) != 0) {
    snprintf(err, sizeof(err), "listen address \"%.200s\" is not HOST:PORT", cfg.listen);
    rc = -1;
  }
  if (rc != 0) {
    adm_config_cleanup(&cfg);
    if (rc == ADM_CONFIG_EXIT)
      return 0;
    fprintf(stderr, "mqgate-admin: %s\n", err);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* The thread pool makes the registry calls: its size is read once. */
  char threads[16];
  snprintf(threads, sizeof(threads), "%u", cfg.threads);
  setenv("UV_THREADPOOL_SIZE", threads, 1);

  SSL_CTX *tls = NULL;
  mqg_registry *probe = NULL;
  uv_loop_t *loop = uv_default_loop();
  const char *dir = console_dir(&cfg, dirbuf, sizeof(dirbuf));
  rc = 2;
  if (adm_static_load(dir, err, sizeof(err)) != 0 ||
      (!cfg.plain_http && (tls = tls_context(&cfg, err, sizeof(err))) == NULL)) {
    fprintf(stderr, "mqgate-admin: %s\n", err);
    goto out;
  }
  /* A first look at Redis: a bad URL stops here; an unreachable Redis is
   * only reported (the API answers 503 until it is back). */
  probe = mqg_registry_new(cfg.redis_prefix);
  mqg_reg_status s = probe ? mqg_registry_connect(probe, cfg.redis, cfg.redis_password_file,
                                                  (int)cfg.redis_timeout)
                           : MQG_REG_UNAVAILABLE;
  if (s == MQG_REG_INPUT) {
    fprintf(stderr, "mqgate-admin: %s\n", mqg_registry_error(probe));
    goto out;
  }
  if (s != MQG_REG_OK)
    fprintf(stderr, "mqgate-admin: warning: %s (the API answers 503 until Redis is back)\n",
            probe ? mqg_registry_error(probe) : "out of memory");
  mqg_registry_free(probe); /* each API thread has its own connection */
  probe = NULL;

  mqg_httpd_config hc = {
      .max_connections = cfg.max_connections,
      .max_header_bytes = 16384,
      .max_body_bytes = cfg.max_body,
      .request_timeout_ms = cfg.request_timeout,
      .idle_timeout_ms = 60000,
      .write_timeout_ms = 30000,
      .tls = tls,
      .common_headers = adm_security_headers(tls != NULL),
      .handler = adm_http_handler,
      .arg = &cfg,
  };
  rc = 1;
  if ((server = mqg_httpd_new(loop, &hc)) == NULL) {
    fprintf(stderr, "mqgate-admin: out of memory\n");
    goto out;
  }
  int lrc = mqg_httpd_listen(server, (const struct sockaddr *)&ss);
  if (lrc != 0) {
    fprintf(stderr, "mqgate-admin: cannot listen on %s: %s\n", cfg.listen, uv_strerror(lrc));
    mqg_httpd_close(server); /* freed once its handles are closed */
    uv_run(loop, UV_RUN_DEFAULT);
    goto out;
  }
  uv_signal_init(loop, &sig_term);
  uv_signal_init(loop, &sig_int);
  uv_signal_start(&sig_term, on_stop, SIGTERM);
  uv_signal_start(&sig_int, on_stop, SIGINT);
  mqg_redis_addr a; /* named without the credentials the URL may hold */
  mqg_redis_url_parse(cfg.redis, &a); /* it parsed: the probe connected */
  fprintf(stderr, "mqgate-admin: console and API on %s://%s/ (console files %s, registry "
          "Redis %s:%d db %d prefix %s, %u threads)\n",
          cfg.plain_http ? "http" : "https", cfg.listen, dir, a.host, a.port, a.db,
          cfg.redis_prefix, cfg.threads);
  explicit_bzero(&a, sizeof(a));
  uv_run(loop, UV_RUN_DEFAULT);
  rc = 0;
  fprintf(stderr, "mqgate-admin: stopped\n");
out:
  uv_loop_close(loop);
  adm_registries_free();
  mqg_registry_free(probe);
  SSL_CTX_free(tls); /* the server took its own reference */
  adm_static_free();
  adm_config_cleanup(&cfg);
  return rc;
}
