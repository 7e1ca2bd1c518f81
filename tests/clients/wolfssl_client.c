/* wolfssl_client.c: a device as wolfSSL 5.5 (Debian libwolfssl) makes one
 * with its defaults: its own group order and key share, Nagle left on. It
 * connects over TLS 1.2 or 1.3, sends an MQTT 3.1.1 CONNECT as a write of
 * its own and reads the CONNACK. Used by
 * tests/integration/56-key-exchange.py.
 *
 * Usage: mqgate-test-wolfssl HOST PORT CERT KEY CLIENT_ID 1.2|1.3
 * Prints "connack=<code> ms=<connect to CONNACK>" and exits 0, or a line
 * saying what failed and exits 1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fail(const char *what, WOLFSSL *ssl, int rc) {
  char buf[WOLFSSL_MAX_ERROR_SZ];
  int e = ssl ? wolfSSL_get_error(ssl, rc) : rc;
  printf("%s failed: %s (%d)\n", what, wolfSSL_ERR_error_string((unsigned long)e, buf), e);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s HOST PORT CERT KEY CLIENT_ID 1.2|1.3\n", argv[0]);
    return 2;
  }
  wolfSSL_Init();
  int v13 = strcmp(argv[6], "1.3") == 0;
  WOLFSSL_CTX *ctx = wolfSSL_CTX_new(v13 ? wolfTLSv1_3_client_method() : wolfTLSv1_2_client_method());
  if (ctx == NULL)
    return fail("context", NULL, 0);
  wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL); /* a test server */
  if (wolfSSL_CTX_use_certificate_file(ctx, argv[3], WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
    return fail("certificate", NULL, 0);
  if (wolfSSL_CTX_use_PrivateKey_file(ctx, argv[4], WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
    return fail("key", NULL, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
    return 2;
  double t0 = now_ms();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    printf("connect failed\n");
    return 1;
  }
  WOLFSSL *ssl = wolfSSL_new(ctx);
  if (ssl == NULL || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS)
    return fail("ssl", NULL, 0);
  int rc = wolfSSL_connect(ssl);
  if (rc != WOLFSSL_SUCCESS)
    return fail("handshake", ssl, rc);
  unsigned char pkt[300];
  size_t id_len = strlen(argv[5]), n = 0;
  if (id_len > 200)
    return 2;
  pkt[n++] = 0x10;
  pkt[n++] = (unsigned char)(12 + id_len);
  memcpy(pkt + n, "\0\4MQTT\4\2\0\x3c", 10);
  n += 10;
  pkt[n++] = (unsigned char)(id_len >> 8);
  pkt[n++] = (unsigned char)id_len;
  memcpy(pkt + n, argv[5], id_len);
  n += id_len;
  if ((rc = wolfSSL_write(ssl, pkt, (int)n)) != (int)n)
    return fail("write CONNECT", ssl, rc);
  unsigned char in[4];
  int got = 0;
  while (got < 4) {
    rc = wolfSSL_read(ssl, in + got, 4 - got);
    if (rc <= 0)
      return fail("read CONNACK", ssl, rc);
    got += rc;
  }
  double t1 = now_ms();
  printf("connack=%u ms=%.2f suite=%s\n", in[0] == 0x20 ? in[3] : 255, t1 - t0,
         wolfSSL_get_cipher(ssl));
  wolfSSL_shutdown(ssl);
  wolfSSL_free(ssl);
  close(fd);
  wolfSSL_CTX_free(ctx);
  wolfSSL_Cleanup();
  return in[0] == 0x20 && in[3] == 0 ? 0 : 1;
}
