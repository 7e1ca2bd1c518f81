/* test_client.c: mqg-test-client, a device that behaves as the tests need,
 * built on BoringSSL: it can present one certificate and sign the
 * handshake with another key (the way mbedTLS and wolfSSL let a device do,
 * since they do not check the pair), which no stock client allows.
 *
 *   mqg-test-client --connect HOST:PORT --cert FILE --key FILE
 *                   [--sign-with KEYFILE] [--tls 1.2|1.3]
 *                   [--mqtt [--client-id ID]]
 *
 * Prints "handshake ok" or "handshake failed: <BoringSSL's reason>"; with
 * --mqtt it then sends a CONNECT (MQTT 3.1.1, clean session) and prints
 * "connack <return code>" or "closed". Exits 0 when the handshake (and
 * with --mqtt the CONNACK, code 0) succeeded, 1 otherwise, 2 on bad use.
 * The server's certificate is not checked: the tests are about what the
 * server does with the client's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

static EVP_PKEY *sign_key; /* --sign-with: the key the handshake is signed with */

static enum ssl_private_key_result_t sign_other(SSL *ssl, uint8_t *out, size_t *out_len,
                                                size_t max_out, uint16_t sigalg,
                                                const uint8_t *in, size_t in_len) {
  EVP_MD_CTX ctx;
  EVP_PKEY_CTX *pctx = NULL;
  EVP_MD_CTX_init(&ctx);
  *out_len = max_out;
  int ok = EVP_DigestSignInit(&ctx, &pctx, SSL_get_signature_algorithm_digest(sigalg), NULL,
                              sign_key) &&
           (!SSL_is_signature_algorithm_rsa_pss(sigalg) ||
            (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, -1))) &&
           EVP_DigestSign(&ctx, out, out_len, in, in_len);
  EVP_MD_CTX_cleanup(&ctx);
  return ok ? ssl_private_key_success : ssl_private_key_failure;
}

static const SSL_PRIVATE_KEY_METHOD other_key = {sign_other, NULL, NULL};

static int usage(void) {
  fprintf(stderr, "usage: mqg-test-client --connect HOST:PORT --cert FILE --key FILE "
                  "[--sign-with KEYFILE] [--tls 1.2|1.3] [--mqtt [--client-id ID]]\n");
  return 2;
}

static EVP_PKEY *read_key(const char *path) {
  FILE *f = fopen(path, "r");
  EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f)
    fclose(f);
  return k;
}

static int dial(const char *hostport) {
  char host[256];
  snprintf(host, sizeof(host), "%s", hostport);
  char *colon = strrchr(host, ':');
  if (colon == NULL)
    return -1;
  *colon = '\0';
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

/* mqtt sends a CONNECT with |client_id| and prints the CONNACK's code. */
static int mqtt(SSL *ssl, const char *client_id) {
  uint8_t pkt[512];
  size_t id_len = strlen(client_id), n = 0;
  if (id_len > 256)
    return 1;
  size_t rem = 10 + 2 + id_len;
  pkt[n++] = 0x10;
  pkt[n++] = (uint8_t)(rem < 128 ? rem : (rem & 0x7f) | 0x80);
  if (rem >= 128)
    pkt[n++] = (uint8_t)(rem >> 7);
  const uint8_t vh[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60};
  memcpy(pkt + n, vh, sizeof(vh));
  n += sizeof(vh);
  pkt[n++] = (uint8_t)(id_len >> 8);
  pkt[n++] = (uint8_t)id_len;
  memcpy(pkt + n, client_id, id_len);
  n += id_len;
  uint8_t ack[4];
  if (SSL_write(ssl, pkt, (int)n) != (int)n || SSL_read(ssl, ack, 4) != 4 || ack[0] != 0x20) {
    printf("closed\n");
    return 1;
  }
  printf("connack %u\n", ack[3]);
  return ack[3] == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *connect_to = NULL, *cert = NULL, *key = NULL, *sign_with = NULL;
  const char *tls = NULL, *client_id = "";
  int want_mqtt = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--mqtt") == 0) {
      want_mqtt = 1;
      continue;
    }
    if (v == NULL)
      return usage();
    if (strcmp(a, "--connect") == 0)
      connect_to = v;
    else if (strcmp(a, "--cert") == 0)
      cert = v;
    else if (strcmp(a, "--key") == 0)
      key = v;
    else if (strcmp(a, "--sign-with") == 0)
      sign_with = v;
    else if (strcmp(a, "--tls") == 0)
      tls = v;
    else if (strcmp(a, "--client-id") == 0)
      client_id = v;
    else
      return usage();
    i++;
  }
  if (connect_to == NULL || cert == NULL || key == NULL)
    return usage();

  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (tls != NULL) {
    uint16_t v = strcmp(tls, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, v);
    SSL_CTX_set_max_proto_version(ctx, v);
  }
  if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
    fprintf(stderr, "mqg-test-client: cannot read %s\n", cert);
    return 2;
  }
  SSL *ssl = SSL_new(ctx);
  if (sign_with != NULL) {
    /* The certificate's key is never used: the handshake is signed with
     * another one. */
    if ((sign_key = read_key(sign_with)) == NULL) {
      fprintf(stderr, "mqg-test-client: cannot read %s\n", sign_with);
      return 2;
    }
    SSL_set_private_key_method(ssl, &other_key);
  } else {
    EVP_PKEY *k = read_key(key);
    if (k == NULL || !SSL_use_PrivateKey(ssl, k)) {
      fprintf(stderr, "mqg-test-client: cannot use the key %s\n", key);
      return 2;
    }
    EVP_PKEY_free(k);
  }
  int fd = dial(connect_to);
  if (fd < 0) {
    fprintf(stderr, "mqg-test-client: cannot connect to %s\n", connect_to);
    return 2;
  }
  SSL_set_fd(ssl, fd);
  int rc = 1;
  if (SSL_connect(ssl) != 1) {
    char err[256] = "connection closed";
    uint32_t e = ERR_get_error();
    if (e != 0)
      ERR_error_string_n(e, err, sizeof(err));
    printf("handshake failed: %s\n", err);
  } else {
    printf("handshake ok\n");
    /* In TLS 1.3 a refusal after the handshake arrives with the first
     * read; without --mqtt, read once to see it. */
    if (want_mqtt) {
      rc = mqtt(ssl, client_id);
    } else {
      uint8_t b;
      int n = SSL_read(ssl, &b, 1);
      uint32_t e = ERR_get_error();
      if (n <= 0 && e != 0) {
        char err[256];
        ERR_error_string_n(e, err, sizeof(err));
        printf("then: %s\n", err);
      } else {
        rc = 0;
      }
    }
  }
  fflush(stdout);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  EVP_PKEY_free(sign_key);
  close(fd);
  return rc;
}
