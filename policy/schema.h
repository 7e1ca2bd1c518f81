/* schema.h: the registry's layout in Redis, shared by mqgatectl and every
 * mqgate. One key prefix P (--redis-prefix, default "mqgate") is one
 * cluster; two prefixes in one Redis never touch each other's keys.
 *
 * Keys (all under "P:"):
 *   P:ca:<id>            hash, one CA certificate; <id> = SHA-256 (hex) of
 *                        its DER. Fields: id pem subject cn serial
 *                        not_before not_after (Unix s) status
 *                        (active|inactive) registered_at
 *   P:cas                set of CA ids
 *   P:cert:<fp>          hash, one client certificate; <fp> = SHA-256 (hex)
 *                        of its DER. Fields: fp pem serial cn ou ca
 *                        (issuer CA id) not_before not_after client_id
 *                        (registered client ID, may be "") source
 *                        (manual|auto) status registered_at
 *                        status_changed_at
 *   P:certs              sorted set, fp scored by not_after (listing,
 *                        expiry filters, pagination)
 *   P:idx:serial:<serial>, P:idx:cn:<cn>, P:idx:ou:<ou>,
 *   P:idx:status:<status>, P:idx:ca:<id>
 *                        sets of fps (search filters; CA delete rule)
 *   P:clientid:<id>      string -> fp owning that registered client ID
 *                        (unique within the cluster)
 *   P:assoc:<fp>         sorted set: client IDs that connected with the
 *                        certificate, scored by last-seen (Unix s), the
 *                        newest MQG_ASSOC_MAX kept
 *   P:settings           hash: registration (manual|auto), tls_min,
 *                        tls_max ("1.0".."1.3"), client_id_mode
 *                        (default|strict); missing fields = defaults
 *   P:rate:<unix second> registrations counted in that second (expires)
 *
 * Certificate status values: "active", "inactive" (deactivated),
 * "registered_inactive" (registered without activation), "revoked".
 *
 * Every change is one call of a function of the Redis Functions library
 * MQG_LUA_LIBRARY (policy/lua/mqgate.lua, loaded with FUNCTION LOAD
 * REPLACE by whichever client finds it missing), so it is atomic, and
 * publishes one message on P:events:
 *   "cert <fp> <status>"   status as above, or "deleted"
 *   "ca <id> <status>"     active | inactive | deleted | registered
 *   "settings"             any cluster setting changed
 *
 * Library functions (FCALL name 0 prefix args...). Errors are error
 * replies whose first word is a class: "RULE <reason>" (refused by the
 * rules, e.g. a transition not allowed, a duplicate client ID),
 * "RATE <reason>" (registration limit reached), "INPUT <reason>" (bad
 * argument), "NOTFOUND <reason>".
 *   mqgate_lookup P fp ca_id serial cn ou not_before not_after pem
 *       One handshake's check, one round trip. Returns an array
 *       {verdict, status, client_id}; verdict is "ok", "unknown_ca" (ca_id
 *       not registered), "ca_inactive", "unregistered" (manual mode),
 *       "rate_limited" (auto mode, limit reached), or "cert" (the
 *       certificate exists: status tells). In automatic mode an unknown
 *       certificate of an active CA is registered here as active/auto
 *       (sharing the rate limit) and the verdict is "ok".
 *   mqgate_touch P fp client_id now
 *       Records an associated client (fire and forget; no event).
 *   mqgate_cert_register P fp pem serial cn ou ca not_before not_after
 *       client_id activate(1|0) source(manual|auto)
 *   mqgate_cert_register_unlimited_test_setup P (as mqgate_cert_register)
 *       TEST SET-UP ONLY: mqgate_cert_register without the rate limit
 *       (neither checked nor counted), for the thousands of devices of a
 *       benchmark; called only by mqgatectl cert register
 *       --unsafe-bypass-rate-limit-for-test-setup.
 *   mqgate_cert_set P fp activate|deactivate|revoke
 *   mqgate_cert_delete P fp
 *   mqgate_ca_register P id pem subject cn serial not_before not_after
 *       active(1|0)
 *   mqgate_ca_set P id activate|deactivate
 *   mqgate_ca_delete P id
 *   mqgate_settings_set P key value
 */
#ifndef MQG_SCHEMA_H
#define MQG_SCHEMA_H

#define MQG_DEFAULT_PREFIX "mqgate"
#define MQG_LUA_LIBRARY "mqgate_v1"
#define MQG_RATE_PER_SECOND 15
#define MQG_ASSOC_MAX 100

#endif
