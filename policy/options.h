/* options.h: a program's options from one table, read from flags, the
 * environment and an INI file with precedence flag > environment > file >
 * default; the --help listing comes from the same table.
 *
 * mqgate (proxy/config.c) and mqgate-admin (policy/admin/admin_config.c)
 * each write their options as an X-macro of rows
 *
 *   X(name, kind, default, meta, help)
 *
 * declare their struct with one field per row (MQG_OPT_FIELD), build an
 * mqg_opt array from the same rows (MQG_OPT_ROW) and describe it in an
 * mqg_opt_table. This module does the rest; the program keeps the checks
 * that relate options to each other and its own flags (--help, --version).
 *
 * A row |name| (words joined by '_', e.g. tls_min) is set by:
 *   - the flag --tls-min ('_' as '-'), through getopt_long: "--tls-min V",
 *     "--tls-min=V" and unambiguous abbreviations ("--tls-mi=V");
 *   - the environment variable <env_prefix>TLS_MIN (upper case);
 *   - the key tls-min of the INI file (read with inih) in the table's
 *     section, or before any section. The file is named by the row called
 *     "config" (--config FILE or <env_prefix>CONFIG), which is itself no
 *     key of the file.
 * Each source overrides the ones below it, value by value.
 *
 * Kinds of value, and the C type of their field:
 *   STR     text (char *, malloc'd)
 *   UINT    a decimal number of at most 1000000, digits only (unsigned)
 *   MS      a duration in milliseconds (uint64_t): "250ms", "10s", "2m",
 *           "1h"; a bare number is seconds
 *   SIZE    bytes (size_t): "65536", "64k" or "64K", "1m" or "1M"
 *   BOOL    yes|true|1 or no|false|0 (int 1/0); the flag alone means yes,
 *           a value goes after '=' ("--plain-http=no")
 *   TLSVER  "1.0", "1.1", "1.2" or "1.3" (uint16_t, TLS1_x_VERSION)
 *   LIST    text items (mqg_strlist): each occurrence of the flag or file
 *           key adds its items; an occurrence may hold several separated by
 *           commas (the environment's only way); spaces around an item are
 *           dropped, an empty item is an error, at most MQG_OPT_LIST_MAX
 *           items. A higher source replaces the whole list of a lower one
 *           (two --crl flags replace the file's crl keys, they do not add to
 *           them); a value of spaces only, or none, empties the list.
 *
 * Errors: functions return 0 or -EINVAL with a one-line message in |err|:
 *   "<origin>: invalid value \"V\" for tls-min"   origin: flag, MQGATE_X,
 *                                                 the file's path, default
 *   "<file>: unknown section [S]", "<file>: unknown key \"K\"",
 *   "<file>:<line>: syntax error", "<file>: cannot open config file",
 *   "unknown option: --x (see --help)" (a short one as "-x", also inside a
 *   group "-xy"), "missing value for option: --x (see --help)",
 *   "unexpected argument \"A\" (see --help)", "out of memory".
 * mqg_options_load also returns MQG_OPTIONS_EXIT when a program flag asked
 * to stop (--help, --version: they print, the program exits 0). */
#ifndef MQG_OPTIONS_H
#define MQG_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  MQG_OPT_STR,
  MQG_OPT_UINT,
  MQG_OPT_MS,
  MQG_OPT_SIZE,
  MQG_OPT_BOOL,
  MQG_OPT_TLSVER,
  MQG_OPT_LIST,
} mqg_opt_kind;

#define MQG_OPT_LIST_MAX 64 /* items of one LIST option */

/* A LIST option's value: |n| strings (malloc'd). |src| is the rank of the
 * source that set them (options.c's own). */
typedef struct {
  char **v;
  size_t n;
  int src;
} mqg_strlist;

/* The field of each kind, for the program's struct. */
#define MQG_OPT_TYPE_STR char *
#define MQG_OPT_TYPE_UINT unsigned
#define MQG_OPT_TYPE_MS uint64_t
#define MQG_OPT_TYPE_SIZE size_t
#define MQG_OPT_TYPE_BOOL int
#define MQG_OPT_TYPE_TLSVER uint16_t
#define MQG_OPT_TYPE_LIST mqg_strlist

/* MQG_OPT_FIELD, given to a program's X-macro inside its struct, declares
 * one field per row. */
#define MQG_OPT_FIELD(name, kind, def, meta, help) MQG_OPT_TYPE_##kind name;

/* One option. */
typedef struct {
  const char *name; /* the field's name, words joined by '_' */
  mqg_opt_kind kind;
  const char *def;  /* default, read like any other value */
  const char *meta; /* the value's placeholder in --help: "FILE" */
  const char *help;
  size_t offset;    /* of the field in the program's struct */
} mqg_opt;

/* MQG_OPT_ROW is the mqg_opt initializer of an X-macro row for struct
 * |type|. */
#define MQG_OPT_ROW(type, name, kind, def, meta, help) \
  {#name, MQG_OPT_##kind, def, meta, help, offsetof(type, name)}

/* A flag of the program itself, outside the table, without a value
 * (--help, --version, --check-config). */
typedef struct {
  const char *name; /* without "--" */
  const char *help; /* its line in the --help listing */
} mqg_opt_flag;

#define MQG_OPTIONS_EXIT 1

typedef struct mqg_opt_table mqg_opt_table;

/* A program's options; a static const description. */
struct mqg_opt_table {
  const mqg_opt *opts;
  size_t nopts;
  size_t size;                /* of the program's struct */
  const char *env_prefix;     /* "MQGATE_": MQGATE_TLS_MIN */
  const char *section;        /* the file's section for this program */
  const char *other_section;  /* NULL, or another program's section the
                                 file may also hold: skipped unread */
  const mqg_opt_flag *flags;  /* listed in --help after the rows */
  size_t nflags;
  /* on_flag is called when the command line holds flags[|flag|], in the
   * command line's order (so "--bad=x --help" fails on --bad first), with
   * the struct being filled and argv[0]. It returns 0 to go on or
   * MQG_OPTIONS_EXIT to stop loading (after printing --help, say). */
  int (*on_flag)(const mqg_opt_table *t, size_t flag, void *cfg, const char *prog);
};

/* mqg_options_load zeroes |cfg| (t->size bytes) and fills it from the
 * defaults, the --config file, the environment and |argv|, in that order.
 * It returns 0, MQG_OPTIONS_EXIT (from on_flag), or -EINVAL with a message
 * in |err| (|err| is "" unless it fails). It may be called again for a new
 * load (a reload): nothing of getopt's state from one call reaches the
 * next. |cfg| is the caller's; release it with mqg_options_cleanup, also
 * after a failure. Not thread-safe (getopt and getenv). */
int mqg_options_load(const mqg_opt_table *t, void *cfg, int argc, char **argv, char *err,
                     size_t errlen);

/* mqg_options_cleanup frees the STR and LIST values of |cfg| and zeroes it. */
void mqg_options_cleanup(const mqg_opt_table *t, void *cfg);

/* mqg_options_print_help writes two lines per row to |out| ("--flag META
 * help", then its variable and default), then a line per program flag. */
void mqg_options_print_help(const mqg_opt_table *t, FILE *out);

/* mqg_options_parse_uint reads |s| as a decimal number, digits only, of at
 * most |max| into |*out|. Returns 0 or -EINVAL. */
int mqg_options_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* mqg_options_parse_addr parses "HOST:PORT", "[V6]:PORT" or "V6-ADDR:PORT"
 * into |*out|. HOST is an IPv4 or IPv6 address, or "localhost" for
 * 127.0.0.1; other names are not resolved. Returns 0 or -EINVAL. */
struct sockaddr_storage;
int mqg_options_parse_addr(const char *s, struct sockaddr_storage *out);

/* mqg_options_tls_name returns "1.0".."1.3" for a TLS1_x_VERSION value
 * (the TLSVER kind's spelling), "?" for another. */
const char *mqg_options_tls_name(uint16_t version);

/* mqg_options_tls_parse is its inverse: "1.0".."1.3" to a TLS1_x_VERSION
 * value in |*version|. Returns 0 or -EINVAL. */
int mqg_options_tls_parse(const char *name, uint16_t *version);

#endif
