/* schema_admin.h: the control plane's keys in Redis (mqgate-admin, issue
 * 15), beside the registry's (schema.h), under the same prefix P. Their
 * functions are the last section of policy/lua/mqgate.lua.
 *
 *   P:token:<h>          hash, one API token; <h> = SHA-256 (hex) of the
 *                        token text, which is never stored. Fields: name
 *                        role (read|operator|admin) created_at (Unix s)
 *                        created_by (actor)
 *   P:tokens             hash: token name -> <h> (names are unique)
 *   P:apirate:<name>:<s> API calls of one token in one second (expires)
 *   P:audit              stream, MAXLEN ~ MQG_AUDIT_MAX, newest last; the
 *                        entry ID is the time (ms). Fields: actor (e.g.
 *                        "mqgatectl@host", "token:<name>", "console:<name>",
 *                        "auto"), action (cert.register, cert.revoke,
 *                        ca.deactivate, settings.set, token.create, ...),
 *                        object ("cert:<fp>", "ca:<id>", "settings:<key>",
 *                        "token:<name>"), before, after, detail. Every
 *                        change function appends its entry in the same call.
 *   P:proxy:<id>         string, JSON heartbeat of one mqgate (id, host, pid,
 *                        version, boringssl, started_at, connections_open,
 *                        handshakes_1m, refusals_1m {reason: n}), EX 30
 *   P:proxies            sorted set: proxy id scored by its last heartbeat
 *                        (Unix ms); readers drop members older than
 *                        MQG_PROXY_STALE_MS
 *
 * Functions (FCALL name 0 P args...):
 *   mqgate_token_create P name role hash actor      -> role
 *   mqgate_token_revoke P name actor                -> "revoked"
 *   mqgate_api_auth P hash limit -> {name, role} ({"", ""}: unknown token);
 *       counts the call against the token's limit per second (RATE over it)
 */
#ifndef MQG_SCHEMA_ADMIN_H
#define MQG_SCHEMA_ADMIN_H

#define MQG_AUDIT_MAX 100000
#define MQG_PROXY_STALE_MS 30000

#endif
