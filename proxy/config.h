/* config.h: mqgate's options, from flags, MQGATE_* environment variables and
 * an INI file, with precedence flag > environment > file > default.
 *
 * Every option is one row of MQG_OPTION_MAP: the flag --NAME, the variable
 * MQGATE_NAME (upper case, '-' as '_'), the key NAME in the file's [mqgate]
 * section (or before any section), its kind, default and help text. --help
 * is generated from the same table. How each source and kind is read
 * (durations, sizes, TLS versions, LIST options such as --crl) is
 * policy/options.h's; this file adds mqgate's checks and its own flags
 * (--check-config, --help, --version).
 *
 * Errors: mqg_config_load returns 0, MQG_CONFIG_EXIT (help or version was
 * printed: exit 0), or -EINVAL with a one-line message in |err|. */
#ifndef MQG_CONFIG_H
#define MQG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* X(name, kind, default, meta, help); kinds in options.h. */
#define MQG_OPTION_MAP(X)                                                     \
  X(config, STR, "", "FILE", "INI file of options (keys as the flag names)")  \
  X(listen, STR, "0.0.0.0:8883", "HOST:PORT",                                 \
    "address devices connect to ([::]:8883 for IPv6)")                        \
  X(backend, STR, "127.0.0.1:1883", "HOST:PORT",                              \
    "the MQTT broker plaintext MQTT is forwarded to")                         \
  X(cert, STR, "", "FILE", "server certificate chain, PEM (RSA or ECDSA)")    \
  X(key, STR, "", "FILE", "server private key, PEM")                          \
  X(state_dir, STR, "/var/lib/mqgate", "DIR",                                 \
    "where the default server certificate is generated when --cert is unset") \
  X(auth, STR, "mtls", "MODE",                                                \
    "mtls: any certificate of --client-ca; registry: the Redis registry")     \
  X(client_ca, STR, "", "FILE", "CA bundle client certificates chain to")     \
  X(crl, LIST, "", "FILE",                                                    \
    "(mtls) a CRL, PEM or DER, of a CA of --client-ca; repeatable or "       \
    "comma-separated; re-read when it changes on disk")                      \
  X(crl_expired, STR, "allow", "allow|deny",                                 \
    "(mtls) certificates of a CA whose CRL is past its nextUpdate: allow "    \
    "(with a warning and a metric) or deny")                                 \
  X(crl_poll, MS, "60s", "DUR",                                               \
    "also look for changed --crl files this often, for file systems without " \
    "change events (NFS); 0 = never")                                        \
  X(redis, STR, "redis://127.0.0.1:6379/0", "URL",                            \
    "the registry's Redis (auth registry): redis://[user:password@]host"      \
    "[:port][/db]")                                                           \
  X(redis_password_file, STR, "", "FILE",                                     \
    "the Redis password, first line of FILE, instead of one in --redis "      \
    "(without it: $MQGATE_REDIS_PASSWORD if set)")                            \
  X(redis_sentinels, STR, "", "HOST:PORT,...",                                \
    "find the registry's Redis master through these Sentinels (at most 8, "  \
    "with --redis-master; --redis then gives the credentials and database)") \
  X(redis_master, STR, "mqgate", "NAME", "the master's name in Sentinel")     \
  X(redis_prefix, STR, "mqgate", "PREFIX",                                    \
    "registry key prefix: one prefix is one cluster")                         \
  X(client_id_mode, STR, "default", "MODE",                                   \
    "default: keep a device's own client ID; strict: refuse one that is not " \
    "the registered ID (or CN); a cluster setting wins in registry mode")     \
  X(cache_size, UINT, "100000", "N", "registry answers kept in memory")       \
  X(cache_ttl, MS, "5m", "DUR", "longest time a registry answer is reused")   \
  X(redis_stale, MS, "60s", "DUR",                                            \
    "while Redis is unreachable, cached active certificates still connect "   \
    "for this long")                                                          \
  X(tls_min, TLSVER, "1.0", "VER", "lowest TLS version accepted")             \
  X(tls_max, TLSVER, "1.3", "VER", "highest TLS version accepted")            \
  X(tls_groups, STR, "X25519:P-256:P-384", "LIST",                            \
    "key exchange groups, in mqgate's order of preference (X25519, P-256, "   \
    "P-384, P-521); a TLS 1.3 key share the device sent for one of them is "  \
    "taken as it is")                                                         \
  X(ticket_rotate, MS, "1h", "DUR",                                         \
    "(registry) rotation period of the session-ticket keys the cluster's "    \
    "proxies share through Redis (resumption on any proxy); 0 = each proxy "  \
    "keeps its own")                                                          \
  X(ticket_keys, STR, "", "FILE",                                             \
    "session-ticket keys shared by proxies (auth mtls): base64 lines of 48 "  \
    "or 80 bytes, newest last; the next-to-last encrypts; reread on SIGHUP; " \
    "empty: keys of this process")                                            \
  X(workers, UINT, "0", "N", "worker threads; 0 = one per core")              \
  X(handshake_timeout, MS, "10s", "DUR", "time allowed for the TLS handshake")\
  X(connect_timeout, MS, "10s", "DUR",                                        \
    "time allowed for the MQTT CONNECT after the handshake")                  \
  X(backend_timeout, MS, "5s", "DUR", "time allowed to reach the broker")     \
  X(proxy_protocol, STR, "off", "off|v2",                                     \
    "send a PROXY protocol v2 header (device address, TLS facts) to the broker") \
  X(max_connect_size, SIZE, "64k", "BYTES", "largest MQTT CONNECT accepted")  \
  X(max_client_id, UINT, "65535", "BYTES",                                    \
    "longest client ID accepted (set the broker's own limit)")                \
  X(max_connections, UINT, "0", "N",                                          \
    "device connections at once; 0 = as many as the open-file limit allows")  \
  X(max_pending_lookups, UINT, "1000", "N",                                   \
    "handshakes waiting for Redis at once; more are refused (internal_error)") \
  X(max_pending_records, UINT, "256", "N",                                    \
    "associated-client records waiting for Redis at once, per worker; more "  \
    "are dropped and counted")                                                \
  X(max_handshakes, UINT, "1000", "N",                                        \
    "TLS handshakes in progress per worker; past it, while the worker is "     \
    "busy, new connections wait in the listen backlog (a reconnect storm "    \
    "finishes what it started); 0 = no bound")                               \
  X(source_rate, UINT, "0", "N",                                              \
    "new connections per second from one source address (IPv6: one /64); "    \
    "0 = no limit")                                                           \
  X(source_connections, UINT, "0", "N",                                       \
    "connections at once from one source address (IPv6: one /64); "          \
    "0 = no limit")                                                           \
  X(drain_timeout, MS, "10s", "DUR",                                          \
    "on SIGTERM/SIGINT, how long sessions may go on before they are closed")  \
  X(write_timeout, MS, "60s", "DUR",                                          \
    "time allowed for queued bytes to move before a connection is closed")    \
  X(write_queue_limit, SIZE, "256k", "BYTES",                                 \
    "bytes queued towards one side before reading the other side pauses")     \
  X(metrics, STR, "", "HOST:PORT",                                            \
    "serve /metrics (Prometheus) and /healthz here; off when empty")          \
  X(log_level, STR, "info", "LEVEL", "error, warn, info or debug")           \
  X(log_format, STR, "text", "FORMAT", "text or json (one object per line)")

typedef struct {
  MQG_OPTION_MAP(MQG_OPT_FIELD)
  int check_only; /* --check-config: check and exit */
} mqg_config;

#define MQG_CONFIG_EXIT MQG_OPTIONS_EXIT

/* mqg_config_load fills |cfg| from defaults, the file named by --config /
 * MQGATE_CONFIG, the environment and |argv|, then checks it (tls-min <= tls-
 * max, auth mode known, mtls needs --client-ca, addresses parse, workers
 * <= 64). |cfg| is owned by the caller and must be released with
 * mqg_config_cleanup, also after a failure. */
int mqg_config_load(mqg_config *cfg, int argc, char **argv, char *err,
                    size_t errlen);

/* mqg_config_cleanup frees the strings of |cfg| and zeroes it. */
void mqg_config_cleanup(mqg_config *cfg);

#endif
