/* hex.h: bytes as hexadecimal digits, the way mqgate writes fingerprints,
 * CA ids, token hashes and library hashes (lowercase, two digits a byte)
 * and reads them back (either case).
 *
 * Nothing here allocates: the caller sizes the buffers. Errors: the
 * readers return -1 for anything that is not what they describe. (The
 * uppercase serial numbers of certinfo.h and crl.h drop leading zero
 * bytes and are written by their own modules.) */
#ifndef MQG_HEX_H
#define MQG_HEX_H

#include <stddef.h>
#include <stdint.h>

/* mqg_hex_encode writes the |n| bytes at |in| as 2*|n| lowercase hex
 * digits and a NUL into |out|, which must hold 2*|n| + 1 bytes. Cannot
 * fail. */
void mqg_hex_encode(const uint8_t *in, size_t n, char *out);

/* mqg_hex_digit returns the value (0..15) of the hex digit |c|, either
 * case, or -1 when |c| is not one (a sign, a space, a NUL, a byte above
 * 0x7f, EOF). */
int mqg_hex_digit(int c);

/* mqg_hex_decode reads the NUL-terminated |hex|, which must be exactly
 * 2*|n| hex digits (either case; no sign, prefix, space or separator),
 * into the |n| bytes at |out|. Returns 0, or -1 with |out| untouched. */
int mqg_hex_decode(const char *hex, size_t n, uint8_t *out);

#endif
