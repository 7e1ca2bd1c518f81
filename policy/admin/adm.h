/* adm.h: what the files of mqgate-admin share (policy/admin/).
 *
 *   admin_main.c    options, TLS, the HTTP server, signals (thin)
 *   admin_config.c  options from flags, MQGATE_ADMIN_* and the INI file
 *   admin_http.c    the loop thread: routes, tokens in, static files,
 *                   jobs out to the thread pool, answers back
 *   admin_ops.c     jobs: token check + rate, CAs, settings, audit,
 *                   proxies, tokens (on a thread-pool thread)
 *   admin_certs.c   jobs: client certificates
 *   admin_static.c  the console's files, read once at start
 *
 * Threads: the HTTP server runs on the main loop; every request that needs
 * the registry becomes one uv_queue_work job, and each thread-pool thread
 * keeps its own blocking registry connection (registry.h), made on first
 * use and made again after Redis failed. So the loop never waits on Redis.
 *
 * Errors: jobs answer an HTTP status and a JSON body; every error body is
 * {"error": class, "message": text} with the classes of adm_error_map. */
#ifndef MQG_ADM_H
#define MQG_ADM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "httpd.h"
#include "options.h"
#include "registry.h"

/* --- options (admin_config.c) ----------------------------------------- */

/* X(name, kind, default, meta, help), read by policy/options.h: flags,
 * MQGATE_ADMIN_NAME, the --config file's [mqgate-admin] section. */
#define ADM_OPTION_MAP(X)                                                     \
  X(config, STR, "", "FILE",                                                  \
    "INI file of options ([mqgate-admin] section, keys as the flag names)")   \
  X(listen, STR, "127.0.0.1:8443", "HOST:PORT", "address of the API and console") \
  X(cert, STR, "", "FILE", "HTTPS certificate chain, PEM")                    \
  X(key, STR, "", "FILE", "HTTPS private key, PEM")                           \
  X(state_dir, STR, "/var/lib/mqgate-admin", "DIR",                           \
    "where a self-signed certificate is generated when --cert is unset")      \
  X(plain_http, BOOL, "no", "yes|no",                                         \
    "plain HTTP instead of HTTPS: only on a loopback --listen address")       \
  X(redis, STR, "redis://127.0.0.1:6379/0", "URL",                           \
    "the registry's Redis, redis://[user:password@]host[:port][/db]")         \
  X(redis_password_file, STR, "", "FILE",                                     \
    "the Redis password (first line) instead of the URL's; empty: "           \
    "$MQGATE_REDIS_PASSWORD, if set")                                         \
  X(redis_prefix, STR, "mqgate", "PREFIX", "registry key prefix (the cluster)") \
  X(redis_timeout, MS, "2s", "DUR", "connect and command timeout for Redis")  \
  X(rate_limit, UINT, "20", "N",                                              \
    "API calls per second per token, counted across the cluster; 0 = none")   \
  X(threads, UINT, "4", "N",                                                  \
    "threads making registry calls, one Redis connection each (1..64)")       \
  X(max_connections, UINT, "256", "N", "HTTP connections at once")            \
  X(request_timeout, MS, "10s", "DUR", "time for a request to arrive")        \
  X(max_body, SIZE, "1m", "BYTES", "largest request body (PEM uploads)")      \
  X(console_dir, STR, "", "DIR",                                              \
    "the console's files; empty: installed beside the binary, else the "      \
    "source tree's policy/console")

typedef struct {
  ADM_OPTION_MAP(MQG_OPT_FIELD)
} adm_config;

#define ADM_CONFIG_EXIT MQG_OPTIONS_EXIT

/* adm_config_load fills |cfg| from defaults, the --config /
 * MQGATE_ADMIN_CONFIG file, MQGATE_ADMIN_* and |argv| (flags win), and
 * checks it. 0, ADM_CONFIG_EXIT (--help or --version printed), or -EINVAL
 * with a message in |err|. Release with adm_config_cleanup, also after
 * failure. */
int adm_config_load(adm_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* adm_config_cleanup frees the strings of |cfg| and zeroes it. */
void adm_config_cleanup(adm_config *cfg);

/* --- errors ------------------------------------------------------------ */

/* X(class, HTTP status) */
#define ADM_ERROR_MAP(X)                                                      \
  X("input", 400)                                                             \
  X("unauthorized", 401)                                                      \
  X("forbidden", 403)                                                         \
  X("notfound", 404)                                                          \
  X("rule", 409)                                                              \
  X("rate", 429)                                                              \
  X("internal", 500) /* out of memory, no random bytes: not the client's */ \
  X("redis", 503)

/* adm_error_status returns the HTTP status of error class |cls| (500 for
 * an unknown one). */
int adm_error_status(const char *cls);

/* --- jobs (admin_ops.c, admin_certs.c) ------------------------------------ */

typedef enum { ADM_ROLE_NONE = -1, ADM_ROLE_READ, ADM_ROLE_OPERATOR, ADM_ROLE_ADMIN } adm_role;

typedef struct adm_job adm_job;

/* An operation: runs on a thread-pool thread with a connected registry
 * whose actor is set; sets j->status and j->out (or calls adm_fail*). */
typedef void (*adm_op)(adm_job *j, mqg_registry *r);

struct adm_job {
  uv_work_t work;
  mqg_http_req *req;
  adm_op op;
  adm_role need;         /* the role the route needs */
  const adm_config *cfg;
  char arg[136];         /* the {id} of the path, "" if none */
  char *query, *body;    /* copies */
  size_t body_len;
  char token_hash[65];
  int console;           /* sent by the console (X-Mqgate-Client) */
  uint64_t started_ms;
  /* results */
  int status;
  json_t *out;
  const char *raw; /* instead of |out|: a static document (OpenAPI) */
  size_t raw_len;
  char token_name[65];
  char role[16];
  char actor[96];
};

/* adm_job_run is the thread-pool side of a job: registry connection, token
 * check and rate, role, then the operation. */
void adm_job_run(uv_work_t *w);

/* adm_registries_free closes every thread's registry connection; at exit,
 * when no job runs. */
void adm_registries_free(void);

/* adm_fail sets an error result of class |cls|. */
__attribute__((format(printf, 3, 4))) void adm_fail(adm_job *j, const char *cls,
                                                    const char *fmt, ...);

/* adm_reg_fail sets the registry's last failure as the result. */
void adm_reg_fail(adm_job *j, mqg_registry *r);

/* adm_ok sets a result: |code| and |out| (taken). */
void adm_ok(adm_job *j, int code, json_t *out);

/* adm_body_json parses the job's body as a JSON object; NULL after
 * adm_fail when it is not one. */
json_t *adm_body_json(adm_job *j);

/* adm_query_size reads query parameter |name| as a number in 1..|max|
 * (|def| when absent); -1 after adm_fail. */
int adm_query_size(adm_job *j, const char *name, size_t def, size_t max, size_t *out);

/* adm_resolve resolves |in| (the path's {id}, a query or body value) as a
 * CA id or certificate fingerprint (prefixes accepted); -1 after
 * adm_reg_fail. */
int adm_resolve(adm_job *j, mqg_registry *r, mqg_reg_kind kind, const char *in, char out[65]);

/* Operations (names after their routes). */
void adm_op_whoami(adm_job *j, mqg_registry *r);
void adm_op_ca_list(adm_job *j, mqg_registry *r);
void adm_op_ca_get(adm_job *j, mqg_registry *r);
void adm_op_ca_register(adm_job *j, mqg_registry *r);
void adm_op_ca_activate(adm_job *j, mqg_registry *r);
void adm_op_ca_deactivate(adm_job *j, mqg_registry *r);
void adm_op_ca_delete(adm_job *j, mqg_registry *r);
void adm_op_cert_list(adm_job *j, mqg_registry *r);
void adm_op_cert_register(adm_job *j, mqg_registry *r);
void adm_op_cert_get(adm_job *j, mqg_registry *r);
void adm_op_cert_activate(adm_job *j, mqg_registry *r);
void adm_op_cert_deactivate(adm_job *j, mqg_registry *r);
void adm_op_cert_revoke(adm_job *j, mqg_registry *r);
void adm_op_cert_delete(adm_job *j, mqg_registry *r);
void adm_op_settings_get(adm_job *j, mqg_registry *r);
void adm_op_settings_patch(adm_job *j, mqg_registry *r);
void adm_op_audit(adm_job *j, mqg_registry *r);
void adm_op_proxies(adm_job *j, mqg_registry *r);
void adm_op_token_list(adm_job *j, mqg_registry *r);
void adm_op_token_create(adm_job *j, mqg_registry *r);
void adm_op_token_revoke(adm_job *j, mqg_registry *r);
void adm_op_openapi(adm_job *j, mqg_registry *r);

/* --- the loop side (admin_http.c) ------------------------------------------ */

/* adm_http_handler is the httpd handler; |arg| is the adm_config. */
void adm_http_handler(mqg_http_req *req, void *arg);

/* adm_security_headers returns the header lines every answer carries (CSP
 * and friends; HSTS with |tls|). */
const char *adm_security_headers(int tls);

/* --- the console's files (admin_static.c) ------------------------------------ */

/* adm_static_load reads the files of |dir| (and its subfolders, one level)
 * into memory; 0, or -1 with a message in |err|. */
int adm_static_load(const char *dir, char *err, size_t errlen);

/* adm_static_free releases the loaded files. */
void adm_static_free(void);

/* adm_static_serve answers |req| for |path| from the loaded files; 0 if
 * answered, -1 if no such file. */
int adm_static_serve(mqg_http_req *req, const char *path);

/* The OpenAPI document (policy/admin/openapi.json, embedded). */
extern const char mqg_openapi_json[];
extern const size_t mqg_openapi_json_len;

#endif
