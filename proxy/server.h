/* server.h: the set of worker threads, each with its own libuv loop and
 * its own listening socket on the same address (SO_REUSEPORT: the kernel
 * spreads new connections over the workers, no lock is shared).
 *
 * Errors: mqg_server_new returns NULL with a message; the rest cannot fail. */
#ifndef MQG_SERVER_H
#define MQG_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tlsctx.h"

typedef struct mqg_server mqg_server;

/* mqg_server_new binds one listening socket per worker on --listen (so
 * address errors show before anything runs) and prepares the workers.
 * The server takes its own reference to |tls|. Returns a new server owned by
 * the caller or NULL with the reason in |err|. */
mqg_server *mqg_server_new(const mqg_config *cfg, mqg_tls *tls, char *err,
                           size_t errlen);

/* mqg_server_set_tls makes |tls| (a new reference is taken) the context of
 * every connection accepted from now on; live ones keep theirs. */
void mqg_server_set_tls(mqg_server *s, mqg_tls *tls);

/* mqg_server_reload applies the reloadable options of |cfg| (timeouts,
 * size limits, the TLS window, the client-ID mode default) to the running
 * workers. */
void mqg_server_reload(mqg_server *s, const mqg_config *cfg);

/* mqg_server_on_ready arranges for |cb|(|arg|) to be called once, when
 * every worker is ready to serve: its listening socket is bound (done by
 * mqg_server_new) and, in auth mode registry, its link to Redis has
 * answered (connected, function library loaded, events subscribed, the
 * registered CAs read). In auth mode mtls that is when mqg_server_start
 * has started the workers, and |cb| runs on the caller's thread inside it;
 * in registry mode it runs on the thread of the worker that was ready
 * last, so it must only do thread-safe things (uv_async_send). Redis
 * going away and coming back later does not call it again. Call it before
 * mqg_server_start. */
void mqg_server_on_ready(mqg_server *s, void (*cb)(void *arg), void *arg);

/* mqg_server_recheck_crls has every worker check its live sessions against
 * the CRLs in force (crls.h), on its own loop, soon. Any thread. */
void mqg_server_recheck_crls(mqg_server *s);

/* mqg_server_start starts the worker threads. Returns 0 or a negative errno. */
int mqg_server_start(mqg_server *s);

/* mqg_server_stop makes every worker stop accepting at once (new
 * connections are refused), lets live sessions go on for up to |drain_ms|,
 * then closes what is left cleanly (close_notify to the device, FIN to the
 * broker after its queue), and waits for the workers to return. */
void mqg_server_stop(mqg_server *s, uint64_t drain_ms);

/* mqg_server_free releases |s| (stopped or never started; NULL ignored). */
void mqg_server_free(mqg_server *s);

#endif
