/* sockbio.c: see sockbio.h. */
#include "sockbio.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static size_t take(mqg_sockbio *s, char *out, size_t len) {
  size_t n = len < s->ahead_len ? len : s->ahead_len;
  memcpy(out, s->ahead + s->ahead_off, n);
  s->ahead_off += n;
  s->ahead_len -= n;
  if (s->ahead_len == 0) {
    free(s->ahead);
    s->ahead = NULL;
    s->ahead_off = 0;
  }
  return n;
}

static int sock_read(BIO *bio, char *out, int len) {
  mqg_sockbio *s = BIO_get_data(bio);
  BIO_clear_retry_flags(bio);
  if (len <= 0)
    return 0;
  if (s->ahead_len > 0)
    return (int)take(s, out, (size_t)len);
  if (s->drained) {
    s->drained = 0;
    BIO_set_retry_read(bio);
    return -1;
  }
  /* Straight into |out| when BoringSSL asks for as much as we would read. */
  uint8_t *dst = (size_t)len >= s->scratch_cap ? (uint8_t *)out : s->scratch;
  size_t cap = dst == (uint8_t *)out ? (size_t)len : s->scratch_cap;
  ssize_t n;
  do {
    n = read(s->fd, dst, cap);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      BIO_set_retry_read(bio);
    return -1;
  }
  s->drained = n > 0 && (size_t)n < cap;
  if (n == 0 || dst == (uint8_t *)out)
    return (int)n;
  size_t give = (size_t)n < (size_t)len ? (size_t)n : (size_t)len;
  memcpy(out, dst, give);
  if ((size_t)n > give) {
    s->ahead = malloc((size_t)n - give);
    if (s->ahead == NULL)
      return -1; /* the connection fails; nothing is silently dropped */
    memcpy(s->ahead, dst + give, (size_t)n - give);
    s->ahead_off = 0;
    s->ahead_len = (size_t)n - give;
  }
  return (int)give;
}

static int sock_write(BIO *bio, const char *in, int len) {
  mqg_sockbio *s = BIO_get_data(bio);
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = write(s->fd, in, (size_t)len);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_write(bio);
  return (int)n;
}

static long sock_ctrl(BIO *bio, int cmd, long larg, void *parg) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_create(BIO *bio) {
  BIO_set_init(bio, 1);
  return 1;
}

static void make_method(void) {
  method = BIO_meth_new(BIO_TYPE_SOCKET, "mqgate device socket");
  if (method != NULL) {
    BIO_meth_set_read(method, sock_read);
    BIO_meth_set_write(method, sock_write);
    BIO_meth_set_ctrl(method, sock_ctrl);
    BIO_meth_set_create(method, sock_create);
  }
}

BIO *mqg_sockbio_new(mqg_sockbio *state) {
  pthread_once(&method_once, make_method);
  if (method == NULL)
    return NULL;
  BIO *bio = BIO_new(method);
  if (bio != NULL)
    BIO_set_data(bio, state);
  return bio;
}


void mqg_sockbio_cleanup(mqg_sockbio *state) {
  free(state->ahead);
  state->ahead = NULL;
  state->ahead_off = state->ahead_len = 0;
}
