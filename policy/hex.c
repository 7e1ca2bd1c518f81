/* hex.c: see hex.h. */
#include "hex.h"

void mqg_hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int mqg_hex_digit(int c) {
  /* Not isxdigit(3): its answer for bytes above 0x7f follows the locale. */
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int mqg_hex_decode(const char *hex, size_t n, uint8_t *out) {
  /* Checked whole first, so that a failure leaves |out| as it was. The
   * NUL is not a digit: a short string stops the loop. */
  for (size_t i = 0; i < 2 * n; i++)
    if (mqg_hex_digit((unsigned char)hex[i]) < 0)
      return -1;
  if (hex[2 * n] != '\0')
    return -1;
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(mqg_hex_digit((unsigned char)hex[2 * i]) << 4 |
                       mqg_hex_digit((unsigned char)hex[2 * i + 1]));
  return 0;
}
