/* tlskeys.h: the session-ticket keys of the process, shared by every TLS
 * context (a certificate reload makes a new SSL_CTX; tickets issued before
 * it still resume).
 *
 * A device that reconnects to another proxy of the cluster, or to a new
 * process after a restart, resumes only if that proxy can decrypt its
 * ticket: the proxies must share their keys. The set is one key that
 * encrypts new tickets and up to MQG_TICKET_KEYS_MAX - 1 more that still
 * decrypt (the previous ones, for rotation, and a next one distributed
 * ahead). Until a set is given, the process makes its own random key and
 * replaces it every 24 hours, keeping the previous one for decryption (as
 * BoringSSL's default keys do, but kept across certificate reloads).
 *
 * Tickets are protected as BoringSSL's own are (RFC 5077's layout): AES-CBC
 * (128 or 256 by the key's size) and HMAC-SHA256, through
 * SSL_CTX_set_tlsext_ticket_key_cb; a ticket of a key no longer in the set
 * is ignored (full handshake); one of a decrypt-only key is accepted and
 * renewed under the current key. TLS 1.2 tickets and TLS 1.3 PSK tickets
 * both go through it. Key material is never logged; replaced keys are
 * wiped.
 *
 * Thread-safety: every function may be called from any thread at any time;
 * handshakes in progress see either the old set or the new one whole.
 *
 * Errors: functions returning int return 0 or -EINVAL (with a one-line
 * message in |err| where they take one). */
#ifndef MQG_TLSKEYS_H
#define MQG_TLSKEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define MQG_TICKET_KEYS_MAX 8

/* One ticket key. |key_len| is 16 (AES-128-CBC, 16-byte HMAC-SHA256 key)
 * or 32 (AES-256-CBC, 32-byte HMAC-SHA256 key); bytes past it are unused.
 * |name| is public (it starts every ticket); the rest is secret. */
typedef struct {
  uint8_t name[SSL_TICKET_KEY_NAME_LEN];
  uint8_t aes_key[32];
  uint8_t hmac_key[32];
  uint8_t key_len;
} mqg_ticket_key;

/* mqg_tls_set_ticket_keys makes |keys| (|n| of them, 1 to
 * MQG_TICKET_KEYS_MAX) the process's ticket keys: |keys[0]| encrypts new
 * tickets, every one decrypts. The keys are copied (the caller may wipe
 * its own). Fails, changing nothing, if |n| is out of range, a key_len is
 * not 16 or 32, or two keys share a name. This is the call a shared source
 * of keys (a file, the registry) makes each time its set changes. */
int mqg_tls_set_ticket_keys(const mqg_ticket_key *keys, size_t n);

/* mqg_tls_clear_ticket_keys drops a set given with mqg_tls_set_ticket_keys:
 * the process's own random keys are used again (tickets under the dropped
 * keys no longer resume). */
void mqg_tls_clear_ticket_keys(void);

/* mqg_tls_ticket_keys_parse reads the --ticket-keys file format from
 * |text| (|len| bytes) into |out| (room for MQG_TICKET_KEYS_MAX keys), in
 * the order mqg_tls_set_ticket_keys takes, and their count into |*n|.
 *
 * The format is HAProxy's tls-ticket-keys: one key per line, base64 of 48
 * bytes (16 name, 16 AES-128 key, 16 HMAC key) or 80 bytes (16 name, 32
 * AES-256 key, 32 HMAC key); blank lines and lines starting with '#' are
 * skipped; oldest first, newest last. With one key, it encrypts. With more,
 * the next-to-last encrypts and the last one only decrypts until the next
 * rotation: appending a new key everywhere before any proxy encrypts with
 * it means every proxy can already read its tickets. Rotate by appending a
 * key (e.g. `openssl rand 80 | base64 -w0`), dropping the oldest, and
 * sending SIGHUP. Fails on a line that is not base64 of 48 or 80 bytes, a
 * repeated key name, no key, or more than MQG_TICKET_KEYS_MAX. */
int mqg_tls_ticket_keys_parse(const char *text, size_t len, mqg_ticket_key *out, size_t *n,
                              char *err, size_t errlen);

/* mqg_tls_ticket_keys_read reads and parses the file |path| into |out|
 * (room for MQG_TICKET_KEYS_MAX keys) and |*n|, changing nothing in force:
 * a reload reads first and applies (mqg_tls_set_ticket_keys) only once
 * everything else of it is good. The caller wipes |out| (OPENSSL_cleanse)
 * when done. */
int mqg_tls_ticket_keys_read(const char *path, mqg_ticket_key *out, size_t *n, char *err,
                             size_t errlen);

/* mqg_tls_ticket_keys_load reads the file |path| and, if it is good, makes
 * its keys the process's; a bad file changes nothing. */
int mqg_tls_ticket_keys_load(const char *path, char *err, size_t errlen);

/* mqg_tls_ticket_keys_install makes |ctx| protect its tickets with the
 * process's keys (SSL_CTX_set_tlsext_ticket_key_cb). */
void mqg_tls_ticket_keys_install(SSL_CTX *ctx);

#endif
