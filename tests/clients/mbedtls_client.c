/* mbedtls_client.c: a device as mbedTLS 2.28 (Debian libmbedtls) makes
 * one with its default configuration: TLS 1.2, its default group order
 * (P-521, brainpool, P-384 before P-256 and X25519), Nagle left on. It
 * connects, sends an MQTT 3.1.1 CONNECT as a write of its own and reads the
 * CONNACK. Used by tests/integration/56-key-exchange.py.
 *
 * Usage: mqgate-test-mbedtls HOST PORT CERT KEY CLIENT_ID
 * Prints "connack=<code> ms=<connect to CONNACK>" and exits 0, or a line
 * saying what failed and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fail(const char *what, int rc) {
  char buf[200];
  mbedtls_strerror(rc, buf, sizeof(buf));
  printf("%s failed: %s (-0x%04x)\n", what, buf, (unsigned)-rc);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT CERT KEY CLIENT_ID\n", argv[0]);
    return 2;
  }
  mbedtls_net_context net;
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt crt;
  mbedtls_pk_context pk;
  int rc;
  mbedtls_net_init(&net);
  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt_init(&crt);
  mbedtls_pk_init(&pk);
  if ((rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0)) != 0)
    return fail("seed", rc);
  if ((rc = mbedtls_x509_crt_parse_file(&crt, argv[3])) != 0)
    return fail("certificate", rc);
  if ((rc = mbedtls_pk_parse_keyfile(&pk, argv[4], NULL)) != 0)
    return fail("key", rc);
  if ((rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
    return fail("config", rc);
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE); /* a test server */
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  if ((rc = mbedtls_ssl_conf_own_cert(&conf, &crt, &pk)) != 0)
    return fail("own cert", rc);
  if ((rc = mbedtls_ssl_setup(&ssl, &conf)) != 0)
    return fail("setup", rc);
  double t0 = now_ms();
  if ((rc = mbedtls_net_connect(&net, argv[1], argv[2], MBEDTLS_NET_PROTO_TCP)) != 0)
    return fail("connect", rc);
  mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
  while ((rc = mbedtls_ssl_handshake(&ssl)) != 0)
    if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
      return fail("handshake", rc);
  /* MQTT 3.1.1 CONNECT, clean session, keep alive 60. */
  unsigned char pkt[300];
  size_t id_len = strlen(argv[5]);
  if (id_len > 200)
    return 2;
  size_t rl = 10 + 2 + id_len, n = 0;
  pkt[n++] = 0x10;
  pkt[n++] = (unsigned char)rl;
  memcpy(pkt + n, "\0\4MQTT\4\2\0\x3c", 10);
  n += 10;
  pkt[n++] = (unsigned char)(id_len >> 8);
  pkt[n++] = (unsigned char)id_len;
  memcpy(pkt + n, argv[5], id_len);
  n += id_len;
  if ((rc = mbedtls_ssl_write(&ssl, pkt, n)) != (int)n)
    return fail("write CONNECT", rc);
  unsigned char in[4];
  size_t got = 0;
  while (got < 4) {
    rc = mbedtls_ssl_read(&ssl, in + got, 4 - got);
    if (rc <= 0)
      return fail("read CONNACK", rc);
    got += (size_t)rc;
  }
  double t1 = now_ms();
  printf("connack=%u ms=%.2f suite=%s\n", in[0] == 0x20 ? in[3] : 255, t1 - t0,
         mbedtls_ssl_get_ciphersuite(&ssl));
  mbedtls_ssl_close_notify(&ssl);
  mbedtls_net_free(&net);
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_x509_crt_free(&crt);
  mbedtls_pk_free(&pk);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return in[0] == 0x20 && in[3] == 0 ? 0 : 1;
}
