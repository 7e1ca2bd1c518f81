/* Tests of proxy/tlskeys.c: the --ticket-keys file format and the key set. */
#include "task.h"

#include <errno.h>

#include <openssl/base64.h>

#include "tlskeys.h"

/* A base64 line of |len| bytes: the name is |name0| then zeros, every
 * other byte |fill|. */
static size_t key_line(char *out, size_t len, uint8_t fill, uint8_t name0) {
  uint8_t raw[80];
  size_t n;
  memset(raw, fill, sizeof(raw));
  memset(raw, 0, 16);
  raw[0] = name0;
  EVP_EncodeBlock((uint8_t *)out, raw, len);
  n = strlen(out);
  out[n++] = '\n';
  out[n] = '\0';
  return n;
}

TEST_IMPL(tlskeys_parse_order) {
  char text[1024] = "# comment\n\n";
  size_t len = strlen(text), n = 0;
  mqg_ticket_key keys[MQG_TICKET_KEYS_MAX];
  char err[200];
  /* Oldest first: names 1, 2, 3 (48, 80, 80 bytes). */
  len += key_line(text + len, 48, 0x11, 1);
  len += key_line(text + len, 80, 0x22, 2);
  len += key_line(text + len, 80, 0x33, 3);
  ASSERT_EQ(mqg_tls_ticket_keys_parse(text, len, keys, &n, err, sizeof(err)), 0);
  ASSERT_EQ(n, 3);
  ASSERT_EQ(keys[0].name[0], 2); /* the next-to-last encrypts */
  ASSERT_EQ(keys[0].key_len, 32);
  ASSERT_EQ(keys[0].aes_key[0], 0x22);
  ASSERT_EQ(keys[1].name[0], 3); /* then from the newest down */
  ASSERT_EQ(keys[2].name[0], 1);
  ASSERT_EQ(keys[2].key_len, 16);
  ASSERT_EQ(keys[2].hmac_key[15], 0x11);
  ASSERT_EQ(keys[2].hmac_key[16], 0); /* past key_len: unused, zero */
  ASSERT_EQ(mqg_tls_set_ticket_keys(keys, n), 0);
  /* One key: it encrypts. CRLF endings and spaces are fine. */
  len = key_line(text, 80, 0x44, 4);
  text[len - 1] = '\r';
  text[len++] = '\n';
  ASSERT_EQ(mqg_tls_ticket_keys_parse(text, len, keys, &n, err, sizeof(err)), 0);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(keys[0].name[0], 4);
  mqg_tls_clear_ticket_keys();
  return 0;
}

TEST_IMPL(tlskeys_parse_errors) {
  char text[4096];
  size_t len = 0, n;
  mqg_ticket_key keys[MQG_TICKET_KEYS_MAX];
  char err[200];
  ASSERT_EQ(mqg_tls_ticket_keys_parse("", 0, keys, &n, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "no key") != NULL);
  ASSERT_EQ(mqg_tls_ticket_keys_parse("# only\n\n", 8, keys, &n, err, sizeof(err)), -EINVAL);
  /* 32 bytes: neither 48 nor 80. */
  len = key_line(text, 32, 0x55, 5);
  ASSERT_EQ(mqg_tls_ticket_keys_parse(text, len, keys, &n, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "line 1") != NULL);
  /* Not base64. */
  ASSERT_EQ(mqg_tls_ticket_keys_parse("@@@@\n", 5, keys, &n, err, sizeof(err)), -EINVAL);
  /* A repeated name. */
  len = key_line(text, 80, 0x66, 6);
  len += key_line(text + len, 80, 0x77, 6);
  ASSERT_EQ(mqg_tls_ticket_keys_parse(text, len, keys, &n, err, sizeof(err)), -EINVAL);
  ASSERT(strstr(err, "line 2") != NULL);
  /* Too many. */
  len = 0;
  for (int i = 0; i <= MQG_TICKET_KEYS_MAX; i++)
    len += key_line(text + len, 48, 0x10, (uint8_t)(0x80 + i));
  ASSERT_EQ(mqg_tls_ticket_keys_parse(text, len, keys, &n, err, sizeof(err)), -EINVAL);
  /* Every truncation of a good line fails or yields a whole key; none reads
   * past |len| (checked under ASan). */
  len = key_line(text, 80, 0x12, 7);
  for (size_t cut = 0; cut < len - 1; cut++) {
    int rc = mqg_tls_ticket_keys_parse(text, cut, keys, &n, err, sizeof(err));
    /* 64 base64 characters are 48 bytes: a (different) key of its own. */
    ASSERT(rc == -EINVAL || (cut == 64 && rc == 0 && n == 1 && keys[0].key_len == 16));
  }
  /* The set's own checks. */
  mqg_ticket_key bad[2];
  memset(bad, 0, sizeof(bad));
  bad[0].key_len = 24;
  ASSERT_EQ(mqg_tls_set_ticket_keys(bad, 1), -EINVAL);
  bad[0].key_len = bad[1].key_len = 16;
  ASSERT_EQ(mqg_tls_set_ticket_keys(bad, 2), -EINVAL); /* same name */
  ASSERT_EQ(mqg_tls_set_ticket_keys(bad, 0), -EINVAL);
  ASSERT_EQ(mqg_tls_set_ticket_keys(bad, MQG_TICKET_KEYS_MAX + 1), -EINVAL);
  return 0;
}
