/* sockbio.h: the BIO BoringSSL reads and writes a device socket through.
 *
 * BoringSSL asks its BIO for exactly what it needs next: a record's 5-byte
 * header, then its body. On a plain socket BIO that is two read(2) calls per
 * record, which dominates when devices send many small messages. This BIO
 * reads everything the socket has in one call into the worker's scratch
 * buffer, hands BoringSSL what it asked for, and keeps the rest (malloc'd,
 * exactly sized) until BoringSSL asks again; an idle connection holds
 * nothing. Writes go straight to the socket. After a read that came back
 * short the socket is taken as drained: the next read reports "would block"
 * without a syscall (the readiness poll is level-triggered and signals
 * anything that arrives since), saving an EAGAIN read per wake-up.
 *
 * The owner must keep calling BoringSSL until it wants more input
 * (SSL_ERROR_WANT_READ) before waiting for the socket again: bytes read
 * ahead are no longer signalled by the socket.
 *
 * Errors: mqg_sockbio_new returns NULL on allocation failure. */
#ifndef MQG_SOCKBIO_H
#define MQG_SOCKBIO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

typedef struct {
  int fd;                 /* the socket, not owned */
  uint8_t *scratch;       /* the worker's buffer, borrowed */
  size_t scratch_cap;
  uint8_t *ahead;         /* read ahead, not yet given to BoringSSL */
  size_t ahead_off, ahead_len;
  int drained;            /* the last read(2) came back short */
} mqg_sockbio;

/* mqg_sockbio_new returns a new BIO over |state| (borrowed: it must outlive
 * the BIO), or NULL. Hand it to SSL_set_bio, which takes it over. */
BIO *mqg_sockbio_new(mqg_sockbio *state);

/* mqg_sockbio_cleanup frees what |state| holds. */
void mqg_sockbio_cleanup(mqg_sockbio *state);

#endif
