/* bsslinfo.c: which BoringSSL this process runs on (see bsslinfo.h). */
#include "bsslinfo.h"

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "hex.h"

/* Where Debian's android-libboringssl puts libcrypto (after realpath(3):
 * /lib is /usr/lib on a merged-/usr system). */
#define DEBIAN_LIBCRYPTO "/usr/lib/*/android/libcrypto.so.0"
/* A marker is a few lines; anything larger is not one. */
#define MARKER_MAX 4096

__attribute__((format(printf, 2, 3))) static void set_detail(mqg_bsslinfo *out,
                                                             const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
  va_end(ap);
}

/* file_sha256 writes the lowercase hex SHA-256 of the file at |path| into
 * |hex| (65 bytes). Returns 0 or -errno. */
static int file_sha256(const char *path, char hex[2 * SHA256_DIGEST_LENGTH + 1]) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -errno;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  unsigned char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    SHA256_Update(&ctx, buf, n);
  int rc = ferror(f) ? -EIO : 0;
  fclose(f);
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &ctx);
  mqg_hex_encode(md, sizeof(md), hex);
  return rc;
}

/* read_marker reads the marker at |path| into |buf| (terminated). Returns
 * its length, -ENOENT when there is none, -EFBIG when it is too large for a
 * marker, or another -errno. */
static long read_marker(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -errno;
  size_t n = fread(buf, 1, cap, f);
  int err = ferror(f);
  fclose(f);
  if (err)
    return -EIO;
  if (n == cap)
    return -EFBIG;
  buf[n] = '\0';
  return (long)n;
}

/* hash_line_for: |line| is "<64 hex><space><space or *><name>"
 * (sha256sum's text or binary mode) for |name|; 1 and the hex in |hex|, or
 * 0 for another line. */
static int hash_line_for(const char *line, const char *name, char hex[65]) {
  size_t i = 0;
  while (i < 64 && line[i] != '\0' && strchr("0123456789abcdef", line[i]) != NULL)
    i++;
  if (i != 64 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
    return 0;
  if (strcmp(line + 66, name) != 0)
    return 0;
  memcpy(hex, line, 64);
  hex[64] = '\0';
  return 1;
}

/* check_marker decides between full and unknown for |lib| (resolved) when a
 * marker may lie in its directory. Returns 1 if a marker was there (the
 * decision is in |out|), 0 if there is none. */
static int check_marker(const char *lib, mqg_bsslinfo *out) {
  char marker[PATH_MAX + sizeof(MQG_BSSLINFO_MARKER)];
  const char *slash = strrchr(lib, '/');
  const char *name = slash != NULL ? slash + 1 : lib;
  int dirlen = slash != NULL ? (int)(slash - lib) : 1;
  snprintf(marker, sizeof(marker), "%.*s/%s", dirlen, slash != NULL ? lib : ".",
           MQG_BSSLINFO_MARKER);

  char text[MARKER_MAX];
  long n = read_marker(marker, text, sizeof(text));
  if (n == -ENOENT)
    return 0;
  if (n < 0) {
    set_detail(out, "marker %s unreadable: %s", marker, strerror((int)-n));
    return 1;
  }
  /* The first line says what was built; the rest are hash lines. */
  char *line = text, *nl = strchr(text, '\n');
  if (nl != NULL)
    *nl = '\0';
  if (strncmp(line, "# ", 2) != 0 || strstr(line, "without OPENSSL_SMALL") == NULL) {
    set_detail(out, "marker %s does not say \"without OPENSSL_SMALL\"", marker);
    return 1;
  }
  /* Kept whole or not at all: a description that long is no marker's. */
  char desc[256];
  if (strlen(line + 2) >= sizeof(desc)) {
    set_detail(out, "marker %s: first line too long", marker);
    return 1;
  }
  memcpy(desc, line + 2, strlen(line + 2) + 1);

  char want[65] = "";
  while (nl != NULL && want[0] == '\0') {
    line = nl + 1;
    if ((nl = strchr(line, '\n')) != NULL)
      *nl = '\0';
    hash_line_for(line, name, want);
  }
  if (want[0] == '\0') {
    set_detail(out, "marker %s has no SHA-256 line for %s", marker, name);
    return 1;
  }
  char have[65];
  int rc = file_sha256(lib, have);
  if (rc != 0) {
    set_detail(out, "cannot read %s: %s", lib, strerror(-rc));
    return 1;
  }
  if (strcmp(have, want) != 0) {
    set_detail(out, "marker %s names another %s (SHA-256 differs)", marker, name);
    return 1;
  }
  out->build = MQG_BSSL_BUILD_FULL;
  set_detail(out, "%s; SHA-256 matches %s", desc, MQG_BSSLINFO_MARKER);
  return 1;
}

void mqg_bsslinfo_classify(const char *libcrypto, mqg_bsslinfo *out) {
  memset(out, 0, sizeof(*out));
  out->build = MQG_BSSL_BUILD_UNKNOWN;
  char resolved[PATH_MAX];
  if (libcrypto == NULL || realpath(libcrypto, resolved) == NULL) {
    snprintf(out->path, sizeof(out->path), "%s", libcrypto ? libcrypto : "");
    set_detail(out, "library file %s not found: %s", libcrypto ? libcrypto : "(none)",
               strerror(libcrypto ? errno : ENOENT));
    return;
  }
  snprintf(out->path, sizeof(out->path), "%s", resolved);
  if (check_marker(resolved, out))
    return;
  if (fnmatch(DEBIAN_LIBCRYPTO, resolved, FNM_PATHNAME) == 0) {
    out->build = MQG_BSSL_BUILD_SMALL;
    set_detail(out, "Debian's packaged android-libboringssl, built with -DOPENSSL_SMALL");
    return;
  }
  set_detail(out, "no %s marker beside it and not Debian's packaged library",
             MQG_BSSLINFO_MARKER);
}

void mqg_bsslinfo_get(mqg_bsslinfo *out) {
  Dl_info dl;
  /* Any function of libcrypto will do; this one also gives the version. */
  const char *(*fn)(int) = OpenSSL_version;
  const char *path = NULL;
  if (dladdr((const void *)fn, &dl) != 0 && dl.dli_fname != NULL)
    path = dl.dli_fname;
  mqg_bsslinfo_classify(path, out);
  out->version = OpenSSL_version(OPENSSL_VERSION);
}

const char *mqg_bsslinfo_build_name(mqg_bssl_build build) {
  switch (build) {
  case MQG_BSSL_BUILD_FULL:
    return "full";
  case MQG_BSSL_BUILD_SMALL:
    return "small";
  case MQG_BSSL_BUILD_UNKNOWN:
    break;
  }
  return "unknown";
}

const char *mqg_bsslinfo_describe(const mqg_bsslinfo *info, char *buf, size_t len) {
  const char *what = "build unknown (whether OPENSSL_SMALL cannot be told)";
  const char *hint = "";
  if (info->build == MQG_BSSL_BUILD_FULL) {
    what = "full-speed build (without OPENSSL_SMALL)";
  } else if (info->build == MQG_BSSL_BUILD_SMALL) {
    what = "the slow OPENSSL_SMALL build (ECDSA P-256 handshakes cost about 3x)";
    hint = "; run `make boringssl` and rebuild for the full-speed one";
  }
  int n = snprintf(buf, len, "%s: %s, version \"%s\"; %s%s", what,
                   info->path[0] ? info->path : "(library not found)",
                   info->version ? info->version : "?", info->detail, hint);
  /* A cut line says so. */
  if (n >= 0 && (size_t)n >= len && len > 4)
    memcpy(buf + len - 4, "...", 4);
  return buf;
}

void mqg_bsslinfo_print_version(FILE *f, const char *program, const char *version) {
  mqg_bsslinfo info;
  char line[1024];
  mqg_bsslinfo_get(&info);
  fprintf(f, "%s %s\nBoringSSL: %s\n", program, version,
          mqg_bsslinfo_describe(&info, line, sizeof(line)));
}
