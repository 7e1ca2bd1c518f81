/* test_bsslinfo.c: which BoringSSL build a libcrypto is, from its marker or
 * its place; and which one this test binary runs on. */
#include "task.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "bsslinfo.h"

/* A fresh directory holding a stand-in libcrypto.so.0 (its content only has
 * to hash), a libcrypto.so symlink to it, and what each test writes. */
typedef struct {
  char dir[64];
  char lib[128];
  char link[128];
  char marker[128];
  char hex[65]; /* SHA-256 of lib */
} fixture;

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  ASSERT(fwrite(text, 1, len, f) == len);
  ASSERT(fclose(f) == 0);
}

static void fixture_init(fixture *fx) {
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/mqg-bsslinfo-XXXXXX");
  ASSERT(mkdtemp(fx->dir) != NULL);
  snprintf(fx->lib, sizeof(fx->lib), "%s/libcrypto.so.0", fx->dir);
  snprintf(fx->link, sizeof(fx->link), "%s/libcrypto.so", fx->dir);
  snprintf(fx->marker, sizeof(fx->marker), "%s/" MQG_BSSLINFO_MARKER, fx->dir);
  static const char body[] = "\x7f" "ELF not really a library";
  write_file(fx->lib, body, sizeof(body) - 1);
  ASSERT(symlink("libcrypto.so.0", fx->link) == 0);
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)body, sizeof(body) - 1, md);
  for (size_t i = 0; i < sizeof(md); i++)
    snprintf(fx->hex + 2 * i, 3, "%02x", md[i]);
}

static void fixture_cleanup(fixture *fx) {
  unlink(fx->marker);
  unlink(fx->link);
  unlink(fx->lib);
  ASSERT(rmdir(fx->dir) == 0);
}

static void put_marker(fixture *fx, const char *fmt, const char *a, const char *b) {
  char text[1024];
  int n = snprintf(text, sizeof(text), fmt, a, b);
  ASSERT(n > 0 && (size_t)n < sizeof(text));
  write_file(fx->marker, text, (size_t)n);
}

static mqg_bsslinfo classify(const char *path) {
  mqg_bsslinfo info;
  mqg_bsslinfo_classify(path, &info);
  return info;
}

#define GOOD_FIRST "# android-platform-external-boringssl 13.0.0+r24-2 without OPENSSL_SMALL"

TEST_IMPL(bsslinfo_marker) {
  fixture fx;
  fixture_init(&fx);
  char resolved[PATH_MAX];
  ASSERT(realpath(fx.lib, resolved) != NULL);

  /* No marker: not Debian's place either, so unknown, and said why. */
  mqg_bsslinfo info = classify(fx.lib);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);
  ASSERT_STR_EQ(info.path, resolved);
  ASSERT(strstr(info.detail, "no " MQG_BSSLINFO_MARKER " marker") != NULL);

  /* The marker as scripts/boringssl.sh writes it (sha256sum text mode). */
  put_marker(&fx, GOOD_FIRST "\n%s  libcrypto.so.0\n%s  libssl.so.0\n", fx.hex,
             "0000000000000000000000000000000000000000000000000000000000000000");
  info = classify(fx.lib);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_FULL);
  ASSERT(strstr(info.detail, "13.0.0+r24-2 without OPENSSL_SMALL") != NULL);
  ASSERT(strstr(info.detail, "SHA-256 matches") != NULL);
  /* Through the symlink: the file it points at is the one checked. */
  info = classify(fx.link);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_FULL);
  ASSERT_STR_EQ(info.path, resolved);
  /* sha256sum's binary mode, and no final newline. */
  put_marker(&fx, GOOD_FIRST "\n%s *libcrypto.so.0%s", fx.hex, "");
  ASSERT_EQ(classify(fx.lib).build, MQG_BSSL_BUILD_FULL);

  /* The library changed after the marker was written. */
  char other[65];
  memcpy(other, fx.hex, sizeof(other));
  other[0] = other[0] == '0' ? '1' : '0';
  put_marker(&fx, GOOD_FIRST "\n%s  libcrypto.so.0\n%s", other, "");
  info = classify(fx.lib);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);
  ASSERT(strstr(info.detail, "SHA-256 differs") != NULL);

  /* A marker that does not say the build is without OPENSSL_SMALL. */
  put_marker(&fx, "# android-platform-external-boringssl 13.0.0+r24-2\n%s  libcrypto.so.0\n%s",
             fx.hex, "");
  info = classify(fx.lib);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);
  ASSERT(strstr(info.detail, "does not say") != NULL);
  put_marker(&fx, "without OPENSSL_SMALL\n%s  libcrypto.so.0\n%s", fx.hex, "");
  ASSERT_EQ(classify(fx.lib).build, MQG_BSSL_BUILD_UNKNOWN);

  /* Hash lines for other files only, cut short, or malformed. */
  put_marker(&fx, GOOD_FIRST "\n%s  libssl.so.0\n%s", fx.hex, "");
  info = classify(fx.lib);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);
  ASSERT(strstr(info.detail, "no SHA-256 line for libcrypto.so.0") != NULL);
  const char *bad[] = {
      "%.63s  libcrypto.so.0\n",       /* 63 digits */
      "%s libcrypto.so.0\n",           /* one space */
      "%s  libcrypto.so.0.extra\n",    /* another name */
      "%s  libcrypto.so.0 \n",         /* trailing space */
      "x%s  libcrypto.so.0\n",         /* 65 characters */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char fmt[128];
    snprintf(fmt, sizeof(fmt), "%s\n%s%%s", GOOD_FIRST, bad[i]);
    put_marker(&fx, fmt, fx.hex, "");
    ASSERT_EQ(classify(fx.lib).build, MQG_BSSL_BUILD_UNKNOWN);
  }
  /* Upper-case hex is not what sha256sum writes. */
  char upper[65];
  for (size_t i = 0; i < 65; i++)
    upper[i] = (char)(fx.hex[i] >= 'a' ? fx.hex[i] - 32 : fx.hex[i]);
  put_marker(&fx, GOOD_FIRST "\n%s  libcrypto.so.0\n%s", upper, "");
  ASSERT_EQ(classify(fx.lib).build, MQG_BSSL_BUILD_UNKNOWN);

  /* Empty, and too large to be a marker. */
  write_file(fx.marker, "", 0);
  ASSERT_EQ(classify(fx.lib).build, MQG_BSSL_BUILD_UNKNOWN);
  static char big[8192];
  memset(big, '#', sizeof(big));
  write_file(fx.marker, big, sizeof(big));
  info = classify(fx.lib);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);
  ASSERT(strstr(info.detail, "unreadable") != NULL);

  fixture_cleanup(&fx);
  return 0;
}

TEST_IMPL(bsslinfo_places) {
  /* Debian's packaged library is the OPENSSL_SMALL build by its place. */
  char debian[256];
  snprintf(debian, sizeof(debian), "/usr/lib/%s/android/libcrypto.so.0", MQG_TEST_MULTIARCH);
  if (access(debian, R_OK) == 0) {
    mqg_bsslinfo info = classify(debian);
    ASSERT_EQ(info.build, MQG_BSSL_BUILD_SMALL);
    ASSERT_STR_EQ(info.path, debian);
    ASSERT(strstr(info.detail, "OPENSSL_SMALL") != NULL);
  } else {
    fprintf(stderr, "bsslinfo_places: %s absent, Debian case not checked\n", debian);
  }
  /* No file: unknown, and said so. */
  mqg_bsslinfo info = classify("/nonexistent/libcrypto.so.0");
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);
  ASSERT(strstr(info.detail, "not found") != NULL);
  info = classify(NULL);
  ASSERT_EQ(info.build, MQG_BSSL_BUILD_UNKNOWN);

  /* What each build says, and the hint only for the slow one. */
  char line[1024];
  mqg_bsslinfo i = {.path = "/x/libcrypto.so.0", .version = "BoringSSL",
                    .build = MQG_BSSL_BUILD_SMALL, .detail = "d"};
  mqg_bsslinfo_describe(&i, line, sizeof(line));
  ASSERT(strstr(line, "OPENSSL_SMALL build") != NULL);
  ASSERT(strstr(line, "make boringssl") != NULL);
  ASSERT(strstr(line, "/x/libcrypto.so.0") != NULL);
  i.build = MQG_BSSL_BUILD_FULL;
  mqg_bsslinfo_describe(&i, line, sizeof(line));
  ASSERT(strstr(line, "full-speed build (without OPENSSL_SMALL)") != NULL);
  ASSERT(strstr(line, "make boringssl") == NULL);
  i.build = MQG_BSSL_BUILD_UNKNOWN;
  mqg_bsslinfo_describe(&i, line, sizeof(line));
  ASSERT(strstr(line, "build unknown") != NULL);
  ASSERT_STR_EQ(mqg_bsslinfo_build_name(MQG_BSSL_BUILD_FULL), "full");
  ASSERT_STR_EQ(mqg_bsslinfo_build_name(MQG_BSSL_BUILD_SMALL), "small");
  ASSERT_STR_EQ(mqg_bsslinfo_build_name(MQG_BSSL_BUILD_UNKNOWN), "unknown");
  /* A cut line ends with "...". */
  char small[24];
  mqg_bsslinfo_describe(&i, small, sizeof(small));
  ASSERT_EQ(strlen(small), sizeof(small) - 1);
  ASSERT_STR_EQ(small + sizeof(small) - 4, "...");
  return 0;
}

/* The library this binary was linked against (tests/CMakeLists.txt passes
 * the directory CMake chose, and what it expects of it). */
TEST_IMPL(bsslinfo_self) {
  mqg_bsslinfo info;
  mqg_bsslinfo_get(&info);
  char want[PATH_MAX], lib[PATH_MAX];
  snprintf(lib, sizeof(lib), "%s/libcrypto.so.0", MQG_TEST_BSSL_LIBDIR);
  if (getenv("LD_LIBRARY_PATH") != NULL || getenv("LD_PRELOAD") != NULL) {
    fprintf(stderr, "bsslinfo_self: LD_LIBRARY_PATH/LD_PRELOAD set, not checked\n");
    return 0;
  }
  ASSERT(realpath(lib, want) != NULL);
  ASSERT_STR_EQ(info.path, want);
  ASSERT_STR_EQ(info.version, "BoringSSL");
  ASSERT_STR_EQ(mqg_bsslinfo_build_name(info.build), MQG_TEST_BSSL_EXPECT);
  return 0;
}
