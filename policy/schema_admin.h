/* schema_admin.h: the control plane's keys in Redis (mqgate-admin, issue
 * 15), beside the registry's (schema.h), under the same prefix P. Their
 * functions are policy/lua/60-admin.lua. The audit stream (P:audit) and the
 * heartbeats (P:proxy:<id>, P:proxies) are the registry's: schema.h.
 *
 *   P:token:<h>          hash, one API token; <h> = SHA-256 (hex) of the
 *                        token text, which is never stored. Fields: name
 *                        role (read|operator|admin) created_at (Unix s)
 *                        created_by (actor)
 *   P:tokens             hash: token name -> <h> (names are unique)
 *   P:apirate:<name>:<s> API calls of one token in one second (expires)
 *
 * Functions (FCALL name 0 P args...):
 *   mqgate_token_create P name role hash actor      -> role
 *   mqgate_token_revoke P name actor                -> "revoked"
 *   mqgate_api_auth P hash limit -> {name, role} ({"", ""}: unknown token);
 *       counts the call against the token's limit per second (RATE over it)
 */
#ifndef MQG_SCHEMA_ADMIN_H
#define MQG_SCHEMA_ADMIN_H

/* A proxy whose last heartbeat is older than this is gone. */
#define MQG_PROXY_STALE_MS 30000

#endif
