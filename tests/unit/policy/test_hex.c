#include "task.h"

#include <stdint.h>

#include "hex.h"

TEST_IMPL(hex_encode) {
  static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
  char out[2 * sizeof(in) + 2];
  memset(out, '#', sizeof(out));
  mqg_hex_encode(in, sizeof(in), out);
  ASSERT_STR_EQ(out, "00017f80abcdefff"); /* lowercase, two digits a byte */
  ASSERT_EQ(out[sizeof(out) - 1], '#');   /* 2n digits and a NUL, no more */
  memset(out, '#', sizeof(out));
  mqg_hex_encode(in, 0, out);
  ASSERT_STR_EQ(out, "");
  ASSERT_EQ(out[1], '#');
  /* Every byte value, against printf's %02x. */
  uint8_t all[256];
  char hex[513], want[3];
  for (int i = 0; i < 256; i++)
    all[i] = (uint8_t)i;
  mqg_hex_encode(all, sizeof(all), hex);
  ASSERT_EQ(strlen(hex), 512);
  for (int i = 0; i < 256; i++) {
    snprintf(want, sizeof(want), "%02x", i);
    ASSERT_MEM_EQ(hex + 2 * i, want, 2);
  }
  return 0;
}

TEST_IMPL(hex_digit) {
  /* Either case, as every reader it replaced (the fingerprint of a "cert"
   * event, the %-escapes of Redis URLs and of query strings) took both. */
  static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
  for (int c = -1; c < 256; c++) {
    int want = -1;
    for (int v = 0; v < 16; v++)
      if (c == lower[v] || c == upper[v])
        want = v;
    ASSERT_EQ(mqg_hex_digit(c), want);
  }
  return 0;
}

TEST_IMPL(hex_decode) {
  uint8_t out[4];
  ASSERT_EQ(mqg_hex_decode("00017fff", 4, out), 0);
  ASSERT_MEM_EQ(out, "\x00\x01\x7f\xff", 4);
  ASSERT_EQ(mqg_hex_decode("ABcdEf09", 4, out), 0);
  ASSERT_MEM_EQ(out, "\xab\xcd\xef\x09", 4);
  ASSERT_EQ(mqg_hex_decode("", 0, out), 0);

  /* A fingerprint round trip. */
  uint8_t fp[32], back[32];
  char fp_hex[65];
  for (int i = 0; i < 32; i++)
    fp[i] = (uint8_t)(i * 37 + 11);
  mqg_hex_encode(fp, sizeof(fp), fp_hex);
  ASSERT_EQ(mqg_hex_decode(fp_hex, sizeof(back), back), 0);
  ASSERT_MEM_EQ(back, fp, sizeof(fp));

  /* Exactly 2n digits: nothing sscanf("%2x") let through (a sign, a space,
   * "0x", one digit then a non-digit), no odd, short or long string. The
   * output is left as it was. */
  static const char *const bad[] = {
      "+f000000", "-1000000", " f000000", "0x000000", "f 000000", "0000000g",
      "0000000",  "000000000", "00000000 ", "",        "zzzzzzzz", "00\xc3\xa9" "0000",
      NULL,
  };
  for (int i = 0; bad[i] != NULL; i++) {
    memset(out, 0x5a, sizeof(out));
    if (mqg_hex_decode(bad[i], 4, out) != -1) {
      fprintf(stderr, "accepted \"%s\"\n", bad[i]);
      ASSERT(0);
    }
    ASSERT_MEM_EQ(out, "\x5a\x5a\x5a\x5a", 4);
  }
  ASSERT_EQ(mqg_hex_decode("+f", 1, out), -1);
  ASSERT_EQ(mqg_hex_decode("f", 1, out), -1);
  ASSERT_EQ(mqg_hex_decode("a", 0, out), -1);
  /* One bad digit anywhere in a fingerprint. */
  for (int i = 0; i < 64; i++) {
    char c = fp_hex[i];
    fp_hex[i] = i % 2 ? 'x' : '+';
    ASSERT_EQ(mqg_hex_decode(fp_hex, sizeof(back), back), -1);
    fp_hex[i] = c;
  }
  return 0;
}
