/* tlskeys.c: see tlskeys.h. */
#include "tlskeys.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/base64.h>
#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#define PROCESS_KEY_LIFETIME_S (24 * 3600)
#define FILE_MAX (64 * 1024)

/* The keys in force: |keys[0]| encrypts. |given| tells a set given by a
 * caller from the process's own, which rotates itself. */
static struct {
  pthread_rwlock_t lock;
  mqg_ticket_key keys[MQG_TICKET_KEYS_MAX];
  size_t n;
  int given;
  time_t made; /* when the process's own current key was made */
} ks = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static int random_key(mqg_ticket_key *k) {
  k->key_len = 32;
  return RAND_bytes(k->name, sizeof(k->name)) && RAND_bytes(k->aes_key, 32) &&
         RAND_bytes(k->hmac_key, 32);
}

/* Under the write lock: the process's own key, made or rotated when due
 * (the previous one still decrypts). */
static void own_key_locked(time_t now) {
  if (ks.given || (ks.n > 0 && now - ks.made < PROCESS_KEY_LIFETIME_S))
    return;
  mqg_ticket_key k;
  if (!random_key(&k))
    return; /* keep what there is; BoringSSL fails the ticket, not the handshake */
  if (ks.n > 0) {
    OPENSSL_cleanse(&ks.keys[1], sizeof(ks.keys[1]));
    ks.keys[1] = ks.keys[0];
  }
  ks.keys[0] = k;
  ks.n = ks.n > 0 ? 2 : 1;
  ks.made = now;
  OPENSSL_cleanse(&k, sizeof(k));
}

static int check_set(const mqg_ticket_key *keys, size_t n) {
  if (keys == NULL || n == 0 || n > MQG_TICKET_KEYS_MAX)
    return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (keys[i].key_len != 16 && keys[i].key_len != 32)
      return -EINVAL;
    for (size_t j = 0; j < i; j++)
      if (memcmp(keys[i].name, keys[j].name, SSL_TICKET_KEY_NAME_LEN) == 0)
        return -EINVAL;
  }
  return 0;
}

int mqg_tls_set_ticket_keys(const mqg_ticket_key *keys, size_t n) {
  if (check_set(keys, n) != 0)
    return -EINVAL;
  pthread_rwlock_wrlock(&ks.lock);
  OPENSSL_cleanse(ks.keys, sizeof(ks.keys));
  memcpy(ks.keys, keys, n * sizeof(*keys));
  ks.n = n;
  ks.given = 1;
  pthread_rwlock_unlock(&ks.lock);
  return 0;
}

void mqg_tls_clear_ticket_keys(void) {
  pthread_rwlock_wrlock(&ks.lock);
  OPENSSL_cleanse(ks.keys, sizeof(ks.keys));
  ks.n = 0;
  ks.given = 0;
  own_key_locked(time(NULL));
  pthread_rwlock_unlock(&ks.lock);
}

int mqg_tls_ticket_keys_parse(const char *text, size_t len, mqg_ticket_key *out, size_t *n,
                              char *err, size_t errlen) {
  mqg_ticket_key lines[MQG_TICKET_KEYS_MAX];
  size_t count = 0, lineno = 0, pos = 0;
  int rc = -EINVAL;
  *n = 0;
  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t ll = nl ? (size_t)(nl - line) : len - pos;
    pos += ll + (nl != NULL);
    lineno++;
    while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t'))
      ll--;
    while (ll > 0 && (*line == ' ' || *line == '\t'))
      line++, ll--;
    if (ll == 0 || *line == '#')
      continue;
    uint8_t raw[96];
    size_t raw_len = 0, need = 0;
    /* Line numbers only: nothing of a key's text goes into the message. */
    if (ll > 128 || !EVP_DecodedLength(&need, ll) || need > sizeof(raw) ||
        !EVP_DecodeBase64(raw, &raw_len, sizeof(raw), (const uint8_t *)line, ll) ||
        (raw_len != 48 && raw_len != 80)) {
      snprintf(err, errlen, "line %zu is not base64 of a 48- or 80-byte key", lineno);
      OPENSSL_cleanse(raw, sizeof(raw));
      goto out;
    }
    if (count == MQG_TICKET_KEYS_MAX) {
      snprintf(err, errlen, "more than %d keys", MQG_TICKET_KEYS_MAX);
      OPENSSL_cleanse(raw, sizeof(raw));
      goto out;
    }
    mqg_ticket_key *k = &lines[count];
    memset(k, 0, sizeof(*k));
    k->key_len = raw_len == 48 ? 16 : 32;
    memcpy(k->name, raw, 16);
    memcpy(k->aes_key, raw + 16, k->key_len);
    memcpy(k->hmac_key, raw + 16 + k->key_len, k->key_len);
    OPENSSL_cleanse(raw, sizeof(raw));
    for (size_t j = 0; j < count; j++)
      if (memcmp(lines[j].name, k->name, 16) == 0) {
        snprintf(err, errlen, "line %zu repeats the key name of an earlier key", lineno);
        goto out;
      }
    count++;
  }
  if (count == 0) {
    snprintf(err, errlen, "no key");
    goto out;
  }
  /* Newest last: the next-to-last encrypts (the only one, if alone), then
   * the rest from the newest down. */
  size_t enc = count == 1 ? 0 : count - 2;
  out[0] = lines[enc];
  *n = 1;
  for (size_t i = count; i-- > 0;)
    if (i != enc)
      out[(*n)++] = lines[i];
  rc = 0;
out:
  OPENSSL_cleanse(lines, sizeof(lines));
  return rc;
}

int mqg_tls_ticket_keys_read(const char *path, mqg_ticket_key *keys, size_t *n, char *err,
                             size_t errlen) {
  size_t len;
  char why[160];
  int rc = -EINVAL;
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "ticket keys %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  char *buf = malloc(FILE_MAX + 1);
  if (buf == NULL) {
    snprintf(err, errlen, "ticket keys %s: out of memory", path);
    fclose(f);
    return -EINVAL;
  }
  len = fread(buf, 1, FILE_MAX + 1, f);
  if (ferror(f))
    snprintf(err, errlen, "ticket keys %s: read error", path);
  else if (len > FILE_MAX)
    snprintf(err, errlen, "ticket keys %s: larger than %d bytes", path, FILE_MAX);
  else if (mqg_tls_ticket_keys_parse(buf, len, keys, n, why, sizeof(why)) != 0)
    snprintf(err, errlen, "ticket keys %s: %s", path, why);
  else
    rc = 0;
  OPENSSL_cleanse(buf, FILE_MAX + 1);
  free(buf);
  fclose(f);
  return rc;
}

int mqg_tls_ticket_keys_load(const char *path, char *err, size_t errlen) {
  mqg_ticket_key keys[MQG_TICKET_KEYS_MAX];
  size_t n = 0;
  int rc = mqg_tls_ticket_keys_read(path, keys, &n, err, errlen);
  if (rc == 0)
    rc = mqg_tls_set_ticket_keys(keys, n);
  OPENSSL_cleanse(keys, sizeof(keys));
  return rc;
}

static const EVP_CIPHER *cipher_of(const mqg_ticket_key *k) {
  return k->key_len == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
}

/* BoringSSL's ticket callback (ssl.h, SSL_CTX_set_tlsext_ticket_key_cb):
 * encrypt: 1 or -1; decrypt: 1 (current key), 2 (an older one: renew the
 * ticket), 0 (unknown key: full handshake), -1 (error). */
static int ticket_cb(SSL *ssl, uint8_t *name, uint8_t *iv, EVP_CIPHER_CTX *cctx,
                     HMAC_CTX *hctx, int encrypt) {
  (void)ssl;
  int rc = encrypt ? -1 : 0;
  time_t now = time(NULL);
  pthread_rwlock_rdlock(&ks.lock);
  if (!ks.given && (ks.n == 0 || now - ks.made >= PROCESS_KEY_LIFETIME_S)) {
    pthread_rwlock_unlock(&ks.lock);
    pthread_rwlock_wrlock(&ks.lock);
    own_key_locked(now);
  }
  if (encrypt) {
    const mqg_ticket_key *k = &ks.keys[0];
    if (ks.n > 0 && RAND_bytes(iv, EVP_CIPHER_iv_length(cipher_of(k))) &&
        EVP_EncryptInit_ex(cctx, cipher_of(k), NULL, k->aes_key, iv) &&
        HMAC_Init_ex(hctx, k->hmac_key, k->key_len, EVP_sha256(), NULL)) {
      memcpy(name, k->name, SSL_TICKET_KEY_NAME_LEN);
      rc = 1;
    }
  } else {
    for (size_t i = 0; i < ks.n; i++) {
      const mqg_ticket_key *k = &ks.keys[i];
      if (memcmp(name, k->name, SSL_TICKET_KEY_NAME_LEN) != 0)
        continue;
      rc = EVP_DecryptInit_ex(cctx, cipher_of(k), NULL, k->aes_key, iv) &&
                   HMAC_Init_ex(hctx, k->hmac_key, k->key_len, EVP_sha256(), NULL)
               ? (i == 0 ? 1 : 2)
               : -1;
      break;
    }
  }
  pthread_rwlock_unlock(&ks.lock);
  return rc;
}

void mqg_tls_ticket_keys_install(SSL_CTX *ctx) {
  SSL_CTX_set_tlsext_ticket_key_cb(ctx, ticket_cb);
}
