/* crls.h: the CRLs in force (auth mode mtls, --crl): loaded from their
 * files, re-read on SIGHUP and whenever the files change on disk, checked
 * in every handshake, and checked against every live session when they
 * change, the sessions of newly revoked certificates being cut.
 *
 *   file change (inotify on the files' directories, or --crl-poll)
 *        |  debounced 200 ms (1 s at most after the first change)
 *        v
 *   read the files -- same bytes as in force? --> nothing to do
 *        |
 *        v
 *   new set (policy/crl.h) against the CA bundle in force
 *        | refused: logged, counted, the set in force stays
 *        v
 *   swap it in -> every worker re-checks its sessions (an async per
 *                 worker) and cuts those now revoked
 *
 * Threads: the main thread configures, watches and swaps (its loop runs
 * the watchers and timers); the workers check, each check holding a
 * reference to the set in force. A set is in force before the workers are
 * told to re-check, so a handshake checked against the old set is always
 * re-checked against the new one.
 *
 * Policy for a CRL past its nextUpdate (--crl-expired): allow admits its
 * CA's certificates (a warning when it goes stale, and
 * mqgate_crl_expired_admissions_total counts them); deny refuses them
 * (crl_expired, alert internal_error: transient) until a fresh CRL comes.
 * Listed serials are refused either way. Live sessions are not cut for a
 * CRL going stale, only for a serial newly listed.
 *
 * Errors: mqg_crls_configure and mqg_crls_try return 0 or -1 with a
 * message; the rest cannot fail. */
#ifndef MQG_CRLS_H
#define MQG_CRLS_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config.h"
#include "reason.h"
#include "server.h"
#include "tlsctx.h"

/* mqg_crls_configure puts the CRLs of |cfg| (read now, matched against the
 * CA bundle of |tls|) in force, with --crl-expired, and watches their
 * files from |loop| (the main thread's), replacing whatever was configured
 * before; no --crl (or auth mode registry) means no CRL. All or nothing: on
 * failure (-1, the reason in |err|) the CRLs in force and the watchers stay
 * as they were. Live sessions are re-checked (mqg_crls_set_server). Main
 * thread only. */
int mqg_crls_configure(uv_loop_t *loop, const mqg_config *cfg, mqg_tls *tls,
                       char *err, size_t errlen);

/* mqg_crls_try reads and checks the CRLs of |cfg| against |tls| as
 * mqg_crls_configure would, and keeps nothing (--check-config). */
int mqg_crls_try(const mqg_config *cfg, mqg_tls *tls, char *err, size_t errlen);

/* mqg_crls_set_server names the workers told to re-check their sessions
 * when the CRLs in force change (NULL: none). Main thread only. */
void mqg_crls_set_server(mqg_server *s);

/* mqg_crls_close stops watching and drops the CRLs in force. Main thread
 * only; its handles are closed on |loop| (run it to let them go). */
void mqg_crls_close(void);

/* mqg_crls_check applies the CRLs in force to a chain whose own check
 * ended with |verdict| (the device's certificates, leaf first): a chain
 * that is otherwise good, or only out of its validity dates, becomes
 * CERT_REVOKED if a CRL lists one of its certificates, CRL_EXPIRED if a
 * CRL involved is stale and --crl-expired is deny, BAD_CERT if the chain
 * cannot be read; other verdicts are returned unchanged. Any thread. */
mqg_reason mqg_crls_check(const STACK_OF(CRYPTO_BUFFER) *chain, mqg_reason verdict);

#endif
