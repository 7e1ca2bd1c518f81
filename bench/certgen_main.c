/* certgen_main.c: mqgate-certgen, the certificate maker of the demo, the
 * tests and the benchmarks. A thin layer over proxy/certgen.h.
 *
 * Exit codes: 0 done, 1 something failed (key generation, signing,
 * writing), 2 the command line or an input file is wrong. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bsslinfo.h"
#include "certgen.h"
#include "certinfo.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define DAY 86400

static const char usage_text[] =
    "usage: mqgate-certgen <command> [options]\n"
    "\n"
    "commands:\n"
    "  ca      --cn NAME --out-cert F --out-key F [--key ec|rsa]\n"
    "          [--valid-from-days D] [--valid-days N]\n"
    "          [--issuer-cert F --issuer-key F]\n"
    "          a root CA, or an intermediate CA when an issuer is given\n"
    "  server  --cn NAME --out-cert F --out-key F [--key ec|rsa]\n"
    "          [--valid-from-days D] [--valid-days N]\n"
    "          [--issuer-cert F --issuer-key F]\n"
    "          a TLS server certificate (SAN localhost, 127.0.0.1, ::1),\n"
    "          self-signed when no issuer is given\n"
    "  device  --cn NAME [--ou OU] --issuer-cert F --issuer-key F\n"
    "          --out-cert F --out-key F [--key ec|rsa]\n"
    "          [--valid-from-days D] [--valid-days N] [--chain]\n"
    "          a device (TLS client) certificate; --chain appends the\n"
    "          issuer certificate to the certificate file\n"
    "  pool    --issuer-cert F --issuer-key F --count N --out-dir DIR\n"
    "          [--prefix device-] [--ou OU] [--key ec|rsa]\n"
    "          [--valid-from-days D] [--valid-days N]\n"
    "          N device certificates DIR/<prefix><6 digits>.crt/.key and\n"
    "          DIR/index.tsv (name, CN, SHA-256 fingerprint, cert, key)\n"
    "\n"
    "The validity starts D days from now (default -1, against clock skew;\n"
    "may be negative) and lasts N days (default 3650 for a CA, 825\n"
    "otherwise): '--valid-from-days -30 --valid-days 10' makes an expired\n"
    "certificate, '--valid-from-days 5' one not yet valid.\n"
    "Keys are EC P-256 by default, RSA-2048 with --key rsa.\n"
    "--version prints mqgate-certgen's version and its BoringSSL.\n";

enum {
  OPT_CN = 1 << 0,
  OPT_OU = 1 << 1,
  OPT_OUT_CERT = 1 << 2,
  OPT_OUT_KEY = 1 << 3,
  OPT_KEY = 1 << 4,
  OPT_FROM = 1 << 5,
  OPT_DAYS = 1 << 6,
  OPT_ISSUER_CERT = 1 << 7,
  OPT_ISSUER_KEY = 1 << 8,
  OPT_CHAIN = 1 << 9,
  OPT_COUNT = 1 << 10,
  OPT_OUT_DIR = 1 << 11,
  OPT_PREFIX = 1 << 12,
  OPT_HELP = 1 << 13,
};

static const struct option long_opts[] = {
    {"cn", required_argument, NULL, OPT_CN},
    {"ou", required_argument, NULL, OPT_OU},
    {"out-cert", required_argument, NULL, OPT_OUT_CERT},
    {"out-key", required_argument, NULL, OPT_OUT_KEY},
    {"key", required_argument, NULL, OPT_KEY},
    {"valid-from-days", required_argument, NULL, OPT_FROM},
    {"valid-days", required_argument, NULL, OPT_DAYS},
    {"issuer-cert", required_argument, NULL, OPT_ISSUER_CERT},
    {"issuer-key", required_argument, NULL, OPT_ISSUER_KEY},
    {"chain", no_argument, NULL, OPT_CHAIN},
    {"count", required_argument, NULL, OPT_COUNT},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

typedef struct {
  const char *name;
  unsigned allowed;  /* OPT_* accepted by the command */
  unsigned required; /* OPT_* it cannot do without */
  int default_days;
} command;

#define COMMON (OPT_KEY | OPT_FROM | OPT_DAYS | OPT_HELP)
static const command commands[] = {
    {"ca",
     COMMON | OPT_CN | OPT_OUT_CERT | OPT_OUT_KEY | OPT_ISSUER_CERT |
         OPT_ISSUER_KEY,
     OPT_CN | OPT_OUT_CERT | OPT_OUT_KEY, 3650},
    {"server",
     COMMON | OPT_CN | OPT_OUT_CERT | OPT_OUT_KEY | OPT_ISSUER_CERT |
         OPT_ISSUER_KEY,
     OPT_CN | OPT_OUT_CERT | OPT_OUT_KEY, 825},
    {"device",
     COMMON | OPT_CN | OPT_OU | OPT_OUT_CERT | OPT_OUT_KEY | OPT_ISSUER_CERT |
         OPT_ISSUER_KEY | OPT_CHAIN,
     OPT_CN | OPT_OUT_CERT | OPT_OUT_KEY | OPT_ISSUER_CERT | OPT_ISSUER_KEY,
     825},
    {"pool",
     COMMON | OPT_OU | OPT_ISSUER_CERT | OPT_ISSUER_KEY | OPT_COUNT |
         OPT_OUT_DIR | OPT_PREFIX,
     OPT_ISSUER_CERT | OPT_ISSUER_KEY | OPT_COUNT | OPT_OUT_DIR, 825},
};

typedef struct {
  const command *cmd;
  const char *cn, *ou, *out_cert, *out_key, *issuer_cert, *issuer_key;
  const char *out_dir, *prefix;
  mqg_key_type key_type;
  long from_days, valid_days, count;
  int chain;
} options;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                              ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mqgate-certgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\nTry 'mqgate-certgen --help'.\n", stderr);
  va_end(ap);
  return EXIT_USAGE;
}

static const char *opt_name(unsigned bit) {
  for (const struct option *o = long_opts; o->name != NULL; o++)
    if ((unsigned)o->val == bit)
      return o->name;
  return "?";
}

/* parse_long reads a whole decimal number in [min, max]. */
static int parse_long(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

/* parse_options fills |o| from the command's arguments. Returns -1 when
 * the work is to be done, else the exit code (0 after --help). */
static int parse_options(int argc, char **argv, options *o) {
  unsigned seen = 0;
  long v;
  int c;

  opterr = 0; /* our messages name the command and the option */
  while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
    if (c == '?' || c == ':')
      return usage_error("%s: unknown option or missing value: %s",
                         o->cmd->name, argv[optind - 1]);
    if (c == OPT_HELP) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!(o->cmd->allowed & (unsigned)c))
      return usage_error("%s: --%s does not apply to this command",
                         o->cmd->name, opt_name((unsigned)c));
    seen |= (unsigned)c;
    switch (c) {
    case OPT_CN: o->cn = optarg; break;
    case OPT_OU: o->ou = optarg; break;
    case OPT_OUT_CERT: o->out_cert = optarg; break;
    case OPT_OUT_KEY: o->out_key = optarg; break;
    case OPT_ISSUER_CERT: o->issuer_cert = optarg; break;
    case OPT_ISSUER_KEY: o->issuer_key = optarg; break;
    case OPT_OUT_DIR: o->out_dir = optarg; break;
    case OPT_PREFIX: o->prefix = optarg; break;
    case OPT_CHAIN: o->chain = 1; break;
    case OPT_KEY:
      if (strcmp(optarg, "ec") == 0)
        o->key_type = MQG_KEY_EC_P256;
      else if (strcmp(optarg, "rsa") == 0)
        o->key_type = MQG_KEY_RSA_2048;
      else
        return usage_error("--key must be ec or rsa, not '%s'", optarg);
      break;
    case OPT_FROM:
      if (parse_long(optarg, -36500, 36500, &v) < 0)
        return usage_error("--valid-from-days: '%s' is not a number of days "
                           "in [-36500, 36500]", optarg);
      o->from_days = v;
      break;
    case OPT_DAYS:
      if (parse_long(optarg, 1, 36500, &v) < 0)
        return usage_error("--valid-days: '%s' is not a number of days in "
                           "[1, 36500]", optarg);
      o->valid_days = v;
      break;
    case OPT_COUNT:
      /* The index has 6 digits. */
      if (parse_long(optarg, 1, 999999, &v) < 0)
        return usage_error("--count: '%s' is not in [1, 999999]", optarg);
      o->count = v;
      break;
    }
  }
  if (optind < argc)
    return usage_error("%s: unexpected argument '%s'", o->cmd->name,
                       argv[optind]);
  unsigned missing = o->cmd->required & ~seen;
  if (missing != 0)
    return usage_error("%s: --%s is required", o->cmd->name,
                       opt_name(missing & -missing));
  if (!(seen & OPT_ISSUER_CERT) != !(seen & OPT_ISSUER_KEY))
    return usage_error("%s: --issuer-cert and --issuer-key go together",
                       o->cmd->name);
  if (o->cn != NULL && o->cn[0] == '\0')
    return usage_error("--cn must not be empty");
  /* RFC 5280's upper bound, which BoringSSL enforces when building names. */
  if ((o->cn != NULL && strlen(o->cn) > 64) ||
      (o->ou != NULL && strlen(o->ou) > 64))
    return usage_error("--cn and --ou are at most 64 characters");
  if (o->prefix != NULL && strchr(o->prefix, '/') != NULL)
    return usage_error("--prefix must not contain '/'");
  if (o->prefix != NULL && strlen(o->prefix) > 64 - 6)
    return usage_error("--prefix is at most 58 characters (it starts the CN)");
  return -1;
}

/* load_issuer loads the issuer pair and checks that it can issue. */
static int load_issuer(const options *o, X509 **cert, EVP_PKEY **key) {
  int rc = mqg_certgen_load(o->issuer_cert, cert, NULL, NULL);
  if (rc < 0) {
    fprintf(stderr, "mqgate-certgen: cannot load issuer certificate %s: %s\n",
            o->issuer_cert, rc == -EINVAL ? "not a PEM certificate"
                                          : strerror(-rc));
    return EXIT_USAGE;
  }
  rc = mqg_certgen_load(NULL, NULL, o->issuer_key, key);
  if (rc < 0) {
    fprintf(stderr, "mqgate-certgen: cannot load issuer key %s: %s\n",
            o->issuer_key, rc == -EINVAL ? "not a PEM private key"
                                         : strerror(-rc));
    return EXIT_USAGE;
  }
  if (!(X509_get_extension_flags(*cert) & EXFLAG_CA)) {
    fprintf(stderr, "mqgate-certgen: %s is not a CA certificate\n",
            o->issuer_cert);
    return EXIT_USAGE;
  }
  if (!X509_check_private_key(*cert, *key)) {
    ERR_clear_error();
    fprintf(stderr, "mqgate-certgen: %s is not the key of %s\n",
            o->issuer_key, o->issuer_cert);
    return EXIT_USAGE;
  }
  return 0;
}

static void make_spec(const options *o, const char *cn, mqg_cert_spec *spec) {
  int64_t now = (int64_t)time(NULL);
  memset(spec, 0, sizeof(*spec));
  spec->cn = cn;
  spec->ou = o->ou;
  spec->not_before = now + (int64_t)o->from_days * DAY;
  spec->not_after = spec->not_before + (int64_t)o->valid_days * DAY;
  const char *name = o->cmd->name;
  spec->is_ca = strcmp(name, "ca") == 0;
  spec->server = strcmp(name, "server") == 0;
  spec->client = strcmp(name, "device") == 0 || strcmp(name, "pool") == 0;
}

/* run_single does ca, server and device: one key, one certificate. */
static int run_single(const options *o, X509 *issuer, EVP_PKEY *issuer_key) {
  mqg_cert_spec spec;
  make_spec(o, o->cn, &spec);
  int ret = EXIT_FAIL;
  X509 *cert = NULL;
  EVP_PKEY *key = mqg_certgen_key(o->key_type);
  if (key == NULL) {
    fprintf(stderr, "mqgate-certgen: key generation failed\n");
    goto out;
  }
  cert = mqg_certgen_issue(&spec, key, issuer, issuer_key);
  if (cert == NULL) {
    fprintf(stderr, "mqgate-certgen: issuing the certificate failed\n");
    goto out;
  }
  int rc = mqg_certgen_write(o->out_cert, cert, o->chain ? issuer : NULL,
                             o->out_key, key);
  if (rc < 0) {
    fprintf(stderr, "mqgate-certgen: cannot write %s / %s: %s\n", o->out_cert,
            o->out_key, strerror(-rc));
    goto out;
  }
  ret = 0;
out:
  X509_free(cert);
  EVP_PKEY_free(key);
  return ret;
}

/* write_plain writes |bio|'s contents to |path| with |mode|, without the
 * temporary file and fsync of mqg_certgen_write: a pool is a disposable
 * bench fixture written by the thousand, where two fsyncs per device would
 * dominate the run time and an interrupted run is simply run again. */
static int write_plain(const char *path, BIO *bio, mode_t mode) {
  const uint8_t *data;
  size_t len;
  if (!BIO_mem_contents(bio, &data, &len))
    return -ENOMEM;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return -errno;
  int rc = 0;
  /* O_CREAT's mode does not apply to a file that already exists. */
  if (fchmod(fd, mode) < 0)
    rc = -errno;
  while (rc == 0 && len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno != EINTR)
      rc = -errno;
    if (n > 0)
      data += n, len -= (size_t)n;
  }
  if (close(fd) < 0 && rc == 0)
    rc = -errno;
  return rc;
}

/* pool_one makes device number |i| of the pool and appends its line to
 * |index|. */
static int pool_one(const options *o, long i, X509 *issuer,
                    EVP_PKEY *issuer_key, FILE *index) {
  char name[256], cert_path[PATH_MAX], key_path[PATH_MAX];
  mqg_cert_spec spec;
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  BIO *cbio = BIO_new(BIO_s_mem()), *kbio = BIO_new(BIO_s_mem());
  uint8_t *der = NULL;
  int rc = -ENOMEM;

  if ((size_t)snprintf(name, sizeof(name), "%s%06ld", o->prefix, i) >=
          sizeof(name) ||
      (size_t)snprintf(cert_path, sizeof(cert_path), "%s/%s.crt", o->out_dir,
                       name) >= sizeof(cert_path) ||
      (size_t)snprintf(key_path, sizeof(key_path), "%s/%s.key", o->out_dir,
                       name) >= sizeof(key_path)) {
    rc = -ENAMETOOLONG;
    goto out;
  }
  make_spec(o, name, &spec);
  if (cbio == NULL || kbio == NULL ||
      (key = mqg_certgen_key(o->key_type)) == NULL ||
      (cert = mqg_certgen_issue(&spec, key, issuer, issuer_key)) == NULL ||
      !PEM_write_bio_X509(cbio, cert) ||
      !PEM_write_bio_PKCS8PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL))
    goto out;
  int len = i2d_X509(cert, &der);
  if (len <= 0)
    goto out;
  if ((rc = write_plain(key_path, kbio, 0600)) < 0 ||
      (rc = write_plain(cert_path, cbio, 0644)) < 0)
    goto out;

  uint8_t md[32];
  char hex[65];
  mqg_certinfo_fingerprint(der, (size_t)len, md);
  for (int k = 0; k < 32; k++)
    snprintf(hex + 2 * k, 3, "%02x", md[k]);
  if (fprintf(index, "%s\t%s\t%s\t%s\t%s\n", name, name, hex, cert_path,
              key_path) < 0) {
    rc = -EIO;
    goto out;
  }
  rc = 0;
out:
  OPENSSL_free(der);
  BIO_free(kbio);
  BIO_free(cbio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}

static int run_pool(const options *o, X509 *issuer, EVP_PKEY *issuer_key) {
  char index_path[PATH_MAX];
  if (mkdir(o->out_dir, 0755) < 0 && errno != EEXIST) {
    fprintf(stderr, "mqgate-certgen: cannot create %s: %s\n", o->out_dir,
            strerror(errno));
    return EXIT_FAIL;
  }
  if ((size_t)snprintf(index_path, sizeof(index_path), "%s/index.tsv",
                       o->out_dir) >= sizeof(index_path))
    return usage_error("--out-dir is too long");
  FILE *index = fopen(index_path, "w");
  if (index == NULL) {
    fprintf(stderr, "mqgate-certgen: cannot create %s: %s\n", index_path,
            strerror(errno));
    return EXIT_FAIL;
  }

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 1; i <= o->count; i++) {
    int rc = pool_one(o, i, issuer, issuer_key, index);
    if (rc < 0) {
      fprintf(stderr, "mqgate-certgen: pool: device %ld failed: %s\n", i,
              rc == -ENOMEM ? "key generation or signing failed"
                            : strerror(-rc));
      fclose(index);
      return EXIT_FAIL;
    }
  }
  if (fclose(index) != 0) {
    fprintf(stderr, "mqgate-certgen: cannot write %s: %s\n", index_path,
            strerror(errno));
    return EXIT_FAIL;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "mqgate-certgen: pool: %ld certificates in %.3f s "
          "(%.0f/s), index %s\n",
          o->count, secs, secs > 0 ? (double)o->count / secs : 0.0,
          index_path);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage_error("a command is required: ca, server, device or pool");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    mqg_bsslinfo_print_version(stdout, "mqgate-certgen", MQG_VERSION);
    return 0;
  }
  options o = {.prefix = "device-", .key_type = MQG_KEY_EC_P256,
               .from_days = -1};
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      o.cmd = &commands[i];
  if (o.cmd == NULL)
    return usage_error("unknown command '%s'", argv[1]);
  o.valid_days = o.cmd->default_days;
  int ret = parse_options(argc - 1, argv + 1, &o);
  if (ret >= 0)
    return ret;

  X509 *issuer = NULL;
  EVP_PKEY *issuer_key = NULL;
  if (o.issuer_cert != NULL && (ret = load_issuer(&o, &issuer, &issuer_key)))
    goto out;
  ret = strcmp(o.cmd->name, "pool") == 0 ? run_pool(&o, issuer, issuer_key)
                                          : run_single(&o, issuer, issuer_key);
out:
  X509_free(issuer);
  EVP_PKEY_free(issuer_key);
  return ret;
}
