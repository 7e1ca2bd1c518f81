/* schema.h: the registry's layout in Redis (layout 2), shared by mqgatectl,
 * mqgate-admin and every mqgate. One key prefix P (--redis-prefix, default
 * "mqgate") is one cluster; two prefixes in one Redis never touch each
 * other's keys.
 *
 * No call on a handshake, registration, state change or event path reads or
 * writes anything that grows with the registry: records are hashes read by
 * key, listings walk ordered indexes by range from a cursor, counts are
 * counters, and the small lookups sit in fixed buckets. A certificate costs
 * about 1 KB of Redis memory with its indexes (bench/registry measures it).
 *
 * Keys (all under "P:"):
 *   P:meta               hash: schema ("2")
 *   P:ca:<id>            hash, one CA certificate; <id> = SHA-256 (hex) of
 *                        its DER. Fields: id pem subject cn serial
 *                        not_before not_after (Unix s) status
 *                        (active|inactive) registered_at active_certs
 *                        (its ACTIVE client certificates: a counter)
 *   P:cas                set of registered CA ids
 *   P:canums             hash: "id:<CA id>" -> a small number, "n:<number>"
 *                        -> CA id, "seq": for every CA ever registered
 *   P:cert:<fp>          hash, one client certificate; <fp> = SHA-256 (hex)
 *                        of its DER. Fields: serial (uppercase hex) cn ou
 *                        ca (the issuer CA's number, P:canums) nb na
 *                        (not_before, not_after,
 *                        Unix s) cid (registered client ID, may be "") src
 *                        (manual|auto) status reg (registered at) chg
 *                        (status changed at) ren (the fp it renews, if
 *                        any), and "@<client ID>" = last seen (Unix s) for
 *                        each associated client: the newest MQG_ASSOC_MAX,
 *                        each cut to MQG_ASSOC_ID_MAX bytes. The DER is not
 *                        kept: the fields are what decisions and listings
 *                        need.
 *   Ordered indexes: sorted sets, every score 0, members ordered by bytes:
 *   8 bytes big-endian of not_after + 2^40, then the 32-byte fp (binary).
 *   A lex range is an expiry window; a member is an exact cursor.
 *   P:ix:ca:<id>         every certificate naming CA <id>
 *   P:ix:ou:<ou>         every certificate of a (non-empty) OU
 *   P:ix:st:<status>     every inactive, registered_inactive or revoked
 *                        certificate (active ones are all the others)
 *   P:ixcas              set of the CA ids having a P:ix:ca:<id>
 *   Buckets: <b> = first 4 hex digits of the SHA-1 of the name (of the fp
 *   itself for P:fx); a member's tag = the next 6 bytes of that SHA-1.
 *   P:fx:<b>             sorted set (lex): fp (32 bytes), for id prefixes
 *   P:cx:<b>, P:sx:<b>   sorted sets (lex): tag + fp by CN, by serial
 *   P:id:<b>             hash: effective identity (registered client ID,
 *                        else CN) -> fp (32 bytes) holding it; unique in a cluster
 *                        but for a renewal (a new certificate of the same
 *                        device shares its identity)
 *   P:tb:<b>             hash: fp (32 bytes) -> tombstone of a deleted
 *                        certificate: "revoked <revoked at> <deleted at>"
 *                        (refused in every mode, forever) or "deleted
 *                        <deleted at> <status>" (never registered again
 *                        automatically)
 *   P:stats              hash of counters: certs, active, inactive,
 *                        registered_inactive, revoked, auto_registered
 *   P:settings           hash: registration (manual|auto), tls_min,
 *                        tls_max ("1.0".."1.3"), client_id_mode
 *                        (default|strict); missing fields = defaults
 *   P:rate:<unix second> registrations counted in that second (expires)
 *   P:audit              stream, newest MQG_AUDIT_MAX (about): actor action
 *                        object before after detail, one entry per change
 *   P:tickets            hash: keys = the cluster's session-ticket keys, 80
 *                        bytes each (16 name, 32 AES-256, 32 HMAC), older
 *                        ones first, then current, then next; at = when
 *                        the current one became current
 *   P:proxy:<id>         string (JSON), one proxy's heartbeat, expires;
 *   P:proxies            sorted set: proxy id scored by last heartbeat (ms)
 *
 * Certificate status values: "active", "inactive" (deactivated),
 * "registered_inactive" (registered without activation), "revoked".
 *
 * Every change is one call of a function of the Redis Functions library
 * MQG_LUA_LIBRARY (policy/lua/NN-*.lua joined, loaded with FUNCTION LOAD
 * REPLACE by whichever client finds it missing), so it is atomic, writes
 * its audit entry and publishes one message on P:events:
 *   "cert <fp> <status>"   status as above, or "deleted"
 *   "ca <id> <status>"     active | inactive | deleted | registered
 *   "settings"             any cluster setting changed
 *   "tickets created|rotated"  the session-ticket keys changed
 *
 * Library functions (FCALL name 0 prefix args...; "RO": read-only, called
 * with FCALL_RO). Errors are error replies whose first word is a class:
 * "RULE <reason>" (refused by the rules, e.g. a transition not allowed, a
 * duplicate identity), "RATE <reason>" (registration limit reached),
 * "INPUT <reason>" (bad argument), "NOTFOUND <reason>". ACTOR names who
 * changes (mqgatectl@host, token:<name>, auto, ...), as the audit log shows.
 *   mqgate_lookup P fp ca_id cn                                      RO
 *       One handshake's check. Returns {verdict, status, client_id};
 *       verdict is "ok", "unknown_ca" (ca_id not registered),
 *       "ca_inactive", "unregistered" (manual mode), "cert" (registered,
 *       not active: status tells), "revoked" / "deleted" (tombstones),
 *       "identity_conflict" (auto mode: the CN is another certificate's
 *       identity), "rate_limited", or "auto": automatic registration would
 *       admit it, once the handshake has completed.
 *   mqgate_auto_register P fp ca_id serial cn ou not_before not_after ACTOR
 *       After a completed handshake: checks everything again, registers
 *       active/auto within the rate limit; the lookup's verdicts, or
 *       {"ok", "registered", ""} when this call registered it (an "ok" with
 *       status "active": registered meanwhile by someone else).
 *   mqgate_status P fp                                               RO
 *       A live session's state: "active", a status, "ca_inactive",
 *       "deleted" or "revoked".
 *   mqgate_touch P fp client_id now
 *       Records an associated client (no event, no audit).
 *   mqgate_cas P                                                     RO
 *       Every registered CA: id, status, pem, id, status, pem, ...
 *   mqgate_cert_register P fp serial cn ou ca not_before not_after
 *       client_id activate(1|0) source(manual|auto) renews(fp|"") ACTOR
 *   mqgate_cert_register_unlimited_test_setup P (as mqgate_cert_register)
 *       TEST SET-UP ONLY: without the rate limit (neither checked nor
 *       counted); called only by mqgatectl cert register
 *       --unsafe-bypass-rate-limit-for-test-setup.
 *   mqgate_cert_set P fp activate|deactivate|revoke ACTOR
 *   mqgate_cert_delete P fp ACTOR
 *   mqgate_ca_register P id pem subject cn serial not_before not_after
 *       active(1|0) ACTOR
 *   mqgate_ca_set P id activate|deactivate ACTOR
 *   mqgate_ca_delete P id ACTOR
 *   mqgate_settings_set P key value ACTOR
 *   mqgate_cert_read P fp                                            RO
 *       {"cert", serial, cn, ou, ca, nb, na, cid, src, status, reg, chg,
 *       ren, client, last_seen, ...} (associated clients newest first),
 *       {"tombstone", revoked|deleted, time, time|status} or {"none"}.
 *   mqgate_cert_list P cursor limit status ca ou cn serial
 *       not_after_from not_after_until                               RO
 *       At most MQG_REG_CALL_ROWS (limit) records, at most 100 index members
 *       examined: {cursor ("" at the end), total (-1: not counted),
 *       {fp, serial, cn, ou, ca, nb, na, cid, src, status, reg, chg, ren},
 *       ...}, by not_after then fp; "" for a condition not given.
 *   mqgate_resolve P ca|cert hex-prefix                              RO
 *       At most 2 ids (certificates: tombstones too) with that prefix.
 *   mqgate_ticket_keys P now rotate_s candidate ACTOR
 *       The cluster's ticket keys {at, keys}, created or rotated with the
 *       caller's 2 fresh keys (candidate, 160 bytes) when due.
 *   mqgate_layout P                                                  RO
 *       1 when P holds a layout-1 registry not migrated yet, else 2.
 *   mqgate_migrate_cert P fp ACTOR [client last_seen ...]
 *       mqgatectl migrate: one layout-1 record rewritten in layout 2.
 *   mqgate_ca_read P id                                              RO
 *   mqgate_ca_list P                                                 RO
 *       {id, subject, cn, serial, not_before, not_after, status,
 *       registered_at, active_certs, [pem,] certs} per CA.
 */
#ifndef MQG_SCHEMA_H
#define MQG_SCHEMA_H

#define MQG_DEFAULT_PREFIX "mqgate"
#define MQG_LUA_LIBRARY "mqgate_v2"
#define MQG_LUA_LIBRARY_V1 "mqgate_v1" /* layout 1: see mqgatectl migrate */
#define MQG_RATE_PER_SECOND 15
#define MQG_ASSOC_MAX 20
#define MQG_ASSOC_ID_MAX 128
#define MQG_AUDIT_MAX 100000
#define MQG_REG_PAGE_MAX 100 /* records a page, as users ask for them */
#define MQG_REG_CALL_ROWS 25 /* records a listing call returns (< 1 ms) */
#define MQG_TICKET_KEY_BYTES 80 /* P:tickets: 16 name, 32 AES-256, 32 HMAC-SHA256 */
#define MQG_TICKET_KEYS_KEPT 8  /* P:tickets: older keys, current, next */

#endif
