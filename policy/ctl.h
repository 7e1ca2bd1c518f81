/* ctl.h: what the files of mqgatectl share (ctl_*.c).
 *
 * Exit codes are mqg_reg_status values: 0 ok, 1 refused by the rules, 2
 * usage or input error, 3 Redis unreachable. Command functions return the
 * exit code; output goes through the helpers below so that --json always
 * prints exactly one JSON document on stdout, success or failure. */
#ifndef MQG_CTL_H
#define MQG_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <openssl/base.h>

#include "certinfo.h"
#include "registry.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_REDIS 3

typedef struct {
  const char *url;
  const char *prefix;
  const char *password_file; /* NULL: $MQGATE_REDIS_PASSWORD or none */
  int json;
  mqg_registry *reg; /* NULL until ctl_connect */
} ctl_ctx;

/* --- commands (ctl_ca.c, ctl_cert.c, ctl_list.c, ctl_settings.c) ------- */

int ctl_ca_main(ctl_ctx *ctx, int argc, char **argv);
int ctl_cert_main(ctl_ctx *ctx, int argc, char **argv);
int ctl_cert_list(ctl_ctx *ctx, int argc, char **argv);
int ctl_settings_main(ctl_ctx *ctx, int argc, char **argv);
int ctl_migrate_main(ctl_ctx *ctx, int argc, char **argv);
int ctl_token_main(ctl_ctx *ctx, int argc, char **argv);
int ctl_audit_main(ctl_ctx *ctx, int argc, char **argv);

extern const char ctl_ca_help[];
extern const char ctl_cert_help[];
extern const char ctl_settings_help[];
extern const char ctl_migrate_help[];
extern const char ctl_token_help[];
extern const char ctl_audit_help[];

/* --- arguments (ctl_main.c) ------------------------------------------------ */

typedef enum {
  CTL_OPT_FLAG,     /* --name */
  CTL_OPT_VALUE,    /* --name VALUE or --name=VALUE */
  CTL_OPT_OPTIONAL, /* --name [N]: takes the next word only if all digits */
} ctl_opt_kind;

typedef struct {
  const char *name; /* without the dashes */
  ctl_opt_kind kind;
  int seen;
  const char *value; /* NULL if not given or no value */
} ctl_opt;

/* ctl_parse reads |argv[0..argc)| (after the command words) into |opts|
 * (|nopts|) and positional words into |pos| (at most |maxpos|, count in
 * |*npos|); every slot of |pos| past |*npos| is NULL, whatever the outcome.
 * Returns 0, CTL_EXIT_USAGE after printing the problem, or -1 after
 * printing |help| for --help. */
int ctl_parse(ctl_ctx *ctx, int argc, char **argv, ctl_opt *opts,
              size_t nopts, char **pos, int maxpos, int *npos,
              const char *help);

/* ctl_connect connects ctx->reg if not yet done; returns an exit code
 * (after reporting a failure). */
int ctl_connect(ctl_ctx *ctx);

/* ctl_resolve resolves a CA id / fingerprint argument (registry.h);
 * returns an exit code after reporting a failure. */
int ctl_resolve(ctl_ctx *ctx, mqg_reg_kind kind, const char *in,
                char out[65]);

/* ctl_one_arg parses "<command> ARG" (|argv| after the command words, with
 * |argv[-1]| the command's name) for exactly one positional argument and
 * resolves it as |kind| into |out|; |what| names it in the usage error
 * ("ca activate needs one ID"). Returns an exit code after reporting. */
int ctl_one_arg(ctl_ctx *ctx, int argc, char **argv, mqg_reg_kind kind, const char *help,
                const char *group, const char *what, char out[65]);

/* --- output (ctl_out.c) ---------------------------------------------------- */

/* ctl_done reports a change: with --json the document {"ok":true, k1:v1,
 * k2:v2}, else |line| on stdout. Returns CTL_EXIT_OK. */
int ctl_done(ctl_ctx *ctx, const char *k1, const char *v1, const char *k2, const char *v2,
             const char *line);

/* ctl_fail reports a failure of class |cls| ("usage", "input", "rule",
 * ...): a line "mqgatectl: <message>" on stderr and, with --json, the
 * document {"ok":false,"error":cls,"message":...} on stdout. Returns
 * |code|. */
__attribute__((format(printf, 4, 5))) int ctl_fail(ctl_ctx *ctx, int code,
                                                   const char *cls,
                                                   const char *fmt, ...);

/* ctl_reg_fail reports the registry's last failure; returns |s|. */
int ctl_reg_fail(ctl_ctx *ctx, mqg_reg_status s);

/* ctl_usage reports a command line error (exit 2) and points to --help. */
__attribute__((format(printf, 2, 3))) int ctl_usage(ctl_ctx *ctx,
                                                    const char *fmt, ...);

/* A JSON document for stdout, built with jansson: values are added with
 * their key inside objects (|key| NULL inside arrays and at the top); the
 * document is printed (compact, one line) by ctl_json_done. */
typedef struct {
  json_t *root;
  json_t *stack[16]; /* open objects and arrays (borrowed) */
  int depth;
} ctl_json;

void ctl_json_init(ctl_json *j);
void ctl_json_object(ctl_json *j, const char *key);
void ctl_json_array(ctl_json *j, const char *key);
void ctl_json_end_object(ctl_json *j);
void ctl_json_end_array(ctl_json *j);
void ctl_json_str(ctl_json *j, const char *key, const char *v);
void ctl_json_int(ctl_json *j, const char *key, long long v);
void ctl_json_bool(ctl_json *j, const char *key, int v);
/* ctl_json_value adds |v| (a new reference, taken; registry_json.h). */
void ctl_json_value(ctl_json *j, const char *key, json_t *v);
/* ctl_json_done prints the document with a newline and frees it. */
void ctl_json_done(ctl_json *j);
/* ctl_json_discard frees the document unprinted. */
void ctl_json_discard(ctl_json *j);

/* A table for people: rows of |ncols| strings (copied), printed with the
 * columns padded to their widest cell. */
#define CTL_TABLE_COLS 10
typedef struct {
  size_t ncols, nrows, cap;
  char **cells; /* nrows * ncols */
} ctl_table;

void ctl_table_init(ctl_table *t, size_t ncols);
/* ctl_table_row appends one row of |t->ncols| cells; -1 when out of
 * memory. */
int ctl_table_row(ctl_table *t, const char *const *cells);
void ctl_table_print(const ctl_table *t, FILE *f);
void ctl_table_cleanup(ctl_table *t);

/* ctl_time writes |t| (Unix seconds) as "2026-05-11 15:57:30Z" into |buf|
 * (at least 32 bytes); "-" for 0. */
const char *ctl_time(int64_t t, char *buf, size_t len);

/* ctl_parse_date reads "YYYY-MM-DD" (midnight UTC) or Unix seconds; 0 or
 * -1. */
int ctl_parse_date(const char *s, int64_t *out);

/* ctl_cert_json writes certificate |c| as an object (with key |key|). */
void ctl_cert_json(ctl_json *j, const char *key, const mqg_cert_record *c);

/* --- certificates from files (ctl_pem.c) ----------------------------------- */

typedef struct {
  X509 *x509;
  mqg_certinfo info;
  char *pem;         /* the certificate alone, PEM */
  char subject[1024]; /* RFC 2253 one-liner */
} ctl_cert;

/* ctl_cert_load reads the first certificate of |path| (PEM, or DER) into
 * |out|; -1 with a one-line reason in |err| (|errlen| bytes) if the file
 * cannot be read or holds no well-formed certificate. */
int ctl_cert_load(const char *path, ctl_cert *out, char *err, size_t errlen);

/* ctl_cert_from_pem is ctl_cert_load for PEM text in memory. */
int ctl_cert_from_pem(const char *pem, ctl_cert *out, char *err,
                      size_t errlen);

/* ctl_cert_signed_by returns 1 if |leaf| names |ca| as its issuer and
 * carries a valid signature by |ca|'s key, else 0. */
int ctl_cert_signed_by(const ctl_cert *leaf, const ctl_cert *ca);

void ctl_cert_cleanup(ctl_cert *c);

/* --- registration steps shared with mqgate-admin (ctl_pem.c) -------------- */
/* Each returns an mqg_reg_status and, when it is not MQG_REG_OK, leaves its
 * message and class in mqg_registry_error() and mqg_registry_error_class()
 * of |reg|, as a registry call does: its caller reports every failure the
 * same way. */

/* ctl_ca_load reads registered CA |ca_id|'s certificate into |ca| (clean
 * it up with ctl_cert_cleanup, failure or not). A stored PEM that does not
 * parse fails as MQG_REG_UNAVAILABLE, class "redis". */
mqg_reg_status ctl_ca_load(mqg_registry *reg, const char *ca_id, ctl_cert *ca);

/* ctl_cert_check says whether client certificate |c| may be registered
 * under CA |ca| (registered as |ca_id|, loaded with ctl_ca_load), before
 * the registry is asked: a CA certificate, or one not signed by |ca|, is
 * refused as MQG_REG_INPUT (class "input", left in |reg|'s error);
 * |ca_hint| ends the CA certificate's message ("CAs go to <ca_hint>"). */
mqg_reg_status ctl_cert_check(mqg_registry *reg, const ctl_cert *c, const ctl_cert *ca,
                              const char *ca_id, const char *ca_hint);

/* ctl_client_id_ok returns 1 if |id| may be registered as a certificate's
 * client ID (text of at most MQG_CERTINFO_NAME_MAX bytes, no tab or line
 * break), else 0 (NULL too). */
int ctl_client_id_ok(const char *id);

#endif
