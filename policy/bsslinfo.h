/* bsslinfo.h: which BoringSSL this process runs on, and whether it is the
 * full-speed build or Debian's slow OPENSSL_SMALL one (`--version` of every
 * program, mqgate's start-up log).
 *
 * Debian's android-libboringssl is compiled with -DOPENSSL_SMALL (its
 * debian/rules always adds it), which drops BoringSSL's precomputed P-256
 * and Curve25519 tables: an ECDSA P-256 handshake costs about 3x. Nothing
 * the library exports tells the two builds apart, so the answer rests only
 * on facts that can be checked, the same way every time:
 *
 *   full     beside the loaded libcrypto (symlinks resolved) lies the marker
 *            that scripts/boringssl.sh writes, MQG_BSSLINFO_MARKER: a first
 *            line "# ... without OPENSSL_SMALL ..." and then the SHA-256 of
 *            the libraries in sha256sum(1) format ("<hex>  libcrypto.so.0");
 *            the loaded file's SHA-256 is the one the marker names. The
 *            marker travels with the libraries (make boringssl's
 *            .deps/boringssl/lib, the image's /usr/local/lib/mqgate), and
 *            `sha256sum -c` checks it by hand.
 *   small    the loaded libcrypto is Debian's packaged one,
 *            /usr/lib/<triplet>/android/libcrypto.so.0.
 *   unknown  anything else, including a marker that does not match the
 *            library beside it (the detail says why).
 *
 * Errors: none are returned; what could not be read or matched ends as
 * "unknown" with the reason in |detail|. */
#ifndef MQG_BSSLINFO_H
#define MQG_BSSLINFO_H

#include <stdio.h>

/* The marker's file name, in the directory of the libcrypto it describes. */
#define MQG_BSSLINFO_MARKER "BORINGSSL-BUILD"

typedef enum {
  MQG_BSSL_BUILD_UNKNOWN = 0,
  MQG_BSSL_BUILD_FULL,  /* without OPENSSL_SMALL (marker checked) */
  MQG_BSSL_BUILD_SMALL, /* Debian's packaged OPENSSL_SMALL build */
} mqg_bssl_build;

typedef struct {
  char path[4096];     /* the loaded libcrypto, symlinks resolved, or "" */
  const char *version; /* OpenSSL_version(OPENSSL_VERSION), static */
  mqg_bssl_build build;
  char detail[512];    /* the marker's description, or why not full */
} mqg_bsslinfo;

/* mqg_bsslinfo_classify fills |out| for the libcrypto file at |libcrypto|
 * (resolved with realpath(3) first): its build by the rules above, and the
 * detail. Reads that file and the marker beside it; |out->version| is left
 * NULL. */
void mqg_bsslinfo_classify(const char *libcrypto, mqg_bsslinfo *out);

/* mqg_bsslinfo_get fills |out| for the libcrypto this process has loaded
 * (found with dladdr(3) on one of its functions), version included. */
void mqg_bsslinfo_get(mqg_bsslinfo *out);

/* mqg_bsslinfo_build_name returns "full", "small" or "unknown". */
const char *mqg_bsslinfo_build_name(mqg_bssl_build build);

/* mqg_bsslinfo_describe writes one line about |info| into |buf| (|len|
 * bytes, always terminated): the path, the version, the build in plain
 * words, and for the OPENSSL_SMALL build the hint to run `make boringssl`.
 * Returns |buf|. */
const char *mqg_bsslinfo_describe(const mqg_bsslinfo *info, char *buf, size_t len);

/* mqg_bsslinfo_print_version prints what `<program> --version` shows:
 * "<program> <version>" and the line of mqg_bsslinfo_describe for this
 * process's BoringSSL. */
void mqg_bsslinfo_print_version(FILE *f, const char *program, const char *version);

#endif
